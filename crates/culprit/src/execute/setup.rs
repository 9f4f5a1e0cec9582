//! The range a campaign bisects: revisions resolved and checked, good ends
//! that are not ancestors of bad replaced by merge bases (as git bisect
//! does), the commits loaded.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use std::path::Path;

use crate::campaign::Commit;

/// The validated range: bad, goods (after merge-base substitution), commits.
pub struct Setup {
    pub repo: Repo,
    pub bad: String,
    pub goods: Vec<String>,
    pub commits: Vec<Commit>,
    pub notes: Vec<String>,
}

/// Resolves and checks the revisions, and loads the range. Without goods
/// only bad is resolved (a walk will find the good end; see
/// [`Setup::with_good`]).
pub fn setup(repo_path: &Path, bad: &str, goods: &[String]) -> Result<Setup> {
    let repo = Repo::open(repo_path)
        .with_context(|| format!("opening the repository {}", repo_path.display()))?;
    let bad_sha = repo.resolve(bad).context("resolving --bad")?;
    if goods.is_empty() {
        return Ok(Setup {
            repo,
            bad: bad_sha,
            goods: Vec::new(),
            commits: Vec::new(),
            notes: Vec::new(),
        });
    }
    range(repo, bad, bad_sha, goods)
}

impl Setup {
    /// The range from the good end a walk found.
    pub fn with_good(&self, good: &str) -> Result<Setup> {
        range(
            self.repo.clone(),
            &self.bad,
            self.bad.clone(),
            &[good.to_string()],
        )
    }
}

fn range(repo: Repo, bad: &str, bad_sha: String, goods: &[String]) -> Result<Setup> {
    let mut notes = Vec::new();
    let mut good_shas: Vec<String> = Vec::new();
    for g in goods {
        let sha = repo.resolve(g).context("resolving --good")?;
        if sha == bad_sha {
            bail!("--good {g} and --bad {bad} are the same commit {sha}: nothing to bisect");
        }
        let good = if repo.is_ancestor(&sha, &bad_sha)? {
            sha
        } else if repo.is_ancestor(&bad_sha, &sha)? {
            bail!(
                "--bad {bad} is an ancestor of --good {g}: the range is empty. \
                 Did you swap them?"
            );
        } else {
            let Some(base) = repo.merge_base(&sha, &bad_sha)? else {
                bail!("--good {g} and --bad {bad} share no history; pick a good commit that bad descends from");
            };
            notes.push(format!(
                "good commit {sha} is not an ancestor of bad; using their merge base {base} as the good end, as git bisect does (it is tested like any other commit)"
            ));
            base
        };
        if !good_shas.contains(&good) {
            good_shas.push(good);
        }
    }
    // A good commit that is an ancestor of another good one adds nothing
    // (it is good because the later one is): dropped, as git bisect does,
    // so that no run is spent on it.
    let mut kept: Vec<String> = Vec::new();
    for g in &good_shas {
        let mut redundant = false;
        for h in &good_shas {
            if h != g && repo.is_ancestor(g, h)? {
                redundant = true;
                notes.push(format!(
                    "good commit {g} is an ancestor of good commit {h}: it adds nothing, dropped"
                ));
                break;
            }
        }
        if !redundant {
            kept.push(g.clone());
        }
    }
    let good_shas = kept;
    let range = repo
        .range(&bad_sha, &good_shas)
        .context("loading the commit range")?;
    if range.candidates() == 0 {
        bail!("no commits between the good commits and {bad_sha}: the range is empty");
    }
    let commits = range
        .commits
        .into_iter()
        .map(|c| Commit {
            sha: c.sha,
            parents: c.parents,
            good: c.good,
            subject: c.subject,
        })
        .collect();
    Ok(Setup {
        repo,
        bad: bad_sha,
        goods: good_shas,
        commits,
        notes,
    })
}
