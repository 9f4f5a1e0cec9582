//! Before bisecting: the bad commit (the old end, in a fix bisection) must
//! show the failure, which fixes the target when the user did not; in a fix
//! bisection the new end is tested next.
//!
//! Decides steps only; never records anything.

use crate::engine::Engine;
use crate::types::{Outcome, Step, StopReason, Verdict};

impl Engine {
    /// Whether the target is settled: the bad commit showed it clearly
    /// enough that verification is over and bisection proper runs. A
    /// derived target may still change before this.
    pub fn target_locked(&self) -> bool {
        self.target.is_some() && self.verified()
    }

    /// The verification of the bad commit is over (the target showed).
    fn verified(&self) -> bool {
        let e = &self.evidence[self.shows() as usize];
        let tried = e.target + e.other + e.clean + e.untestable;
        let (needed, clear, limit) = self.verify_terms();
        (e.target >= needed && clear) || (e.target > 0 && tried >= limit)
    }

    /// Failures of the target needed on bad, whether it leads clearly, and
    /// the run limit of verification.
    fn verify_terms(&self) -> (u32, bool, u32) {
        let e = &self.evidence[self.shows() as usize];
        // The target is the most frequent failure on bad: one failure could
        // be an unrelated crash, so a derived target needs two, and a clear
        // lead over any other identity (an unrelated crash taken for the
        // target would look present everywhere, "older than good").
        let needed = if self.config.target.is_some() { 1 } else { 2 };
        let runner_up = self
            .bad_failures
            .iter()
            .filter(|(id, _)| Some(*id) != self.target)
            .map(|&(_, c)| c)
            .max()
            .unwrap_or(0);
        let clear = self.config.target.is_some() || e.target > 2 * runner_up;
        // Once the bug showed, an unclear target is worth a few more rounds.
        let limit = if e.target == 0 {
            self.config.verify_runs
        } else {
            self.config.verify_runs.saturating_mul(3)
        };
        (needed, clear, limit)
    }

    /// Steps that verify the bad commit shows the failure before anything else.
    pub(crate) fn verify_step(&self) -> Option<Step> {
        let shows = self.shows();
        let e = &self.evidence[shows as usize];
        let tried = e.target + e.other + e.clean + e.untestable;
        let (needed, _, limit) = self.verify_terms();
        if self.verified() {
            return self.new_end_step();
        }
        let done = |verdict, reason| {
            Some(Step::Done(Outcome {
                verdict,
                reason,
                status: self.status(),
            }))
        };
        if tried >= limit {
            return done(Verdict::NotReproduced, StopReason::NotReproduced);
        }
        if e.built == Some(false) {
            return done(Verdict::Inconclusive, StopReason::Exhausted);
        }
        let runs_left = self.runs_left();
        if runs_left == 0 {
            return done(Verdict::Inconclusive, StopReason::MaxRuns);
        }
        let rep = self.rep(shows);
        let node = std::iter::once(shows)
            .chain(self.unit_members(rep).iter().copied())
            .find(|&m| self.available[m as usize]);
        match node {
            Some(x) => {
                // Few runs first (a reliable reproducer needs no more), then
                // doubling rounds.
                let k = (2 * tried)
                    .max(needed)
                    .min(self.config.vms.max(1))
                    .min(limit - tried)
                    .min(runs_left)
                    .max(1);
                Some(Step::Run(vec![(x, k)]))
            }
            None if self.config.max_builds.is_some_and(|m| self.builds >= m) => {
                done(Verdict::Inconclusive, StopReason::MaxBuilds)
            }
            None => Some(Step::Build(shows)),
        }
    }

    /// In a fix bisection, once the old end showed the bug, one round on
    /// the new end before anything else: a bug that is not fixed there is
    /// the answer ("not fixed"), and the sooner it shows the less is spent.
    fn new_end_step(&self) -> Option<Step> {
        if !self.config.fix || self.shows() == self.bad {
            return None;
        }
        let rep = self.rep(self.bad);
        let e = &self.evidence[rep as usize];
        if e.target + e.clean + e.other + e.untestable > 0 || e.built == Some(false) {
            return None;
        }
        if self.runs_left() == 0 {
            return None;
        }
        let node = std::iter::once(self.bad)
            .chain(self.unit_members(rep).iter().copied())
            .find(|&m| self.available[m as usize]);
        match node {
            Some(x) => Some(Step::Run(vec![(
                x,
                self.config.vms.max(1).min(self.runs_left()),
            )])),
            None if self.config.max_builds.is_some_and(|m| self.builds >= m) => None,
            None => Some(Step::Build(self.bad)),
        }
    }
}
