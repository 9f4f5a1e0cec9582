//! Which commits are worth evaluating, and how much a test of one is worth.
//!
//! Evaluating P(present at x) exactly needs a walk over x's ancestors, so on
//! big ranges only a limited set of commits is evaluated: built commits,
//! commits at quantiles of the posterior mass in topological order, the
//! first-parent chain from the bad commit, and the whole support of the
//! posterior once it is small. Walks stop below the support: nodes under the
//! lowest index holding mass cannot lead back to it.

use crate::bits::Children;
use crate::dag::{Dag, NodeId};
use crate::math::{beta_binomial, binomial, entropy};
use crate::posterior::{Model, Posterior};

/// Mass below which the lowest nodes are treated as outside the support.
const TAIL: f64 = 1e-9;
/// Node visits allowed for evaluating probes in one decision (roughly).
const WALK_BUDGET: usize = 20_000_000;
/// Fewest quantile probes spread over the posterior mass in topological
/// order.
const MIN_QUANTILES: usize = 48;

/// Lowest node index that still matters for presence probabilities.
pub fn lower_bound(post: &Posterior) -> NodeId {
    let mut cum = 0.0;
    for (i, &w) in post.w.iter().enumerate() {
        if cum + w > TAIL {
            return i as NodeId;
        }
        cum += w;
    }
    post.w.len() as NodeId
}

/// Commits worth evaluating. `wanted` are always included (built commits);
/// `skip` filters nodes that cannot be probed (failed builds, members that
/// are not the first of their unit, untestable units). The flag tells
/// whether the whole support (and its children) was included.
pub fn candidates(
    dag: &Dag,
    children: &Children,
    post: &Posterior,
    bad: NodeId,
    lo: NodeId,
    wanted: &[NodeId],
    skip: impl Fn(NodeId) -> bool,
) -> (Vec<NodeId>, bool) {
    let n = dag.len();
    // Walks cost about the span above `lo`: evaluate as many nodes as the
    // budget allows, all of the support when it fits.
    let span = (n - lo as usize).max(1);
    let budget = (WALK_BUDGET / span).max(2 * MIN_QUANTILES);
    let quantiles = budget / 2;
    let chain_samples = budget / 4;
    let mut mark = vec![false; n];
    let add = |x: NodeId, mark: &mut Vec<bool>| {
        if !skip(x) {
            mark[x as usize] = true;
        }
    };
    for &x in wanted {
        add(x, &mut mark);
    }
    if post.older > TAIL {
        // Good commits only tell "older" apart from the rest; a few suffice.
        for x in (0..n as NodeId).filter(|&x| dag.is_good(x)).take(16) {
            add(x, &mut mark);
        }
    }
    let commit_mass: f64 = post.w.iter().sum();
    let mut prefix = vec![0.0f64; n];
    let mut cum = 0.0;
    let mut level = 1;
    for (i, &w) in post.w.iter().enumerate() {
        cum += w;
        prefix[i] = cum;
        while level < quantiles && cum >= commit_mass * level as f64 / quantiles as f64 {
            add(i as NodeId, &mut mark);
            level += 1;
        }
    }
    let support: Vec<NodeId> = (lo..n as NodeId)
        .filter(|&x| post.w[x as usize] > TAIL)
        .collect();
    // Children of the support split it along side branches.
    let covers = support.len() * 2 <= budget;
    if covers {
        for &x in &support {
            add(x, &mut mark);
            for &c in children.of(x) {
                add(c, &mut mark);
            }
        }
    }
    // The first-parent chain from bad, sampled by mass where it is long.
    let mut chain = Vec::new();
    let mut x = bad;
    loop {
        if x < lo || dag.is_good(x) {
            break;
        }
        chain.push(x);
        match dag.parents(x).first() {
            Some(&p) => x = p,
            None => break,
        }
    }
    chain.reverse();
    if chain.len() <= chain_samples * 2 {
        for &x in &chain {
            add(x, &mut mark);
        }
    } else {
        let mut level = 1;
        let (first, last) = (
            prefix[chain[0] as usize],
            prefix[*chain.last().unwrap() as usize],
        );
        for &x in &chain {
            let t = first + (last - first) * level as f64 / chain_samples as f64;
            if prefix[x as usize] >= t {
                add(x, &mut mark);
                while level < chain_samples
                    && prefix[x as usize]
                        >= first + (last - first) * level as f64 / chain_samples as f64
                {
                    level += 1;
                }
            }
        }
    }
    let list = (0..n as NodeId).filter(|&x| mark[x as usize]).collect();
    (list, covers)
}

/// Crash-count pmf of r runs and its entropy, for r = 1..=r_max.
type Pmfs = Vec<(Vec<f64>, f64)>;

/// Distributions of the number of target crashes in r runs where the bug is
/// present, per class of hypotheses (on the side of a change of rate where
/// q was learned, and on the far side), and where it is absent.
pub struct Tables {
    r_max: u32,
    /// present[c] = [learned side, far side], each [r-1] = (pmf, entropy);
    /// None for classes without mass.
    present: Vec<Option<[Pmfs; 2]>>,
    absent: Pmfs,
}

/// Beta-binomial pmfs of r = 1..=r_max runs mixed over weighted Beta
/// posteriors, with their entropies.
fn mixed_pmfs(parts: &[(f64, (f64, f64))], r_max: u32) -> Pmfs {
    (1..=r_max)
        .map(|r| {
            let mut pmf = vec![0.0; r as usize + 1];
            for &(w, (a, b)) in parts {
                for (x, v) in pmf.iter_mut().zip(beta_binomial(r, a, b)) {
                    *x += w * v;
                }
            }
            let total: f64 = pmf.iter().sum();
            pmf.iter_mut().for_each(|x| *x /= total);
            let h = entropy(&pmf);
            (pmf, h)
        })
        .collect()
}

impl Tables {
    pub fn new(post: &Posterior, model: &Model, r_max: u32) -> Tables {
        let r_max = r_max.max(1);
        let present = post
            .classes
            .iter()
            .zip(&post.class_mass)
            .map(|(c, &mass)| {
                (mass > 1e-12).then(|| {
                    let total: f64 = c.splits.iter().map(|s| s.w).sum::<f64>().max(1e-300);
                    let hi: Vec<_> = c.splits.iter().map(|s| (s.w / total, s.hi)).collect();
                    let lo: Vec<_> = c.splits.iter().map(|s| (s.w / total, s.lo)).collect();
                    [mixed_pmfs(&hi, r_max), mixed_pmfs(&lo, r_max)]
                })
            })
            .collect();
        let absent = (1..=r_max)
            .map(|r| {
                let pmf = binomial(r, model.f.clamp(0.0, 0.5));
                let h = entropy(&pmf);
                (pmf, h)
            })
            .collect();
        Tables {
            r_max,
            present,
            absent,
        }
    }

    /// Mutual information (bits) between the hypothesis and the crash count
    /// of r runs on a commit where `pm[c]` is the mass of class-c
    /// hypotheses under which the bug is present there and `old[c]` the
    /// probability, under class c, that the commit lies on the far side of
    /// a change of rate. The side is not part of what is learned: each
    /// class's present predictive mixes its two sides, so that runs are
    /// valued for telling hypotheses apart, never for locating the change.
    pub fn mi(&self, pm: &[f64], old: &[f64], r: u32) -> f64 {
        self.mi_with(pm, old, r, &self.absent)
    }

    fn mi_with(&self, pm: &[f64], old: &[f64], r: u32, absent_pmfs: &Pmfs) -> f64 {
        if r == 0 {
            return 0.0;
        }
        let r = r.min(self.r_max) as usize;
        let p: f64 = pm.iter().sum::<f64>().min(1.0);
        let (apmf, ah) = &absent_pmfs[r - 1];
        let mut mix: Vec<f64> = apmf.iter().map(|v| v * (1.0 - p)).collect();
        let mut cond = (1.0 - p) * ah;
        let mut side = vec![0.0; r + 1];
        for (c, &m) in pm.iter().enumerate() {
            if m <= 0.0 {
                continue;
            }
            let Some(t) = &self.present[c] else {
                continue;
            };
            let o = old.get(c).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let (hpmf, hh) = &t[0][r - 1];
            let (lpmf, lh) = &t[1][r - 1];
            let h = if o <= 1e-9 {
                side.copy_from_slice(hpmf);
                *hh
            } else if o >= 1.0 - 1e-9 {
                side.copy_from_slice(lpmf);
                *lh
            } else {
                for ((x, a), b) in side.iter_mut().zip(hpmf).zip(lpmf) {
                    *x = (1.0 - o) * a + o * b;
                }
                entropy(&side)
            };
            for (x, v) in mix.iter_mut().zip(&side) {
                *x += m * v;
            }
            cond += m * h;
        }
        let total: f64 = mix.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        mix.iter_mut().for_each(|x| *x /= total);
        (entropy(&mix) - cond).max(0.0)
    }

    /// mi for r = 0..=r_max.
    pub fn curve(&self, pm: &[f64], old: &[f64]) -> Vec<f64> {
        (0..=self.r_max).map(|r| self.mi(pm, old, r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rates::{Class, RateModel};

    fn rates() -> RateModel {
        RateModel {
            a: 1.0,
            b: 1.0,
            drift: 0.0,
            lo: (1.0, 2.0),
            span: [10.0; crate::rates::AXES],
        }
    }

    fn post_two(pk: (u32, u32)) -> Posterior {
        Posterior {
            w: vec![0.0, 0.5, 0.5],
            older: 0.0,
            class: vec![0, 0, 0],
            older_class: 0,
            classes: vec![Class::new(
                &[crate::rates::Present {
                    oldest: [0.0; crate::rates::AXES],
                    newest: [0.0; crate::rates::AXES],
                    k: pk.0,
                    m: pk.1,
                }],
                &rates(),
            )],
            class_mass: vec![1.0],
            q_mean: 0.5,
            q_mean2: 0.3,
            q_old: 0.3,
            drift: 0.0,
            region: 0.0,
            background: 0.0,
        }
    }

    fn model() -> Model {
        Model {
            rates: rates(),
            regions: crate::regions::RegionModel {
                prior: 0.0,
                length: 30.0,
                rate: 0.03,
                background: 0.0,
            },
            f: 0.0,
            older_prior: 0.0,
            ln_penalty: -10.0,
            fix: false,
        }
    }

    #[test]
    fn certain_reproduction_gives_one_bit() {
        // q known to be ~1: one run on a commit with p = 0.5 is worth ~1 bit.
        let t = Tables::new(&post_two((1000, 0)), &model(), 4);
        let one = t.mi(&[0.5], &[0.0], 1);
        assert!(one > 0.98 && one <= 1.0, "{one}");
        let two = t.mi(&[0.5], &[0.0], 2);
        assert!(two - one < 0.02);
        assert_eq!(t.mi(&[1.0], &[0.0], 3), 0.0);
    }

    #[test]
    fn flaky_reproduction_needs_more_runs() {
        let t = Tables::new(&post_two((30, 70)), &model(), 10);
        let c = t.curve(&[0.5], &[0.0]);
        assert!(c[1] < 0.2);
        assert!(c.windows(2).all(|w| w[1] >= w[0]));
        assert!(c[10] > 2.0 * c[1]);
        assert!(c[10] < 1.0);
    }
}
