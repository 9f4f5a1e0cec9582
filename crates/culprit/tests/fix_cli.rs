//! `culprit bisect --fix`: the first commit without the crash, on real git
//! repositories made here.

mod common;
use common::*;
use std::path::Path;

/// A line of 30 changes: change 4 brings BUG=1, change `fix` sets it back
/// (if any). Returns (repo, change 6, the fix, last).
fn history(dir: &Path, fix: Option<u32>) -> (std::path::PathBuf, String, String, String) {
    let (repo, _, _, _) = linear(dir, 0, 0);
    let (mut old, mut fixed) = (String::new(), String::new());
    for i in 1..=30u32 {
        std::fs::write(repo.join(format!("g{i}.txt")), "x\n").unwrap();
        if i == 4 {
            std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
        }
        if Some(i) == fix {
            std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
        }
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("step {i}")]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        if i == 6 {
            old = head.clone();
        }
        if Some(i) == fix {
            fixed = head;
        }
    }
    let last = git(&repo, &["rev-parse", "HEAD"]);
    (repo, old, fixed, last)
}

#[test]
fn the_fix_is_the_first_good_commit_and_reverting_it_brings_the_crash_back() {
    let t = tempfile::tempdir().unwrap();
    let (repo, old, fix, new) = history(t.path(), Some(19));
    let (log, v) = bisect(
        t.path(),
        &repo,
        &always_args(&new, &old, &["--fix", "--verify-runs", "4"]),
    );
    assert_eq!(v["direction"], "fix");
    assert_eq!(v["verdict"], "culprit", "{log}");
    assert_eq!(v["culprit"], fix.as_str(), "{log}");
    assert!(
        log.starts_with(&format!("bisecting fixing commit since {new}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{fix} is the first good commit")),
        "{log}"
    );
    // The target was learned on the old end.
    assert!(log.contains("target crash: "), "{log}");
    let ver = &v["verification"];
    assert_eq!(ver["outcome"], "persists", "{ver}");
    assert_eq!(ver["confirms"], true, "{ver}");
    assert!(
        log.contains("reverting the fix brings the crash back"),
        "{log}"
    );
    assert_eq!(v["exit_code"], 0);
}

#[test]
fn a_crash_at_the_new_end_is_not_fixed() {
    let t = tempfile::tempdir().unwrap();
    let (repo, old, _, new) = history(t.path(), None);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(always_args(&new, &old, &["--fix"]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(t.path().join("r.json"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{log}\n{}", stderr(&o));
    let v = json(&t.path().join("r.json"));
    assert_eq!(v["verdict"], "not_fixed", "{v}");
    assert!(log.contains("crash still not fixed"), "{log}");
    // Said after testing the two ends, not after a bisection.
    assert!(log.matches("testing commit").count() <= 2, "{log}");
}

#[test]
fn fix_needs_an_old_end() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, _, new) = history(t.path(), Some(10));
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args([
            "--bad",
            &new,
            "--fix",
            "--build",
            BUILD,
            "--test",
            TEST_ALWAYS,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--fix needs --good"), "{}", stderr(&o));
}

#[test]
fn a_fix_on_a_branch_that_never_had_the_bug_is_flagged() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, _, _) = linear(t.path(), 0, 0);
    let commit = |msg: &str| {
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", msg]);
        git(&repo, &["rev-parse", "HEAD"])
    };
    std::fs::write(repo.join("a.txt"), "1\n").unwrap();
    let fork = commit("before the bug");
    std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
    commit("the bug");
    std::fs::write(repo.join("a.txt"), "2\n").unwrap();
    let old = commit("the crash is seen here");
    std::fs::write(repo.join("a.txt"), "3\n").unwrap();
    commit("more on main");
    // A branch from before the bug: its commits never had it.
    git(&repo, &["checkout", "-q", "-b", "side", &fork]);
    std::fs::write(repo.join("side.txt"), "1\n").unwrap();
    let side = commit("side work");
    git(&repo, &["checkout", "-q", "main"]);
    // The merge takes the branch's state.txt: that is what removes the bug.
    let _ = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args([
            "merge",
            "-q",
            "--no-ff",
            "-s",
            "ours",
            "--no-commit",
            "side",
        ])
        .output()
        .unwrap();
    git(&repo, &["checkout", "side", "--", "side.txt"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    commit("Merge branch 'side'");
    std::fs::write(repo.join("a.txt"), "4\n").unwrap();
    let new = commit("after the merge");
    let (log, v) = bisect(
        t.path(),
        &repo,
        &always_args(&new, &old, &["--fix", "--no-verify"]),
    );
    // The side commit is the earliest commit without the crash, but its
    // history never had the bug: the answer says so.
    assert_eq!(v["culprit"], side.as_str(), "{log}");
    let flags: Vec<&str> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags.contains(&"off-path"), "{flags:?}");
    assert!(log.contains("forked before the crash was seen"), "{log}");
}
