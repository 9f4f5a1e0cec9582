//! The present side of a hypothesis: how often the reproducer fires on the
//! tested commits that have the bug, when that rate may change along
//! history.
//!
//! The model is a single change point in age. With prior probability
//! `drift` the rate changes at a point uniform over the range: commits with
//! the bug older than the point fire at q_old ~ Beta(lo), the others at
//! q ~ Beta(a, b), each rate shared by its side and integrated out in
//! closed form. For the present units sorted by age, with counts
//! (k_i, m_i), the marginal likelihood is a sum of closed forms, one per gap
//! between consecutive units:
//!
//! ```text
//! (1 - sum over axes x: d * span_x / G_x) * B(a + K, b + M) / B(a, b)
//! + sum over axes x, gaps i on x: d * width_i / G_x
//!     * B(lo + K_old(i), M_old(i)) / B(lo) * B(a + K_new(i), b + M_new(i)) / B(a, b)
//! ```
//!
//! with d = drift / 2, G_x the range's extent on axis x and span_x the
//! tested units' extent on it. "Older" has two readings in a DAG, and a
//! change of rate can follow either, so age has two axes and the change's
//! prior is split evenly between them:
//! - depth (generation number): the code a commit is built on. A side
//!   branch forked long ago is old however late it was merged; a rate that
//!   needs code added on the main line, or the compiler and config of a
//!   release, follows this one.
//! - position in the range's topological order (`git rev-list
//!   --topo-order`, which lists a side branch just before its merge): when
//!   a commit joined the history. A rate that follows the time a change
//!   landed (infrastructure, fixes merged together) follows this one.
//!
//! A single change along one axis cannot explain a history whose rate
//! changed along the other (a side-branch commit as deep as one that fires,
//! but quiet): the model then prefers calling the quiet commits clean and
//! names the change point as the culprit. Measured on the bench's git DAG
//! (wrong answers among those with confidence >= 0.99): with the rate
//! falling by position (`drift 0.9->0.1`, 60 seeds), depth alone 6 of 56,
//! both axes 2 of 55; with it falling at a merge (`merge drop 0.9->0.2`,
//! 30 seeds), position alone 2 of 30, both axes 0 of 30.
//!
//! Why a change point and not a per-commit rate: what syzbot gets wrong is a
//! rate that falls on *older* code (the reproducer needs something a later
//! commit added), which is an ordered, correlated effect. A change point
//! learns the old-side rate from the old side's own crashes, so clean runs
//! there count for what that rate says; exchangeable per-unit rates would
//! make every clean run weak everywhere. The prior of a change inside a gap
//! is proportional to the gap's width: after a converged search the gap at
//! the answer is narrow, so "the rate changes exactly at the answer" stays
//! a priori unlikely and clean runs below the answer keep their weight in
//! stationary histories.
//!
//! Must never depend on anything but the counts and ages given (no state).

use crate::math::ln_beta;

/// Axes of age: depth (generation) and position (topological order).
pub const AXES: usize = 2;

/// A commit's age on every axis, counted from the end where the rate is
/// learned.
pub type Age = [f64; AXES];

/// Parameters of the rate model.
#[derive(Debug, Clone, Copy)]
pub struct RateModel {
    /// Beta prior of the (recent) rate.
    pub a: f64,
    pub b: f64,
    /// Prior probability of a change of rate somewhere in the range (split
    /// evenly between the axes).
    pub drift: f64,
    /// Beta prior of the rate on the old side of a change.
    pub lo: (f64, f64),
    /// Extent of the range on every axis (the scale of ages).
    pub span: Age,
}

/// A present unit with runs: its oldest and newest members' ages, target
/// crashes and clean runs.
#[derive(Debug, Clone, Copy)]
pub struct Present {
    pub oldest: Age,
    pub newest: Age,
    pub k: u32,
    pub m: u32,
}

/// One way the present units split: a change in the gap (from, to) along
/// `axis`, or none among them (`from == to`, the first split).
#[derive(Debug, Clone)]
pub struct Split {
    pub w: f64,
    pub axis: usize,
    pub from: f64,
    pub to: f64,
    /// Beta posteriors of the recent and old rates under this split.
    pub hi: (f64, f64),
    pub lo: (f64, f64),
}

/// The present side of one class of hypotheses.
#[derive(Debug, Clone)]
pub struct Class {
    /// Log marginal likelihood of the present units' runs.
    pub ll: f64,
    /// Splits with non-negligible posterior weight (the first is "no
    /// change among the tested units").
    pub splits: Vec<Split>,
    /// Ages of the oldest tested present unit on every axis (None: none
    /// tested).
    pub oldest: Option<Age>,
    /// Prior weight of "no change among the tested units".
    steady_prior: f64,
    drift: f64,
    span: Age,
    /// Posterior mean of the recent rate.
    pub q_hi: f64,
    /// Posterior mean of its square (with `q_hi`, the spread of what the
    /// runs say about the rate).
    pub q_hi2: f64,
    /// Posterior probability of a change among the tested units.
    pub changed: f64,
    /// Posterior mean of the far side's rate given such a change.
    pub q_lo_changed: f64,
}

/// Splits lighter than this are dropped from predictions.
const PRUNE: f64 = 1e-6;

impl Class {
    /// Likelihood of the present units. A unit of several commits (one
    /// binary) spans the ages of its members; a change falls in a gap
    /// between every older unit's newest member and every newer unit's
    /// oldest one.
    pub fn new(units: &[Present], model: &RateModel) -> Class {
        let (a, b) = (model.a, model.b);
        let (la, lb) = model.lo;
        let base_hi = ln_beta(a, b);
        let base_lo = ln_beta(la, lb);
        let span = model.span.map(|s| s.max(1.0));
        let drift = model.drift.clamp(0.0, 1.0);
        let per_axis = drift / AXES as f64;
        let (k_all, m_all) = units
            .iter()
            .fold((0u32, 0u32), |(k, m), u| (k + u.k, m + u.m));
        let mut oldest: Option<Age> = None;
        let mut steady = 1.0;
        for (ax, &extent) in span.iter().enumerate() {
            let lo = units
                .iter()
                .map(|u| u.oldest[ax])
                .fold(f64::INFINITY, f64::min);
            let hi = units
                .iter()
                .map(|u| u.newest[ax])
                .fold(f64::NEG_INFINITY, f64::max);
            if lo.is_finite() {
                oldest.get_or_insert([0.0; AXES])[ax] = lo;
                steady -= per_axis * ((hi - lo).max(0.0) / extent).min(1.0);
            }
        }
        let steady_prior = steady.max(1e-300);
        // (ll, axis, from, to, K_old, M_old)
        let mut comps: Vec<(f64, usize, f64, f64, u32, u32)> =
            Vec::with_capacity(1 + AXES * units.len());
        let start = oldest.map_or(0.0, |o| o[0]);
        comps.push((
            steady_prior.ln() + ln_beta(a + k_all as f64, b + m_all as f64) - base_hi,
            0,
            start,
            start,
            0,
            0,
        ));
        if per_axis > 0.0 {
            let mut order: Vec<usize> = (0..units.len()).collect();
            for (ax, &extent) in span.iter().enumerate() {
                order.sort_by(|&x, &y| {
                    units[x].oldest[ax]
                        .total_cmp(&units[y].oldest[ax])
                        .then(x.cmp(&y))
                });
                let (mut k_lo, mut m_lo) = (0u32, 0u32);
                let mut newest = f64::NEG_INFINITY;
                for w in order.windows(2) {
                    let (u, next) = (&units[w[0]], &units[w[1]]);
                    k_lo += u.k;
                    m_lo += u.m;
                    newest = newest.max(u.newest[ax]);
                    let width = next.oldest[ax] - newest;
                    if width <= 0.0 {
                        continue;
                    }
                    let ll = (per_axis * width / extent).ln()
                        + ln_beta(la + k_lo as f64, lb + m_lo as f64)
                        - base_lo
                        + ln_beta(a + (k_all - k_lo) as f64, b + (m_all - m_lo) as f64)
                        - base_hi;
                    comps.push((ll, ax, newest, next.oldest[ax], k_lo, m_lo));
                }
            }
        }
        let max = comps.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = comps.iter().map(|c| (c.0 - max).exp()).sum();
        let ll = max + total.ln();
        let mean = |x: f64, y: f64| x / (x + y);
        let (mut q_hi, mut q_hi2, mut changed, mut lo_changed) = (0.0, 0.0, 0.0, 0.0);
        let mut splits = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            let w = (c.0 - max).exp() / total;
            let hi = (a + (k_all - c.4) as f64, b + (m_all - c.5) as f64);
            let lo = (la + c.4 as f64, lb + c.5 as f64);
            q_hi += w * mean(hi.0, hi.1);
            q_hi2 += w * mean(hi.0, hi.1) * mean(hi.0 + 1.0, hi.1);
            if i > 0 {
                changed += w;
                lo_changed += w * mean(lo.0, lo.1);
            }
            if w >= PRUNE || i == 0 {
                splits.push(Split {
                    w,
                    axis: c.1,
                    from: c.2,
                    to: c.3,
                    hi,
                    lo,
                });
            }
        }
        Class {
            ll,
            splits,
            oldest,
            steady_prior,
            drift: per_axis,
            span,
            q_hi,
            q_hi2,
            changed,
            // Without a change the far side has only its prior.
            q_lo_changed: if changed > 0.0 {
                lo_changed / changed
            } else {
                mean(la, lb)
            },
        }
    }

    /// Probability that a commit of age `age` with the bug is on the old
    /// side of a change, under this class.
    pub fn p_old(&self, age: Age) -> f64 {
        let mut p = 0.0;
        for (i, s) in self.splits.iter().enumerate() {
            if i == 0 {
                // No change among the tested units: one may still fall
                // between this commit and the oldest tested one, likelier
                // the farther it is from where the rate was learned.
                if let Some(oldest) = self.oldest {
                    let between: f64 = (0..AXES)
                        .map(|ax| self.drift * (oldest[ax] - age[ax]).max(0.0) / self.span[ax])
                        .sum();
                    p += s.w * (between / self.steady_prior).min(1.0);
                }
                continue;
            }
            let at = age[s.axis];
            p += s.w
                * if at <= s.from {
                    1.0
                } else if at >= s.to {
                    0.0
                } else {
                    (s.to - at) / (s.to - s.from)
                };
        }
        p.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(drift: f64) -> RateModel {
        RateModel {
            a: 0.5,
            b: 0.5,
            drift,
            lo: (1.0, 2.0),
            span: [100.0; AXES],
        }
    }

    /// Units whose ages agree on both axes (a chain).
    fn chain(units: &[(f64, f64, u32, u32)]) -> Vec<Present> {
        units
            .iter()
            .map(|&(lo, hi, k, m)| Present {
                oldest: [lo; AXES],
                newest: [hi; AXES],
                k,
                m,
            })
            .collect()
    }

    #[test]
    fn without_drift_it_is_one_shared_rate() {
        let units = [(10.0, 10.0, 0, 5), (50.0, 50.0, 9, 1)];
        let c = Class::new(&chain(&units), &model(0.0));
        let want = ln_beta(0.5 + 9.0, 0.5 + 6.0) - ln_beta(0.5, 0.5);
        assert!((c.ll - want).abs() < 1e-12);
        assert_eq!(c.changed, 0.0);
        assert_eq!(c.p_old([0.0; AXES]), 0.0);
    }

    #[test]
    fn a_low_old_side_is_learned_from_its_own_crashes() {
        // Old units fire 2 in 20, recent ones 18 in 20: a change explains it.
        let units = [
            (5.0, 5.0, 1, 9),
            (10.0, 10.0, 1, 9),
            (60.0, 60.0, 9, 1),
            (90.0, 90.0, 9, 1),
        ];
        let c = Class::new(&chain(&units), &model(0.3));
        assert!(c.changed > 0.9, "{}", c.changed);
        assert!(
            c.q_lo_changed < 0.2 && c.q_hi > 0.8,
            "{} {}",
            c.q_lo_changed,
            c.q_hi
        );
        assert!(c.p_old([7.0; AXES]) > 0.9);
        assert!(c.p_old([95.0; AXES]) < 0.05);
        // Between the sides, the change point is spread over the gap.
        let mid = c.p_old([35.0; AXES]);
        assert!(mid > 0.3 && mid < 0.7, "{mid}");
        // The drift model explains the data better than one rate does.
        let flat = Class::new(&chain(&units), &model(0.0));
        assert!(c.ll > flat.ll + 2.0);
    }

    #[test]
    fn a_change_exactly_at_a_narrow_gap_is_unlikely() {
        // One clean unit right below crashing ones: the only change that
        // makes it "present but quiet" falls in a gap of width 1.
        let narrow = [(49.0, 49.0, 0, 3), (50.0, 50.0, 6, 0), (80.0, 80.0, 6, 0)];
        let wide = [(10.0, 10.0, 0, 3), (50.0, 50.0, 6, 0), (80.0, 80.0, 6, 0)];
        let m = model(0.3);
        let (n, w) = (
            Class::new(&chain(&narrow), &m),
            Class::new(&chain(&wide), &m),
        );
        // Same counts: the odds of a change scale with the gap's width.
        let odds = |c: &Class| c.changed / (1.0 - c.changed);
        assert!(odds(&n) * 10.0 < odds(&w), "{} {}", n.changed, w.changed);
    }

    #[test]
    fn a_change_that_one_axis_cannot_place_is_found_on_the_other() {
        // Quiet units (1 in 10) and firing ones (9 in 10). By position the
        // quiet ones are all older; by depth one quiet unit (a long side
        // branch) is as deep as a firing one, so no single change in depth
        // separates them.
        let at = |depth: f64, pos: f64, k, m| Present {
            oldest: [depth, pos],
            newest: [depth, pos],
            k,
            m,
        };
        let by_position = [
            at(10.0, 10.0, 1, 9),
            at(20.0, 20.0, 1, 9),
            at(65.0, 30.0, 1, 9),
            at(60.0, 60.0, 9, 1),
            at(70.0, 70.0, 9, 1),
        ];
        let m = model(0.3);
        let c = Class::new(&by_position, &m);
        assert!(c.changed > 0.9, "{}", c.changed);
        let heaviest = c.splits[1..]
            .iter()
            .max_by(|x, y| x.w.total_cmp(&y.w))
            .unwrap();
        assert_eq!(heaviest.axis, 1, "{:?}", c.splits);
        // The quiet deep unit is on the old side, by its position.
        assert!(c.p_old([65.0, 30.0]) > 0.9);
        assert!(c.p_old([60.0, 60.0]) < 0.1);
        // The same counts where position agrees with depth: no change can
        // separate them, and one rate explains them far worse.
        let tangled: Vec<Present> = by_position
            .iter()
            .map(|u| at(u.oldest[0], u.oldest[0], u.k, u.m))
            .collect();
        assert!(c.ll > Class::new(&tangled, &m).ll + 5.0);
        // Mirrored: a change in depth that position cannot place.
        let by_depth: Vec<Present> = by_position
            .iter()
            .map(|u| at(u.oldest[1], u.oldest[0], u.k, u.m))
            .collect();
        let d = Class::new(&by_depth, &m);
        let heaviest = d.splits[1..]
            .iter()
            .max_by(|x, y| x.w.total_cmp(&y.w))
            .unwrap();
        assert_eq!(heaviest.axis, 0, "{:?}", d.splits);
        assert!((d.ll - c.ll).abs() < 1e-9, "{} {}", d.ll, c.ll);
    }
}
