//! Unit tests' way to make a real repository: git run in `dir` as one
//! fixed author (the mail tests read the author back).

use std::path::Path;
use std::process::Command;

/// `git -C dir ARGS` as Ann Author; its trimmed standard output. Panics
/// when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Ann Author",
            "-c",
            "user.email=ann@example.org",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
