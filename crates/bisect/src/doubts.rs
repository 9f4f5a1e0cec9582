//! What the engine can say about the weak points of its answer: target
//! crashes on commits it believes clean (suspicious), tested commits whose
//! state is still uncertain and the runs that would settle them (weak), and
//! when further runs are no longer worth it.
//!
//! Reads the posterior only; must never change the engine's state.

use crate::dag::NodeId;
use crate::engine::Engine;
use crate::plan::RunPlan;
use crate::posterior::Posterior;
use crate::types::Verdict;

/// Commits with a count (target crashes, or runs that would settle them).
type Listed = Vec<(NodeId, u32)>;

/// At most this many weak commits are listed.
const MAX_WEAK: usize = 8;

impl Engine {
    /// Probability that the bug is present at every member of unit `rep`.
    fn p_present(&self, post: &Posterior, rep: NodeId) -> f64 {
        let mem = self.unit_members(rep);
        let Some(first) = mem.first() else {
            return 0.0;
        };
        let mut inside = 0.0;
        for wi in 0..self.anc[first].words().len() {
            let mut and = !0u64;
            for m in mem {
                and &= self.anc[m].words()[wi];
            }
            while and != 0 {
                inside += post.w[wi * 64 + and.trailing_zeros() as usize];
                and &= and - 1;
            }
        }
        let present = if self.config.fix {
            // The bug is present where the culprit is not an ancestor.
            post.w.iter().sum::<f64>() - inside
        } else {
            inside
        };
        (present + post.older).clamp(0.0, 1.0)
    }

    /// Target crashes on units the posterior calls clean (suspicious), and
    /// tested units whose state is still uncertain (weak) with the runs
    /// that would settle them at the current rates, most uncertain first.
    pub(crate) fn doubts(&self, post: &Posterior) -> (Listed, Listed) {
        let conf = self.config.confidence;
        let mut suspicious = Vec::new();
        let mut weak = Vec::new();
        for &rep in self.members.keys() {
            let e = &self.evidence[rep as usize];
            if e.target + e.clean == 0 {
                continue;
            }
            let p = self.p_present(post, rep);
            if e.target > 0 && p < 0.5 {
                suspicious.push((rep, e.target));
            }
            let doubt = p.min(1.0 - p);
            if doubt > (1.0 - conf) / 10.0 {
                let age = self.age(rep);
                let old = post.p_old(age);
                let rate = ((1.0 - old) * post.q_mean + old * post.q_old).clamp(1e-3, 1.0 - 1e-9);
                // Clean runs until a bug present here would have shown with
                // the asked confidence.
                let need = ((1.0 - conf).ln() / (1.0 - rate).ln()).ceil() as u32;
                let more = if p < 0.5 {
                    need.saturating_sub(e.clean)
                } else {
                    need
                };
                weak.push((doubt, rep, more.max(1)));
            }
        }
        weak.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let weak = weak
            .into_iter()
            .take(MAX_WEAK)
            .map(|(_, r, k)| (r, k))
            .collect();
        (suspicious, weak)
    }

    /// The answer when the search cannot go on: the top hypothesis if it
    /// holds the asked confidence, else inconclusive (index n: older).
    pub(crate) fn leader(&self, post: &Posterior, best: usize) -> Verdict {
        let n = self.dag.len();
        let mass = if best == n { post.older } else { post.w[best] };
        if mass < self.config.confidence {
            Verdict::Inconclusive
        } else if best == n {
            Verdict::Older
        } else {
            Verdict::Culprit(best as NodeId)
        }
    }

    /// Runs that reaching the stopping confidence would still take at the
    /// information per run the round `r` offers: the entropy the top
    /// hypothesis's share still has to lose (binary entropy now minus at
    /// the stopping line) over the bits one run is expected to give.
    pub(crate) fn settle_runs(&self, post: &Posterior, best: usize, r: &RunPlan) -> f64 {
        let n = self.dag.len();
        let mass = if best == n { post.older } else { post.w[best] };
        let stop_at = self.stop_at(post);
        let runs: u32 = r.alloc.iter().map(|a| a.1).sum();
        let per_run = r.value / runs.max(1) as f64;
        let h2 = |p: f64| {
            let p = p.clamp(1e-300, 1.0 - 1e-16);
            -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
        };
        let missing = (h2(mass) - h2(stop_at)).max(0.0);
        if per_run <= 0.0 {
            return f64::INFINITY;
        }
        missing / per_run
    }
}
