//! Searching a real repository made here: HEAD, diffs, grep at a revision
//! or in a clean work tree, commits touching files.

mod common;

use common::Scratch;
use culprit_git::Repo;

#[test]
fn commits_touching_in_a_real_history() {
    let s = Scratch::new();
    let c0 = s.commit(
        "root",
        &[
            ("a.c", "a0\n"),
            ("b.c", "b0\n"),
            ("doc.txt", "d\n"),
            ("sub/x", "x\n"),
        ],
    );
    let c1 = s.commit("docs only", &[("doc.txt", "d1\n")]);
    let c2 = s.commit("b", &[("b.c", "b1\n")]);
    s.git(&["checkout", "-q", "-b", "side"]);
    let c3 = s.commit("side a", &[("a.c", "a1\n")]);
    let c4 = s.commit("side c", &[("c.c", "c1\n")]);
    s.git(&["checkout", "-q", "main"]);
    let c5 = s.commit("main e", &[("e.c", "e1\n")]);
    s.git(&["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
    let c6 = s.git(&["rev-parse", "HEAD"]).trim().to_string();
    let c7 = s.commit("a and docs", &[("a.c", "a2\n"), ("doc.txt", "d2\n")]);
    let repo = Repo::open(s.path()).unwrap();
    // Newest first, as a range listing gives them.
    let shas = vec![c7, c6, c5, c4, c3, c2, c1, c0];
    let touching = |files: &[&str]| {
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        repo.commits_touching(&shas, &files).unwrap()
    };
    // The merge (index 1) brings a.c and c.c onto main but counts as nothing.
    assert_eq!(touching(&["a.c"]), vec![0, 4, 7]);
    assert_eq!(touching(&["a.c", "b.c"]), vec![0, 4, 5, 7]);
    assert_eq!(touching(&["c.c"]), vec![3]);
    assert_eq!(touching(&["doc.txt"]), vec![0, 6, 7]);
    assert!(touching(&["nope.c"]).is_empty());
    assert!(touching(&[]).is_empty());
    // Only the listed commits are looked at.
    let two = repo
        .commits_touching(&shas[5..], &["a.c".to_string()])
        .unwrap();
    assert_eq!(two, vec![2]);
    let sub = Repo::open(s.path().join("sub")).unwrap();
    let a = vec!["a.c".to_string()];
    assert_eq!(sub.commits_touching(&shas, &a).unwrap(), vec![0, 4, 7]);
}

#[test]
fn commits_touching_beyond_the_docs_leave_out_docs_only_commits() {
    let s = Scratch::new();
    let c0 = s.commit("root", &[("a.c", "a0\n"), ("Documentation/x.rst", "x\n")]);
    let c1 = s.commit(
        "docs",
        &[
            ("Documentation/x.rst", "x1\n"),
            ("Documentation/sub/y.rst", "y\n"),
        ],
    );
    let c2 = s.commit("maintainers", &[("MAINTAINERS", "m\n")]);
    let c3 = s.commit(
        "docs and code",
        &[("Documentation/x.rst", "x2\n"), ("a.c", "a1\n")],
    );
    // A file whose name starts like a docs directory is not in it.
    let c4 = s.commit("lookalike", &[("Documentation.c", "d\n")]);
    s.git(&["commit", "-q", "--allow-empty", "-m", "empty"]);
    let c5 = s.git(&["rev-parse", "HEAD"]).trim().to_string();
    let repo = Repo::open(s.path()).unwrap();
    let shas = vec![c5, c4, c3, c2, c1, c0];
    let docs = ["Documentation".to_string(), "MAINTAINERS".to_string()];
    assert_eq!(
        repo.commits_touching_beyond(&shas, &docs).unwrap(),
        vec![1, 2, 5]
    );
    // Nothing excluded: every commit that changes something.
    assert_eq!(
        repo.commits_touching_beyond(&shas, &[]).unwrap(),
        vec![1, 2, 3, 4, 5]
    );
    // From a subdirectory the paths are still from the top.
    let sub = Repo::open(s.path().join("Documentation")).unwrap();
    assert_eq!(
        sub.commits_touching_beyond(&shas, &docs).unwrap(),
        vec![1, 2, 5]
    );
}

#[test]
fn head_diff_and_grep_never_touch_the_checkout() {
    let s = Scratch::new();
    let c0 = s.commit("root", &[("a.c", "int alpha(void)\n"), ("K", "k0\n")]);
    let c1 = s.commit("one", &[("a.c", "int alpha(int)\n")]);
    let c2 = s.commit("two", &[("K", "k1\n")]);
    let repo = Repo::open(s.path()).unwrap();
    assert_eq!(repo.head().as_deref(), Some(c2.as_str()));
    assert!(repo.unchanged(&c0, &c1, &["K"]));
    assert!(!repo.unchanged(&c1, &c2, &["K"]));
    assert!(!repo.unchanged("-x", &c2, &["K"]));
    assert!(!repo.unchanged("no-such", &c2, &["K"]));
    let e = vec!["alpha(".to_string()];
    // At an older revision: the committed text.
    let hits = repo.grep_fixed(&c0, &e, &[":(top)*.c"]).unwrap();
    assert_eq!(hits, vec![("a.c".into(), "int alpha(void)".into())]);
    // At HEAD with a clean tree: the work tree, same answer as the blob.
    assert!(repo.is_clean_checkout_of(&c2, &[":(top)*.c"]));
    let hits = repo.grep_fixed(&c2, &e, &[":(top)*.c"]).unwrap();
    assert_eq!(hits, vec![("a.c".into(), "int alpha(int)".into())]);
    // A local edit: the committed tree is read, not the edit.
    s.write("a.c", "int alpha(char)\n");
    assert!(!repo.is_clean_checkout_of(&c2, &[":(top)*.c"]));
    let hits = repo.grep_fixed(&c2, &e, &[":(top)*.c"]).unwrap();
    assert_eq!(hits, vec![("a.c".into(), "int alpha(int)".into())]);
    assert!(repo
        .grep_fixed(&c2, &["nothing(".into()], &[":(top)*.c"])
        .unwrap()
        .is_empty());
    assert!(repo.grep_fixed("no-such-rev", &e, &[":(top)*.c"]).is_err());
    // The index was never refreshed: git still sees the edit as unstaged.
    let status = s.git(&["status", "--porcelain"]);
    assert_eq!(status.trim(), "M a.c");
}

mod worktree {
    use crate::common::Scratch;
    use culprit_git::{GitError, Repo, Worktree};

    fn quiet(_: String) {}

    #[test]
    fn a_checkout_of_ours_follows_commits_and_keeps_build_products() {
        let s = Scratch::new();
        let c0 = s.commit("root", &[("a.c", "a0\n"), ("gone.c", "g\n")]);
        s.git(&["rm", "-q", "gone.c"]);
        let c1 = s.commit("one", &[("a.c", "a1\n"), ("new.c", "n\n")]);
        let repo = Repo::open(s.path()).unwrap();
        let before = s.git(&["worktree", "list", "--porcelain"]);
        let status = s.git(&["status", "--porcelain"]);
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("tree");
        let wt = Worktree::ensure(&repo, &dir, &c0, &mut quiet).unwrap();
        assert_eq!(wt.head().unwrap(), c0);
        assert_eq!(std::fs::read_to_string(dir.join("a.c")).unwrap(), "a0\n");
        std::fs::write(dir.join("a.c"), "local edit\n").unwrap();
        std::fs::write(dir.join("a.o"), "build product\n").unwrap();
        wt.checkout(&c1, &mut quiet).unwrap();
        assert_eq!(wt.head().unwrap(), c1);
        assert_eq!(std::fs::read_to_string(dir.join("a.c")).unwrap(), "a1\n");
        assert!(dir.join("new.c").exists());
        assert!(!dir.join("gone.c").exists());
        assert!(dir.join("a.o").exists(), "untracked files are kept");
        // Opened again later: the same checkout, no new checkout needed.
        let again = Worktree::ensure(&repo, &dir, &c0, &mut quiet).unwrap();
        assert_eq!(again.head().unwrap(), c1);
        // The user's repository saw nothing: no worktree, same HEAD and
        // index, nothing staged.
        assert_eq!(s.git(&["worktree", "list", "--porcelain"]), before);
        assert_eq!(s.git(&["status", "--porcelain"]), status);
        assert!(!s.path().join(".git/worktrees").exists());
    }

    #[test]
    fn a_checkout_killed_midway_does_not_block_the_next_culprit() {
        let s = Scratch::new();
        let c0 = s.commit("root", &[("a.c", "a0\n")]);
        let c1 = s.commit("one", &[("a.c", "a1\n")]);
        let repo = Repo::open(s.path()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("tree");
        Worktree::ensure(&repo, &dir, &c0, &mut quiet).unwrap();
        // What git leaves when SIGKILL stops it in `read-tree -u`: its lock
        // beside the index, and a file half written.
        let lock = d.path().join("tree.culprit-index.lock");
        std::fs::write(&lock, b"").unwrap();
        std::fs::write(dir.join("a.c"), "a").unwrap();
        let wt = Worktree::ensure(&repo, &dir, &c0, &mut quiet).unwrap();
        assert!(!lock.exists());
        // The index still says c0: the half-written file is found changed
        // and written again.
        wt.checkout(&c0, &mut quiet).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.c")).unwrap(), "a0\n");
        wt.checkout(&c1, &mut quiet).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.c")).unwrap(), "a1\n");
    }

    #[test]
    fn a_checkout_that_fails_once_is_tried_again_and_says_why() {
        let s = Scratch::new();
        let c0 = s.commit("root", &[("a.c", "a0\n")]);
        let c1 = s.commit("one", &[("a.c", "a1\n")]);
        let repo = Repo::open(s.path()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("tree");
        let wt = Worktree::ensure(&repo, &dir, &c0, &mut quiet).unwrap();
        // Something holds the index's lock when the checkout starts: git
        // refuses, and the next try finds it gone.
        std::fs::write(d.path().join("tree.culprit-index.lock"), b"").unwrap();
        let mut said = Vec::new();
        wt.checkout(&c1, &mut |l| said.push(l)).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.c")).unwrap(), "a1\n");
        let retry = said.iter().find(|l| l.contains("trying again (2/3)"));
        let retry = retry.unwrap_or_else(|| panic!("{said:?}"));
        assert!(
            retry.contains("index.lock"),
            "git's reason is kept: {retry}"
        );
        // A revision that does not exist fails the same way every time.
        said.clear();
        assert!(wt.checkout(&"0".repeat(40), &mut |l| said.push(l)).is_err());
    }

    #[test]
    fn a_directory_culprit_did_not_fill_is_refused_and_untouched() {
        let s = Scratch::new();
        let c0 = s.commit("root", &[("a.c", "a0\n")]);
        let repo = Repo::open(s.path()).unwrap();
        // The user's own checkout where culprit's tree would go.
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join("tree");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join("work.c"), "uncommitted work\n").unwrap();
        let e = Worktree::ensure(&repo, &mine, &c0, &mut quiet).unwrap_err();
        assert!(matches!(e, GitError::NotOurs { .. }), "{e}");
        assert!(e.to_string().contains("did not put there"), "{e}");
        assert_eq!(
            std::fs::read_to_string(mine.join("work.c")).unwrap(),
            "uncommitted work\n"
        );
        assert!(!mine.join("a.c").exists());
        // culprit's checkout of another repository is refused too.
        let other = Scratch::new();
        let o0 = other.commit("root", &[("b.c", "b\n")]);
        let orepo = Repo::open(other.path()).unwrap();
        let t = d.path().join("t2");
        Worktree::ensure(&orepo, &t, &o0, &mut quiet).unwrap();
        let e = Worktree::ensure(&repo, &t, &c0, &mut quiet).unwrap_err();
        assert!(e.to_string().contains("another repository"), "{e}");
        // An empty directory is fine.
        let empty = d.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        Worktree::ensure(&repo, &empty, &c0, &mut quiet).unwrap();
        assert!(empty.join("a.c").exists());
    }
}
