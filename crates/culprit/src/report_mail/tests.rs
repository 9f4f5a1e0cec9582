//! Mails assembled from summaries made here, over a real repository.

use super::*;
use crate::campaign::Counts;
use crate::print::mail::{body, render, subject};
use crate::result::{BisectResult, CommitDoc, Files as ResultFiles, Timings, Totals};
use crate::test_git::git;
use culprit_git::trailers::Recipients;
use std::path::Path;

/// good (tagged v1.0) -> culprit -> bad.
fn repo(dir: &Path) -> (Repo, String, String, String) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "Release 1.0"]);
    git(dir, &["tag", "v1.0"]);
    let good = git(dir, &["rev-parse", "HEAD"]);
    git(
        dir,
        &["commit", "-q", "--allow-empty", "-m", "mm: break it"],
    );
    let culprit = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "later work"]);
    let bad = git(dir, &["rev-parse", "HEAD"]);
    (Repo::open(dir).unwrap(), good, culprit, bad)
}

fn summary(verdict: &'static str, culprit: Option<&str>, good: &str, bad: &str) -> Summary {
    Summary {
        result: BisectResult {
            schema: "culprit-bisect/1",
            direction: "cause",
            verdict,
            reason: if verdict == "inconclusive" {
                "max_builds"
            } else {
                "confident"
            },
            exit_code: 0,
            culprit: culprit.map(str::to_string),
            confidence: 0.995,
            range: Vec::new(),
            target: Some("BUG: unable to handle page fault in demo_crash".into()),
            q_estimate: 0.5,
            evidence: crate::result::EvidenceDoc {
                drift: 0.0,
                q_old: None,
                region: 0.0,
                background: 0.0,
                suspicious: Vec::new(),
                weak: Vec::new(),
            },
            flags: vec!["merge"],
            recipients: Some(Recipients {
                to: vec!["ann@example.org".into()],
                cc: vec!["list@example.org".into()],
            }),
            bad: bad.into(),
            goods: vec![good.into()],
            counts: Totals {
                candidates: 2,
                revisions_tested: 3,
                builds: 3,
                runs: 12,
                rounds: 5,
            },
            timings: Timings {
                build_secs: 30.0,
                test_secs: 60.0,
                total_secs: 90.0,
            },
            identities: Vec::new(),
            seen_on_bad: Vec::new(),
            hint: None,
            files: ResultFiles {
                console: Some("/w/runs/x/0.log".into()),
                build_log: None,
                config: Some("/w/kernels/x/config".into()),
            },
            crash: None,
            verification: None,
            walk: None,
            commits: vec![CommitDoc {
                commit: good.into(),
                subject: "Release 1.0".into(),
                good_end: true,
                build: "ok",
                build_error: None,
                signature: None,
                same_as: None,
                runs: Counts {
                    target: 3,
                    other: 1,
                    clean: 0,
                    untestable: 0,
                },
            }],
        },
        culprit_stat: Vec::new(),
        culprit_subject: None,
        culprit_signature: None,
        parent_signatures: Vec::new(),
        credible: Vec::new(),
        asked_confidence: 0.99,
        product: "kernel".into(),
        not_reproduced: None,
        infrastructure: None,
    }
}

#[test]
fn a_culprit_result_becomes_a_found_mail() {
    let d = tempfile::tempdir().unwrap();
    let (repo, good, culprit, bad) = repo(d.path());
    let s = summary("culprit", Some(&culprit), &good, &bad);
    let mut o = MailOptions::new(
        Direction::Cause,
        Verification::Confirmed {
            runs: 10,
            crashed: 0,
        },
    );
    o.log = Some("/w/bisect.log".into());
    let m = mail_for(&repo, &s, &o).unwrap();
    let Outcome::Found { commit, flags, .. } = &m.outcome else {
        panic!("{:?}", m.outcome)
    };
    assert_eq!(commit.hash, culprit);
    assert_eq!(commit.author_name, "Ann Author");
    assert_eq!(flags, &[Flag::Merge]);
    assert_eq!(m.start.sha, bad);
    assert_eq!(m.start.subject, "later work");
    assert_eq!(m.to, [Address::new("ann@example.org")]);
    assert_eq!(m.effort.runs, 12);
    let b = body(&m);
    assert!(
        b.contains(&format!("Fixes: {} (\"mm: break it\")", &culprit[..12])),
        "{b}"
    );
    assert!(b.contains("bisection log:  /w/bisect.log\n"), "{b}");
    assert!(b.contains("kernel config:  /w/kernels/x/config\n"), "{b}");
    assert!(render(&m)
        .starts_with("To: ann@example.org\nCc: list@example.org\nSubject: [culprit] BUG:"));
}

#[test]
fn other_verdicts_become_their_variants() {
    let d = tempfile::tempdir().unwrap();
    let (repo, good, culprit, bad) = repo(d.path());
    let o = MailOptions::new(
        Direction::Cause,
        Verification::NotDone {
            why: "no culprit".into(),
        },
    );
    let m = mail_for(&repo, &summary("older", None, &good, &bad), &o).unwrap();
    let Outcome::Older {
        oldest,
        crashed,
        runs,
    } = &m.outcome
    else {
        panic!("{:?}", m.outcome)
    };
    assert_eq!(oldest.tag.as_deref(), Some("v1.0"));
    assert_eq!((*crashed, *runs), (3, 4));
    assert!(
        subject(&m).ends_with(": already present in v1.0"),
        "{}",
        subject(&m)
    );

    let mut s = summary("inconclusive", None, &good, &bad);
    s.credible = vec![
        (culprit.clone(), 0.7, "mm: break it".into()),
        (
            "older-than-good".into(),
            0.2,
            "(older than every good commit)".into(),
        ),
    ];
    let m = mail_for(&repo, &s, &o).unwrap();
    let Outcome::Inconclusive { candidates, why } = &m.outcome else {
        panic!("{:?}", m.outcome)
    };
    assert_eq!(candidates[0].commit.as_ref().unwrap().sha, culprit);
    assert!(candidates[1].commit.is_none());
    assert_eq!(
        why.as_deref(),
        Some("the build budget (--max-builds) ran out")
    );

    let mut s = summary("not_reproduced", None, &good, &bad);
    s.not_reproduced = Some("the bug did not reproduce on the bad commit".into());
    let m = mail_for(&repo, &s, &o).unwrap();
    assert!(
        matches!(&m.outcome, Outcome::NotReproduced { why } if why.contains("did not reproduce"))
    );
    assert_eq!(m.effort.q_estimate, None);
}
