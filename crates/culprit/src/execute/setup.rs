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
    /// Per commit of the range: its change touches nothing outside `within`
    /// (paths from the top of the tree that never reach the binary), with a
    /// note for the log when some do. Good ends and merges never count.
    pub fn docs_only(&self, within: &[&str]) -> Result<(Vec<bool>, Option<String>)> {
        let shas: Vec<String> = self.commits.iter().map(|c| c.sha.clone()).collect();
        let within: Vec<String> = within.iter().map(|p| p.to_string()).collect();
        let beyond = self
            .repo
            .commits_touching_beyond(&shas, &within)
            .context("listing the commits that change only documentation")?;
        let mut flags: Vec<bool> = self
            .commits
            .iter()
            .map(|c| !c.good && c.parents.len() == 1)
            .collect();
        for i in beyond {
            flags[i as usize] = false;
        }
        let n = flags.iter().filter(|&&f| f).count();
        let candidates = self.commits.iter().filter(|c| !c.good).count();
        let note = (n > 0).then(|| {
            format!(
                "{n} of {candidates} candidate commits change only {}: they build the kernel of their parent and are unlikely culprits",
                within.join(", ")
            )
        });
        Ok((flags, note))
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_git::git;

    fn commit(dir: &Path, msg: &str, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            git(dir, &["add", path]);
        }
        git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
    }

    #[test]
    fn commits_that_change_only_kernel_docs_are_flagged() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        git(r, &["init", "-q", "-b", "main"]);
        commit(
            r,
            "base",
            &[("kernel/sys.c", "0\n"), ("Documentation/a.rst", "0\n")],
        );
        git(r, &["tag", "good"]);
        commit(r, "docs", &[("Documentation/a.rst", "1\n")]);
        commit(r, "code", &[("kernel/sys.c", "1\n")]);
        git(r, &["checkout", "-q", "-b", "side", "good"]);
        commit(r, "maintainers", &[("MAINTAINERS", "1\n")]);
        git(r, &["checkout", "-q", "main"]);
        git(r, &["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
        commit(
            r,
            "docs and code",
            &[("Documentation/a.rst", "2\n"), ("kernel/sys.c", "2\n")],
        );
        let s = setup(r, "HEAD", &["good".to_string()]).unwrap();
        let (flags, note) = s.docs_only(culprit_kernel::tree::DOCS_ONLY_PATHS).unwrap();
        let by_subject = |subject: &str| {
            let i = s.commits.iter().position(|c| c.subject == subject).unwrap();
            flags[i]
        };
        assert!(by_subject("docs"));
        assert!(by_subject("maintainers"));
        assert!(!by_subject("code"));
        assert!(!by_subject("merge side"));
        assert!(!by_subject("docs and code"));
        assert!(!by_subject("base"), "the good end is not a candidate");
        let note = note.unwrap();
        assert!(
            note.starts_with("2 of 5 candidate commits change only Documentation"),
            "{note}"
        );
    }
}
