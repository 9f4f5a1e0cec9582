//! `culprit test` end to end: a real git repository made here, patches
//! made with git, the real binary with shell build and test commands.

mod common;

use common::*;

#[test]
fn a_patch_that_fixes_the_bug_makes_every_run_clean() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _first, _culprit, bad) = linear(t.path(), 6, 3);
    let patch = fix_patch(t.path(), &repo);
    let status_before = git(&repo, &["status", "--porcelain"]);
    let refs_before = git(&repo, &["for-each-ref"]);
    let work = t.path().join("w");
    let out_json = t.path().join("t.json");

    // Unpatched: every run crashes, exit status 6.
    let o = culprit()
        .args(test_always_args(&bad, &["--runs", "3", "--vms", "2"]))
        .arg("--repo")
        .arg(&repo)
        .arg("--workdir")
        .arg(&work)
        .arg("--json")
        .arg(&out_json)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(6), "{log}\n{}", stderr(&o));
    assert!(log.contains(&format!("testing commit {bad}")), "{log}");
    let title_line = log
        .lines()
        .find(|l| l.starts_with("crashed 3 times: BUG: "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(title_line.ends_with(" in demo_crash"), "{log}");
    let v = json(&out_json);
    assert_eq!(v["commit"], bad.as_str());
    assert_eq!(v["crashed"], 3);
    assert_eq!(v["exit_code"], 6);
    let console = v["crashes"][0]["consoles"][0].as_str().unwrap();
    assert!(std::fs::read_to_string(console)
        .unwrap()
        .contains("demo_crash"));

    // Patched: a new commit on bad, every run clean, exit status 0.
    let o = culprit()
        .args(test_always_args(&bad, &["--runs", "3", "--patch"]))
        .arg(&patch)
        .arg("--repo")
        .arg(&repo)
        .arg("--workdir")
        .arg(&work)
        .arg("--json")
        .arg(&out_json)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{log}\n{}", stderr(&o));
    let v = json(&out_json);
    let tested = v["commit"].as_str().unwrap().to_string();
    assert_ne!(tested, bad);
    assert_eq!(v["base"], bad.as_str());
    assert_eq!(
        (v["clean"].as_u64(), v["crashed"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(
        log.contains(&format!("testing commit {tested}: {bad} with 1 patch")),
        "{log}"
    );
    assert!(log.contains("exit status 0: no run crashed"), "{log}");
    assert_eq!(git(&repo, &["rev-parse", &format!("{tested}^")]), bad);
    // The user's repository did not change.
    assert_eq!(git(&repo, &["status", "--porcelain"]), status_before);
    assert_eq!(git(&repo, &["for-each-ref"]), refs_before);
}

#[test]
fn a_patch_that_does_not_apply_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _culprit, _bad) = linear(t.path(), 4, 2);
    let patch = fix_patch(t.path(), &repo);
    // On the first commit state.txt reads BUG=0: the fix has nothing to fix.
    let o = culprit()
        .args(test_always_args(&first, &["--patch"]))
        .arg(&patch)
        .arg("--repo")
        .arg(&repo)
        .arg("--workdir")
        .arg(t.path().join("w"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("0001-fix.patch does not apply"), "{err}");
    assert!(err.contains("hunk #1 of state.txt"), "{err}");
}

#[test]
fn a_build_that_fails_means_nothing_was_tested() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _first, _culprit, bad) = linear(t.path(), 3, 2);
    let o = culprit()
        .args([
            "test",
            "--commit",
            &bad,
            "--build",
            "echo 'error: no compiler' >&2; exit 2",
            "--test",
            "true",
            "--runs",
            "2",
        ])
        .arg("--repo")
        .arg(&repo)
        .arg("--workdir")
        .arg(t.path().join("w"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(7), "{log}\n{}", stderr(&o));
    assert!(log.contains("build failed: error: no compiler"), "{log}");
    assert!(log.contains("nothing was tested"), "{log}");
}

#[test]
fn options_of_the_other_mode_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _first, _culprit, bad) = linear(t.path(), 2, 1);
    let o = culprit()
        .args(test_always_args(&bad, &["--memory", "256"]))
        .arg("--repo")
        .arg(&repo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--memory is a kernel-mode option"),
        "{}",
        stderr(&o)
    );
    let o = culprit()
        .args(test_always_args(&bad, &["--runs", "0"]))
        .arg("--repo")
        .arg(&repo)
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("--runs must be at least 1"),
        "{}",
        stderr(&o)
    );
}
