//! Searching a repository without touching it: what is checked out, whether
//! files changed between commits, lines matching fixed strings at a
//! revision, and which commits touch some files.
//!
//! Nothing here writes to the repository (no checkout, no index refresh:
//! `GIT_OPTIONAL_LOCKS=0`), so it is safe on the user's own checkout.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::Stdio;

use crate::repo::{GitError, Repo};

impl Repo {
    /// The commit checked out (HEAD), if the repository has one.
    pub fn head(&self) -> Option<String> {
        let out = self.raw(&["rev-parse", "--verify", "-q", "HEAD"]).ok()?;
        let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !sha.is_empty()).then_some(sha)
    }

    /// Whether no file matching `pathspecs` differs between commits `a` and
    /// `b` (false when git cannot tell, e.g. an unknown commit).
    pub fn unchanged(&self, a: &str, b: &str, pathspecs: &[&str]) -> bool {
        if a.is_empty() || a.starts_with('-') || b.starts_with('-') {
            return false;
        }
        let mut args = vec!["diff", "--quiet", a, b, "--"];
        args.extend_from_slice(pathspecs);
        self.raw(&args).is_ok_and(|o| o.status.success())
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
        self.raw(&args).is_ok_and(|o| o.status.success())
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
        if !out.status.success() && out.status.code() != Some(1) {
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
        if shas.is_empty() || files.is_empty() {
            return Ok(Vec::new());
        }
        let mut index: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, s) in shas.iter().enumerate() {
            index.entry(s.as_str()).or_default().push(i as u32);
        }
        let specs: Vec<String> = files.iter().map(|f| format!(":(top,literal){f}")).collect();
        let mut child = self
            .command()
            .args(["diff-tree", "--stdin", "-r", "--root", "--name-only", "--"])
            .args(&specs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let mut stdin = child.stdin.take().ok_or_else(|| GitError::Failed {
            args: "diff-tree --stdin".into(),
            stderr: "no standard input".into(),
        })?;
        let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
        // Fed from another thread: git writes as it reads, and a full
        // stdout pipe would otherwise block both sides.
        let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().map_err(GitError::Spawn)?;
        let fed = feeder.join();
        if !out.status.success() {
            return Err(GitError::Failed {
                args: "diff-tree --stdin".into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        match fed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(GitError::Spawn(e)),
            Err(_) => {
                return Err(GitError::Failed {
                    args: "diff-tree --stdin".into(),
                    stderr: "the thread writing commits panicked".into(),
                })
            }
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
