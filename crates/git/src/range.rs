//! The commit DAG of a bisection range, as git defines it: commits reachable
//! from bad and not from any good.

use crate::repo::{GitError, Repo};
use std::collections::HashMap;

/// One commit of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCommit {
    pub sha: String,
    /// Indices of parents inside the range (good endpoints included).
    pub parents: Vec<u32>,
    /// A good endpoint rather than a candidate.
    pub good: bool,
    pub subject: String,
}

/// Commits in topological order, parents before children. The good
/// endpoints come first, then the candidates; the bad commit is last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub commits: Vec<RangeCommit>,
}

impl Range {
    pub fn bad(&self) -> u32 {
        (self.commits.len() - 1) as u32
    }

    pub fn candidates(&self) -> usize {
        self.commits.iter().filter(|c| !c.good).count()
    }

    pub fn index_of(&self, sha: &str) -> Option<u32> {
        self.commits
            .iter()
            .position(|c| c.sha == sha)
            .map(|i| i as u32)
    }
}

impl Repo {
    /// Loads the range `bad --not goods...`; `bad` and `goods` are full
    /// hashes. Edges to commits outside the range are dropped, except edges
    /// to the good endpoints themselves.
    pub fn range(&self, bad: &str, goods: &[String]) -> Result<Range, GitError> {
        let mut args = vec![
            "rev-list",
            "--topo-order",
            "--reverse",
            "--parents",
            "--format=%s",
            bad,
            "--not",
        ];
        args.extend(goods.iter().map(String::as_str));
        let out = self.git(&args)?;

        let mut commits: Vec<RangeCommit> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        for g in goods {
            if index.contains_key(g) {
                continue;
            }
            let subject = self.commit(g).map(|m| m.subject).unwrap_or_default();
            index.insert(g.clone(), commits.len() as u32);
            commits.push(RangeCommit {
                sha: g.clone(),
                parents: Vec::new(),
                good: true,
                subject,
            });
        }
        let mut lines = out.lines();
        while let Some(header) = lines.next() {
            let Some(rest) = header.strip_prefix("commit ") else {
                return Err(GitError::Parse {
                    args: "rev-list".into(),
                    line: header.into(),
                });
            };
            let subject = lines.next().unwrap_or("").to_string();
            let mut ids = rest.split_whitespace();
            let sha = ids.next().unwrap_or("").to_string();
            let parents = ids.filter_map(|p| index.get(p).copied()).collect();
            index.insert(sha.clone(), commits.len() as u32);
            commits.push(RangeCommit {
                sha,
                parents,
                good: false,
                subject,
            });
        }
        Ok(Range { commits })
    }
}
