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
//!
//! The reproduction rate may drift along history (`Noise::q_old`): commits
//! with the bug that lie older than a drift point reproduce at `q_old`
//! instead of `q`. The point sits a fraction `drift_at` of the way from the
//! culprit to the bad commit in topological order, so every seed exercises
//! the drift (the culprit itself is always on the old side). A rate belongs
//! to a binary: commits that share a build product (docs or tests changed)
//! take the rate of the oldest of them, the one that built it. Kinds:
//! - `step`: commits with the bug below the point run at `q_old`, the rest at `q`;
//! - `gradual`: the rate falls linearly with the topological index from `q`
//!   at the bad commit to `q_old` at the culprit (`drift_at` is unused);
//! - `merge`: the drop happens at a merge: the first-parent merge of the bad
//!   commit nearest above the point; its descendants run at `q`, every other
//!   commit with the bug at `q_old` (a step when no such merge exists).
//!
//! A false-target region (`Noise::false_region` = k > 0) stands for an older
//! bug with the same title: the target crash shows at rate `false_target` on
//! the culprit's ancestors that descend from its k-th first-parent ancestor
//! (k commits "before the culprit" on a line), and nowhere else without the
//! bug. With k = 0, `false_target` applies to every commit without the bug.
//!
//! Reverts (what culprit's verification asks for): the bad commit with
//! commit c reverted has no bug exactly when c is the culprit (then the
//! target shows only where `false_target` covers every commit), and
//! otherwise fires at the bad commit's rate. The revert conflicts with
//! probability `revert_conflict` per candidate and fails to build as often
//! as a commit does.

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

/// How the reproduction rate changes along history (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    #[default]
    Step,
    Gradual,
    Merge,
}

/// Noise of one scenario (probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Noise {
    /// Reproduction rate on commits with the bug (recent ones, under drift).
    pub q: f64,
    /// Reproduction rate on old commits with the bug; None: no drift.
    pub q_old: Option<f64>,
    pub drift: Drift,
    /// Drift point: fraction of the way from the culprit to the bad commit.
    pub drift_at: f64,
    /// Commits before the culprit showing the target at `false_target`;
    /// 0: every commit without the bug does.
    pub false_region: u32,
    /// Per run: a crash that is not the bug.
    pub unrelated: f64,
    /// Per run: the machine does not come up.
    pub untestable: f64,
    /// Fraction of commits that fail to build (in clusters).
    pub build_fail: f64,
    /// Per run on a commit without the bug: a crash with the target's title.
    pub false_target: f64,
    /// Per candidate: its revert on the bad commit conflicts (a later
    /// commit touched the same lines), so it cannot be tested.
    pub revert_conflict: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            q: 1.0,
            q_old: None,
            drift: Drift::Step,
            drift_at: 0.5,
            false_region: 0,
            unrelated: 0.0,
            untestable: 0.0,
            build_fail: 0.0,
            false_target: 0.0,
            revert_conflict: 0.2,
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
    /// Per commit: probability that a testable run shows the target.
    pub rate: Vec<f64>,
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
        let rate = rates(hist, culprit, &noise);
        World {
            hist,
            seed,
            noise,
            costs,
            culprit,
            broken,
            rate,
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
        let s = Stream::new(&[self.seed, tag::RUN, x as u64, run as u64]);
        self.outcome(s, self.rate[x as usize])
    }

    /// Whether reverting `c` on the bad commit applies.
    pub fn revert_applies(&self, c: u32) -> bool {
        Stream::new(&[self.seed, tag::REVERT, c as u64]).unit() >= self.noise.revert_conflict
    }

    /// Building the bad commit with `c` reverted: it fails as often as a
    /// commit does, and its binary is its own.
    pub fn revert_build(&self, c: u32) -> BuildResult {
        let mut s = Stream::new(&[self.seed, tag::REVERT, tag::BUILD, c as u64]);
        let (u_fail, u_time) = (s.unit(), s.unit());
        let ok = u_fail >= self.noise.build_fail;
        let mut sig = [0u8; 32];
        for chunk in sig.chunks_mut(8) {
            chunk.copy_from_slice(&s.next_u64().to_le_bytes());
        }
        BuildResult {
            ok,
            signature: ok.then_some(sig),
            secs: self.costs.build_min * 60.0 * (0.85 + 0.3 * u_time),
            first_error: (!ok).then(|| "error: simulated build failure".to_string()),
            log: None,
            config: None,
            symbols: None,
            info: Vec::new(),
        }
    }

    /// Run number `run` on the bad commit with `c` reverted: the bug is
    /// gone exactly when `c` is the culprit; otherwise it fires at the bad
    /// commit's rate. Without it, the target shows only where a
    /// false-target rate covers every commit (a generic title).
    pub fn revert_run(&self, c: u32, run: u32) -> RunResult {
        let s = Stream::new(&[self.seed, tag::REVERT, tag::RUN, c as u64, run as u64]);
        let rate = if c != self.culprit {
            self.rate[self.hist.bad as usize]
        } else if self.noise.false_region == 0 {
            self.noise.false_target
        } else {
            0.0
        };
        self.outcome(s, rate)
    }

    fn outcome(&self, mut s: Stream, rate: f64) -> RunResult {
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
            let status = if u_target < rate {
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

/// The target's rate on every commit: `q` (drifting) where the bug is,
/// `false_target` where it is not (in its region, if it has one). The rate
/// belongs to the binary: a commit that shares its build product with an
/// older one (only docs or tests changed) fires as that one does, wherever
/// the drift point or the region's edge falls between them. Two commits
/// with one binary that fire at different rates cannot exist, and an
/// engine that pools their runs (as culprit's does) must not be tested on
/// them.
fn rates(hist: &History, culprit: u32, noise: &Noise) -> Vec<f64> {
    let own = own_rates(hist, culprit, noise);
    (0..hist.len())
        .map(|x| own[hist.sig_owner[x] as usize])
        .collect()
}

/// The rate of every commit from its own place in history alone.
fn own_rates(hist: &History, culprit: u32, noise: &Noise) -> Vec<f64> {
    let n = hist.len();
    let has_bug = |x: u32| hist.anc.reaches(x, culprit);
    let bad = hist.bad as f64;
    let point = culprit as f64 + noise.drift_at.clamp(0.0, 1.0) * (bad - culprit as f64);
    // The merge of the drift kind `merge`: on the bad commit's first-parent
    // chain, the lowest merge at or above the point that has the bug.
    let mut drop_merge = None;
    if noise.drift == Drift::Merge {
        let mut x = hist.bad;
        while has_bug(x) && x as f64 >= point {
            if hist.parents[x as usize].len() > 1 {
                drop_merge = Some(x);
            }
            match hist.parents[x as usize].first() {
                Some(&p) => x = p,
                None => break,
            }
        }
    }
    // The false-target region: descendants of the k-th first-parent ancestor
    // of the culprit among the culprit's ancestors.
    let region_root = (noise.false_region > 0).then(|| {
        let mut r = culprit;
        for _ in 0..noise.false_region {
            match hist.parents[r as usize].first() {
                Some(&p) if !hist.is_good(p) => r = p,
                _ => break,
            }
        }
        r
    });
    (0..n as u32)
        .map(|x| {
            if !has_bug(x) {
                return match region_root {
                    None => noise.false_target,
                    Some(r) if x != culprit && has_bug_of(hist, culprit, x, r) => {
                        noise.false_target
                    }
                    Some(_) => 0.0,
                };
            }
            let Some(old) = noise.q_old else {
                return noise.q;
            };
            match noise.drift {
                Drift::Step if (x as f64) < point => old,
                Drift::Step => noise.q,
                Drift::Gradual => {
                    let t = ((x as f64 - culprit as f64) / (bad - culprit as f64).max(1.0))
                        .clamp(0.0, 1.0);
                    old + (noise.q - old) * t
                }
                Drift::Merge => match drop_merge {
                    Some(m) if hist.anc.reaches(x, m) => noise.q,
                    Some(_) => old,
                    None if (x as f64) < point => old,
                    None => noise.q,
                },
            }
        })
        .collect()
}

/// Whether `x` lies in the false-target region rooted at `r` below `culprit`:
/// an ancestor of the culprit that descends from `r`.
fn has_bug_of(hist: &History, culprit: u32, x: u32, r: u32) -> bool {
    hist.anc.reaches(culprit, x) && hist.anc.reaches(x, r)
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
            ..Noise::default()
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

    #[test]
    fn drift_lowers_the_rate_on_old_commits_with_the_bug() {
        let h = synth::linear(400, 1).unwrap();
        let drifting = |drift| Noise {
            q: 0.9,
            q_old: Some(0.1),
            drift,
            drift_at: 0.5,
            ..Noise::default()
        };
        let w = World::new(&h, 3, drifting(Drift::Step), Costs::default(), false);
        let c = w.culprit;
        let mid = c + (h.bad - c) / 2;
        assert_eq!(w.rate[c as usize], 0.1);
        assert_eq!(w.rate[h.bad as usize], 0.9);
        assert_eq!(w.rate[mid as usize + 1], 0.9);
        assert_eq!(w.rate[mid as usize - 1], 0.1);
        assert_eq!(w.rate[c as usize - 1], 0.0);
        let g = World::new(&h, 3, drifting(Drift::Gradual), Costs::default(), false);
        assert!((g.rate[c as usize] - 0.1).abs() < 1e-12);
        assert!((g.rate[h.bad as usize] - 0.9).abs() < 1e-12);
        let r = g.rate[mid as usize];
        assert!(r > 0.4 && r < 0.6, "{r}");
        // A line has no merge: the merge kind falls back to a step.
        let m = World::new(&h, 3, drifting(Drift::Merge), Costs::default(), false);
        assert_eq!(m.rate, w.rate);
    }

    #[test]
    fn drift_at_a_merge_keeps_the_high_rate_on_its_descendants() {
        let h = synth::kernel(1500, 4).unwrap();
        let noise = Noise {
            q: 0.9,
            q_old: Some(0.2),
            drift: Drift::Merge,
            drift_at: 0.3,
            ..Noise::default()
        };
        let mut seen = 0;
        for seed in 0..10 {
            let w = World::new(&h, seed, noise, Costs::default(), false);
            let high: Vec<u32> = (0..h.len() as u32)
                .filter(|&x| w.rate[x as usize] == 0.9)
                .collect();
            let Some(&m) = high.first() else { continue };
            if h.parents[m as usize].len() < 2 {
                continue; // no merge above the point: a step
            }
            seen += 1;
            for x in 0..h.len() as u32 {
                let want = if !w.has_bug(x) {
                    0.0
                } else if h.anc.reaches(x, m) {
                    0.9
                } else {
                    0.2
                };
                assert_eq!(w.rate[x as usize], want, "seed {seed} commit {x}");
            }
        }
        assert!(seen >= 5, "{seen}");
    }

    #[test]
    fn false_target_region_lies_just_below_the_culprit() {
        let h = synth::linear(400, 2).unwrap();
        let noise = Noise {
            q: 0.9,
            false_target: 0.05,
            false_region: 20,
            ..Noise::default()
        };
        let w = World::new(&h, 7, noise, Costs::default(), false);
        let c = w.culprit as usize;
        let region: Vec<usize> = (0..h.len()).filter(|&x| w.rate[x] == 0.05).collect();
        // The 20 commits below the culprit, but for a doc-only commit at
        // the region's lower edge, whose binary is older.
        let lo = c.saturating_sub(20).max(1);
        let want: Vec<usize> = (lo..c).filter(|&x| h.sig_owner[x] as usize >= lo).collect();
        assert!(want.len() >= 19, "{want:?}");
        assert_eq!(region, want);
        assert!(w.rate[c..].iter().all(|&r| r == 0.9));
    }

    #[test]
    fn commits_sharing_a_binary_fire_at_one_rate() {
        let h = synth::kernel(1500, 5).unwrap();
        let shared = (0..h.len())
            .filter(|&x| h.sig_owner[x] as usize != x)
            .count();
        assert!(shared > 100, "{shared} doc-only commits");
        for drift in [Drift::Step, Drift::Gradual, Drift::Merge] {
            let noise = Noise {
                q: 0.9,
                q_old: Some(0.1),
                drift,
                false_target: 0.05,
                false_region: 20,
                ..Noise::default()
            };
            for seed in 0..5 {
                let w = World::new(&h, seed, noise, Costs::default(), false);
                for x in 0..h.len() {
                    let owner = h.sig_owner[x] as usize;
                    assert_eq!(w.rate[x], w.rate[owner], "{drift:?} seed {seed} commit {x}");
                }
            }
        }
    }
}
