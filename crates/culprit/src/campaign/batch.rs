//! Several builds and a test round in flight at once: [`Machine::poll_batch`]
//! hands out everything to start now on idle builders and VMs, the engine's
//! [`culprit_bisect::Engine::next_batch`] choosing it.
//!
//! The machine remembers what it handed out and is still unanswered (the
//! in-flight work), so that the engine can plan around it; a record fed for
//! a build or run clears it. The records themselves are what they are in
//! the one-action protocol: replaying a journal written in any completion
//! order restores the same engine state (in-flight work is not journaled,
//! so a resumed machine starts with none).

use super::*;
use culprit_bisect::{Batch, InFlight};

/// Builds and runs handed out and not yet answered.
#[derive(Debug, Default)]
pub(super) struct Flight {
    building: Vec<u32>,
    /// (commit, runs not yet answered).
    testing: Vec<(u32, u32)>,
    /// Number of the next round (rounds overlap: VMs are independent).
    next_round: u32,
    /// The last status event: the machine is polled again after every
    /// completion and right after handing work out, and says the same
    /// standing once.
    last_status: Option<Event>,
}

impl Flight {
    pub(super) fn built(&mut self, n: u32) {
        if let Some(i) = self.building.iter().position(|&b| b == n) {
            self.building.remove(i);
        }
    }

    pub(super) fn ran(&mut self, n: u32) {
        if let Some(i) = self.testing.iter().position(|t| t.0 == n) {
            self.testing[i].1 -= 1;
            if self.testing[i].1 == 0 {
                self.testing.remove(i);
            }
        }
    }
}

impl Machine {
    /// What to start now on `free_builders` idle builders and `free_vms`
    /// idle VMs: any number of [`Action::Build`]s and at most one
    /// [`Action::Run`] (its runs may start while earlier ones still run). An empty list
    /// means: wait for work in flight and feed its records. A hint lookup,
    /// a revert verification step or [`Action::Done`] comes alone; work
    /// still in flight at `Done` is not needed any more.
    pub fn poll_batch(
        &mut self,
        free_builders: u32,
        free_vms: u32,
        available: &dyn Fn(&str) -> bool,
    ) -> Vec<Action> {
        // As in `poll`: a verification that ends hands the search back.
        loop {
            if let Some(a) = self.poll_batch_once(free_builders, free_vms, available) {
                return a;
            }
        }
    }

    fn poll_batch_once(
        &mut self,
        free_builders: u32,
        free_vms: u32,
        available: &dyn Fn(&str) -> bool,
    ) -> Option<Vec<Action>> {
        if self.done.is_some() {
            return Some(vec![Action::Done]);
        }
        if let Some(o) = self.verifying.clone() {
            return self.verify_step(o, available).map(|a| vec![a]);
        }
        if let Some(a) = self.hint_action() {
            return Some(vec![a]);
        }
        let status = self.engine.status();
        let at = self.events.len();
        self.status_event(&status);
        if let Some(e) = self.events.get(at) {
            if self.flight.last_status.as_ref() == Some(e) {
                self.events.remove(at);
            } else {
                self.flight.last_status = Some(e.clone());
            }
        }
        self.announce_target();
        let batch = loop {
            if let Some(o) = self.stops_early(&status) {
                break Batch {
                    done: Some(o),
                    ..Batch::default()
                };
            }
            let flight = InFlight {
                building: &self.flight.building,
                testing: &self.flight.testing,
            };
            let b = self.engine.next_batch(free_builders, free_vms, flight);
            let stale: Vec<u32> = b
                .runs
                .iter()
                .map(|j| j.0)
                .filter(|&n| !available(&self.plan.commits[n as usize].sha))
                .collect();
            if stale.is_empty() {
                break b;
            }
            for n in stale {
                self.engine.forget_build(n);
            }
        };
        if let Some(outcome) = batch.done {
            self.flight = Flight::default();
            self.end_visits(&[]);
            return self.conclude(outcome, available).map(|a| vec![a]);
        }
        let mut actions = Vec::new();
        if !batch.runs.is_empty() || !batch.builds.is_empty() {
            self.resumed_event(&status);
            // As in `poll`, the engine moving on ends the visits of the
            // commits it leaves; runs still in flight keep theirs open.
            let nodes: Vec<u32> = batch
                .runs
                .iter()
                .chain(self.flight.testing.iter())
                .map(|j| j.0)
                .collect();
            self.end_visits(&nodes);
        }
        if !batch.runs.is_empty() {
            actions.push(self.round_action(&batch.runs));
            for &(n, k) in &batch.runs {
                match self.flight.testing.iter_mut().find(|t| t.0 == n) {
                    Some(t) => t.1 += k,
                    None => self.flight.testing.push((n, k)),
                }
            }
        }
        for &n in &batch.builds {
            actions.push(self.build_action(n, &status));
            self.flight.building.push(n);
        }
        Some(actions)
    }

    /// Whether the machine is verifying a culprit (its steps come alone
    /// from [`Machine::poll_batch`]) or is done: work handed out before
    /// and still in flight is not needed any more.
    pub fn settled(&self) -> bool {
        self.done.is_some() || self.verifying.is_some()
    }

    /// One round of runs on built commits, numbered after every run handed
    /// out or journaled on each commit.
    pub(super) fn round_action(&mut self, alloc: &[(u32, u32)]) -> Action {
        let round = self.rounds().max(self.flight.next_round);
        self.flight.next_round = round + 1;
        let mut jobs = Vec::new();
        for &(n, k) in alloc {
            let first = self.next_run[n as usize];
            self.next_run[n as usize] = first + k;
            for i in 0..k {
                jobs.push(RunJob {
                    commit: self.plan.commits[n as usize].sha.clone(),
                    run: first + i,
                });
            }
        }
        self.events.push(Event::RoundStarted {
            round,
            jobs: alloc
                .iter()
                .map(|&(n, k)| RoundJob {
                    commit: self.plan.commits[n as usize].sha.clone(),
                    runs: k,
                })
                .collect(),
        });
        Action::Run { round, jobs }
    }
}
