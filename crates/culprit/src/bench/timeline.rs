//! The time model with builders: culprit's real campaign machine
//! ([`Machine::poll_batch`]) over a simulated world, with B builders and the
//! scenario's VMs as resources on a modelled clock.
//!
//! Builds run concurrently, one per builder, each taking its simulated time;
//! runs occupy one VM each for their simulated time, and a VM takes a new
//! run as soon as it is free, while builders keep building (build/test
//! overlap, speculative builds). The machine is polled whenever something
//! finishes. The campaign ends when the machine
//! says done; work still in flight then is abandoned and counted as spent.
//! Work finishing at the same instant is fed builds first, each kind in the
//! order it was started, so a trial is a pure function of the world.
//!
//! Verification goes as the real batch driver does it: the machine's answer
//! (or a leader it cannot settle) is reverted on the bad commit (made at
//! once, as `sim::SimReverter` decides), work in flight is abandoned, and
//! each verification step ends before the next is asked for; its runs
//! queue for the VMs.
//!
//! It must never use a real clock or real processes.

use super::sim::{plan, Sha, SimReverter};
use super::world::World;
use super::{Tally, Timing};
use crate::backend::{BuildResult, RunResult};
use crate::campaign::{Action, Machine, Record, RunJob, Sink};
use crate::drive::{build_record, Reverter};
use anyhow::bail;
use std::collections::HashMap;

/// Strength of the prior that tells the engine the true q (pseudo-runs).
const KNOWN_Q_RUNS: f64 = 2000.0;

/// A Beta prior on q concentrated at `q`.
pub fn known_q_prior(q: f64) -> (f64, f64) {
    (
        (q * KNOWN_Q_RUNS).max(1e-3),
        ((1.0 - q) * KNOWN_Q_RUNS).max(1e-3),
    )
}

struct Build {
    end: f64,
    start: f64,
    sha: Sha,
    result: BuildResult,
}

struct Run {
    end: f64,
    start: f64,
    round: u32,
    job: RunJob,
    result: RunResult,
}

/// culprit with `builders` builders; with `known_q`, the engine's prior on
/// q is concentrated at the world's true q (the reference of what the same
/// engine needs when told the rate). The campaign's events go to `sink`.
pub fn culprit(
    world: &World,
    builders: u32,
    known_q: bool,
    sink: &mut dyn Sink,
) -> anyhow::Result<Tally> {
    let mut p = plan(world);
    // As in `sim::culprit`: answers are reverted, and the runs are evidence.
    p.verify = true;
    if known_q {
        p.config.q_prior = known_q_prior(world.noise.q);
    }
    let builders = builders.max(1);
    let vms = world.costs.vms.max(1);
    let index: HashMap<&str, u32> = world
        .hist
        .shas
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    // By `Sha::slot`: the commits, then the bad commit with each reverted.
    let mut built = vec![false; 2 * world.hist.len()];
    let mut tested = vec![false; 2 * world.hist.len()];
    let mut reverter = SimReverter { world };
    let mut m = Machine::new(p)?;
    m.resume(&[])?;
    let (mut now, mut builder_secs, mut vm_secs) = (0.0f64, 0.0f64, 0.0f64);
    let mut building: Vec<Build> = Vec::new();
    let mut running: Vec<Run> = Vec::new();
    let mut build_log: Vec<(usize, f64)> = Vec::new();
    let mut answered_at: Option<f64> = None;
    loop {
        let free = builders - building.len() as u32;
        let free_vms = vms.saturating_sub(running.len() as u32);
        let actions = m.poll_batch(free, free_vms, &|c| {
            Sha::parse(&index, c).is_ok_and(|s| built[s.slot(world)])
        });
        for e in m.take_events() {
            sink.event(&e);
        }
        // The answer's verification runs from the moment the machine
        // verifies to the end; one that sends the search on was search.
        if m.settled() {
            answered_at.get_or_insert(now);
        } else {
            answered_at = None;
        }
        if actions.contains(&Action::Done) {
            break;
        }
        if m.settled() {
            // As the driver does: a verification does not need what is in
            // flight; it was paid for up to now.
            for b in building.drain(..) {
                builder_secs += now - b.start;
            }
            for r in running.drain(..) {
                vm_secs += (now - r.start).max(0.0);
            }
        }
        // A revert is made at once: poll again before time moves.
        let mut instant = false;
        for a in actions {
            match a {
                Action::Revert { culprit, onto } => {
                    let made = reverter.revert(&culprit, &onto)?;
                    m.feed(&Record::Revert {
                        culprit,
                        onto,
                        made,
                    })?;
                    instant = true;
                }
                Action::Build(c) => {
                    let sha = Sha::parse(&index, &c)?;
                    let result = sha.build(world);
                    building.push(Build {
                        end: now + result.secs,
                        start: now,
                        sha,
                        result,
                    });
                }
                Action::Run { round: k, jobs } => {
                    // The search never asks for more runs than free VMs; a
                    // verification may, and its runs queue for the VMs.
                    anyhow::ensure!(
                        m.settled() || running.len() + jobs.len() <= vms as usize,
                        "more runs than VMs"
                    );
                    let mut ends: Vec<f64> = Vec::new();
                    for job in jobs {
                        let sha = Sha::parse(&index, &job.commit)?;
                        let x = sha.slot(world);
                        anyhow::ensure!(built[x], "run on unbuilt commit {}", job.commit);
                        tested[x] = true;
                        let result = sha.run(world, job.run);
                        let start = match ends.len().checked_sub(vms as usize) {
                            Some(i) => ends[i],
                            None => now,
                        };
                        ends.push(start + result.secs);
                        running.push(Run {
                            end: start + result.secs,
                            start,
                            round: k,
                            job,
                            result,
                        });
                    }
                }
                other => bail!("the bench cannot perform {other:?}"),
            }
        }
        if instant {
            continue;
        }
        // A verification step ends before the next one is asked for.
        loop {
            // The next instant something finishes.
            let next_build = building.iter().map(|b| b.end).fold(f64::INFINITY, f64::min);
            let next_run = running.iter().map(|r| r.end).fold(f64::INFINITY, f64::min);
            let t = next_build.min(next_run);
            if !t.is_finite() {
                bail!("the campaign waits with nothing in flight");
            }
            now = t;
            let mut i = 0;
            while i < building.len() {
                if building[i].end <= now {
                    let b = building.remove(i);
                    builder_secs += b.result.secs;
                    let x = b.sha.slot(world);
                    built[x] = b.result.ok;
                    build_log.push((x, b.result.secs));
                    m.feed(&build_record(b.sha.name(world), b.result))?;
                } else {
                    i += 1;
                }
            }
            let mut i = 0;
            while i < running.len() {
                if running[i].end <= now {
                    let r = running.remove(i);
                    vm_secs += r.result.secs;
                    let rec = Record::Run {
                        commit: r.job.commit,
                        run: r.job.run,
                        round: r.round,
                        status: r.result.status,
                        secs: r.result.secs,
                        output: None,
                    };
                    m.feed(&rec)?;
                } else {
                    i += 1;
                }
            }
            if !m.settled() || (building.is_empty() && running.is_empty()) {
                break;
            }
        }
    }
    // Abandoned work was paid for up to now.
    for b in &building {
        builder_secs += now - b.start;
    }
    for r in &running {
        vm_secs += (now - r.start).max(0.0);
    }
    let untested: f64 = build_log
        .iter()
        .filter(|(x, _)| !tested[*x])
        .map(|b| b.1)
        .sum::<f64>()
        + building.iter().map(|b| now - b.start).sum::<f64>();
    let f = m.finish();
    Ok(Tally {
        time: Some(Timing {
            wall_secs: now,
            builders,
            vms,
            builder_secs,
            vm_secs,
            untested_build_secs: untested,
        }),
        verify_secs: now - answered_at.unwrap_or(now),
        ..super::sim::tally(&f)
    })
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::super::world::{Costs, Noise};
    use super::*;
    use crate::campaign::event::Discard;

    #[test]
    fn builders_find_the_culprit_sooner_than_one_builder() {
        let h = synth::kernel(400, 3).unwrap();
        let (mut one, mut four, mut verified) = (0.0, 0.0, 0);
        for seed in 0..4 {
            let w = World::new(&h, seed, Noise::default(), Costs::default(), false);
            let a = culprit(&w, 1, false, &mut Discard).unwrap();
            let b = culprit(&w, 4, false, &mut Discard).unwrap();
            assert_eq!(a.answer, Some(w.culprit), "seed {seed}: {a:?}");
            assert_eq!(b.answer, Some(w.culprit), "seed {seed}: {b:?}");
            let (ta, tb) = (a.time.clone().unwrap(), b.time.clone().unwrap());
            // Work never exceeds what the resources can do in the time.
            assert!(ta.builder_secs <= ta.wall_secs * 1.0 + 1e-6);
            assert!(tb.builder_secs <= tb.wall_secs * 4.0 + 1e-6);
            assert!(tb.vm_secs <= tb.wall_secs * tb.vms as f64 + 1e-6);
            // The answer's verification is in the wall time, not the hours.
            if b.revert_runs > 0 {
                assert!(b.verify_secs > 0.0, "seed {seed}: {b:?}");
                verified += 1;
            }
            assert!((tb.wall_secs - b.verify_secs - b.hours() * 3600.0).abs() < 1e-6);
            one += a.hours();
            four += b.hours();
            // Deterministic.
            assert_eq!(culprit(&w, 4, false, &mut Discard).unwrap(), b);
        }
        assert!(four < one, "4 builders {four} h, 1 builder {one} h");
        assert!(verified > 0, "no answer was verified");
    }

    #[test]
    fn told_the_true_q_the_engine_still_finds_the_culprit() {
        let h = synth::kernel(300, 5).unwrap();
        let noise = Noise {
            q: 0.5,
            ..Noise::default()
        };
        let w = World::new(&h, 2, noise, Costs::default(), false);
        let t = culprit(&w, 2, true, &mut Discard).unwrap();
        assert_eq!(t.answer, Some(w.culprit), "{t:?}");
    }
}
