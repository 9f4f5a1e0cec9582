//! A careless or hostile user: two campaigns on one workdir, a checkout
//! culprit does not own, absurd option values, a signal during an endless
//! `culprit report`, escape sequences in commit subjects, a journal torn
//! inside a multi-byte character.

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_second_campaign_on_the_same_workdir_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, last) = linear(t.path(), 12, 7);
    let work = t.path().join("w");
    let args = |c: &mut Command| {
        c.args(["bisect", "--quiet", "--repo"])
            .arg(&repo)
            .args([
                "--bad",
                &last,
                "--good",
                &first,
                "--build",
                "sleep 1; mkdir -p out && cp state.txt out/state",
                "--test",
                TEST_ALWAYS,
                "--artifact",
                "out/state",
                "--workdir",
            ])
            .arg(&work);
    };
    let mut one = culprit();
    args(&mut one);
    let mut running = one.stdout(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !work.join("lock").exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut two = culprit();
    args(&mut two);
    let o = two.output().unwrap();
    let _ = running.kill();
    let _ = running.wait();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("another culprit is running"), "{e}");
    assert!(e.contains(&format!("pid {}", running.id())), "{e}");
}

#[test]
fn a_checkout_culprit_does_not_own_is_refused_and_untouched() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, last) = linear(t.path(), 6, 3);
    let work = t.path().join("w");
    // The user's own clone where culprit would put its checkout, with an
    // edit not yet committed.
    let tree = work.join("tree");
    let o = Command::new("git")
        .args(["clone", "-q"])
        .arg(&repo)
        .arg(&tree)
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::write(tree.join("f1.txt"), "my unsaved work\n").unwrap();
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(always_args(&last, &first, &[]))
        .arg("--workdir")
        .arg(&work)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains(&tree.display().to_string()), "{e}");
    assert_eq!(
        std::fs::read_to_string(tree.join("f1.txt")).unwrap(),
        "my unsaved work\n"
    );
    assert_eq!(git(&tree, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
}

#[test]
fn absurd_numbers_get_a_clear_error_at_once() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, last) = linear(t.path(), 6, 3);
    for (opt, value, needle) in [
        ("--vms", "100000", "--vms must be between 1 and"),
        ("--vms", "0", "--vms must be between 1 and"),
        ("--verify-runs", "0", "--verify-runs must be between 1 and"),
        ("--run-timeout", "1e19", "--run-timeout"),
    ] {
        let start = Instant::now();
        let work = t.path().join(format!("w{opt}{value}"));
        let o = culprit()
            .args(["bisect", "--repo"])
            .arg(&repo)
            .args(always_args(&last, &first, &[opt, value]))
            .arg("--workdir")
            .arg(&work)
            .output()
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{opt} {value} took {:?}",
            start.elapsed()
        );
        assert_eq!(o.status.code(), Some(1), "{opt} {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{opt} {value}: {}", stderr(&o));
        assert!(!work.exists(), "{opt} {value} created the workdir");
    }
}

#[test]
fn sigterm_ends_culprit_report_on_an_endless_input() {
    let mut c = culprit()
        .args(["report", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let line = b"[   1.000000] a console line that is no report at all\n".repeat(64);
        while stdin.write_all(&line).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(c.try_wait().unwrap().is_none(), "report ended on its own");
    let sent = Instant::now();
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(3), "SIGTERM ignored");
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = sent.elapsed();
    eprintln!("SIGTERM to exit: {took:?}");
    assert_eq!(status.code(), Some(130));
    assert!(took < Duration::from_secs(1), "{took:?}");
    feeder.join().unwrap();
}

#[test]
fn escape_sequences_in_subjects_do_not_reach_the_terminal() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let good = git(&repo, &["rev-parse", "HEAD"]);
    // Clear the screen, set the window title, fake a result line.
    let evil = "fix \x1b[2J\x1b]0;owned\x07\rculprit: 0000 is the first bad commit";
    std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
    git(&repo, &["commit", "-q", "-am", evil]);
    for i in 0..3 {
        std::fs::write(repo.join(format!("f{i}")), "x").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("more {i}")]);
    }
    let bad = git(&repo, &["rev-parse", "HEAD"]);
    let (log, j) = bisect(t.path(), &repo, &always_args(&bad, &good, &[]));
    assert!(!log.contains('\x1b') && !log.contains('\x07') && !log.contains('\r'));
    assert!(log.contains("\\x1b[2J"), "{log}");
    let saved = std::fs::read_to_string(t.path().join("w/bisect.log")).unwrap();
    assert!(!saved.contains('\x1b'));
    // The JSON keeps the text as it is.
    let subjects: Vec<&str> = j["commits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["subject"].as_str())
        .collect();
    assert!(subjects.contains(&evil), "{subjects:?}");
}

#[test]
fn a_journal_torn_inside_a_character_resumes_twice() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, culprit_commit, last) = linear(t.path(), 20, 9);
    let args = always_args(&last, &first, &[]);
    let (_, j) = bisect(t.path(), &repo, &args);
    assert_eq!(j["culprit"], culprit_commit.as_str());
    let journal = t.path().join("w/journal.jsonl");
    let text = std::fs::read(&journal).unwrap();
    let records = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    // Keep the first half, then half of a record whose text ends inside
    // the two bytes of "é".
    let keep: Vec<&[u8]> = text.split(|&b| b == b'\n').take(records / 2).collect();
    let mut torn = keep.join(&b'\n');
    torn.extend_from_slice(b"\n{\"type\":\"build\",\"subject\":\"caf\xc3");
    std::fs::write(&journal, &torn).unwrap();
    for _ in 0..2 {
        let (_, j) = bisect(t.path(), &repo, &args);
        assert_eq!(j["culprit"], culprit_commit.as_str());
    }
    let kept_aside = std::fs::read_dir(t.path().join("w"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("journal.jsonl.torn-")
        })
        .count();
    assert_eq!(kept_aside, 1);
    let healed = std::fs::read_to_string(&journal).unwrap();
    for l in healed.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
}
