//! Revert verification in generic mode, on real git repositories: the
//! named culprit is reverted on the bad commit, built and run.

mod common;
use common::*;

/// What the user's repository shows: refs, HEAD, status.
fn untouched(repo: &std::path::Path) -> String {
    [
        git(repo, &["for-each-ref"]),
        git(repo, &["rev-parse", "HEAD"]),
        git(repo, &["status", "--porcelain"]),
    ]
    .join("\n")
}

#[test]
fn a_revert_that_removes_the_crash_verifies_the_culprit() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 12, 5);
    let before = untouched(&repo);
    let (out, v) = bisect(
        t.path(),
        &repo,
        &always_args(&bad, &good, &["--verify-runs", "4"]),
    );
    assert_eq!(v["culprit"], want.as_str());
    assert_eq!(v["exit_code"], 0);
    let ver = &v["verification"];
    assert_eq!(ver["outcome"], "fixed", "{ver}");
    assert_eq!(ver["culprit"], want.as_str());
    assert_eq!(ver["onto"], bad.as_str());
    // Clean runs until a bug still there would have shown at the asked
    // confidence (the crash shows in about 90% of runs here), at most 4.
    let clean = ver["counts"]["clean"].as_u64().unwrap();
    assert!((2..=4).contains(&clean), "{ver}");
    assert!(out.contains(&format!("verifying {want}")), "{out}");
    assert!(out.contains("revert fixes the crash: "), "{out}");
    // The revert is a commit object on the bad commit, nothing more.
    let revert = ver["commit"].as_str().unwrap();
    assert_eq!(git(&repo, &["rev-parse", &format!("{revert}^")]), bad);
    assert_eq!(untouched(&repo), before);

    // Rerunning replays the journal: nothing is built or run again.
    let (again, v2) = bisect(
        t.path(),
        &repo,
        &always_args(&bad, &good, &["--verify-runs", "4"]),
    );
    assert_eq!(v2["verification"], v["verification"]);
    assert!(!again.contains("testing commit"), "{again}");
}

#[test]
fn a_revert_that_conflicts_leaves_the_culprit_unverified() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, _) = linear(t.path(), 12, 5);
    // A later commit rewrites the culprit's line: the revert conflicts.
    std::fs::write(repo.join("state.txt"), "BUG=1 (reworded)\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "reword the state"]);
    let bad = git(&repo, &["rev-parse", "HEAD"]);
    let mail = t.path().join("mail.eml");
    let mail_arg = mail.display().to_string();
    let (out, v) = bisect(
        t.path(),
        &repo,
        &always_args(&bad, &good, &["--verify-runs", "4", "--report", &mail_arg]),
    );
    assert_eq!(v["culprit"], want.as_str());
    assert_eq!(v["exit_code"], 0);
    let ver = &v["verification"];
    assert_eq!(ver["outcome"], "does_not_apply", "{ver}");
    // The e-mail says the answer is unverified, and why.
    let text = std::fs::read_to_string(&mail).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("verification:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("not possible") && line.contains("conflicts in state.txt"),
        "{line}"
    );
    assert!(
        ver["reason"].as_str().unwrap().contains("state.txt"),
        "{ver}"
    );
    assert!(ver["commit"].is_null(), "{ver}");
    assert!(out.contains("revert does not apply: "), "{out}");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_culprit_whose_revert_still_crashes_is_suspect_and_no_verify_skips_it() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, _) = linear(t.path(), 12, 5);
    // A later commit crashes by itself too: reverting the culprit is not
    // enough to make the bad commit clean.
    std::fs::write(repo.join("other.txt"), "BUG=1\n").unwrap();
    git(&repo, &["add", "other.txt"]);
    git(&repo, &["commit", "-q", "-m", "a second way to crash"]);
    let bad = git(&repo, &["rev-parse", "HEAD"]);
    let test = "cat state.txt other.txt 2>/dev/null | grep -q BUG=1 && { echo 'BUG: unable to handle page fault for address: 0000000000000008'; exit 1; }; exit 0";
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            "--bad".to_string(),
            bad.clone(),
            "--good".into(),
            good.clone(),
            "--build".into(),
            "true".into(),
            "--test".into(),
            test.into(),
            "--verify-runs".into(),
            "4".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(args(&[]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(t.path().join("r.json"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(6), "{out}\n{}", stderr(&o));
    let v = json(&t.path().join("r.json"));
    assert_eq!(v["exit_code"], 6);
    assert_eq!(v["verification"]["outcome"], "persists", "{v}");
    assert!(out.contains("crash persists after revert: "), "{out}");
    assert_eq!(v["culprit"], want.as_str());

    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(args(&["--no-verify"]))
        .arg("--workdir")
        .arg(t.path().join("w2"))
        .arg("--json")
        .arg(t.path().join("r2.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&t.path().join("r2.json"))["verification"].is_null());
}

#[test]
fn report_writes_the_maintainer_email() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, culprit_commit, last) = linear(t.path(), 12, 7);
    let mail = t.path().join("mail.eml");
    let mail_arg = mail.display().to_string();
    let (_, j) = bisect(
        t.path(),
        &repo,
        &always_args(&last, &first, &["--report", &mail_arg]),
    );
    assert_eq!(j["culprit"], culprit_commit.as_str());
    let text = std::fs::read_to_string(&mail).unwrap();
    let (head, body) = text
        .split_once("\n\n")
        .expect("headers, a blank line, a body");
    // Long headers are folded onto lines starting with a space.
    let head = head.replace("\n ", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name}: in\n{head}"))
            .to_string()
    };
    // MAINTAINERS names Dana for state.txt, which the culprit changes.
    assert!(header("To").contains("dana@example.org"), "{head}");
    assert!(header("Subject").contains("change 7"), "{head}");
    assert!(body.contains(&culprit_commit[..12]), "{body}");
    assert!(
        body.contains("revert"),
        "the verification is in the body:\n{body}"
    );
}
