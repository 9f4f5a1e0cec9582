//! Searching a repository without touching it: what is checked out, whether
//! files changed between commits, lines matching fixed strings at a
//! revision, and which commits touch some files.
//!
//! Nothing here writes to the repository (no checkout, no index refresh:
//! `GIT_OPTIONAL_LOCKS=0`), so it is safe on the user's own checkout.

use culprit_proc::Input;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::repo::{run, GitError, Repo};

impl Repo {
    /// The commit checked out (HEAD), if the repository has one.
    pub fn head(&self) -> Option<String> {
        let out = self.raw(&["rev-parse", "--verify", "-q", "HEAD"]).ok()?;
        let ok = out.success();
        let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (ok && !sha.is_empty()).then_some(sha)
    }

    /// Whether no file matching `pathspecs` differs between commits `a` and
    /// `b` (false when git cannot tell, e.g. an unknown commit).
    pub fn unchanged(&self, a: &str, b: &str, pathspecs: &[&str]) -> bool {
        if a.is_empty() || a.starts_with('-') || b.starts_with('-') {
            return false;
        }
        let mut args = vec!["diff", "--quiet", a, b, "--"];
        args.extend_from_slice(pathspecs);
        self.raw(&args).is_ok_and(|o| o.success())
    }

    /// Whether the work tree is a checkout of `sha` with no change to the
    /// files matching `pathspecs`. Plumbing `diff-index` never refreshes
    /// the index, so a file whose stat data merely changed counts as
    /// changed (callers fall back to the committed tree, which is right).
    pub fn is_clean_checkout_of(&self, sha: &str, pathspecs: &[&str]) -> bool {
        if self.head().as_deref() != Some(sha) {
            return false;
        }
        let mut args = vec!["diff-index", "--quiet", "HEAD", "--"];
        args.extend_from_slice(pathspecs);
        // Fails in a bare repository, which has no work tree to read.
        self.raw(&args).is_ok_and(|o| o.success())
    }

    /// Lines containing any of the `fixed` strings, in text files matching
    /// `pathspecs` at commit `sha`: (path from the top of the tree, line).
    /// Reads the work tree instead of inflating blobs when it is a clean
    /// checkout of `sha` (about 0.4 s instead of 2 s on a kernel tree).
    pub fn grep_fixed(
        &self,
        sha: &str,
        fixed: &[String],
        pathspecs: &[&str],
    ) -> Result<Vec<(String, String)>, GitError> {
        if fixed.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["grep", "-F", "-I", "-z", "--no-color", "--full-name"];
        for s in fixed {
            args.extend(["-e", s.as_str()]);
        }
        if !self.is_clean_checkout_of(sha, pathspecs) {
            args.push(sha);
        }
        args.push("--");
        args.extend_from_slice(pathspecs);
        let out = self.raw(&args)?;
        // Exit status 1 means no line matched.
        if !out.success() && out.code != Some(1) {
            return Err(GitError::Failed {
                args: format!("grep at {sha}"),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let prefix = format!("{sha}:");
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('\0'))
            .map(|(path, line)| {
                let path = path.strip_prefix(&prefix).unwrap_or(path);
                (path.to_string(), line.to_string())
            })
            .collect())
    }

    /// Indices into `shas` (full hashes) of the commits whose own change
    /// against their first parent touches one of `files` (paths from the
    /// top of the tree). Merges count as touching nothing: their own change
    /// is the sum of their branch's commits. One `git diff-tree --stdin`.
    pub fn commits_touching(
        &self,
        shas: &[String],
        files: &[String],
    ) -> Result<Vec<u32>, GitError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let specs: Vec<String> = files.iter().map(|f| format!(":(top,literal){f}")).collect();
        self.diff_tree_hits(shas, &specs)
    }

    /// Indices into `shas` of the commits whose own change against their
    /// first parent touches some path outside `within` (files, or
    /// directories with everything below them, from the top of the tree).
    /// A commit missing from the answer changed nothing outside them: for
    /// `within` = the documentation, a docs-only commit. Merges count as
    /// touching nothing, as in [`Repo::commits_touching`].
    pub fn commits_touching_beyond(
        &self,
        shas: &[String],
        within: &[String],
    ) -> Result<Vec<u32>, GitError> {
        let mut specs = vec![":(top)".to_string()];
        specs.extend(within.iter().map(|f| format!(":(top,literal,exclude){f}")));
        self.diff_tree_hits(shas, &specs)
    }

    /// Indices of the commits of `shas` for which `git diff-tree -r` against
    /// the first parent lists a path under `pathspecs`.
    fn diff_tree_hits(&self, shas: &[String], pathspecs: &[String]) -> Result<Vec<u32>, GitError> {
        if shas.is_empty() {
            return Ok(Vec::new());
        }
        let mut index: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, s) in shas.iter().enumerate() {
            index.entry(s.as_str()).or_default().push(i as u32);
        }
        let mut args = vec!["diff-tree", "--stdin", "-r", "--root", "--name-only", "--"];
        args.extend(pathspecs.iter().map(String::as_str));
        // The commits go in through a file: jobs never hold a pipe on their
        // standard input, and 100,000 hashes do not fit on a command line.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let list = std::env::temp_dir().join(format!(
            "culprit-commits-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
        std::fs::write(&list, input).map_err(GitError::Spawn)?;
        let mut job = self.job(&args);
        job.stdin(Input::File(list.clone()));
        let out = run(&job, self.cancel());
        let _ = std::fs::remove_file(&list);
        let out = out?;
        if !out.success() {
            return Err(GitError::Failed {
                args: "diff-tree --stdin".into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut hits: BTreeSet<u32> = BTreeSet::new();
        for line in text.lines() {
            if let Some(ix) = index.get(line.trim()) {
                hits.extend(ix);
            }
        }
        Ok(hits.into_iter().collect())
    }
}
