//! One simulated world: a history, a culprit, the noise, the costs.
//!
//! Everything observable is a pure function of (seed, commit, run index):
//! which commits fail to build, what each run shows, how long it takes. All
//! strategies that test commit `c` for the `i`-th time see the same outcome.
//!
//! Ground truth: the bug is present at `x` iff the culprit is `x` or one of its
//! ancestors. The culprit is drawn uniformly among non-merge commits that
//! change the binary (merges too if the scenario allows it). The culprit and
//! its parents always build, so the answer is identifiable: the bench measures
//! the search, not the luck of the draw.

use super::history::History;
use super::rng::{tag, Stream};
use crate::backend::{BuildResult, RunResult, RunStatus, Untestable};
use serde::{Deserialize, Serialize};

/// Title of the crash being bisected.
pub const TARGET: &str = "TARGET: general protection fault in sim_target";
/// Titles of crashes that are not the bug.
pub const UNRELATED: [&str; 3] = [
    "KFENCE: use-after-free in kvm_fastop_exception",
    "INFO: task hung in sim_flush",
    "WARNING in sim_unrelated",
];
/// Mean length of a cluster of commits that fail to build.
pub const MEAN_CLUSTER: u64 = 3;

/// Noise of one scenario (probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Noise {
    /// Reproduction rate on commits with the bug.
    pub q: f64,
    /// Per run: a crash that is not the bug.
    pub unrelated: f64,
    /// Per run: the machine does not come up.
    pub untestable: f64,
    /// Fraction of commits that fail to build (in clusters).
    pub build_fail: f64,
    /// Per run on a commit without the bug: a crash with the target's title.
    pub false_target: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            q: 1.0,
            unrelated: 0.0,
            untestable: 0.0,
            build_fail: 0.0,
            false_target: 0.0,
        }
    }
}

/// Costs of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Costs {
    /// Minutes per build.
    pub build_min: f64,
    /// Minutes per test round (one run on each VM, in parallel).
    pub round_min: f64,
    /// VMs: runs per round.
    pub vms: u32,
}

impl Default for Costs {
    /// The reference syzbot log's figures.
    fn default() -> Self {
        Costs {
            build_min: 6.5,
            round_min: 8.7,
            vms: 10,
        }
    }
}

/// Commits that may be drawn as the culprit.
pub fn culprit_pool(hist: &History, merge_culprits: bool) -> Vec<u32> {
    (0..hist.len() as u32)
        .filter(|&x| {
            !hist.is_good(x)
                && hist.binary[x as usize]
                && (merge_culprits || hist.parents[x as usize].len() == 1)
        })
        .collect()
}

#[derive(Debug)]
pub struct World<'h> {
    pub hist: &'h History,
    pub seed: u64,
    pub noise: Noise,
    pub costs: Costs,
    pub culprit: u32,
    pub broken: Vec<bool>,
}

impl<'h> World<'h> {
    /// Panics if [`culprit_pool`] is empty.
    pub fn new(
        hist: &'h History,
        seed: u64,
        noise: Noise,
        costs: Costs,
        merge_culprits: bool,
    ) -> World<'h> {
        let pool = culprit_pool(hist, merge_culprits);
        assert!(
            !pool.is_empty(),
            "history {} has no culprit candidate",
            hist.name
        );
        let culprit = pool[Stream::new(&[seed, tag::CULPRIT]).below(pool.len() as u64) as usize];
        let mut protected = vec![false; hist.len()];
        for &x in hist.parents[culprit as usize]
            .iter()
            .chain([culprit, hist.bad].iter())
            .chain(&hist.good)
        {
            protected[x as usize] = true;
        }
        let mut broken = vec![false; hist.len()];
        let start = noise.build_fail / MEAN_CLUSTER as f64;
        for x in 0..hist.len() as u32 {
            let mut s = Stream::new(&[seed, tag::BREAK, x as u64]);
            if hist.is_good(x) || s.unit() >= start {
                continue;
            }
            let mut at = Some(x);
            for _ in 0..1 + s.below(2 * MEAN_CLUSTER - 1) {
                let Some(y) = at else { break };
                broken[y as usize] |= !protected[y as usize];
                at = hist.fp_child[y as usize];
            }
        }
        World {
            hist,
            seed,
            noise,
            costs,
            culprit,
            broken,
        }
    }

    pub fn has_bug(&self, x: u32) -> bool {
        self.hist.anc.reaches(x, self.culprit)
    }

    /// The build product's signature: equal for commits that share a binary.
    pub fn signature(&self, x: u32) -> [u8; 32] {
        let mut s = Stream::new(&[tag::BUILD, self.hist.sig_owner[x as usize] as u64]);
        let mut sig = [0u8; 32];
        for chunk in sig.chunks_mut(8) {
            chunk.copy_from_slice(&s.next_u64().to_le_bytes());
        }
        sig
    }

    pub fn build(&self, x: u32) -> BuildResult {
        let u = Stream::new(&[self.seed, tag::BUILD, x as u64]).unit();
        let ok = !self.broken[x as usize];
        BuildResult {
            ok,
            signature: ok.then(|| self.signature(x)),
            secs: self.costs.build_min * 60.0 * (0.85 + 0.3 * u),
            first_error: (!ok).then(|| "error: simulated build failure".to_string()),
            log: None,
            config: None,
            symbols: None,
            info: Vec::new(),
        }
    }

    /// Run number `run` on commit `x` (which must build).
    pub fn run(&self, x: u32, run: u32) -> RunResult {
        let mut s = Stream::new(&[self.seed, tag::RUN, x as u64, run as u64]);
        let (u_boot, u_other, u_target, u_time) = (s.unit(), s.unit(), s.unit(), s.unit());
        let secs = self.costs.round_min * 60.0 * (0.9 + 0.1 * u_time);
        let (status, secs) = if u_boot < self.noise.untestable {
            // A machine that does not come up fails early.
            let why = Untestable::Boot;
            let reason = UNRELATED[0].to_string();
            (RunStatus::Untestable { why, reason }, secs * 0.3)
        } else if u_other < self.noise.unrelated {
            let title = UNRELATED[s.below(UNRELATED.len() as u64) as usize].to_string();
            (RunStatus::crashed(title), secs)
        } else {
            let p = if self.has_bug(x) {
                self.noise.q
            } else {
                self.noise.false_target
            };
            let status = if u_target < p {
                RunStatus::crashed(TARGET)
            } else {
                RunStatus::Ok
            };
            (status, secs)
        };
        RunResult {
            status,
            secs,
            output: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::*;

    fn noise() -> Noise {
        Noise {
            q: 0.5,
            unrelated: 0.02,
            untestable: 0.05,
            build_fail: 0.05,
            false_target: 0.0,
        }
    }

    #[test]
    fn build_failures_cluster_at_the_requested_rate_and_spare_the_culprit() {
        let h = synth::kernel(3000, 3).unwrap();
        let mut total = 0.0;
        for seed in 0..10 {
            let w = World::new(&h, seed, noise(), Costs::default(), false);
            assert!(!w.broken[w.culprit as usize] && !w.broken[h.bad as usize]);
            for &p in &h.parents[w.culprit as usize] {
                assert!(!w.broken[p as usize]);
            }
            total += w.broken.iter().filter(|b| **b).count() as f64 / h.len() as f64;
        }
        let rate = total / 10.0;
        assert!(rate > 0.03 && rate < 0.07, "{rate}");
    }

    #[test]
    fn runs_follow_the_noise_model() {
        let h = synth::linear(400, 1).unwrap();
        let w = World::new(&h, 5, noise(), Costs::default(), false);
        let (mut target_bad, mut tested_bad, mut target_clean, mut boot) = (0, 0, 0, 0);
        for x in 1..=400u32 {
            for r in 0..20 {
                let res = w.run(x, r);
                assert_eq!(res.status, w.run(x, r).status);
                match res.status {
                    RunStatus::Untestable { .. } => boot += 1,
                    RunStatus::Crashed { title, .. } if title == TARGET => {
                        if w.has_bug(x) {
                            target_bad += 1;
                        } else {
                            target_clean += 1;
                        }
                    }
                    _ => {}
                }
                if w.has_bug(x) {
                    tested_bad += 1;
                }
            }
        }
        assert_eq!(target_clean, 0);
        let q = target_bad as f64 / tested_bad as f64;
        assert!(q > 0.4 && q < 0.5, "{q}"); // 0.5 thinned by boot and unrelated noise
        let b = boot as f64 / 8000.0;
        assert!(b > 0.035 && b < 0.065, "{b}");
        assert!(w.has_bug(h.bad) && !w.has_bug(0));
    }
}
