//! Checkouts that culprit owns: a detached worktree under the workdir, so the
//! user's own working tree is never touched.

use crate::repo::{GitError, Repo};
use std::path::{Path, PathBuf};

/// A detached worktree of a repository.
#[derive(Debug, Clone)]
pub struct Worktree {
    repo: Repo,
    dir: PathBuf,
}

impl Worktree {
    /// Opens the worktree at `dir`, creating it (detached at `sha`) if it
    /// does not exist yet.
    pub fn ensure(
        repo: &Repo,
        dir: &Path,
        sha: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<Worktree, GitError> {
        if !dir.join(".git").exists() {
            // A stale registration (directory deleted by hand) would make
            // `worktree add` refuse the path.
            let _ = repo.git(&["worktree", "prune"]);
            let d = dir.to_string_lossy().into_owned();
            // Writing a whole kernel tree (~75,000 files) is the slow part:
            // git's parallel checkout, one worker per core, takes about 40%
            // off it.
            repo.run_long(
                &[
                    "-c",
                    "checkout.workers=0",
                    "worktree",
                    "add",
                    "--detach",
                    "--force",
                    &d,
                    sha,
                ],
                &format!("checking out {sha} into {d}"),
                progress,
            )?;
        }
        Ok(Worktree {
            repo: Repo::open(dir)?.with_cancel(repo.cancel()),
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The commit checked out now.
    pub fn head(&self) -> Result<String, GitError> {
        Ok(self.repo.git(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// Checks out `sha`, discarding local modifications to tracked files but
    /// keeping untracked build products (so incremental builds stay fast).
    pub fn checkout(&self, sha: &str, progress: &mut dyn FnMut(String)) -> Result<(), GitError> {
        self.repo.run_long(
            &["checkout", "--quiet", "--detach", "--force", sha],
            &format!("checking out {sha}"),
            progress,
        )
    }
}
