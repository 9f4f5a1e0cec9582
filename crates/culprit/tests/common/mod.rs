//! Helpers shared by the integration tests: the culprit binary, git
//! repositories made in the test, shell build and test commands.
#![allow(dead_code)]

pub mod kernel;
pub mod slurm;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn culprit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_culprit"))
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A linear history of `n` commits; commit `bug` (1-based) sets BUG=1 in
/// state.txt. Returns (repo, first commit, culprit, last commit).
pub fn linear(dir: &Path, n: u32, bug: u32) -> (PathBuf, String, String, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    std::fs::write(repo.join("MAINTAINERS"), MAINTAINERS).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let mut culprit = String::new();
    for i in 1..=n {
        std::fs::write(repo.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
        if i == bug {
            std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
        }
        git(&repo, &["add", "."]);
        let msg = if i == bug {
            format!("change {i}\n\nSigned-off-by: T <t@example.org>\nReviewed-by: Ann <Ann@Example.org>\nCc: Nobody <nobody@example.org>")
        } else {
            format!("change {i}")
        };
        git(&repo, &["commit", "-q", "-m", &msg]);
        if i == bug {
            culprit = git(&repo, &["rev-parse", "HEAD"]);
        }
    }
    let last = git(&repo, &["rev-parse", "HEAD"]);
    (repo, first, culprit, last)
}

pub fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `culprit bisect --repo REPO ARGS --workdir T/w --json T/r.json`,
/// asserts it succeeded, and returns its log (stdout) and JSON result.
pub fn bisect(t: &Path, repo: &Path, args: &[&str]) -> (String, Value) {
    let out_json = t.join("r.json");
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(repo)
        .args(args)
        .arg("--workdir")
        .arg(t.join("w"))
        .arg("--json")
        .arg(&out_json)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{log}\n{}", stderr(&o));
    (log, json(&out_json))
}

pub const MAINTAINERS: &str = "DEMO STATE\nM:\tDana Maintainer <dana@example.org>\nR:\tRory Reviewer <rory@example.org>\nL:\tdemo-list@example.org\nS:\tMaintained\nF:\tstate.txt\n\nTHE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nL:\tlinux-kernel@vger.kernel.org\nS:\tBuried alive in reporters\nF:\t*\nF:\t*/\n";

pub const BUILD: &str = "mkdir -p out && cp state.txt out/state";
pub const TEST_ALWAYS: &str = "grep -q BUG=1 \"$CULPRIT_ARTIFACT\" && { echo 'BUG: unable to handle page fault for address: 0000000000000008'; echo 'RIP: 0010:demo_crash+0x5/0x10'; exit 1; }; exit 0";

/// The shell build and the always-crashing test, with their artifact.
pub const ALWAYS: [&str; 6] = [
    "--build",
    BUILD,
    "--test",
    TEST_ALWAYS,
    "--artifact",
    "out/state",
];

/// `culprit bisect` options for the shell build and the always-crashing
/// test from `bad` with no good end (the campaign walks back to find one),
/// then `extra`.
pub fn walk_always_args<'a>(bad: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--bad", bad];
    v.extend_from_slice(&ALWAYS);
    v.extend_from_slice(extra);
    v
}

/// [`walk_always_args`] over `bad`..`good`, then `extra`.
pub fn always_args<'a>(bad: &'a str, good: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = walk_always_args(bad, &["--good", good]);
    v.extend_from_slice(extra);
    v
}

/// A linear history of 60 commits over ten C files; `crash.c` defines the
/// crashing function and is touched by six commits, one of them the culprit
/// (commit 37). Returns (repo, first, culprit, last).
pub fn c_history(dir: &Path) -> (PathBuf, String, String, String) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    std::fs::write(
        repo.join("crash.c"),
        "int demo_crash(int x)\n{\n\treturn x;\n}\n",
    )
    .unwrap();
    for f in 0..9 {
        std::fs::write(repo.join(format!("f{f}.c")), format!("int f{f}(void);\n")).unwrap();
    }
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let mut culprit = String::new();
    for i in 1..=60u32 {
        let file = if i % 10 == 7 {
            "crash.c".to_string()
        } else {
            format!("f{}.c", i % 9)
        };
        let mut text = std::fs::read_to_string(repo.join(&file)).unwrap();
        text.push_str(&format!("/* change {i} */\n"));
        std::fs::write(repo.join(&file), text).unwrap();
        if i == 37 {
            std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
        }
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("change {i}")]);
        if i == 37 {
            culprit = git(&repo, &["rev-parse", "HEAD"]);
        }
    }
    let last = git(&repo, &["rev-parse", "HEAD"]);
    (repo, first, culprit, last)
}

/// A fix for the linear history's bug, as `git format-patch` writes it
/// (in `dir`; the repository is left on main).
pub fn fix_patch(dir: &Path, repo: &Path) -> PathBuf {
    git(repo, &["checkout", "-q", "-b", "fix"]);
    std::fs::write(repo.join("state.txt"), "BUG=0\n").unwrap();
    git(repo, &["commit", "-q", "-a", "-m", "state: fix the bug"]);
    let text = git(repo, &["format-patch", "-1", "--stdout"]);
    git(repo, &["checkout", "-q", "main"]);
    let p = dir.join("0001-fix.patch");
    std::fs::write(&p, text + "\n").unwrap();
    p
}

/// `culprit test` options for commit `rev` with the shell build and the
/// always-crashing test, then `extra`.
pub fn test_always_args<'a>(rev: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["test", "--commit", rev];
    v.extend_from_slice(&ALWAYS);
    v.extend_from_slice(extra);
    v
}
