//! Checkouts that culprit owns, outside git's worktree registry.
//!
//! A culprit checkout is a plain directory filled from the repository's
//! objects with plumbing (`read-tree -u --reset` on an index file of its
//! own), so the user's repository is only read: no worktree registration
//! to go stale or to prune, no ref, no index, no HEAD of theirs is touched.
//! Beside the directory `DIR` culprit keeps `DIR.culprit-owner` (the
//! repository it belongs to: the ownership marker), `DIR.culprit-index` and
//! `DIR.culprit-head`. A directory without a marker naming this repository
//! is never written to: it may be the user's own checkout.

use crate::repo::{GitError, Repo};
use std::path::{Path, PathBuf};

/// A checkout culprit owns.
#[derive(Debug, Clone)]
pub struct Worktree {
    repo: Repo,
    dir: PathBuf,
}

/// `DIR.culprit-<what>`, beside the checkout.
fn beside(dir: &Path, what: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".culprit-{what}"));
    dir.with_file_name(name)
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> GitError {
    move |e| GitError::Io { what, source: e }
}

impl Worktree {
    /// Opens culprit's checkout at `dir`, creating it at `sha` if `dir` is
    /// missing or empty. A non-empty `dir` without culprit's marker for
    /// this repository is refused and left alone.
    pub fn ensure(
        repo: &Repo,
        dir: &Path,
        sha: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<Worktree, GitError> {
        let common = repo.common_dir()?;
        let owner = beside(dir, "owner");
        let empty = match std::fs::read_dir(dir) {
            Ok(mut rd) => rd.next().is_none(),
            Err(_) => true,
        };
        let wt = Worktree {
            repo: repo.clone(),
            dir: dir.to_path_buf(),
        };
        if !empty {
            match std::fs::read_to_string(&owner) {
                Ok(t) if Path::new(t.trim()) == common => {}
                Ok(t) => {
                    return Err(GitError::NotOurs {
                        dir: dir.to_path_buf(),
                        why: format!(
                            "it is culprit's checkout of another repository ({})",
                            t.trim()
                        ),
                    })
                }
                Err(_) => {
                    return Err(GitError::NotOurs {
                        dir: dir.to_path_buf(),
                        why: "it holds files culprit did not put there (a checkout of yours?)"
                            .into(),
                    })
                }
            }
            if wt.head().is_err() {
                // Killed before the first checkout finished: start over on
                // the files that are there.
                wt.checkout(sha, progress)?;
            }
            return Ok(wt);
        }
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        std::fs::write(&owner, format!("{}\n", common.display()))
            .map_err(io(format!("writing {}", owner.display())))?;
        // A stale index or head from an earlier life of an emptied
        // directory would describe files that are not there.
        let _ = std::fs::remove_file(beside(dir, "index"));
        let _ = std::fs::remove_file(beside(dir, "head"));
        wt.checkout(sha, progress)?;
        Ok(wt)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The commit checked out now.
    pub fn head(&self) -> Result<String, GitError> {
        let p = beside(&self.dir, "head");
        let t = std::fs::read_to_string(&p).map_err(io(format!("reading {}", p.display())))?;
        Ok(t.trim().to_string())
    }

    /// Checks out `sha`: tracked files become the commit's (local changes
    /// to them are discarded, files it does not have are removed), and
    /// untracked files such as build products are kept, so incremental
    /// builds stay fast. Writing a whole kernel tree (~75,000 files) is the
    /// slow part: git's parallel checkout, one worker per core, takes about
    /// 40% off it.
    pub fn checkout(&self, sha: &str, progress: &mut dyn FnMut(String)) -> Result<(), GitError> {
        let common = self.repo.common_dir()?;
        let index = beside(&self.dir, "index");
        let git_dir = format!("--git-dir={}", common.display());
        let work_tree = format!("--work-tree={}", self.dir.display());
        let args = [
            git_dir.as_str(),
            work_tree.as_str(),
            "-c",
            "checkout.workers=0",
            // The user's sparse-checkout patterns are for their checkout.
            "-c",
            "core.sparseCheckout=false",
            "read-tree",
            "-u",
            "--reset",
            sha,
        ];
        self.repo.run_long_with_index(
            &args,
            &index,
            &format!("checking out {sha} into {}", self.dir.display()),
            progress,
        )?;
        let head = beside(&self.dir, "head");
        std::fs::write(&head, format!("{sha}\n")).map_err(io(format!("writing {}", head.display())))
    }
}
