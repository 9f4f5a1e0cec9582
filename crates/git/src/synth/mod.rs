//! Commits culprit makes itself: the revert of a commit on top of another
//! ([`Repo::revert_onto`], for revert verification) and a commit with
//! patches applied ([`Repo::apply_patches`] in `patch`, for `culprit test`).
//!
//! Everything happens in the object database: trees are merged by
//! `git merge-tree --write-tree` (git >= 2.38), patches applied with
//! `git apply --cached` to a temporary index (`GIT_INDEX_FILE` in a
//! temporary directory), commits written by `git commit-tree`. This module
//! must never touch a work tree, the index of a checkout or any ref: the
//! commits it makes are unreferenced objects, which git's garbage
//! collection keeps for two weeks by default (`gc.pruneExpire`), long after
//! a campaign needs them.
//!
//! The commits are deterministic: the same inputs give the same hash
//! (fixed author and committer, dates taken from the base commit), so that
//! a resumed campaign asks for the same commit again and finds its kept
//! build.

use culprit_proc::Input;
use std::path::PathBuf;

use crate::repo::{run, GitError, Out, Repo};

mod patch;

pub use patch::{Hunk, PatchError};
/// The author and committer name of the commits made here.
pub const SYNTH_NAME: &str = "culprit";
/// Their e-mail address (the `.invalid` top-level domain never resolves).
pub const SYNTH_EMAIL: &str = "culprit@culprit.invalid";

/// What reverting a commit on top of a base gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revert {
    /// The revert commit, whose parent is the base.
    Applied { commit: String },
    /// Reverting changes nothing on the base: the commit's change is no
    /// longer there (reverted or rewritten since), or it changed nothing.
    Empty,
    /// The revert does not apply cleanly: the files with conflicts.
    Conflict { files: Vec<String> },
}

/// A temporary index, removed with its directory when dropped.
pub(crate) struct TempIndex {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempIndex {
    pub(crate) fn new() -> Result<TempIndex, GitError> {
        let dir = tempfile::Builder::new()
            .prefix("culprit-index-")
            .tempdir()
            .map_err(GitError::Spawn)?;
        let path = dir.path().join("index");
        Ok(TempIndex { _dir: dir, path })
    }
}

/// Author, committer and date of a commit made here.
pub(crate) struct Stamp {
    /// git's raw date: "<unix seconds> <+hhmm>".
    date: String,
}

impl Repo {
    /// git on the object database only: `--git-dir` set, so that no work
    /// tree is discovered and paths in patches are taken from the top of
    /// the tree whatever directory the repository was opened at.
    pub(crate) fn odb_job(
        &self,
        git_dir: &str,
        index: Option<&TempIndex>,
        args: &[&str],
    ) -> culprit_proc::Job {
        let mut full = vec!["--git-dir", git_dir];
        full.extend_from_slice(args);
        let mut j = self.job(&full);
        if let Some(i) = index {
            j.env("GIT_INDEX_FILE", &i.path);
        }
        j
    }

    pub(crate) fn odb(
        &self,
        git_dir: &str,
        index: Option<&TempIndex>,
        args: &[&str],
    ) -> Result<String, GitError> {
        let out = run(&self.odb_job(git_dir, index, args), self.cancel())?;
        checked(args, out)
    }

    pub(crate) fn absolute_git_dir(&self) -> Result<String, GitError> {
        Ok(self
            .git(&["rev-parse", "--absolute-git-dir"])?
            .trim()
            .to_string())
    }

    /// The committer date of `sha` in git's raw form.
    pub(crate) fn stamp_of(&self, sha: &str) -> Result<Stamp, GitError> {
        let date = self
            .git(&["show", "-s", "--format=%cd", "--date=raw", sha, "--"])?
            .trim()
            .to_string();
        if date.split_whitespace().count() != 2 {
            return Err(GitError::Parse {
                args: format!("show --date=raw {sha}"),
                line: date,
            });
        }
        Ok(Stamp { date })
    }

    /// `git commit-tree` with culprit's fixed identity and `stamp`'s date,
    /// never signed, message in UTF-8.
    pub(crate) fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        stamp: &Stamp,
    ) -> Result<String, GitError> {
        let mut args = vec![
            "-c",
            "i18n.commitEncoding=UTF-8",
            "commit-tree",
            "--no-gpg-sign",
        ];
        for p in parents {
            args.extend(["-p", p]);
        }
        args.extend(["-m", message, tree]);
        let mut job = self.job(&args);
        for (k, v) in [
            ("GIT_AUTHOR_NAME", SYNTH_NAME),
            ("GIT_AUTHOR_EMAIL", SYNTH_EMAIL),
            ("GIT_AUTHOR_DATE", &stamp.date),
            ("GIT_COMMITTER_NAME", SYNTH_NAME),
            ("GIT_COMMITTER_EMAIL", SYNTH_EMAIL),
            ("GIT_COMMITTER_DATE", &stamp.date),
        ] {
            job.env(k, v);
        }
        let out = checked(&args, run(&job, self.cancel())?)?;
        Ok(out.trim().to_string())
    }

    fn tree_of(&self, rev: &str) -> Result<String, GitError> {
        Ok(self
            .git(&["rev-parse", "--verify", &format!("{rev}^{{tree}}")])?
            .trim()
            .to_string())
    }

    fn empty_tree(&self) -> Result<String, GitError> {
        let mut job = self.job(&["hash-object", "-t", "tree", "-w", "--stdin"]);
        job.stdin(Input::Null);
        Ok(checked(&["hash-object"], run(&job, self.cancel())?)?
            .trim()
            .to_string())
    }

    /// The commit that reverts `commit` on top of `base`, as `git revert`
    /// (`-m 1` for a merge: relative to its first parent) would make it,
    /// with a message like git's. A root commit is reverted to the empty
    /// tree. `base` need not contain `commit`; the merge decides.
    pub fn revert_onto(&self, base: &str, commit: &str) -> Result<Revert, GitError> {
        let base = self.resolve(base)?;
        let commit = self.resolve(commit)?;
        let meta = self.commit(&commit)?;
        let stamp = self.stamp_of(&base)?;
        let base_tree = self.tree_of(&base)?;
        let their_tree = match meta.parents.first() {
            Some(p) => self.tree_of(p)?,
            None => self.empty_tree()?,
        };
        // A revert is a three-way merge of the base with the commit's
        // parent, the commit itself being the merge base. merge-tree takes
        // an explicit base only from git 2.40 on (--merge-base), so the
        // same merge is asked for through stand-in commits whose only
        // common ancestor has the commit's tree.
        let merge_base = self.commit_tree(
            &self.tree_of(&commit)?,
            &[],
            "culprit: merge base of a revert",
            &stamp,
        )?;
        let ours = self.commit_tree(&base_tree, &[&merge_base], "culprit: ours", &stamp)?;
        let theirs = self.commit_tree(&their_tree, &[&merge_base], "culprit: theirs", &stamp)?;
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
            ours.as_str(),
            theirs.as_str(),
        ];
        let out = self.raw(&args)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut fields = text.split('\0').filter(|f| !f.is_empty());
        let tree = fields.next().unwrap_or("").to_string();
        match out.code {
            Some(0) if tree == base_tree => Ok(Revert::Empty),
            Some(0) => {
                let message = revert_message(
                    &meta.subject,
                    &commit,
                    meta.parents
                        .first()
                        .filter(|_| meta.is_merge())
                        .map(String::as_str),
                );
                let sha = self.commit_tree(&tree, &[&base], &message, &stamp)?;
                Ok(Revert::Applied { commit: sha })
            }
            Some(1) => {
                let mut files: Vec<String> = fields.map(str::to_string).collect();
                files.sort();
                files.dedup();
                Ok(Revert::Conflict { files })
            }
            _ => Err(GitError::Failed {
                args: format!("merge-tree --write-tree (reverting {commit} on {base})"),
                stderr: merge_tree_error(&out.stderr),
            }),
        }
    }
}

pub(crate) fn checked(args: &[&str], out: Out) -> Result<String, GitError> {
    if !out.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// merge-tree's message, with a hint when git is too old to have
/// `--write-tree`.
fn merge_tree_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).trim().to_string();
    if text.contains("write-tree") || text.starts_with("usage:") {
        format!("{text} (reverting needs git 2.38 or later: install a newer git)")
    } else {
        text
    }
}

/// git's message for a revert: `Revert "SUBJECT"`, then which commit it
/// reverts (and for a merge, relative to which parent).
fn revert_message(subject: &str, commit: &str, merge_parent: Option<&str>) -> String {
    let mut m = format!("Revert \"{subject}\"\n\nThis reverts commit {commit}");
    match merge_parent {
        Some(p) => m.push_str(&format!(", reversing\nchanges made to {p}.\n")),
        None => m.push_str(".\n"),
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_messages_read_like_gits() {
        assert_eq!(
            revert_message("foo: bar", "abc", None),
            "Revert \"foo: bar\"\n\nThis reverts commit abc.\n"
        );
        assert_eq!(
            revert_message("Merge x", "abc", Some("def")),
            "Revert \"Merge x\"\n\nThis reverts commit abc, reversing\nchanges made to def.\n"
        );
    }
}
