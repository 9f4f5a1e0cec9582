//! Commits made in the object database, on real repositories made here:
//! reverts compared with what `git revert` itself makes, patches applied
//! as `git apply` applies them, and neither touching the work tree, the
//! index or any ref.

use culprit_git::{PatchError, Repo, Revert, SYNTH_EMAIL};
mod common;

use common::Scratch;
use std::process::Command;

impl Scratch {
    fn tree(&self, rev: &str) -> String {
        self.git(&["rev-parse", &format!("{rev}^{{tree}}")])
            .trim()
            .to_string()
    }

    fn show(&self, rev: &str, file: &str) -> String {
        self.git(&["show", &format!("{rev}:{file}")])
    }

    /// Everything a user could see change: refs, HEAD, index and work tree.
    fn state(&self) -> String {
        let index = std::fs::read(self.path().join(".git/index")).unwrap_or_default();
        format!(
            "{}\n{}\n{}\n{}\n{:?}",
            self.git(&["for-each-ref"]),
            self.head(),
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            self.git(&["stash", "list"]),
            index
        )
    }

    /// The tree `git revert` makes of `commit` on `base` in a throwaway
    /// clone, or None when it stops on a conflict.
    fn git_revert_tree(&self, base: &str, commit: &str, mainline: bool) -> Option<String> {
        let clone = self.root().join(format!("oracle-{}", &commit[..8]));
        let _ = std::fs::remove_dir_all(&clone);
        let c = clone.to_str().unwrap();
        self.git(&["clone", "-q", self.path().to_str().unwrap(), c]);
        self.git_in(&clone, &["checkout", "-q", "--detach", base]);
        let mut args = vec![
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@e",
            "revert",
            "--no-edit",
        ];
        if mainline {
            args.extend(["-m", "1"]);
        }
        args.push(commit);
        let ok = Command::new("git")
            .arg("-C")
            .arg(&clone)
            .args(&args)
            .output()
            .unwrap()
            .status
            .success();
        ok.then(|| {
            self.git_in(&clone, &["rev-parse", "HEAD^{tree}"])
                .trim()
                .to_string()
        })
    }
}

fn lines(n: usize, changed: &[(usize, &str)]) -> String {
    (0..n)
        .map(|i| {
            changed
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(format!("line {i}\n"), |(_, t)| format!("{t}\n"))
        })
        .collect()
}

#[test]
fn a_revert_is_the_tree_git_revert_makes_and_touches_nothing() {
    let s = Scratch::new();
    s.commit("root", &[("a.c", &lines(30, &[])), ("b.c", "b\n")]);
    let culprit = s.commit("a: break line 3", &[("a.c", &lines(30, &[(3, "broken")]))]);
    s.commit(
        "a: change line 20",
        &[("a.c", &lines(30, &[(3, "broken"), (20, "later")]))],
    );
    let base = s.commit("b: more", &[("b.c", "b2\n")]);
    s.write("untracked.txt", "mine\n");
    s.write("b.c", "uncommitted edit\n");
    let before = s.state();

    let repo = Repo::open(s.path()).unwrap();
    let r = repo.revert_onto("HEAD", &culprit[..10]).unwrap();
    let Revert::Applied { commit } = &r else {
        panic!("{r:?}")
    };
    assert_eq!(s.state(), before, "the repository changed");
    assert_eq!(
        Some(s.tree(commit)),
        s.git_revert_tree(&base, &culprit, false)
    );
    assert_eq!(
        s.show(commit, "a.c"),
        lines(30, &[(20, "later")]),
        "line 3 restored, line 20 kept"
    );
    assert_eq!(s.git(&["rev-parse", &format!("{commit}^")]).trim(), base);
    let msg = s.git(&["log", "-1", "--format=%B%an <%ae>%n%cn <%ce>", commit]);
    assert_eq!(
        msg,
        format!(
            "Revert \"a: break line 3\"\n\nThis reverts commit {culprit}.\nculprit <{SYNTH_EMAIL}>\nculprit <{SYNTH_EMAIL}>\n"
        )
    );
    let dates = s.git(&["log", "-1", "--format=%ad %cd", "--date=raw", commit]);
    let base_date = s.git(&["log", "-1", "--format=%cd", "--date=raw", &base]);
    assert_eq!(dates.trim(), format!("{0} {0}", base_date.trim()));
    // Deterministic: a resumed campaign asks again and gets the same commit.
    assert_eq!(repo.revert_onto(&base, &culprit).unwrap(), r);
}

#[test]
fn conflicts_and_empty_reverts_are_told_apart() {
    let s = Scratch::new();
    s.commit("root", &[("a.c", &lines(10, &[])), ("z.c", "z\n")]);
    let culprit = s.commit(
        "break",
        &[("a.c", &lines(10, &[(4, "broken")])), ("z.c", "z2\n")],
    );
    let conflicting = s.commit(
        "rework",
        &[("a.c", &lines(10, &[(4, "reworked")])), ("z.c", "z3\n")],
    );
    let repo = Repo::open(s.path()).unwrap();
    let before = s.state();
    assert_eq!(
        repo.revert_onto(&conflicting, &culprit).unwrap(),
        Revert::Conflict {
            files: vec!["a.c".into(), "z.c".into()]
        }
    );
    assert_eq!(s.git_revert_tree(&conflicting, &culprit, false), None);
    assert_eq!(s.state(), before);

    // The change already undone by hand: reverting it changes nothing.
    let s2 = Scratch::new();
    s2.commit("root", &[("a.c", "a\n")]);
    let c = s2.commit("add b", &[("b.c", "b\n")]);
    std::fs::remove_file(s2.path().join("b.c")).unwrap();
    let undone = s2.commit("drop b", &[]);
    let repo2 = Repo::open(s2.path()).unwrap();
    assert_eq!(repo2.revert_onto(&undone, &c).unwrap(), Revert::Empty);
    assert!(repo2.revert_onto(&undone, "no-such-rev").is_err());
}

#[test]
fn a_merge_is_reverted_against_its_first_parent() {
    let s = Scratch::new();
    s.commit("root", &[("a.c", &lines(20, &[])), ("m.c", "m\n")]);
    s.git(&["checkout", "-q", "-b", "topic"]);
    s.commit("topic: one", &[("t1.c", "t1\n")]);
    s.commit("topic: two", &[("a.c", &lines(20, &[(15, "topic")]))]);
    s.git(&["checkout", "-q", "main"]);
    s.commit("main: m", &[("m.c", "m2\n")]);
    s.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'topic'",
        "topic",
    ]);
    let merge = s.head();
    let first_parent = s.git(&["rev-parse", "HEAD^1"]).trim().to_string();
    let base = s.commit(
        "after",
        &[("a.c", &lines(20, &[(2, "after"), (15, "topic")]))],
    );
    let repo = Repo::open(s.path()).unwrap();
    let Revert::Applied { commit } = repo.revert_onto(&base, &merge).unwrap() else {
        panic!()
    };
    assert_eq!(
        Some(s.tree(&commit)),
        s.git_revert_tree(&base, &merge, true)
    );
    assert!(s
        .git(&["ls-tree", "--name-only", &commit])
        .lines()
        .all(|f| f != "t1.c"));
    let msg = s.git(&["log", "-1", "--format=%B", &commit]);
    assert!(
        msg.ends_with(&format!(
            "This reverts commit {merge}, reversing\nchanges made to {first_parent}.\n\n"
        )),
        "{msg:?}"
    );
}

#[test]
fn a_revert_follows_renames_like_git() {
    let s = Scratch::new();
    s.commit("root", &[("old/name.c", &lines(40, &[]))]);
    let culprit = s.commit("tweak", &[("old/name.c", &lines(40, &[(5, "tweaked")]))]);
    std::fs::create_dir_all(s.path().join("new")).unwrap();
    s.git(&["mv", "old/name.c", "new/name.c"]);
    let base = s.commit(
        "move",
        &[("new/name.c", &lines(40, &[(5, "tweaked"), (30, "moved")]))],
    );
    let repo = Repo::open(s.path()).unwrap();
    let Revert::Applied { commit } = repo.revert_onto(&base, &culprit).unwrap() else {
        panic!()
    };
    assert_eq!(
        Some(s.tree(&commit)),
        s.git_revert_tree(&base, &culprit, false)
    );
    assert_eq!(s.show(&commit, "new/name.c"), lines(40, &[(30, "moved")]));

    // A root commit reverts to the files added since.
    let s = Scratch::new();
    let root = s.commit("root", &[("r.c", "r\n")]);
    let extra = s.commit("extra", &[("extra.c", "x\n")]);
    let repo = Repo::open(s.path()).unwrap();
    let r = repo.revert_onto(&extra, &root).unwrap();
    let Revert::Applied { commit } = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        Some(s.tree(&commit)),
        s.git_revert_tree(&extra, &root, false)
    );
    assert_eq!(
        s.git(&["ls-tree", "-r", "--name-only", &commit]),
        "extra.c\n"
    );
}

fn format_patches(s: &Scratch, range: &str) -> String {
    s.git(&["format-patch", "--stdout", range])
}

#[test]
fn patches_apply_in_order_from_mails_and_diffs() {
    let s = Scratch::new();
    let base = s.commit("root", &[("src/a.c", &lines(20, &[])), ("b.c", "b\n")]);
    s.commit("a: first", &[("src/a.c", &lines(20, &[(2, "one")]))]);
    let second = s.commit(
        "a: second",
        &[
            ("src/a.c", &lines(20, &[(2, "two"), (12, "x")])),
            ("new.c", "n\n"),
        ],
    );
    let third_diff = {
        s.commit(
            "a, b: third",
            &[
                ("src/a.c", &lines(20, &[(2, "two"), (12, "y")])),
                ("b.c", "b3\n"),
            ],
        );
        s.git(&["diff", &second, "HEAD"])
    };
    let tip = s.head();
    let patches = s.root().join("patches");
    std::fs::create_dir_all(&patches).unwrap();
    let series = patches.join("0001-series.mbox");
    std::fs::write(&series, format_patches(&s, &format!("{base}..{second}"))).unwrap();
    let plain = patches.join("third.diff");
    std::fs::write(&plain, third_diff).unwrap();
    s.git(&["checkout", "-q", "--detach", &base]);
    s.write("untracked.txt", "mine\n");
    let before = s.state();

    // Opened at a subdirectory: paths still count from the top of the tree.
    let repo = Repo::open(s.path().join("src")).unwrap();
    let both = [series.clone(), plain.clone()];
    let commit = repo.apply_patches(&base, &both).unwrap();
    assert_eq!(s.state(), before, "the repository changed");
    assert_eq!(s.tree(&commit), s.tree(&tip));
    assert_eq!(s.git(&["rev-parse", &format!("{commit}^")]).trim(), base);
    let msg = s.git(&["log", "-1", "--format=%s%n%b", &commit]);
    assert!(
        msg.starts_with(&format!("culprit: test patches on top of {}", &base[..12])),
        "{msg}"
    );
    assert!(
        msg.contains("1. 0001-series.mbox: [PATCH 1/2] a: first"),
        "{msg}"
    );
    assert!(msg.contains("2. third.diff\n"), "{msg}");
    assert_eq!(
        repo.apply_patches(&base, &both).unwrap(),
        commit,
        "not deterministic"
    );
    assert_eq!(repo.apply_patches(&base, &[]).unwrap(), base);

    // Out of order: the plain diff needs the series first.
    let e = repo
        .apply_patches(&base, std::slice::from_ref(&plain))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(e, PatchError::DoesNotApply { .. }), "{e:?}");
}

#[test]
fn a_patch_that_does_not_apply_names_file_hunk_and_line() {
    let s = Scratch::new();
    s.commit("root", &[("a.c", &lines(40, &[]))]);
    let old = s.commit("old", &[("a.c", &lines(40, &[(3, "three")]))]);
    s.commit(
        "fix",
        &[("a.c", &lines(40, &[(3, "three"), (30, "fixed")]))],
    );
    let patch = s.root().join("fix.patch");
    std::fs::write(&patch, format_patches(&s, "HEAD~1..HEAD")).unwrap();
    // A base where line 30 reads differently: the only hunk fails there.
    s.git(&["checkout", "-q", "--detach", &old]);
    let other = s.commit(
        "diverge",
        &[("a.c", &lines(40, &[(3, "three"), (30, "other")]))],
    );
    let repo = Repo::open(s.path()).unwrap();
    let e = repo
        .apply_patches(&other, std::slice::from_ref(&patch))
        .unwrap_err();
    let PatchError::DoesNotApply {
        patch: p,
        file,
        line,
        hunk,
        message,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(p, &patch);
    assert_eq!(file.as_deref(), Some("a.c"));
    assert_eq!(*line, Some(28));
    let hunk = hunk.as_ref().unwrap();
    assert_eq!(hunk.number, 1);
    assert!(hunk.header.starts_with("@@ -28,"), "{hunk:?}");
    let text = std::fs::read_to_string(&patch).unwrap();
    let at = text.lines().nth(hunk.patch_line as usize - 1).unwrap();
    assert!(at.starts_with("@@ -28,"), "{at}");
    assert!(message.contains("patch does not apply"), "{message}");
    let shown = e.to_string();
    assert!(shown.contains(&patch.display().to_string()), "{shown}");
    assert!(shown.contains("hunk #1 of a.c"), "{shown}");

    let junk = s.root().join("notes.txt");
    std::fs::write(&junk, "just some words\n").unwrap();
    let e = repo.apply_patches(&other, &[junk]).unwrap_err();
    assert!(matches!(e, PatchError::NotAPatch { .. }), "{e:?}");
    let e = repo
        .apply_patches(&other, &[s.root().join("missing.patch")])
        .unwrap_err();
    assert!(matches!(e, PatchError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.patch"), "{e}");
}
