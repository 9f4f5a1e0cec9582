//! The simulated backend and the culprit strategy: the real campaign code
//! (`crate::campaign::run`) driving the real engine over a [`World`].

use super::world::World;
use super::Tally;
use crate::backend::{Backend, BuildResult, Done, Progress, RunJob};
use crate::campaign::{Commit, Machine, Plan, RevertMade, Sink};
use crate::hint::NoHints;
use crate::journal::Journal;
use anyhow::Context;
use culprit_bisect::{Config, Verdict};
use std::collections::HashMap;

/// A [`Backend`] over a simulated world: no processes, no clock. Every build
/// stays available (an unbounded build cache). A revert of commit `c` on
/// the bad commit is the commit named `REVERT_PREFIX` + c's hash.
pub struct SimBackend<'w> {
    world: &'w World<'w>,
    index: HashMap<&'w str, u32>,
    /// Built, by [`Sha::slot`].
    built: Vec<bool>,
}

/// The name of a simulated revert commit, before the reverted commit's hash.
pub const REVERT_PREFIX: &str = "revert-of-";

/// A commit of the simulated history, or the bad commit with one reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sha {
    Commit(u32),
    Revert(u32),
}

impl Sha {
    /// Reads a commit name: a history commit's hash, or `REVERT_PREFIX`
    /// and one.
    pub fn parse(index: &HashMap<&str, u32>, sha: &str) -> anyhow::Result<Sha> {
        let node = |c: &str| {
            index
                .get(c)
                .copied()
                .with_context(|| format!("simulated history has no commit {sha}"))
        };
        match sha.strip_prefix(REVERT_PREFIX) {
            Some(c) => Ok(Sha::Revert(node(c)?)),
            None => Ok(Sha::Commit(node(sha)?)),
        }
    }

    /// Its place in a table of twice the history's length (reverts after
    /// the commits).
    pub fn slot(self, world: &World) -> usize {
        match self {
            Sha::Commit(x) => x as usize,
            Sha::Revert(c) => world.hist.len() + c as usize,
        }
    }

    pub fn name(self, world: &World) -> String {
        match self {
            Sha::Commit(x) => world.hist.shas[x as usize].clone(),
            Sha::Revert(c) => format!("{REVERT_PREFIX}{}", world.hist.shas[c as usize]),
        }
    }

    pub fn build(self, world: &World) -> BuildResult {
        match self {
            Sha::Commit(x) => world.build(x),
            Sha::Revert(c) => world.revert_build(c),
        }
    }

    pub fn run(self, world: &World, run: u32) -> crate::backend::RunResult {
        match self {
            Sha::Commit(x) => world.run(x, run),
            Sha::Revert(c) => world.revert_run(c, run),
        }
    }
}

/// Makes simulated reverts: they apply as the world says.
pub struct SimReverter<'w> {
    pub world: &'w World<'w>,
}

impl crate::drive::Reverter for SimReverter<'_> {
    fn revert(&mut self, culprit: &str, _onto: &str) -> anyhow::Result<RevertMade> {
        let c = self
            .world
            .hist
            .shas
            .iter()
            .position(|s| s == culprit)
            .with_context(|| format!("simulated history has no commit {culprit}"))?;
        Ok(if self.world.revert_applies(c as u32) {
            RevertMade::Applied {
                commit: format!("{REVERT_PREFIX}{culprit}"),
            }
        } else {
            RevertMade::Conflict {
                files: vec!["sim/target.c".to_string()],
            }
        })
    }
}

impl<'w> SimBackend<'w> {
    pub fn new(world: &'w World<'w>) -> SimBackend<'w> {
        let index = world
            .hist
            .shas
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i as u32))
            .collect();
        SimBackend {
            world,
            index,
            built: vec![false; 2 * world.hist.len()],
        }
    }
}

impl Backend for SimBackend<'_> {
    fn build(&mut self, commit: &str, _progress: Progress) -> anyhow::Result<BuildResult> {
        let sha = Sha::parse(&self.index, commit)?;
        let r = sha.build(self.world);
        self.built[sha.slot(self.world)] = r.ok;
        Ok(r)
    }

    fn run(&mut self, jobs: &[RunJob], _progress: Progress, done: Done) -> anyhow::Result<()> {
        for (i, j) in jobs.iter().enumerate() {
            let sha = Sha::parse(&self.index, &j.commit)?;
            anyhow::ensure!(
                self.built[sha.slot(self.world)],
                "run on unbuilt commit {}",
                j.commit
            );
            done(i, sha.run(self.world, j.run));
        }
        Ok(())
    }

    fn is_available(&self, commit: &str) -> bool {
        Sha::parse(&self.index, commit).is_ok_and(|s| self.built[s.slot(self.world)])
    }
}

/// The campaign plan a user would get for this range: target title given (as
/// syzbot knows the crash it bisects), VMs from the scenario, engine defaults
/// otherwise; no revert verification (the backend must make reverts: see
/// [`culprit`]).
pub fn plan(world: &World) -> Plan {
    let h = world.hist;
    let commits = (0..h.len())
        .map(|i| Commit {
            sha: h.shas[i].clone(),
            parents: h.parents[i].clone(),
            good: h.is_good(i as u32),
            subject: h.subjects[i].clone(),
        })
        .collect();
    Plan {
        commits,
        bad: h.bad,
        config: Config {
            vms: world.costs.vms,
            ..Config::default()
        },
        target_title: Some(super::world::TARGET.to_string()),
        key: format!("bench {} seed {}", h.name, world.seed),
        product: "kernel".to_string(),
        hints: false,
        verify: false,
        workdir: None,
        notes: Vec::new(),
        walk: None,
        after_walk: false,
        // What a campaign reads from each commit's paths (the history's
        // rule for "changes the binary").
        docs_only: h.binary.iter().map(|&b| !b).collect(),
    }
}

/// Strategy 1: culprit's campaign and engine, one action at a time; with
/// `known_q` the engine is told the world's true q. The campaign's events go
/// to `sink`.
pub fn culprit(world: &World, known_q: bool, sink: &mut dyn Sink) -> anyhow::Result<Tally> {
    let mut plan = plan(world);
    // As a user's campaign does: the answer, or a leader the search cannot
    // settle, is reverted on the bad commit, and the revert's runs are
    // evidence.
    plan.verify = true;
    if known_q {
        plan.config.q_prior = super::timeline::known_q_prior(world.noise.q);
    }
    let mut backend = SimBackend::new(world);
    let mut journal = Journal::in_memory();
    let machine = Machine::new(plan)?;
    let f = crate::drive::drive(
        machine,
        &[],
        &mut backend,
        &mut journal,
        sink,
        &mut NoHints,
        &mut SimReverter { world },
    )?;
    Ok(tally(&f))
}

/// The tally of a finished campaign, without a timeline.
pub fn tally(f: &crate::campaign::Finish) -> Tally {
    let outcome = match f.outcome.verdict {
        Verdict::Culprit(_) => "culprit",
        Verdict::Older => "older",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NotReproduced => "not-reproduced",
    };
    Tally {
        answer: f.culprit,
        confidence: Some(f.confidence),
        outcome,
        builds: f.builds,
        runs: f.runs,
        revert_runs: f.engine.revert_run_count(),
        rounds: f.rounds,
        build_secs: f.build_secs,
        test_secs: f.test_secs,
        verify_secs: f.verify_secs,
        time: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::super::world::{Costs, Noise};
    use super::*;
    use crate::backend::RunStatus;
    use crate::campaign::event::Discard;

    #[test]
    fn backend_serves_the_world_and_refuses_unbuilt_commits() {
        let h = synth::linear(30, 0).unwrap();
        let w = World::new(&h, 1, Noise::default(), Costs::default(), false);
        let mut b = SimBackend::new(&w);
        let bad = h.shas[h.bad as usize].clone();
        assert!(!b.is_available(&bad));
        let job = RunJob {
            commit: bad.clone(),
            run: 0,
        };
        assert!(b
            .run_collect(std::slice::from_ref(&job), &mut |_| {})
            .is_err());
        assert!(b.build(&bad, &mut |_| {}).unwrap().ok);
        assert!(b.is_available(&bad));
        let r = b.run_collect(&[job], &mut |_| {}).unwrap();
        assert!(
            matches!(&r[0].status, RunStatus::Crashed { title, .. } if title == super::super::world::TARGET)
        );
        assert!(b.build("no-such-commit", &mut |_| {}).is_err());
    }

    #[test]
    fn noiseless_campaign_through_the_real_campaign_code_finds_the_culprit() {
        let h = synth::kernel(200, 3).unwrap();
        for seed in 0..4 {
            let w = World::new(&h, seed, Noise::default(), Costs::default(), false);
            let t = culprit(&w, false, &mut Discard).unwrap();
            assert_eq!(t.answer, Some(w.culprit), "seed {seed}: {t:?}");
            assert!(t.builds >= 1 && t.runs >= t.builds && t.rounds >= 1);
            assert!(t.build_secs > 0.0 && t.test_secs > 0.0);
            // The answer was verified (a revert, its runs): the totals hold
            // it, the time to the answer does not.
            if t.revert_runs > 0 {
                assert!(t.verify_secs > 0.0, "seed {seed}: {t:?}");
            }
            assert!(t.verify_secs < t.build_secs + t.test_secs);
            let total = (t.build_secs + t.test_secs) / 3600.0;
            assert!((t.hours() - (total - t.verify_secs / 3600.0)).abs() < 1e-9);
        }
    }
}
