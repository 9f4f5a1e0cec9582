//! `culprit bisect` end to end: real git repositories made here, the real
//! binary, shell build and test commands.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

#[test]
fn deterministic_bug_is_found_with_json() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 40, 23);
    let (log, v) = bisect(t.path(), &repo, &always_args(&bad, &good, &["--vms", "2"]));
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    assert_eq!(v["verdict"], "culprit");
    assert!(v["confidence"].as_f64().unwrap() >= 0.99);
    assert!(v["counts"]["builds"].as_u64().unwrap() <= 12, "{v}");
    assert!(log.contains(&format!("bisecting cause commit starting from {bad}")));
    assert!(log.contains(&format!("testing commit {bad}")));
    assert!(
        log.contains("run #0: crashed: ") || log.contains("all runs: crashed: "),
        "{log}"
    );
    assert!(log.contains(&format!("{want} is the first bad commit")));
    assert!(log.contains(&format!("first bad commit: {want} change 23")));
    assert!(log.contains("revisions tested: "));
    // Author and signers To, MAINTAINERS maintainers and lists To,
    // reviewers and THE REST's list Cc; Cc: trailers ignored.
    assert!(log.contains(r#"recipients (to): ["ann@example.org" "dana@example.org" "demo-list@example.org" "t@example.org"]"#), "{log}");
    assert!(
        log.contains(r#"recipients (cc): ["linux-kernel@vger.kernel.org" "rory@example.org"]"#),
        "{log}"
    );
    assert_eq!(v["recipients"]["cc"][1], "rory@example.org");
    // The workdir keeps the journal and the log.
    assert!(t.path().join("w/journal.jsonl").exists());
    assert!(t.path().join("w/bisect.log").exists());
}

#[test]
fn flaky_bug_in_merge_history_is_found() {
    let t = tempfile::tempdir().unwrap();
    // About 30% of runs crash on buggy commits, ~5% of runs are untestable,
    // ~3% show an unrelated warning, and three commits do not build.
    let demo = culprit::demo::make_repo(&t.path().join("repo"), 77).unwrap();
    let merges = git(&demo.path, &["rev-list", "--merges", "--count", "HEAD"]);
    assert!(merges.parse::<u32>().unwrap() >= 3);
    let (log, v) = bisect(
        t.path(),
        &demo.path,
        &[
            "--bad",
            &demo.bad,
            "--good",
            &demo.good,
            "--build",
            "sh build.sh",
            "--test",
            "sh \"$CULPRIT_ARTIFACT\"",
            "--artifact",
            "out/prog",
            "--vms",
            "4",
        ],
    );
    assert_eq!(v["culprit"], demo.culprit.as_str(), "{log}");
    let target = v["target"].as_str().unwrap();
    assert!(target.contains("demo_release"), "target {target}");
    // The reproducer fires in about 30% of runs. With a few dozen runs the
    // engine may see a change of rate along history in the noise, and then
    // `q_estimate` is the recent side's rate: it must still be neither
    // "always" nor "never".
    let q = v["q_estimate"].as_f64().unwrap();
    assert!((0.1..0.9).contains(&q), "q estimate {q}");
}

#[test]
fn killed_campaign_resumes_without_repeating_builds() {
    let t = tempfile::tempdir().unwrap();
    let demo = culprit::demo::make_repo(&t.path().join("repo"), 77).unwrap();
    let work = t.path().join("w");
    let args = |c: &mut Command| {
        c.args(["bisect", "--quiet", "--repo"])
            .arg(&demo.path)
            .args(["--bad", &demo.bad, "--good", &demo.good])
            .args(["--build", "sleep 0.2; sh build.sh"])
            .args(["--test", "sh \"$CULPRIT_ARTIFACT\""])
            .args(["--artifact", "out/prog", "--vms", "2", "--workdir"])
            .arg(&work);
    };
    let mut first = culprit();
    args(&mut first);
    let mut child = first.spawn().unwrap();
    let journal = work.join("journal.jsonl");
    let builds = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "build")
            .map(|v| v["commit"].as_str().unwrap().to_string())
            .collect()
    };
    let start = std::time::Instant::now();
    while builds(&journal).len() < 3 {
        assert!(start.elapsed().as_secs() < 120, "campaign made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "campaign ended too early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Ctrl-C: children stop, the journal stays intact.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let before = builds(&journal);

    let mut second = culprit();
    args(&mut second);
    let out_json = t.path().join("r.json");
    let o = second.arg("--json").arg(&out_json).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&out_json)["culprit"], demo.culprit.as_str());
    let after = builds(&journal);
    assert_eq!(&after[..before.len()], &before[..]);
    let mut uniq = after.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        after.len(),
        "a commit was built twice: {after:?}"
    );

    // A third run replays everything and builds nothing.
    let mut third = culprit();
    args(&mut third);
    let o = third.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(builds(&journal).len(), after.len());
}

fn expect_error(args: &[&str], repo: &Path, needle: &str) {
    let t = tempfile::tempdir().unwrap();
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(repo)
        .args(args)
        .arg("--workdir")
        .arg(t.path())
        .output()
        .unwrap();
    assert!(!o.status.success(), "expected failure for {args:?}");
    let e = stderr(&o);
    assert!(e.contains(needle), "error for {args:?} was: {e}");
}

#[test]
fn bad_input_gets_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 5, 3);
    let b = ALWAYS;
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(b.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str], needle: &str| {
        let v = with(extra);
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        expect_error(&r, &repo, needle);
    };
    run(
        &["--bad", "nosuchrev", "--good", &good],
        "unknown revision 'nosuchrev'",
    );
    run(&["--bad", &bad, "--good", &bad], "same commit");
    run(&["--bad", &good, "--good", &bad], "Did you swap them?");
    run(
        &["--bad", &bad, "--max-releases", "0"],
        "--max-releases must be at least 1",
    );
    run(&["--bad", &bad, "--oldest", &bad], "--oldest");
    expect_error(
        &[
            "--bad", "HEAD", "--good", "HEAD~1", "--build", "true", "--test", "true",
        ],
        &t.path().join("nope"),
        "not a git repository",
    );
    // A build command that cannot run at the bad commit.
    expect_error(
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            "no-such-build-tool",
            "--test",
            "true",
        ],
        &repo,
        "could not be started",
    );
    expect_error(
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            BUILD,
            "--test",
            "no-such-test-tool",
        ],
        &repo,
        "test command could not be started",
    );
    // A build that fails at the bad commit.
    expect_error(
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            "echo 'main.c:3: error: boom' >&2; exit 2",
            "--test",
            "true",
        ],
        &repo,
        "does not build: main.c:3: error: boom",
    );
    // A test that never fails on bad.
    expect_error(
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            BUILD,
            "--artifact",
            "out/state",
            "--test",
            "exit 0",
            "--verify-runs",
            "6",
        ],
        &repo,
        "did not reproduce on the bad commit",
    );
    // A test killed by a signal stops the campaign and shows the output.
    expect_error(
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            BUILD,
            "--test",
            "echo dying; kill -9 $$",
        ],
        &repo,
        "dying",
    );
}

#[test]
fn good_that_is_not_an_ancestor_uses_the_merge_base() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, want, bad) = linear(t.path(), 20, 12);
    let base = git(&repo, &["rev-parse", "HEAD~15"]);
    git(&repo, &["checkout", "-q", "-b", "side", &base]);
    std::fs::write(repo.join("side.txt"), "side\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "side work"]);
    let side = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);
    let (log, v) = bisect(t.path(), &repo, &always_args(&bad, &side, &[]));
    assert!(
        log.contains(&format!("using their merge base {base}")),
        "{log}"
    );
    assert_eq!(v["culprit"], want.as_str());
}

#[test]
fn target_option_ignores_other_crashes() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 30, 9);
    // Every commit after 4 also shows an unrelated failure in 20% of runs.
    let test = "if [ $(od -An -N1 -tu1 /dev/urandom) -lt 51 ]; then echo 'WARNING: CPU: 0 PID: 1 at lib/other.c:1 other_thing+0x1/0x2'; exit 1; fi; ".to_string()
        + TEST_ALWAYS;
    // The target is named as the report parser titles the bug's crash.
    let mut rep = culprit()
        .args(["report", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    rep.stdin
        .take()
        .unwrap()
        .write_all(b"BUG: unable to handle page fault for address: 0000000000000008\nRIP: 0010:demo_crash+0x5/0x10\n")
        .unwrap();
    let rep = rep.wait_with_output().unwrap();
    let title: Value = serde_json::from_slice(&rep.stdout).unwrap();
    let title = title["title"].as_str().unwrap().to_string();
    let (log, v) = bisect(
        t.path(),
        &repo,
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            BUILD,
            "--test",
            &test,
            "--artifact",
            "out/state",
            "--target",
            &title,
        ],
    );
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    assert_eq!(v["target"], title.as_str());
}

#[test]
fn campaign_file_gives_the_options() {
    let t = tempfile::tempdir().unwrap();
    let (_, good, want, bad) = linear(t.path(), 16, 5);
    let file = t.path().join("campaign.toml");
    let toml = format!(
        "repo = \"repo\"\nbad = \"{bad}\"\ngood = [\"{good}\"]\nbuild = {:?}\ntest = {:?}\nartifact = \"out/state\"\nvms = 3\nworkdir = \"w\"\n",
        BUILD, TEST_ALWAYS
    );
    std::fs::write(&file, toml).unwrap();
    let out_json = t.path().join("r.json");
    let o = culprit()
        .arg("bisect")
        .arg(&file)
        .arg("--json")
        .arg(&out_json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&out_json)["culprit"], want.as_str());
    // Relative paths in the file are relative to the file.
    assert!(t.path().join("w/journal.jsonl").exists());
    // A key the file does not know is an error that names it.
    std::fs::write(&file, "repo = \"repo\"\nbuidl = \"make\"\n").unwrap();
    let o = culprit().arg("bisect").arg(&file).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("buidl"), "{}", stderr(&o));
}

#[test]
fn crash_stack_hint_tests_the_crashing_code_first() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = c_history(t.path());
    let run = |dir: &str, extra: &[&'static str]| {
        let d = t.path().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        bisect(&d, &repo, &always_args(&bad, &good, extra))
    };
    let (log, v) = run("hint", &[]);
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    assert!(
        log.contains("crash stack hint: 6 commits touch crash.c (demo_crash)"),
        "{log}"
    );
    let (plain_log, plain) = run("plain", &["--no-hint"]);
    assert_eq!(plain["culprit"], want.as_str(), "{plain_log}");
    assert!(!plain_log.contains("crash stack hint"), "{plain_log}");
    assert_eq!(v["hint"]["commits"].as_array().unwrap().len(), 6);
    assert!(plain["hint"].is_null());
    let builds = |v: &Value| v["counts"]["builds"].as_u64().unwrap();
    assert!(
        builds(&v) < builds(&plain),
        "the hint should save builds: {} with it, {} without",
        builds(&v),
        builds(&plain)
    );

    // Resuming replays the journaled hint and repeats nothing.
    let (again, v2) = run("hint", &[]);
    assert!(again.contains("resuming from the journal"), "{again}");
    assert!(again.contains("crash stack hint: 6 commits"), "{again}");
    assert_eq!(v2["culprit"], want.as_str());
    assert_eq!(builds(&v2), builds(&v));
}

#[test]
fn runs_that_test_nothing_end_in_an_infrastructure_error_not_an_answer() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 8, 3);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(["--bad", &bad, "--good", &good, "--build", BUILD])
        .args([
            "--test",
            "echo 'boot failed: no disk'; exit 125",
            "--vms",
            "4",
        ])
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(t.path().join("r.json"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(7), "{log}\n{}", stderr(&o));
    let v = json(&t.path().join("r.json"));
    assert_eq!(v["verdict"], "infrastructure_error", "{v}");
    assert_eq!(v["reason"], "untestable");
    assert!(v["culprit"].is_null());
    let err = stderr(&o);
    assert!(err.contains("runs tested nothing"), "{err}");
    assert!(log.contains("runs tested nothing"), "{log}");
}
