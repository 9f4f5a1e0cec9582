//! Revert evidence: runs of the commit where the bug shows with one
//! candidate reverted on top.
//!
//! Such a run asks "is c the culprit?" at the rate the bug fires where it
//! was learned, not at the rate it fires near c. That is what tells the
//! readings of `rates` and `regions` apart, which predict the same counts
//! on every commit of the range: when target crashes start at some old
//! commit L and become frequent only at a later X, "the rate falls below X,
//! L is the culprit" and "X is the culprit, L..X is a false-target region"
//! differ only in their priors. Reverting L on the bad commit is clean under
//! the first and crashes as often as the bad commit under the second.
//!
//! Under "culprit is c" a revert of c has no bug (a cause bisection: runs
//! show the target at f) and a revert of any other commit still has it (at
//! the bad commit's rate, its posterior predictive from the runs there);
//! "older" keeps the bug on every revert. A culprit's revert may keep the
//! crash all the same (`Config::revert_keeps`, 0.1: a second commit brings
//! it too, or later commits build on the culprit), so one crashing revert
//! costs its commit at most that factor, while a clean one, which nothing
//! but the culprit explains, settles much. (The converse, a revert of an
//! innocent commit that silences the crash because the reproducer needs
//! its code, is not modelled: such a commit is necessary for the crash,
//! and naming it is a useful answer.) In a fix bisection the revert goes
//! on the new end and the roles swap: reverting the fix brings the bug back
//! (at the old end's rate), reverting another commit leaves it fixed, and
//! "not fixed" has it everywhere. Each reverted commit is one factor on
//! its own hypothesis and on "older", so the classes of `posterior` are
//! untouched.
//!
//! Records only; never decides when to revert (the caller does, see the
//! campaign's verification).

use crate::engine::Engine;
use crate::math::{ln_beta, log_sum_exp};
use crate::types::Evidence;
use crate::NodeId;

/// Runs on one revert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RevertRuns {
    pub target: u32,
    pub clean: u32,
    /// Other crashes and untestable runs: no evidence.
    pub neither: u32,
}

/// Log-likelihood shifts from revert evidence: per reverted node, and for
/// "older", relative to every other commit hypothesis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shift {
    pub nodes: Vec<(NodeId, f64)>,
    pub older: f64,
}

impl Engine {
    /// One run of the `shows` commit with `c` reverted on top (in a fix
    /// bisection: of the new end with the fix candidate reverted):
    /// `Some(true)` the target crashed, `Some(false)` the run was clean,
    /// `None` another crash or an untestable run. Counts against the run
    /// budget like any run.
    pub fn record_revert_run(&mut self, c: NodeId, target: Option<bool>) {
        self.runs += 1;
        let r = self.reverts.entry(c).or_default();
        match target {
            Some(true) => r.target += 1,
            Some(false) => r.clean += 1,
            None => r.neither += 1,
        }
    }

    /// A revert was built (or failed to): it counts against the build
    /// budget.
    pub fn record_revert_build(&mut self) {
        self.builds += 1;
    }

    /// Runs on reverts, all candidates together.
    pub fn revert_run_count(&self) -> u32 {
        self.reverts
            .values()
            .map(|r| r.target + r.clean + r.neither)
            .sum()
    }

    /// The revert evidence as shifts of the hypotheses' log-likelihoods.
    pub(crate) fn revert_shift(&self) -> Shift {
        // Where the bug shows: bad, or the old end of a fix bisection.
        let Evidence { target, clean, .. } = self.evidence[self.rep(self.shows()) as usize];
        let (a, b) = self.config.q_prior;
        let (a, b) = (a + target as f64, b + clean as f64);
        let model = self.model();
        let mut shift = Shift::default();
        for (&c, r) in &self.reverts {
            let (k, m) = (r.target, r.clean);
            if k + m == 0 {
                continue;
            }
            // The bug still there: the rate learned where it shows.
            let present = ln_beta(a + k as f64, b + m as f64) - ln_beta(a, b);
            let absent = model.absent_ll(k, m);
            // The culprit's revert may do what another commit's does
            // (`revert_keeps`): keep the crash, or keep a fix.
            let keeps = self.config.revert_keeps.clamp(1e-12, 1.0);
            let culprit = |own: f64, other: f64| {
                log_sum_exp(&[(1.0 - keeps).max(1e-300).ln() + own, keeps.ln() + other])
            };
            if self.config.fix {
                // Present under "c fixed it" and under "not fixed".
                shift.nodes.push((c, culprit(present, absent) - absent));
                shift.older += present - absent;
            } else {
                shift.nodes.push((c, culprit(absent, present) - present));
            }
        }
        shift
    }
}

#[cfg(test)]
mod tests {
    use crate::dag::Dag;
    use crate::engine::Engine;
    use crate::types::{BuildOutcome, Config, Hypothesis, RunOutcome};

    /// A chain 0 (good) .. 60 (bad). The bug fires at 0.9 from 40 up, and
    /// at about 0.1 on 20..40: either the rate falls below 40 and 20 is the
    /// culprit, or 40 is and 20..40 is a false-target region.
    fn split() -> Engine {
        let parents: Vec<Vec<u32>> = (0..=60)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let dag = Dag::new(parents, &[0]).unwrap();
        let config = Config {
            target: Some(0),
            ..Config::default()
        };
        let mut e = Engine::new(dag, 60, config);
        test(&mut e, 60, 9, 1);
        test(&mut e, 50, 9, 1);
        test(&mut e, 41, 9, 1);
        test(&mut e, 40, 9, 1);
        test(&mut e, 39, 1, 12);
        test(&mut e, 30, 1, 12);
        test(&mut e, 21, 1, 12);
        test(&mut e, 20, 1, 12);
        test(&mut e, 19, 0, 40);
        test(&mut e, 10, 0, 40);
        e
    }

    /// Node `n` built (a binary of its own), with `k` target crashes and
    /// `m` clean runs.
    fn test(e: &mut Engine, n: u32, k: u32, m: u32) {
        e.record_build(
            n,
            BuildOutcome::Ok {
                signature: Some([n as u8; 32]),
            },
            1.0,
        );
        for _ in 0..k {
            e.record_run(n, RunOutcome::Failure(0), 1.0);
        }
        for _ in 0..m {
            e.record_run(n, RunOutcome::Clean, 1.0);
        }
    }

    fn mass(e: &Engine, c: u32) -> f64 {
        e.status().mass(Hypothesis::Commit(c))
    }

    #[test]
    fn the_counts_alone_leave_the_split_open() {
        let e = split();
        let (low, high) = (mass(&e, 20), mass(&e, 40));
        assert!(low > 0.05 && high > 0.05, "20: {low}, 40: {high}");
        assert!(low.max(high) < 0.99, "20: {low}, 40: {high}");
    }

    #[test]
    fn a_clean_revert_names_the_reverted_commit() {
        let mut e = split();
        let runs = e.runs();
        for _ in 0..5 {
            e.record_revert_run(20, Some(false));
        }
        e.record_revert_run(20, None);
        assert!(mass(&e, 20) > 0.99, "{}", mass(&e, 20));
        assert_eq!(e.runs(), runs + 6);
    }

    #[test]
    fn a_crashing_revert_costs_its_commit_the_chance_a_revert_keeps_the_crash() {
        let before = split();
        let mut e = split();
        e.record_revert_run(20, Some(true));
        e.record_revert_run(20, Some(false));
        e.record_revert_run(20, Some(true));
        let (b20, b40) = (mass(&before, 20), mass(&before, 40));
        let (a20, a40) = (mass(&e, 20), mass(&e, 40));
        // Odds against 20 fall by about 1 / revert_keeps (0.1), no more.
        let odds = |p: f64| p / (1.0 - p);
        let ratio = odds(a20) / odds(b20);
        assert!(ratio > 0.05 && ratio < 0.15, "{b20} -> {a20}");
        assert!(a40 > b40 + 0.1, "{b40} -> {a40}");
        // Without that chance, the revert clears it.
        let mut e = split();
        e.config.revert_keeps = 0.0;
        e.record_revert_run(20, Some(true));
        e.record_revert_run(20, Some(false));
        e.record_revert_run(20, Some(true));
        assert!(mass(&e, 20) < 1e-3, "{}", mass(&e, 20));
    }

    #[test]
    fn in_a_fix_bisection_the_fix_reverted_brings_the_crash_back() {
        // 0 (good: the old end, crashing) .. 20 (the new end, fixed); 9
        // crashes, 12 is clean: the fix is 10, 11 or 12.
        let parents: Vec<Vec<u32>> = (0..=20)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let dag = Dag::new(parents, &[0]).unwrap();
        let config = Config {
            target: Some(0),
            fix: true,
            ..Config::default()
        };
        let mut e = Engine::new(dag, 20, config);
        for (n, k, m) in [(0, 5, 0), (9, 5, 0), (12, 0, 8), (20, 0, 8)] {
            test(&mut e, n, k, m);
        }
        let before = mass(&e, 11);
        assert!(before < 0.9, "{before}");
        let mut back = e.clone();
        back.record_revert_run(11, Some(true));
        back.record_revert_run(11, Some(true));
        assert!(mass(&back, 11) > 0.99, "{}", mass(&back, 11));
        let mut gone = e.clone();
        for _ in 0..4 {
            gone.record_revert_run(11, Some(false));
        }
        assert!(
            mass(&gone, 11) < before / 5.0,
            "{before} -> {}",
            mass(&gone, 11)
        );
    }

    #[test]
    fn other_crashes_on_a_revert_say_nothing() {
        let before = mass(&split(), 20);
        let mut e = split();
        for _ in 0..5 {
            e.record_revert_run(20, None);
        }
        assert!((mass(&e, 20) - before).abs() < 1e-12);
    }
}
