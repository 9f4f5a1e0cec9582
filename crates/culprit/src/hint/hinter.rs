//! The campaign's [`Hinter`] for real runs: reads the target crash's console,
//! looks its stack up in the repository at the bad commit, and names the
//! range's commits that touch those files.

use super::{describe, report_files, stack_functions};
use crate::campaign::{Commit, Hint};
use culprit_git::Repo;
use culprit_kernel::symbols::defining_files;
use std::path::Path;

/// Where crash-stack hints come from. The CLI looks up the files of the
/// crash's stack in the repository; simulations have none.
pub trait Hinter {
    /// The hint for the target crash `title` whose console output is at
    /// `output`, or None when the crash names no code the range touches.
    fn hint(&mut self, output: &Path, title: &str) -> Option<Hint>;
}

/// Gives no hints (simulations, `--no-hint`).
pub struct NoHints;
impl Hinter for NoHints {
    fn hint(&mut self, _output: &Path, _title: &str) -> Option<Hint> {
        None
    }
}

/// How many stack functions are looked up: the crash site and its callers.
const FUNCTIONS: usize = 4;

pub struct StackHinter {
    repo: Repo,
    bad: String,
    shas: Vec<String>,
    good: Vec<bool>,
}

impl StackHinter {
    pub fn new(repo: &Repo, bad: &str, commits: &[Commit]) -> StackHinter {
        StackHinter {
            repo: repo.clone(),
            bad: bad.to_string(),
            shas: commits.iter().map(|c| c.sha.clone()).collect(),
            good: commits.iter().map(|c| c.good).collect(),
        }
    }

    fn lookup(&self, output: &Path, title: &str) -> anyhow::Result<Option<Hint>> {
        let text = std::fs::read(output)?;
        // The target's own report: an unrelated warning may come first.
        let mut reports = culprit_report::reports(&text);
        let target = culprit_report::Target::from_title(title);
        let Some(report) = reports
            .find(|r| r.title == title || culprit_report::identity_match(&target, r).is_some())
        else {
            return Ok(None);
        };
        let functions = stack_functions(&report, FUNCTIONS);
        let mut pairs = report_files(&report, &functions);
        let missing: Vec<String> = functions
            .iter()
            .filter(|f| !pairs.iter().any(|(g, _)| g == *f))
            .cloned()
            .collect();
        if !missing.is_empty() {
            pairs.extend(defining_files(&self.repo, &self.bad, &missing)?);
        }
        let mut files: Vec<String> = pairs.iter().map(|(_, f)| f.clone()).collect();
        files.sort();
        files.dedup();
        if files.is_empty() {
            return Ok(None);
        }
        let mut commits = self.repo.commits_touching(&self.shas, &files)?;
        commits.retain(|&c| !self.good[c as usize]);
        if commits.is_empty() {
            return Ok(None);
        }
        let text = describe(&pairs, commits.len());
        Ok(Some(Hint { commits, text }))
    }
}

impl Hinter for StackHinter {
    fn hint(&mut self, output: &Path, title: &str) -> Option<Hint> {
        // A hint is an optimisation: failing to find one must not stop the
        // campaign, only be visible to whoever debugs it.
        self.lookup(output, title).unwrap_or_else(|e| {
            tracing::warn!("no crash stack hint from {}: {e:#}", output.display());
            None
        })
    }
}
