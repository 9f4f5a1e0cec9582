//! Without --good, culprit walks back to find a good end: over release
//! tags, or along the first-parent line where there are none. Real git
//! repositories made here, the shell build and test of generic mode.

mod common;
use common::*;
use std::path::Path;

fn nth(repo: &Path, bad: &str, back: u32) -> String {
    git(repo, &["rev-parse", &format!("{bad}~{back}")])
}

fn walk_args<'a>(bad: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = walk_always_args(bad, &["--verify-runs", "4"]);
    v.extend_from_slice(extra);
    v
}

#[test]
fn the_walk_tests_releases_newest_first_and_bisects_from_the_good_one() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, want, bad) = linear(t.path(), 40, 23);
    // change i is bad~(40-i). Releases at changes 5, 12, 20, 30; an -rc
    // and a stable update that the walk must not take for releases.
    for (tag, change) in [
        ("v1.0", 5),
        ("v1.1", 12),
        ("v1.2", 20),
        ("v1.3-rc1", 26),
        ("v1.3", 30),
        ("v1.3.1", 35),
    ] {
        git(&repo, &["tag", tag, &nth(&repo, &bad, 40 - change)]);
    }
    let (log, v) = bisect(t.path(), &repo, &walk_args(&bad, &[]));
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    let w = &v["walk"];
    assert_eq!(w["by"], "releases", "{w}");
    assert_eq!(w["good"], "v1.2", "{w}");
    assert_eq!(w["good_commit"], nth(&repo, &bad, 20).as_str());
    let labels: Vec<&str> = w["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["v1.3", "v1.2", "v1.1", "v1.0"], "{w}");
    // Newest first: v1.3 (which has the bug) before v1.2; nothing older.
    let at = |s: &str| log.find(s).unwrap_or_else(|| panic!("no {s:?} in\n{log}"));
    assert!(
        at("testing release v1.3") < at("testing release v1.2"),
        "{log}"
    );
    assert!(!log.contains("testing release v1.1"), "{log}");
    assert!(log.contains("release v1.2 is good"), "{log}");
    assert_eq!(v["goods"][0], nth(&repo, &bad, 20).as_str());
    // The walk's runs on bad and v1.3 count in the bisection: neither is
    // built again.
    assert_eq!(
        log.matches(&format!("testing commit {bad}\n")).count(),
        1,
        "{log}"
    );
    assert_eq!(v["verification"]["outcome"], "fixed");

    // Rerunning replays both journals.
    let (again, v2) = bisect(t.path(), &repo, &walk_args(&bad, &[]));
    assert_eq!(v2["culprit"], v["culprit"]);
    assert!(!again.contains("testing commit"), "{again}");
}

#[test]
fn without_tags_the_walk_doubles_its_steps_along_the_first_parent_line() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, want, bad) = linear(t.path(), 40, 34);
    let (log, v) = bisect(t.path(), &repo, &walk_args(&bad, &[]));
    assert_eq!(v["culprit"], want.as_str(), "{log}");
    let w = &v["walk"];
    assert_eq!(w["by"], "first_parent", "{w}");
    // bad~1, ~2, ~4 have the bug (change 34 is bad~6); bad~8 does not.
    assert_eq!(w["good"], "bad~8", "{w}");
    assert_eq!(w["good_commit"], nth(&repo, &bad, 8).as_str());
    assert!(log.contains("commit bad~8 is good"), "{log}");
}

#[test]
fn a_bug_in_the_oldest_release_is_its_own_answer() {
    let t = tempfile::tempdir().unwrap();
    let (repo, _, _, bad) = linear(t.path(), 20, 3);
    git(&repo, &["tag", "v2.0", &nth(&repo, &bad, 10)]);
    git(&repo, &["tag", "v2.1", &nth(&repo, &bad, 5)]);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(walk_args(&bad, &[]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(t.path().join("r.json"))
        .arg("--report")
        .arg(t.path().join("m.eml"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{log}\n{}", stderr(&o));
    let v = json(&t.path().join("r.json"));
    assert_eq!(v["verdict"], "older", "{v}");
    // The e-mail says what was found instead of a culprit.
    let mail = std::fs::read_to_string(t.path().join("m.eml")).unwrap();
    assert!(mail.contains("oldest commit tested"), "{mail}");
    assert_eq!(v["walk"]["oldest_has_bug"], true, "{v}");
    assert!(
        log.contains("the oldest tested release v2.0 already has the bug"),
        "{log}"
    );
}

#[test]
fn a_bug_present_at_the_first_commit_of_history_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("state.txt"), "BUG=1\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    for i in 0..5 {
        std::fs::write(repo.join("n.txt"), format!("{i}\n")).unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("c{i}")]);
    }
    let bad = git(&repo, &["rev-parse", "HEAD"]);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(walk_args(&bad, &[]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("first commit of history"), "{err}");
    assert!(err.contains("--good"), "{err}");
}

#[test]
fn oldest_bounds_the_walk_and_needs_no_good() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, bad) = linear(t.path(), 12, 3);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(walk_args(&bad, &["--good", &first, "--oldest", &first]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--oldest"), "{}", stderr(&o));
    // Bounded at change 6: the oldest step already has the bug.
    let oldest = nth(&repo, &bad, 6);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(walk_args(&bad, &["--oldest", &oldest]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{log}\n{}", stderr(&o));
    assert!(log.contains("already has the bug"), "{log}");
    assert!(!log.contains(&format!("testing commit {first}")), "{log}");
}
