//! Issue 17, "a campaign nothing can corrupt": a generic campaign is killed
//! with SIGKILL at 20 seeded moments, each time resumed in the same workdir,
//! then run to its end. Its answer must be the uninterrupted run's, no
//! process of it may outlive a kill, the journal must stay whole, and no
//! build or run that reached the journal may ever be done again.
//!
//! The build and test commands log every invocation to a file outside the
//! workdir, so what really ran can be set against what was journaled.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

const KILLS: usize = 20;
const SEED: u64 = 17;
const VMS: usize = 2;
/// How long culprit's watchdog may take to kill a dead campaign's children.
const GRACE: Duration = Duration::from_secs(2);

/// Logs its start and end to `$CHAOS_LOG` around a build slow enough for
/// kills to land inside it.
const BUILD: &str = "echo \"build-start $CULPRIT_COMMIT\" >> \"$CHAOS_LOG\"; \
    sleep 0.12; mkdir -p out && cat state.txt slow.dat > out/state && \
    echo \"build-end $CULPRIT_COMMIT\" >> \"$CHAOS_LOG\"";

/// A noisy reproducer: on a buggy commit the test crashes in 6 runs out of
/// 10, chosen by a hash of (commit number, run number); the build puts the
/// number (slow.dat) in the artifact. The engine numbers runs per commit,
/// so a run redone after a kill shows what it would have shown, the
/// reference and the chaotic campaign see the same world, and so does
/// every execution of this test.
const TEST: &str = "echo \"test-start $CULPRIT_COMMIT $CULPRIT_RUN\" >> \"$CHAOS_LOG\"; \
    sleep 0.06; \
    h=$(printf '%s %s' \"$(sed -n 2p \"$CULPRIT_ARTIFACT\")\" \"$CULPRIT_RUN\" | cksum | cut -d' ' -f1); \
    crash=0; \
    if grep -q BUG=1 \"$CULPRIT_ARTIFACT\" && [ $((h % 10)) -lt 6 ]; then crash=1; fi; \
    echo \"test-end $CULPRIT_COMMIT $CULPRIT_RUN $crash\" >> \"$CHAOS_LOG\"; \
    if [ $crash = 1 ]; then \
      echo 'BUG: unable to handle page fault for address: 0000000000000008'; \
      echo 'RIP: 0010:demo_crash+0x5/0x10'; exit 1; fi; \
    exit 0";

/// A linear history of 40 commits, commit 23 the culprit (it sets BUG=1
/// in state.txt), every commit also changing `slow.dat`, which the
/// repository checks out through a smudge filter that takes 50 ms (as Git
/// LFS would): each checkout holds git's index lock long enough for a kill
/// to land inside it. Returns (repo, first, culprit, last).
fn history(dir: &Path) -> (PathBuf, String, String, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    std::fs::write(repo.join(".gitattributes"), "slow.dat filter=slow\n").unwrap();
    let mut commits = Vec::new();
    for i in 0..=40 {
        std::fs::write(repo.join("slow.dat"), format!("{i}\n")).unwrap();
        if i == 23 {
            std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
        }
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("change {i}")]);
        commits.push(git(&repo, &["rev-parse", "HEAD"]));
    }
    git(&repo, &["config", "filter.slow.smudge", "sleep 0.05; cat"]);
    (
        repo,
        commits[0].clone(),
        commits[23].clone(),
        commits[40].clone(),
    )
}

/// splitmix64: the kill moments are a pure function of [`SEED`].
fn unit(i: u64) -> f64 {
    let mut z = SEED.wrapping_mul(0x1000_0000_01B3) ^ i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

struct Campaign {
    repo: PathBuf,
    good: String,
    bad: String,
    /// Unique to this test: set in every campaign process's environment,
    /// which all its descendants inherit.
    tag: String,
}

impl Campaign {
    fn start(&self, workdir: &Path, log: &Path, json: &Path, out: &Path) -> Child {
        culprit()
            .args(["bisect", "--quiet", "--repo"])
            .arg(&self.repo)
            .args(["--bad", &self.bad, "--good", &self.good])
            .args(["--build", BUILD, "--test", TEST, "--artifact", "out/state"])
            .args(["--vms", &VMS.to_string(), "--workdir"])
            .arg(workdir)
            .arg("--json")
            .arg(json)
            .env("CHAOS_LOG", log)
            .env("CHAOS_TAG", &self.tag)
            .stdout(File::create(out.with_extension("out")).unwrap())
            .stderr(File::create(out.with_extension("err")).unwrap())
            .spawn()
            .unwrap()
    }
}

fn assert_success(st: ExitStatus, out: &Path, what: &str) {
    assert!(
        st.code() == Some(0),
        "{what} ended with {st}:\n{}\n{}",
        std::fs::read_to_string(out.with_extension("out")).unwrap_or_default(),
        std::fs::read_to_string(out.with_extension("err")).unwrap_or_default()
    );
}

/// Live processes (not zombies) whose environment has `CHAOS_TAG=tag`:
/// (pid, command line).
fn tagged(tag: &str) -> Vec<(u32, String)> {
    let needle = format!("CHAOS_TAG={tag}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        if state.starts_with('Z') || state.starts_with('X') {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
    }
    found
}

/// Waits up to [`GRACE`] for every process of the campaign to be gone.
fn assert_no_survivors(tag: &str, after: &str) {
    let end = Instant::now() + GRACE;
    loop {
        let left = tagged(tag);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "{after}: processes of the killed campaign still run {GRACE:?} later: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The journal's records. Every whole line must be a record; a last line
/// without its newline is a write cut by the kill, allowed only when
/// `torn_ok` (culprit moves it aside on its next start).
fn journal(workdir: &Path, torn_ok: bool) -> Vec<Value> {
    let bytes = std::fs::read(workdir.join("journal.jsonl")).unwrap_or_default();
    let mut records = Vec::new();
    let mut lines = bytes.split_inclusive(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.last() != Some(&b'\n') {
            assert!(
                torn_ok && lines.peek().is_none(),
                "journal ends in a torn line: {:?}",
                String::from_utf8_lossy(line)
            );
            break;
        }
        let v: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "journal line {} is not JSON ({e}): {:?}",
                records.len() + 1,
                String::from_utf8_lossy(line)
            )
        });
        assert!(v["type"].is_string(), "not a record: {v}");
        records.push(v);
    }
    records
}

fn of_type<'a>(records: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    records.iter().filter(move |r| r["type"] == t)
}

/// What the build and test commands logged.
#[derive(Default)]
struct Invocations {
    build_starts: BTreeMap<String, u32>,
    build_ends: BTreeSet<String>,
    test_starts: u32,
    /// (commit, run) -> whether it crashed, for each test that ended.
    test_ends: BTreeMap<(String, u64), Vec<bool>>,
}

fn invocations(log: &Path) -> Invocations {
    let mut inv = Invocations::default();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[..] {
            ["build-start", c] => *inv.build_starts.entry(c.into()).or_default() += 1,
            ["build-end", c] => {
                inv.build_ends.insert(c.into());
            }
            ["test-start", _, _] => inv.test_starts += 1,
            ["test-end", c, r, crash] => inv
                .test_ends
                .entry((c.into(), r.parse().unwrap()))
                .or_default()
                .push(crash == "1"),
            _ => panic!("unexpected log line {line:?}"),
        }
    }
    inv
}

#[test]
fn a_campaign_killed_twenty_times_resumes_to_the_same_answer() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = history(t.path());
    let c = Campaign {
        repo,
        good,
        bad,
        tag: t.path().display().to_string(),
    };

    // The reference: the same campaign, never interrupted.
    let ref_dir = t.path().join("ref");
    let ref_log = t.path().join("ref.log");
    let ref_json = t.path().join("ref.json");
    let began = Instant::now();
    let st = c
        .start(&ref_dir, &ref_log, &ref_json, &t.path().join("ref"))
        .wait()
        .unwrap();
    let ref_secs = began.elapsed().as_secs_f64();
    assert_success(st, &t.path().join("ref"), "the reference campaign");
    let reference = json(&ref_json);
    assert_eq!(reference["culprit"], want.as_str(), "{reference}");
    let ref_records = journal(&ref_dir, false);
    let ref_builds = of_type(&ref_records, "build").count();
    let ref_runs = of_type(&ref_records, "run").count();
    assert_no_survivors(&c.tag, "the reference campaign");
    // Run again, the finished campaign only replays its journal: what
    // that takes is how long a resume needs before it does new work, and
    // it must not build or run anything.
    let calls = std::fs::read_to_string(&ref_log).unwrap();
    let began = Instant::now();
    let again = t.path().join("ref-again");
    let st = c
        .start(&ref_dir, &ref_log, &ref_json, &again)
        .wait()
        .unwrap();
    let startup = began.elapsed().as_secs_f64();
    assert_success(st, &again, "the finished reference campaign, again");
    assert_eq!(std::fs::read_to_string(&ref_log).unwrap(), calls);
    assert_eq!(json(&ref_json)["culprit"], reference["culprit"]);

    // The kill moments: the i-th process is killed (-1..3) x T/20 after
    // its start-up (clamped at 10 ms), T the reference's duration. A
    // quarter of the kills land in start-up (lock, leftovers, journal,
    // replay), the rest in builds, rounds, checkouts and journal writes;
    // laid end to end they would cover the campaign about once, but each
    // resume redoes what the kill cut, so they spread over most of it (a
    // resume that ends before its kill must have succeeded).
    let work = t.path().join("w");
    let log = t.path().join("chaos.log");
    let json_path = t.path().join("r.json");
    let mut landed = 0;
    // Journal records after each kill.
    let mut progress = Vec::new();
    let mut in_checkout = 0;
    let mut finished_early = 0;
    let index_lock = work.join("tree.culprit-index.lock");
    for i in 0..KILLS {
        // Every fourth kill waits for a checkout instead: git holds the
        // lock of culprit's index while it writes the tree, and a SIGKILL
        // there leaves the lock behind.
        let targeted = i % 4 == 3;
        let delay = if targeted {
            Duration::from_secs_f64(ref_secs / 4.0)
        } else {
            let after = ref_secs / KILLS as f64 * (4.0 * unit(i as u64) - 1.0);
            Duration::from_secs_f64((startup + after).max(0.01))
        };
        let out = t.path().join(format!("kill-{i}"));
        let mut child = c.start(&work, &log, &json_path, &out);
        let began = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                // A resume that fails on what a kill left would show here.
                assert_success(st, &out, &format!("resume {i} (before its kill)"));
                finished_early += 1;
                break;
            }
            let left = delay.saturating_sub(began.elapsed());
            let checkout = targeted && index_lock.exists();
            if left.is_zero() || checkout {
                // SAFETY: our own child, not yet reaped, so the pid is its.
                assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
                child.wait().unwrap();
                landed += 1;
                in_checkout += checkout as usize;
                break;
            }
            let step = if targeted { 1 } else { 5 };
            std::thread::sleep(left.min(Duration::from_millis(step)));
        }
        assert_no_survivors(&c.tag, &format!("kill {i} after {delay:?}"));
        progress.push(journal(&work, true).len());
    }

    let out = t.path().join("last");
    let st = c.start(&work, &log, &json_path, &out).wait().unwrap();
    assert_success(st, &out, "the last resume");
    assert_no_survivors(&c.tag, "the last resume");
    let answer = json(&json_path);
    assert_eq!(
        answer["culprit"], reference["culprit"],
        "resumed: {answer}\nreference: {reference}"
    );

    // The journal is whole: every line is a record (torn tails were moved
    // aside), and the campaign's counts are the journal's.
    let records = journal(&work, false);
    let builds: Vec<&Value> = of_type(&records, "build").collect();
    let runs: Vec<&Value> = of_type(&records, "run").collect();
    let torn = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("journal.jsonl.torn-")
        })
        .count();
    assert_eq!(answer["counts"]["builds"], builds.len(), "{answer}");
    assert_eq!(answer["counts"]["runs"], runs.len(), "{answer}");

    // What was journaled is never done again:
    // - each commit has at most one build record (with --artifact every
    //   built product stays available, so a rebuild has no excuse);
    // - each (commit, run number) has at most one run record.
    let mut built = BTreeSet::new();
    for b in &builds {
        let commit = b["commit"].as_str().unwrap();
        assert!(
            built.insert(commit),
            "{commit} was built twice: {builds:#?}"
        );
    }
    let mut ran = BTreeSet::new();
    for r in &runs {
        let key = (
            r["commit"].as_str().unwrap().to_string(),
            r["run"].as_u64().unwrap(),
        );
        assert!(ran.insert(key.clone()), "run {key:?} journaled twice");
    }

    // What really ran matches the journal: every journaled build and run
    // ended, with the outcome the journal says, and the only repeated work
    // is what a kill cut before it was journaled. A kill interrupts at most
    // the one build in progress, or at most --vms runs of a round (a run
    // that ended but was not journaled yet counts as interrupted).
    let inv = invocations(&log);
    for b in &builds {
        assert!(
            inv.build_ends.contains(b["commit"].as_str().unwrap()),
            "{b}"
        );
    }
    for r in &runs {
        let key = (
            r["commit"].as_str().unwrap().to_string(),
            r["run"].as_u64().unwrap(),
        );
        let ends = inv
            .test_ends
            .get(&key)
            .unwrap_or_else(|| panic!("{r} never ran"));
        let crashed = r["status"]["status"] == "crashed";
        assert!(
            ends.iter().all(|&c| c == crashed),
            "{r}: the test logged {ends:?}"
        );
    }
    let build_calls: u32 = inv.build_starts.values().sum();
    assert!(
        build_calls as usize <= builds.len() + landed,
        "{build_calls} builds started for {} journaled and {landed} kills",
        builds.len()
    );
    assert!(
        inv.test_starts as usize <= runs.len() + landed * VMS,
        "{} tests started for {} journaled and {landed} kills",
        inv.test_starts,
        runs.len()
    );

    // Not an invariant of journaling but of the engine: a round cut by a
    // kill is planned again from what was journaled, which should cost no
    // more runs than the kills threw away. Fails if resuming made the
    // campaign wander (or if the engine ever plans a cut round much worse).
    let lost = inv.test_starts as usize - runs.len();
    assert!(
        builds.len() <= ref_builds && runs.len() <= ref_runs + lost,
        "resumed: {} builds, {} runs; reference: {ref_builds} builds, {ref_runs} runs; \
         {lost} runs lost to kills",
        builds.len(),
        runs.len()
    );

    // The kills must have hit a campaign at work for any of this to mean
    // something.
    assert!(landed >= KILLS / 2, "{landed} of {KILLS} kills landed");
    assert!(in_checkout >= 2, "{in_checkout} kills landed in a checkout");
    eprintln!(
        "reference: {ref_secs:.1} s (start-up {startup:.2} s), {ref_builds} builds, {ref_runs} runs; \
         chaos: {landed} kills landed ({in_checkout} in a checkout), {finished_early} resumes finished before their kill, \
         {} builds ({build_calls} started), {} runs ({} started), {torn} torn tails; journal records after each kill: {progress:?}",
        builds.len(),
        runs.len(),
        inv.test_starts
    );
}
