//! `culprit bisect --builders B` on real git repositories: several builds
//! at once, each in its own checkout, the same answer as one builder, and
//! Ctrl-C in the middle stopping every build and run.
//!
//! The build and test commands write what they did (their checkout, when
//! they started and ended, their pids) to files the tests read back. No
//! speed is asserted: only which intervals intersect.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The demo repository with a bug that shows in about 90% of the runs
/// (a flaky boot, an unrelated crash and commits that do not build stay).
fn demo(dir: &Path) -> culprit::demo::DemoRepo {
    culprit::demo::make_repo(&dir.join("repo"), 230).unwrap()
}

/// A build command that leaves `MARKS/build.PID` with its builder, its
/// checkout and its start and end (ns). Before building, it waits (10 s
/// at most) until a second build has started, so that builds that can run
/// together do overlap however slow the machine; builds run one at a time
/// wait the 10 s in vain and never overlap.
fn marking_build(marks: &Path, then: &str) -> String {
    let m = marks.display();
    let wait = format!(
        "i=0; while [ $(ls {m} | grep -c '^build\\.') -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; {then}"
    );
    marking_build_of(marks, &wait)
}

/// [`marking_build`] without the wait: the marks around `then` alone.
fn marking_build_of(marks: &Path, then: &str) -> String {
    let m = marks.display();
    format!(
        "f={m}/build.$$; echo \"start $(date +%s%N)\" > $f.tmp; \
         echo \"builder $CULPRIT_BUILDER\" >> $f.tmp; echo \"dir $(pwd)\" >> $f.tmp; \
         echo \"commit $CULPRIT_COMMIT\" >> $f.tmp; mv $f.tmp $f; \
         {then}; s=$?; echo \"end $(date +%s%N)\" >> $f; exit $s"
    )
}

/// A test command that leaves `MARKS/run.PID` with its checkout, start
/// and end, around the demo's test. The first lines appear at once (as
/// for builds), so a run stopped as it starts leaves a whole mark or none.
fn marking_test(marks: &Path) -> String {
    marking_test_after(marks, "")
}

/// [`marking_test`] running `first` before the demo's test.
fn marking_test_after(marks: &Path, first: &str) -> String {
    let m = marks.display();
    format!(
        "f={m}/run.$$; echo \"start $(date +%s%N)\" > $f.tmp; echo \"dir $(pwd)\" >> $f.tmp; \
         mv $f.tmp $f; \
         {first}sh \"$CULPRIT_ARTIFACT\"; s=$?; echo \"end $(date +%s%N)\" >> $f; exit $s"
    )
}

/// What one build or run left: (file name, key -> value).
struct Mark {
    name: String,
    dir: String,
    builder: Option<String>,
    start: u128,
    end: Option<u128>,
}

fn marks(dir: &Path, prefix: &str) -> Vec<Mark> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) || name.ends_with(".tmp") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} ")).map(str::to_string))
        };
        out.push(Mark {
            name,
            dir: get("dir").expect("a dir line"),
            builder: get("builder"),
            start: get("start").unwrap().parse().unwrap(),
            end: get("end").map(|e| e.parse().unwrap()),
        });
    }
    out
}

fn overlap(a: &Mark, b: &Mark) -> bool {
    let (ae, be) = (a.end.unwrap_or(u128::MAX), b.end.unwrap_or(u128::MAX));
    a.start < be && b.start < ae
}

fn args(c: &mut Command, repo: &culprit::demo::DemoRepo, build: &str, test: &str, work: &Path) {
    c.args(["bisect", "--repo"])
        .arg(&repo.path)
        .args(["--bad", &repo.bad, "--good", &repo.good])
        .args(["--build", build, "--test", test])
        .args(["--artifact", "out/prog", "--vms", "2", "--workdir"])
        .arg(work);
}

#[test]
fn three_builders_overlap_in_their_own_checkouts_and_agree_with_one() {
    let t = tempfile::tempdir().unwrap();
    let repo = demo(t.path());
    // One builder: the answer to agree with.
    let (_, one) = bisect(
        t.path(),
        &repo.path,
        &[
            "--bad",
            &repo.bad,
            "--good",
            &repo.good,
            "--build",
            "sh build.sh",
            "--test",
            "sh \"$CULPRIT_ARTIFACT\"",
            "--artifact",
            "out/prog",
            "--vms",
            "2",
        ],
    );
    assert_eq!(one["culprit"], repo.culprit.as_str());

    let marks_dir = t.path().join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let work = t.path().join("w3");
    let events = t.path().join("e.jsonl");
    let out_json = t.path().join("r3.json");
    let mut c = culprit();
    // The demo builds in milliseconds: on a loaded machine two builds
    // started together could end before the other's shell is up. A build
    // that lasts longer than a process start makes builds started together
    // overlap, and builds started one after another still do not.
    args(
        &mut c,
        &repo,
        &marking_build(&marks_dir, "sleep 0.3; sh build.sh"),
        &marking_test(&marks_dir),
        &work,
    );
    let o = c
        .args(["--builders", "3", "--json"])
        .arg(&out_json)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{log}\n{}", stderr(&o));
    let three = json(&out_json);
    // (a) the same answer.
    assert_eq!(three["culprit"], one["culprit"], "{log}");

    let all = marks(&marks_dir, "build.");
    // Runs and builds still in flight when the answer (or the
    // verification) came were stopped: no end, and for builds nothing of
    // theirs journaled.
    let runs: Vec<Mark> = marks(&marks_dir, "run.")
        .into_iter()
        .filter(|m| m.end.is_some())
        .collect();
    let (builds, stopped): (Vec<Mark>, Vec<Mark>) = all.into_iter().partition(|m| m.end.is_some());
    assert!(builds.len() >= 3, "only {} builds", builds.len());
    assert!(stopped.len() <= 3, "{} builds never ended", stopped.len());
    let journal = std::fs::read_to_string(work.join("journal.jsonl")).unwrap();
    for m in &stopped {
        let c = m.name.as_str();
        let commit = std::fs::read_to_string(marks_dir.join(c))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("commit ").map(str::to_string))
            .unwrap();
        let built = journal.lines().any(|l| {
            l.contains("\"type\":\"build\"") && l.contains(&format!("\"commit\":\"{commit}\""))
        });
        assert!(
            !built,
            "{c} was stopped but its build of {commit} is journaled"
        );
    }
    // (b) builds overlapped.
    let pairs: Vec<(&Mark, &Mark)> = builds
        .iter()
        .enumerate()
        .flat_map(|(i, a)| builds[i + 1..].iter().map(move |b| (a, b)))
        .filter(|(a, b)| overlap(a, b))
        .collect();
    assert!(!pairs.is_empty(), "no two builds overlapped\n{log}");
    // (c) each builder in its own checkout: builder k always in the same
    // one, builder 1 in the one-builder checkout, and never two builds, or
    // a build and a run, in one checkout at once.
    let tree_of = |k: &str| work_tree(&work, k);
    let mut used = BTreeSet::new();
    for b in &builds {
        let k = b.builder.as_deref().expect("CULPRIT_BUILDER is set");
        assert_eq!(b.dir, tree_of(k), "builder {k} built in {}", b.dir);
        used.insert(k.to_string());
    }
    assert!(used.len() >= 2, "builders used: {used:?}");
    for (a, b) in &pairs {
        assert_ne!(
            a.dir, b.dir,
            "{} and {} overlapped in one checkout",
            a.name, b.name
        );
    }
    for r in &runs {
        for b in builds.iter().filter(|b| b.dir == r.dir) {
            assert!(
                !overlap(r, b),
                "{} ran in {} while {} built there",
                r.name,
                r.dir,
                b.name
            );
        }
    }
    // The log and the event stream name the builders.
    assert!(log.contains("[builder 2] building "), "{log}");
    let text = std::fs::read_to_string(&events).unwrap();
    let started: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "builder_started")
        .collect();
    assert_eq!(
        started.len(),
        builds.len() + stopped.len(),
        "one builder_started per build"
    );
}

fn alive(pid: i32) -> bool {
    !culprit_proc::wait_exited(pid, Duration::from_secs(3))
}

#[test]
fn ctrl_c_stops_every_build_and_run_and_the_journal_resumes() {
    let t = tempfile::tempdir().unwrap();
    let repo = demo(t.path());
    let marks_dir = t.path().join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    let work = t.path().join("w");
    // Each build also leaves a child that would outlive it by a minute.
    let pids = t.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let then = format!(
        "sleep 60 & echo $! > {p}/child.$$; echo $$ > {p}/shell.$$; sleep 0.3; kill $!; sh build.sh",
        p = pids.display()
    );
    let build = marking_build(&marks_dir, &then);
    let test = format!(
        "echo $$ > {}/run.$$; {}",
        pids.display(),
        marking_test(&marks_dir)
    );
    let mut first = culprit();
    args(&mut first, &repo, &build, &test, &work);
    let mut child = first.args(["--builders", "3", "--quiet"]).spawn().unwrap();
    let journal = work.join("journal.jsonl");
    let journaled = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "build")
            .map(|v| v["commit"].as_str().unwrap().to_string())
            .collect()
    };
    // Interrupt once some builds are journaled and others are running.
    let start = Instant::now();
    loop {
        assert!(start.elapsed().as_secs() < 120, "campaign made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "campaign ended too early"
        );
        let running = marks(&marks_dir, "build.")
            .iter()
            .filter(|m| m.end.is_none())
            .count();
        if journaled(&journal).len() >= 2 && running >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // (d) nothing it started is left.
    let mut checked = 0;
    for e in std::fs::read_dir(&pids).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        if let Ok(pid) = text.trim().parse::<i32>() {
            assert!(
                !alive(pid),
                "{} ({pid}) survived Ctrl-C",
                e.path().display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "no build left a pid to check");
    let before = journaled(&journal);

    // Resuming replays the journal and ends with the answer.
    let out_json = t.path().join("r.json");
    let mut second = culprit();
    args(&mut second, &repo, &build, &test, &work);
    let o = second
        .args(["--builders", "3", "--json"])
        .arg(&out_json)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{log}\n{}", stderr(&o));
    assert!(log.contains("resuming from the journal"), "{log}");
    assert_eq!(json(&out_json)["culprit"], repo.culprit.as_str(), "{log}");
    let after = journaled(&journal);
    assert_eq!(&after[..before.len()], &before[..]);
    let mut uniq = after.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        after.len(),
        "a commit was built twice: {after:?}"
    );
}

#[test]
fn without_an_artifact_runs_use_the_checkout_that_built_their_commit() {
    // The test reads the build product from its working directory: a run
    // in another builder's checkout would see another commit's product.
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 24, 9);
    let test = "grep -q BUG=1 out/state && { echo 'BUG: unable to handle page fault for address: 0000000000000008'; echo 'RIP: 0010:demo_crash+0x5/0x10'; exit 1; }; exit 0";
    let build = "sleep 0.2; mkdir -p out && cp state.txt out/state";
    let (log, v) = bisect(
        t.path(),
        &repo,
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            build,
            "--test",
            test,
            "--builders",
            "2",
            "--vms",
            "2",
        ],
    );
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    assert!(log.contains("[builder 2] building "), "{log}");
}

#[test]
fn several_builders_are_refused_where_they_do_not_exist() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 5, 3);
    let run = |extra: &[&str]| {
        let o = culprit()
            .args(["bisect", "--repo"])
            .arg(&repo)
            .args(["--bad", &bad, "--good", &good])
            .args(extra)
            .arg("--workdir")
            .arg(t.path().join("w"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{extra:?} was accepted");
        stderr(&o)
    };
    let e = run(&["--build", BUILD, "--test", TEST_ALWAYS, "--builders", "0"]);
    assert!(e.contains("--builders must be between 1"), "{e}");
    let e = run(&[
        "--build",
        BUILD,
        "--test",
        TEST_ALWAYS,
        "--builders",
        "2",
        "--executor",
        "slurm",
    ]);
    assert!(e.contains("local executor only"), "{e}");
    let e = run(&[
        "--build",
        BUILD,
        "--test",
        TEST_ALWAYS,
        "--overlap",
        "--executor",
        "slurm",
    ]);
    assert!(e.contains("--overlap is for the local executor"), "{e}");
    // Kernel mode has several builders: what stops this one is the repository.
    let repro = t.path().join("repro.sh");
    std::fs::write(&repro, "true\n").unwrap();
    let repro = repro.to_str().unwrap();
    let e = run(&["--kernel", "--repro", repro, "--builders", "2"]);
    assert!(!e.contains("--builders"), "{e}");
    assert!(e.contains("is not a Linux kernel tree"), "{e}");
    let e = run(&["--kernel", "--repro", repro, "--builders", "65"]);
    assert!(e.contains("--builders must be between 1"), "{e}");
}

/// Whether some finished build of `marks` overlapped some run.
fn built_while_running(marks_dir: &Path) -> bool {
    let builds = marks(marks_dir, "build.");
    let runs = marks(marks_dir, "run.");
    builds
        .iter()
        .filter(|b| b.end.is_some())
        .any(|b| runs.iter().any(|r| overlap(b, r)))
}

#[test]
fn one_builder_with_overlap_builds_while_runs_go_on() {
    let t = tempfile::tempdir().unwrap();
    let repo = demo(t.path());
    let campaign = |name: &str, extra: &[&str]| {
        let marks_dir = t.path().join(format!("marks-{name}"));
        std::fs::create_dir_all(&marks_dir).unwrap();
        let out = t.path().join(format!("{name}.json"));
        let mut c = culprit();
        args(
            &mut c,
            &repo,
            // Builds need not wait for a second one: there is one builder.
            &marking_build_of(&marks_dir, "sh build.sh"),
            // Runs last at least a second, so that a build started while
            // one goes on shows as an overlap.
            &marking_test_after(&marks_dir, "sleep 1; "),
            &t.path().join(format!("w-{name}")),
        );
        let o = c.args(extra).arg("--json").arg(&out).output().unwrap();
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{name}: {log}\n{}", stderr(&o));
        (json(&out), marks_dir, log)
    };
    let (plain, plain_marks, _) = campaign("plain", &[]);
    assert_eq!(plain["culprit"], repo.culprit.as_str());
    assert!(
        !built_while_running(&plain_marks),
        "one action at a time, yet a build overlapped a run"
    );
    let (overlapped, marks_dir, log) = campaign("overlap", &["--overlap"]);
    assert_eq!(overlapped["culprit"], repo.culprit.as_str(), "{log}");
    assert!(
        built_while_running(&marks_dir),
        "with --overlap no build went on while a run did\n{log}"
    );
    // One builder: every build in the one-builder checkout.
    let tree = work_tree(&t.path().join("w-overlap"), "1");
    for b in marks(&marks_dir, "build.")
        .iter()
        .filter(|b| b.end.is_some())
    {
        assert_eq!(b.dir, tree, "{} built elsewhere", b.name);
    }
}

/// Builder `k`'s checkout in the workdir `work`, canonical: `tree` for
/// builder 1 (the one-builder checkout), `tree-K` for the others (README).
fn work_tree(work: &Path, k: &str) -> String {
    let name = match k {
        "1" => "tree".to_string(),
        k => format!("tree-{k}"),
    };
    work.join(name)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}
