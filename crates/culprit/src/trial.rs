//! A trial: build one commit and run the test on it a number of times
//! through a [`Backend`], and count what the runs showed. `culprit test`
//! (syzbot's `#syz test`: does this commit, with these patches, still
//! crash?) and a campaign's revert verification both use [`test_commit`].
//!
//! It decides nothing and prints nothing: the caller reads the counts
//! (which titles crashed how often, how many runs were clean or
//! untestable) and the paths of the consoles. It does not journal either:
//! the build and run results are handed back whole, so that a campaign can
//! journal them like any other.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::backend::{Backend, BuildResult, Progress, RunJob, RunResult, RunStatus};

/// One crash title seen in a trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crash {
    pub title: String,
    pub count: u32,
    /// The consoles (run outputs) of the runs that showed it, in run order.
    pub consoles: Vec<PathBuf>,
}

/// Why runs were untestable, and how many.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The run status as the log writes it ("boot failed: ...").
    pub reason: String,
    pub count: u32,
}

/// What a trial showed.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The commit tested (full hash).
    pub commit: String,
    /// The build, or `None` when the backend still had the commit's
    /// product from before and nothing was built.
    pub build: Option<BuildResult>,
    /// Every run, in order, as the backend returned it.
    pub runs: Vec<(RunJob, RunResult)>,
    /// Crash titles, most frequent first (equal counts by title).
    pub crashes: Vec<Crash>,
    pub clean: u32,
    pub untestable: u32,
    /// Why runs were untestable, most frequent first.
    pub untestable_reasons: Vec<Reason>,
}

impl TestOutcome {
    /// Whether the commit was built (or its product kept from before).
    pub fn built(&self) -> bool {
        self.build.as_ref().is_none_or(|b| b.ok)
    }

    /// Runs that crashed, whatever the title.
    pub fn crashed(&self) -> u32 {
        self.crashes.iter().map(|c| c.count).sum()
    }

    /// Runs that crashed with this title.
    pub fn count(&self, title: &str) -> u32 {
        self.crashes
            .iter()
            .find(|c| c.title == title)
            .map_or(0, |c| c.count)
    }

    /// Whether any run tested something (crashed or ran clean).
    pub fn tested(&self) -> bool {
        self.crashed() + self.clean > 0
    }
}

/// Builds `commit` unless the backend still has its product, then runs
/// the runs numbered `runs` (in parallel, as wide as the backend goes) and
/// counts what they showed. A failed build is an outcome (no runs); an
/// `Err` is what stops a campaign too: the infrastructure failed, the test
/// could not start, or the user interrupted.
pub fn test_commit(
    backend: &mut dyn Backend,
    commit: &str,
    runs: Range<u32>,
    progress: Progress,
) -> Result<TestOutcome> {
    let build = if backend.is_available(commit) {
        None
    } else {
        let b = backend
            .build(commit, progress)
            .with_context(|| format!("building {commit}"))?;
        Some(b)
    };
    if build.as_ref().is_some_and(|b| !b.ok) {
        return Ok(tally(commit, build, Vec::new()));
    }
    let jobs: Vec<RunJob> = runs
        .map(|run| RunJob {
            commit: commit.to_string(),
            run,
        })
        .collect();
    let results = if jobs.is_empty() {
        Vec::new()
    } else {
        backend
            .run_collect(&jobs, progress)
            .with_context(|| format!("testing {commit}"))?
    };
    if results.len() != jobs.len() {
        anyhow::bail!(
            "the backend returned {} results for {} runs of {commit}",
            results.len(),
            jobs.len()
        );
    }
    Ok(tally(
        commit,
        build,
        jobs.into_iter().zip(results).collect(),
    ))
}

/// Counts the runs of a trial.
pub fn tally(
    commit: &str,
    build: Option<BuildResult>,
    runs: Vec<(RunJob, RunResult)>,
) -> TestOutcome {
    let mut crashes: BTreeMap<&str, (u32, Vec<PathBuf>)> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    let (mut clean, mut untestable) = (0, 0);
    for (_, r) in &runs {
        match &r.status {
            RunStatus::Ok => clean += 1,
            RunStatus::Crashed { title, .. } => {
                let e = crashes.entry(title).or_default();
                e.0 += 1;
                e.1.extend(r.output.clone());
            }
            s @ RunStatus::Untestable { .. } => {
                untestable += 1;
                *reasons.entry(s.to_string()).or_default() += 1;
            }
        }
    }
    let mut crashes: Vec<Crash> = crashes
        .into_iter()
        .map(|(title, (count, consoles))| Crash {
            title: title.to_string(),
            count,
            consoles,
        })
        .collect();
    crashes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.title.cmp(&b.title)));
    let mut untestable_reasons: Vec<Reason> = reasons
        .into_iter()
        .map(|(reason, count)| Reason { reason, count })
        .collect();
    untestable_reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    TestOutcome {
        commit: commit.to_string(),
        build,
        crashes,
        clean,
        untestable,
        untestable_reasons,
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Done;
    use crate::campaign::Untestable;

    /// A backend that answers from a script: run i gets `statuses[i % n]`.
    struct Scripted {
        builds_ok: bool,
        kept: Vec<String>,
        statuses: Vec<RunStatus>,
        built: Vec<String>,
        asked: Vec<RunJob>,
    }

    impl Backend for Scripted {
        fn build(&mut self, commit: &str, _: Progress) -> Result<BuildResult> {
            self.built.push(commit.to_string());
            Ok(BuildResult {
                ok: self.builds_ok,
                first_error: (!self.builds_ok).then(|| "error: x".into()),
                ..BuildResult::default()
            })
        }

        fn run(&mut self, jobs: &[RunJob], _: Progress, done: Done) -> Result<()> {
            self.asked.extend(jobs.iter().cloned());
            for (i, j) in jobs.iter().enumerate() {
                done(
                    i,
                    RunResult {
                        status: self.statuses[j.run as usize % self.statuses.len()].clone(),
                        secs: 1.0,
                        output: Some(PathBuf::from(format!("runs/{}/{}.log", j.commit, j.run))),
                    },
                );
            }
            Ok(())
        }

        fn is_available(&self, commit: &str) -> bool {
            self.kept.iter().any(|k| k == commit)
        }
    }

    fn crash(t: &str) -> RunStatus {
        RunStatus::crashed(t)
    }

    fn scripted(builds_ok: bool, statuses: Vec<RunStatus>) -> Scripted {
        Scripted {
            builds_ok,
            kept: Vec::new(),
            statuses,
            built: Vec::new(),
            asked: Vec::new(),
        }
    }

    #[test]
    fn runs_are_counted_by_title_with_their_consoles() {
        let mut b = scripted(
            true,
            vec![
                crash("BUG in foo"),
                RunStatus::Ok,
                crash("WARNING in bar"),
                crash("BUG in foo"),
                RunStatus::untestable(Untestable::Boot, "no init"),
            ],
        );
        let t = test_commit(&mut b, "c1", 0..10, &mut |_| {}).unwrap();
        assert_eq!(b.built, ["c1"]);
        assert_eq!(b.asked.len(), 10);
        assert!(t.built() && t.tested());
        assert_eq!(t.crashed(), 6);
        assert_eq!((t.clean, t.untestable), (2, 2));
        assert_eq!(t.crashes[0].title, "BUG in foo");
        assert_eq!(t.count("BUG in foo"), 4);
        assert_eq!(t.count("WARNING in bar"), 2);
        assert_eq!(t.count("other"), 0);
        assert_eq!(
            t.crashes[1].consoles,
            [
                PathBuf::from("runs/c1/2.log"),
                PathBuf::from("runs/c1/7.log")
            ]
        );
        assert_eq!(t.untestable_reasons[0].reason, "boot failed: no init");
        assert_eq!(t.untestable_reasons[0].count, 2);
        assert_eq!(t.runs.len(), 10);
    }

    #[test]
    fn a_kept_build_is_not_rebuilt_and_runs_are_numbered_as_asked() {
        let mut b = scripted(true, vec![RunStatus::Ok]);
        b.kept.push("c2".into());
        let t = test_commit(&mut b, "c2", 5..8, &mut |_| {}).unwrap();
        assert!(b.built.is_empty());
        assert!(t.build.is_none() && t.built());
        let runs: Vec<u32> = b.asked.iter().map(|j| j.run).collect();
        assert_eq!(runs, [5, 6, 7]);
        assert_eq!((t.clean, t.crashed()), (3, 0));
    }

    #[test]
    fn a_failed_build_runs_nothing() {
        let mut b = scripted(false, vec![crash("x")]);
        let t = test_commit(&mut b, "c3", 0..4, &mut |_| {}).unwrap();
        assert!(!t.built() && !t.tested());
        assert!(b.asked.is_empty());
        assert!(t.runs.is_empty());
    }
}
