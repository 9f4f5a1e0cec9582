//! A repository driven through the git command line.

use culprit_proc::{Cancel, Exit, Job, Sink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a long git command reports that it is still going.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Errors from repository access. Each says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0} (install git and make sure it is on PATH)")]
    Spawn(#[source] std::io::Error),
    #[error("{path} is not a git repository (give --repo the top of a git checkout)")]
    NotARepo { path: PathBuf },
    #[error(
        "unknown revision '{rev}' in {repo}: {detail} (check the name with `git rev-parse {rev}`)"
    )]
    UnknownRevision {
        rev: String,
        repo: PathBuf,
        detail: String,
    },
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("unexpected output from git {args}: {line}")]
    Parse { args: String, line: String },
    #[error("interrupted")]
    Cancelled,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("culprit will not write to {dir}: {why}; give another --workdir (or --build-tree), or remove it if it is an old culprit checkout")]
    NotOurs { dir: PathBuf, why: String },
}

/// What one git command did.
pub(crate) struct Out {
    /// The exit code; None when killed by a signal or a timeout.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A git repository on disk. Every git command runs through crates/proc
/// under the repository's cancellation token (see [`Repo::with_cancel`]).
#[derive(Debug, Clone)]
pub struct Repo {
    path: PathBuf,
    cancel: Cancel,
}

impl Repo {
    /// Opens the repository whose working tree (or bare directory) is `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Repo, GitError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(GitError::NotARepo { path });
        }
        let repo = Repo {
            path,
            cancel: Cancel::new(),
        };
        let out = repo.raw(&["rev-parse", "--git-dir"])?;
        if !out.success() {
            return Err(GitError::NotARepo { path: repo.path });
        }
        Ok(repo)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The same repository, its git commands run under `cancel` (a
    /// campaign's token: cancelling it stops a long checkout).
    pub fn with_cancel(&self, cancel: &Cancel) -> Repo {
        Repo {
            path: self.path.clone(),
            cancel: cancel.clone(),
        }
    }

    pub(crate) fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// The repository's git directory shared by all its worktrees, as a
    /// canonical path: equal for two checkouts exactly when they are one
    /// repository.
    pub fn common_dir(&self) -> Result<PathBuf, GitError> {
        let args = ["rev-parse", "--path-format=absolute", "--git-common-dir"];
        let out = self.git(&args)?;
        std::fs::canonicalize(out.trim()).map_err(|e| GitError::Parse {
            args: args.join(" "),
            line: format!("{} ({e})", out.trim()),
        })
    }

    /// git in this repository: C locale, no prompts, and no optional locks
    /// (reads never refresh the index of the user's checkout).
    pub(crate) fn job(&self, args: &[&str]) -> Job {
        let mut j = Job::new("git");
        j.arg("-C")
            .arg(&self.path)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0");
        j
    }

    pub(crate) fn raw(&self, args: &[&str]) -> Result<Out, GitError> {
        run(&self.job(args), &self.cancel)
    }

    /// Runs a git command that may take long (a checkout of a whole tree)
    /// on the index file `index`, telling `progress` every
    /// [`PROGRESS_EVERY`] how long it has been going. A non-zero exit is an
    /// error carrying git's last message line, not its progress meter.
    pub(crate) fn run_long_with_index(
        &self,
        args: &[&str],
        index: &Path,
        what: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<(), GitError> {
        let mut job = self.job(args);
        job.env("GIT_INDEX_FILE", index);
        self.run_long_job(job, args, what, progress)
    }

    fn run_long_job(
        &self,
        mut job: Job,
        args: &[&str],
        what: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<(), GitError> {
        job.stdout(Sink::memory()).stderr(Sink::memory());
        let mut told = Instant::now();
        let out = job
            .run_with(&self.cancel, |t| {
                if told.elapsed() >= PROGRESS_EVERY {
                    told = Instant::now();
                    progress(format!(
                        "{what}: {} s so far",
                        t.started().elapsed().as_secs()
                    ));
                }
            })
            .map_err(|e| match e {
                culprit_proc::Error::Cancelled => GitError::Cancelled,
                e => GitError::Spawn(std::io::Error::other(e.to_string())),
            })?;
        match out.exit {
            Exit::Code(0) => Ok(()),
            Exit::Cancelled => Err(GitError::Cancelled),
            _ => Err(GitError::Failed {
                args: args.join(" "),
                stderr: last_message(&out.stderr.bytes),
            }),
        }
    }

    /// Runs git and returns its standard output; a non-zero exit is an error.
    pub fn git(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.raw(args)?;
        if !out.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The full hash of the commit `rev` names.
    pub fn resolve(&self, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.raw(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])?;
        if !out.success() {
            let detail = if rev.trim().is_empty() {
                "empty revision".to_string()
            } else {
                "no such commit".to_string()
            };
            return Err(GitError::UnknownRevision {
                rev: rev.to_string(),
                repo: self.path.clone(),
                detail,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Whether `a` is an ancestor of (or equal to) `b`.
    pub fn is_ancestor(&self, a: &str, b: &str) -> Result<bool, GitError> {
        let out = self.raw(&["merge-base", "--is-ancestor", a, b])?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(GitError::Failed {
                args: format!("merge-base --is-ancestor {a} {b}"),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }

    /// The best common ancestor of `a` and `b`, if they have one.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, GitError> {
        let out = self.raw(&["merge-base", a, b])?;
        if out.success() {
            Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ))
        } else {
            Ok(None)
        }
    }

    /// Metadata of one commit.
    pub fn commit(&self, sha: &str) -> Result<CommitMeta, GitError> {
        let fmt = "%H%x00%P%x00%an%x00%ae%x00%aD%x00%s%x00%B";
        let out = self.git(&["show", "-s", &format!("--format={fmt}"), sha, "--"])?;
        let mut it = out.splitn(7, '\0');
        let mut next = || it.next().unwrap_or("").to_string();
        let (hash, parents, name, email, date, subject, body) =
            (next(), next(), next(), next(), next(), next(), next());
        if hash.len() < 40 {
            return Err(GitError::Parse {
                args: format!("show {sha}"),
                line: out.lines().next().unwrap_or("").to_string(),
            });
        }
        Ok(CommitMeta {
            hash,
            parents: parents.split_whitespace().map(str::to_string).collect(),
            author_name: name,
            author_email: email,
            date,
            subject,
            message: body.trim_end().to_string(),
        })
    }

    /// `git show --stat` of a commit in git's medium format: header, message,
    /// diffstat, as a maintainer expects to read it.
    pub fn show_stat(&self, sha: &str) -> Result<String, GitError> {
        self.git(&["show", "--stat", "--no-color", "--format=medium", sha, "--"])
    }

    /// Paths changed by a commit against its first parent.
    pub fn changed_files(&self, sha: &str) -> Result<Vec<String>, GitError> {
        let out = self.git(&[
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            "-m",
            "--first-parent",
            "--root",
            sha,
        ])?;
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// The patch of a commit against its first parent.
    pub fn patch(&self, sha: &str) -> Result<String, GitError> {
        self.git(&[
            "show",
            "--no-color",
            "--format=",
            "-m",
            "--first-parent",
            "--patch",
            sha,
            "--",
        ])
    }

    /// The commit as `git format-patch` writes it (headers, message, patch):
    /// what get_maintainer.pl reads. A merge, which format-patch skips,
    /// gives its diff against the first parent.
    pub fn format_patch(&self, sha: &str) -> Result<String, GitError> {
        let p = self.git(&[
            "format-patch",
            "-1",
            "--stdout",
            "--no-signature",
            "--no-color",
            sha,
        ])?;
        if !p.is_empty() {
            return Ok(p);
        }
        self.git(&["diff", "--no-color", &format!("{sha}^1"), sha])
    }

    /// Every directory of the tree at `sha`, relative to its top.
    pub fn dirs_at(&self, sha: &str) -> Result<Vec<String>, GitError> {
        let out = self.git(&["ls-tree", "-r", "-d", "--name-only", sha])?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// Tags pointing at a commit.
    pub fn tags_at(&self, sha: &str) -> Result<Vec<String>, GitError> {
        let out = self.git(&["tag", "--points-at", sha])?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// The contents of `path` at `sha`, if the file exists there.
    pub fn file_at(&self, sha: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let spec = format!("{sha}:{path}");
        let out = self.raw(&["cat-file", "blob", &spec])?;
        Ok(out.success().then_some(out.stdout))
    }
}

/// Who wrote a commit and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMeta {
    pub hash: String,
    pub parents: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    /// RFC 2822 author date.
    pub date: String,
    pub subject: String,
    /// The whole message, subject included.
    pub message: String,
}

impl CommitMeta {
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}

/// Runs a git job to its end under `cancel`, output in memory.
pub(crate) fn run(job: &Job, cancel: &Cancel) -> Result<Out, GitError> {
    let out = job.output(cancel).map_err(|e| match e {
        culprit_proc::Error::Cancelled => GitError::Cancelled,
        culprit_proc::Error::Spawn { source, .. } => GitError::Spawn(source),
        e => GitError::Spawn(std::io::Error::other(e.to_string())),
    })?;
    let code = match out.exit {
        Exit::Code(c) => Some(c),
        Exit::Cancelled => return Err(GitError::Cancelled),
        _ => None,
    };
    Ok(Out {
        code,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// git's last message line, without the progress meter it redraws with
/// carriage returns ("Updating files:  45% ...").
pub(crate) fn last_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.split(['\n', '\r'])
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("Updating files:"))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_message_is_not_the_progress_meter() {
        let err = b"Preparing worktree (detached HEAD 1234)\nUpdating files:  10% (1/10)\rUpdating files: 100% (10/10)\rUpdating files: 100% (10/10), done.\nfatal: Could not write new index file.\n";
        assert_eq!(
            super::last_message(err),
            "fatal: Could not write new index file."
        );
        assert_eq!(super::last_message(b""), "");
    }
}
