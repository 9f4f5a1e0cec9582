//! The simulated backend and the culprit strategy: the real campaign code
//! (`crate::campaign::run`) driving the real engine over a [`World`].

use super::world::World;
use super::Tally;
use crate::backend::{Backend, BuildResult, Done, Progress, RunJob};
use crate::campaign::{Commit, Machine, Plan, Sink};
use crate::hint::NoHints;
use crate::journal::Journal;
use anyhow::Context;
use culprit_bisect::{Config, Verdict};
use std::collections::HashMap;

/// A [`Backend`] over a simulated world: no processes, no clock. Every build
/// stays available (an unbounded build cache).
pub struct SimBackend<'w> {
    world: &'w World<'w>,
    index: HashMap<&'w str, u32>,
    built: Vec<bool>,
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
            built: vec![false; world.hist.len()],
        }
    }

    fn node(&self, sha: &str) -> anyhow::Result<u32> {
        self.index
            .get(sha)
            .copied()
            .with_context(|| format!("simulated history has no commit {sha}"))
    }
}

impl Backend for SimBackend<'_> {
    fn build(&mut self, commit: &str, _progress: Progress) -> anyhow::Result<BuildResult> {
        let x = self.node(commit)?;
        let r = self.world.build(x);
        self.built[x as usize] = r.ok;
        Ok(r)
    }

    fn run(&mut self, jobs: &[RunJob], _progress: Progress, done: Done) -> anyhow::Result<()> {
        for (i, j) in jobs.iter().enumerate() {
            let x = self.node(&j.commit)?;
            anyhow::ensure!(self.built[x as usize], "run on unbuilt commit {}", j.commit);
            done(i, self.world.run(x, j.run));
        }
        Ok(())
    }

    fn is_available(&self, commit: &str) -> bool {
        self.node(commit).is_ok_and(|x| self.built[x as usize])
    }
}

/// The campaign plan a user would get for this range: target title given (as
/// syzbot knows the crash it bisects), VMs from the scenario, engine defaults
/// otherwise.
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
        &mut crate::drive::NoReverts,
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
        rounds: f.rounds,
        build_secs: f.build_secs,
        test_secs: f.test_secs,
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
        }
    }
}
