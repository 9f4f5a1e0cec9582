//! The recipients of a result, read from a real repository made here.

use culprit_git::{Guilty, Repo};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn commit(dir: &Path, files: &[(&str, &str)], msg: &str, author: (&str, &str)) -> String {
    for (f, t) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    git(dir, &["add", "-A"]);
    let name = format!("user.name={}", author.0);
    let email = format!("user.email={}", author.1);
    git(dir, &["-c", &name, "-c", &email, "commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

const FOO: &str =
    "FOO DRIVER\nM:\tFiona <fiona@foo.org>\nL:\tfoo-list@foo.org\nS:\tMaintained\nF:\tfoo/\n\n";
const BAR: &str = "BAR CORE\nM:\tBarry <barry@bar.org>\nR:\tRhea <rhea@bar.org>\nL:\tbar-list@bar.org\nS:\tMaintained\nF:\tbar/\n\n";
const REST: &str = "THE REST\nM:\tLinus <linus@example.org>\nL:\tlkml@example.org\nS:\tBuried alive in reporters\nF:\t*\nF:\t*/\n";

#[test]
fn the_guilty_files_maintainers_at_the_crash_commit_are_in_cc() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    let me = ("Ann", "ann@example.org");
    commit(
        p,
        &[
            ("MAINTAINERS", &format!("{FOO}{REST}")),
            ("foo/a.c", "a\n"),
            ("bar/core.c", "c\n"),
        ],
        "root",
        me,
    );
    let culprit = commit(
        p,
        &[("foo/a.c", "a2\n")],
        "foo: change a\n\nWhy.\n\nReviewed-and-tested-by: Tess <Tess@example.org>\nCc: ignored@example.org\nSigned-off-by: Ann <ann@example.org>\n",
        me,
    );
    // The BAR entry appears only after the culprit: the guilty file's
    // people come from MAINTAINERS where the crash was seen.
    let bad = commit(
        p,
        &[("MAINTAINERS", &format!("{FOO}{BAR}{REST}"))],
        "MAINTAINERS: add BAR",
        me,
    );
    let repo = Repo::open(p).unwrap();
    let guilty = Guilty {
        file: "bar/core.c".into(),
        at: bad.clone(),
    };
    let r = repo.result_recipients(&culprit, Some(&guilty)).unwrap();
    assert_eq!(
        r.to,
        [
            "ann@example.org",
            "fiona@foo.org",
            "foo-list@foo.org",
            "linus@example.org",
            "tess@example.org"
        ]
    );
    assert_eq!(
        r.cc,
        [
            "bar-list@bar.org",
            "barry@bar.org",
            "lkml@example.org",
            "rhea@bar.org"
        ]
    );
    // Without a guilty file: the culprit's own recipients only.
    let r = repo.result_recipients(&culprit, None).unwrap();
    assert_eq!(r.cc, ["lkml@example.org"]);
    // Guilty file seen at the culprit itself: BAR is not known there, so
    // only THE REST covers it.
    let at_culprit = Guilty {
        file: "bar/core.c".into(),
        at: culprit.clone(),
    };
    let r = repo.result_recipients(&culprit, Some(&at_culprit)).unwrap();
    assert_eq!(r.cc, ["lkml@example.org"]);
    assert!(repo.result_recipients("no-such", None).is_err());
}

#[test]
fn without_maintainers_the_author_and_trailers() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    commit(p, &[("a.c", "a\n")], "root", ("Ann", "ann@example.org"));
    let c = commit(
        p,
        &[("a.c", "b\n")],
        "change\n\nAcked-by: Al <al@example.org>\nReported-by: Ray <ray@example.org>\n",
        ("Bob", "Bob@Example.org"),
    );
    let repo = Repo::open(p).unwrap();
    let g = Guilty {
        file: "a.c".into(),
        at: c.clone(),
    };
    let r = repo.result_recipients(&c, Some(&g)).unwrap();
    assert_eq!(r.to, ["al@example.org", "bob@example.org"]);
    assert!(r.cc.is_empty());
    assert!(repo.maintainers_at(&c).unwrap().is_none());
}
