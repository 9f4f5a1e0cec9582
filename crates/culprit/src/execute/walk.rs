//! Finding a good end when the user gives none: the commits a walk back
//! may test (release tags that bad contains, or first-parent steps of
//! doubling length where there are none), the walk's campaign plan, and
//! the walk's evidence carried into the bisection that follows.
//!
//! The walk itself is an ordinary campaign of the machine over a chain of
//! those commits (see [`crate::campaign::Walk`]), so a release counts as
//! good only when the posterior says so at the asked confidence, exactly
//! as a bisection step would: syzbot's study found most first wrong
//! decisions made while probing releases on a fixed number of runs.

use crate::print::short;
use anyhow::{bail, Context, Result};
use culprit_bisect::Config;
use culprit_git::Repo;
use std::path::PathBuf;

use crate::campaign::{Commit, Plan, Record, Walk};

/// How much less likely, a priori, the bug is to have come in one release
/// interval further back. Reported bugs are mostly young (a fuzzer finds
/// most of them within a release or two of their arrival), and a walk
/// should test the newest release first as syzbot does; with one half, the
/// newest interval holds about half the prior mass, so the engine's first
/// choice is the newest release, and older ones are reached one by one as
/// the evidence pushes the mass back.
const DECAY: f64 = 0.5;

/// One commit a walk may test.
#[derive(Debug, Clone)]
pub struct Step {
    pub sha: String,
    /// The release tag, or `bad~N` for a first-parent step.
    pub label: String,
    pub subject: String,
}

/// The commits a walk may test, newest first.
#[derive(Debug, Clone)]
pub struct Chain {
    pub steps: Vec<Step>,
    /// The steps are release tags (else first-parent steps).
    pub releases: bool,
    /// The oldest step is the first commit of history.
    pub ends_at_root: bool,
}

/// The releases (or first-parent steps) to walk back over from `bad`.
pub fn chain(repo: &Repo, bad: &str, max: u32, oldest: Option<&str>) -> Result<Chain> {
    if max == 0 {
        bail!("--max-releases must be at least 1");
    }
    let oldest = match oldest {
        Some(o) => {
            let sha = repo.resolve(o).context("resolving --oldest")?;
            if sha == bad || !repo.is_ancestor(&sha, bad)? {
                bail!("--oldest {o} is not an older commit of --bad: give a release or commit that bad contains");
            }
            Some(sha)
        }
        None => None,
    };
    // A release older than --oldest is not wanted; --oldest itself is.
    let wanted = |sha: &str| -> Result<bool> {
        Ok(match &oldest {
            Some(o) => repo.is_ancestor(o, sha)?,
            None => true,
        })
    };
    let mut tags = repo.release_tags(bad).context("listing release tags")?;
    // Stable updates (vX.Y.Z) between two releases add steps without adding
    // reach; syzbot walks the vX.Y releases.
    if tags.iter().any(|t| t.version[2] == 0) {
        tags.retain(|t| t.version[2] == 0);
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut newer = bad.to_string();
    for t in tags {
        if steps.len() as u32 >= max {
            break;
        }
        // A chain: each step an ancestor of the one before (a tag on a side
        // branch would not bound the range the way the walk assumes).
        if !repo.is_ancestor(&t.commit, &newer)? || !wanted(&t.commit)? {
            continue;
        }
        newer = t.commit.clone();
        steps.push(Step {
            subject: repo.commit(&t.commit)?.subject,
            sha: t.commit,
            label: t.tag,
        });
    }
    let releases = !steps.is_empty();
    let mut ends_at_root = false;
    if !releases {
        let distances: Vec<u32> = (0..max.min(31)).map(|i| 1u32 << i).collect();
        for b in repo
            .first_parent_back(bad, &distances)
            .context("walking back along the first-parent line")?
        {
            if !wanted(&b.commit)? {
                break;
            }
            ends_at_root = b.root;
            steps.push(Step {
                subject: repo.commit(&b.commit)?.subject,
                label: format!("bad~{}", b.distance),
                sha: b.commit,
            });
        }
    }
    if let Some(o) = oldest {
        if steps.last().map(|s| &s.sha) != Some(&o) && (steps.len() as u32) < max + 1 {
            ends_at_root = repo.commit(&o)?.parents.is_empty();
            steps.push(Step {
                subject: repo.commit(&o)?.subject,
                label: short(&o).to_string(),
                sha: o,
            });
        }
    }
    if steps.is_empty() {
        bail!("no --good given, and {bad} has no older commit to walk back to (it is the first commit of history)");
    }
    Ok(Chain {
        steps,
        releases,
        ends_at_root,
    })
}

/// The walk's campaign: the chain oldest first, then bad; no good ends;
/// a prior over "the bug came in after the step below" proportional to the
/// commits in between and decaying with age (see [`DECAY`]).
pub fn plan(repo: &Repo, chain: &Chain, bad: &str, mut base: Plan) -> Result<Plan> {
    let steps: Vec<&Step> = chain.steps.iter().rev().collect();
    let mut commits: Vec<Commit> = Vec::new();
    let mut labels = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        commits.push(Commit {
            sha: s.sha.clone(),
            parents: if i == 0 { vec![] } else { vec![i as u32 - 1] },
            good: false,
            subject: s.subject.clone(),
        });
        labels.push(s.label.clone());
    }
    commits.push(Commit {
        sha: bad.to_string(),
        parents: vec![steps.len() as u32 - 1],
        good: false,
        subject: repo.commit(bad)?.subject,
    });
    labels.push(String::new());
    let mut sizes = Vec::with_capacity(commits.len());
    for i in 1..commits.len() {
        let n = repo
            .count_between(&commits[i - 1].sha, &commits[i].sha)
            .context("counting the commits between two walk steps")?;
        sizes.push(n.max(1) as f64);
    }
    // The oldest step stands for itself and everything older: as much as
    // an average interval, one step further back.
    let mean = sizes.iter().sum::<f64>() / sizes.len() as f64;
    sizes.insert(0, mean);
    let last = sizes.len() - 1;
    let prior = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| n * DECAY.powi((last - i) as i32))
        .collect();
    base.bad = commits.len() as u32 - 1;
    base.commits = commits;
    base.config = Config {
        // Nothing is older than the oldest step: "culprit is the oldest
        // step" already says the bug is that old or older.
        older_prior: 0.0,
        ..base.config
    };
    base.key = format!("{}:walk", base.key);
    base.hints = false;
    base.verify = false;
    base.walk = Some(Walk {
        labels,
        prior,
        ends_at_root: chain.ends_at_root,
        releases: chain.releases,
    });
    Ok(base)
}

/// The walk's builds and runs on commits of the bisection's range (bad, and
/// the release the bug was found on), to start the bisection's journal
/// with: evidence gathered once counts once, and is not gathered again.
pub fn carried(walk: &[Record], range: &[Commit]) -> Vec<Record> {
    let candidates: std::collections::BTreeSet<&str> = range
        .iter()
        .filter(|c| !c.good)
        .map(|c| c.sha.as_str())
        .collect();
    walk.iter()
        .filter(|r| match r {
            Record::Build { commit, .. } | Record::Run { commit, .. } => {
                candidates.contains(commit.as_str())
            }
            _ => false,
        })
        .cloned()
        .collect()
}

/// Where the walk keeps its journal, beside the bisection's.
pub fn journal_path(workdir: &std::path::Path) -> PathBuf {
    workdir.join("walk.jsonl")
}

/// The walk as the JSON result shows it.
pub fn doc(plan: &Plan, finish: &crate::campaign::Finish) -> crate::result::WalkDoc {
    use crate::campaign::{Counts, WalkEnd};
    let walk = plan.walk.as_ref();
    let label = |i: usize| walk.map_or_else(String::new, |w| w.labels[i].clone());
    let steps = (0..plan.commits.len() - 1)
        .rev()
        .map(|i| {
            let e = finish.engine.evidence(i as u32);
            crate::result::WalkStepDoc {
                label: label(i),
                commit: plan.commits[i].sha.clone(),
                runs: Counts {
                    target: e.target,
                    other: e.other,
                    clean: e.clean,
                    untestable: e.untestable,
                },
            }
        })
        .collect();
    let (good, good_commit, oldest_has_bug) = match finish.walk_end(plan) {
        WalkEnd::Good { commit, label, .. } => (Some(label), Some(commit), false),
        WalkEnd::Oldest { .. } => (None, None, true),
        WalkEnd::Undecided => (None, None, false),
    };
    crate::result::WalkDoc {
        by: if walk.is_some_and(|w| w.releases) {
            "releases"
        } else {
            "first_parent"
        },
        steps,
        good,
        good_commit,
        oldest_has_bug,
        confidence: finish.confidence,
    }
}
