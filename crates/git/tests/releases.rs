//! Release tags and first-parent walks on a real repository made here.

use culprit_git::{Back, Release, Repo};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn commit(dir: &Path, msg: &str) -> String {
    git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn release_tags_are_plain_versions_behind_bad_newest_first() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    let c1 = commit(p, "one");
    git(p, &["tag", "v1.0"]);
    let c2 = commit(p, "two");
    git(p, &["tag", "-a", "-m", "release 1.1", "v1.1"]);
    git(p, &["tag", "v1.1.0-rc1"]);
    git(p, &["tag", "1.2"]);
    let c3 = commit(p, "three");
    git(p, &["tag", "v1.10-rc1"]);
    // A tag of a tag, and a second release tag on the same commit (listed
    // once, the newer version).
    git(p, &["tag", "-a", "-m", "stable", "stable-1.2.1"]);
    git(p, &["tag", "-a", "-m", "again", "v1.2.1", "stable-1.2.1"]);
    git(p, &["tag", "v1.2"]);
    git(p, &["tag", "v1.02.3"]);
    let c4 = commit(p, "four");
    git(p, &["tag", "v1.10"]);
    git(p, &["tag", "v1.9.x"]);
    git(p, &["checkout", "-q", "-b", "side", &c2]);
    commit(p, "side");
    git(p, &["tag", "v9.0"]);
    git(p, &["checkout", "-q", "main"]);
    let bad = commit(p, "bad");
    git(p, &["tag", "v2.0"]);

    let repo = Repo::open(p).unwrap();
    let r = repo.release_tags("main").unwrap();
    let want = |tag: &str, commit: &str, version: [u32; 3]| Release {
        tag: tag.into(),
        commit: commit.into(),
        version,
    };
    assert_eq!(
        r,
        vec![
            want("v1.10", &c4, [1, 10, 0]),
            want("v1.2.1", &c3, [1, 2, 1]),
            want("v1.1", &c2, [1, 1, 0]),
            want("v1.0", &c1, [1, 0, 0]),
        ]
    );
    // From an older bad commit, the newer releases are not ancestors.
    let tags: Vec<String> = repo
        .release_tags(&c3)
        .unwrap()
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(tags, ["v1.1", "v1.0"]);
    assert!(repo.release_tags(&bad[..4]).is_ok());
    assert!(repo.release_tags("no-such").is_err());
}

#[test]
fn first_parent_walk_doubles_back_to_the_root() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    let root = commit(p, "root");
    let mut line = vec![root.clone()];
    for i in 1..6 {
        line.push(commit(p, &format!("c{i}")));
    }
    // A side branch of 20 commits merged in: the walk must not enter it.
    git(p, &["checkout", "-q", "-b", "side", &line[2]]);
    for i in 0..20 {
        commit(p, &format!("s{i}"));
    }
    git(p, &["checkout", "-q", "main"]);
    git(p, &["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
    line.push(git(p, &["rev-parse", "HEAD"]));
    line.push(commit(p, "bad"));
    // line[i] is i first-parent steps after the root; bad is 7 steps on.
    let at = |distance: u32, root: bool| Back {
        distance,
        commit: line[7 - distance as usize].clone(),
        root,
    };
    let repo = Repo::open(p).unwrap();
    assert_eq!(
        repo.first_parent_back("HEAD", &[4, 1, 2, 8, 16]).unwrap(),
        vec![at(1, false), at(2, false), at(4, false), at(7, true)]
    );
    assert_eq!(
        repo.first_parent_back("HEAD", &[7, 8]).unwrap(),
        vec![at(7, true)]
    );
    assert_eq!(
        repo.first_parent_back("HEAD", &[3]).unwrap(),
        vec![at(3, false)]
    );
    assert_eq!(repo.first_parent_back("HEAD", &[]).unwrap(), vec![]);
}
