//! The present side of a hypothesis: how often the reproducer fires on the
//! tested commits that have the bug, when that rate may change along
//! history.
//!
//! The model is a single change point in age (generation number). With
//! prior probability `drift` the rate changes at a point uniform over the
//! range's generations: commits with the bug older than the point fire at
//! q_old ~ Beta(lo), the others at q ~ Beta(a, b), each rate shared by its
//! side and integrated out in closed form. For the present units sorted by
//! age, with counts (k_i, m_i), the marginal likelihood is a sum of closed
//! forms, one per gap between consecutive units:
//!
//! ```text
//! (1 - drift * span / G) * B(a + K, b + M) / B(a, b)
//! + sum over gaps i: drift * width_i / G
//!     * B(lo + K_old(i), M_old(i)) / B(lo) * B(a + K_new(i), b + M_new(i)) / B(a, b)
//! ```
//!
//! Why a change point and not a per-commit rate: what syzbot gets wrong is a
//! rate that falls on *older* code (the reproducer needs something a later
//! commit added), which is an ordered, correlated effect. A change point
//! learns the old-side rate from the old side's own crashes, so clean runs
//! there count for what that rate says; exchangeable per-unit rates would
//! make every clean run weak everywhere. The prior of a change inside a gap
//! is proportional to the gap's width in generations: after a converged
//! search the gap at the answer is one generation wide, so "the rate changes
//! exactly at the answer" stays a priori unlikely and clean runs below the
//! answer keep their weight in stationary histories.
//!
//! Must never depend on anything but the counts and ages given (no state).

use crate::math::ln_beta;

/// Parameters of the rate model.
#[derive(Debug, Clone, Copy)]
pub struct RateModel {
    /// Beta prior of the (recent) rate.
    pub a: f64,
    pub b: f64,
    /// Prior probability of a change of rate somewhere in the range.
    pub drift: f64,
    /// Beta prior of the rate on the old side of a change.
    pub lo: (f64, f64),
    /// Generations in the range (the scale of ages).
    pub span: f64,
}

/// One way the present units split: a change in the gap (from, to), or
/// none among them (`from == to`).
#[derive(Debug, Clone)]
pub struct Split {
    pub w: f64,
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
    /// Age of the oldest tested present unit (None: none tested).
    pub oldest: Option<f64>,
    /// Prior weight of "no change among the tested units".
    steady_prior: f64,
    drift: f64,
    span: f64,
    /// Posterior mean of the recent rate.
    pub q_hi: f64,
    /// Posterior probability of a change among the tested units.
    pub changed: f64,
    /// Posterior mean of the far side's rate given such a change.
    pub q_lo_changed: f64,
}

/// Splits lighter than this are dropped from predictions.
const PRUNE: f64 = 1e-6;

impl Class {
    /// Likelihood of present units `units` (oldest age, newest age, k, m),
    /// sorted by oldest age. A unit of several commits (one binary) spans
    /// the ages of its members; a change falls between units, in the gap
    /// from one's newest member to the next one's oldest.
    pub fn new(units: &[(f64, f64, u32, u32)], model: &RateModel) -> Class {
        let (a, b) = (model.a, model.b);
        let (la, lb) = model.lo;
        let base_hi = ln_beta(a, b);
        let base_lo = ln_beta(la, lb);
        let span = model.span.max(1.0);
        let drift = model.drift.clamp(0.0, 1.0);
        let (k_all, m_all) = units
            .iter()
            .fold((0u32, 0u32), |(k, m), u| (k + u.2, m + u.3));
        let tested = match (units.first(), units.last()) {
            (Some(f), Some(l)) => (l.1 - f.0).max(0.0),
            _ => 0.0,
        };
        let steady_prior = (1.0 - drift * (tested / span).min(1.0)).max(1e-300);
        // (ll, from, to, K_old, M_old)
        let mut comps: Vec<(f64, f64, f64, u32, u32)> = Vec::with_capacity(units.len());
        let start = units.first().map_or(0.0, |u| u.0);
        comps.push((
            steady_prior.ln() + ln_beta(a + k_all as f64, b + m_all as f64) - base_hi,
            start,
            start,
            0,
            0,
        ));
        let (mut k_lo, mut m_lo) = (0u32, 0u32);
        for i in 0..units.len().saturating_sub(1) {
            k_lo += units[i].2;
            m_lo += units[i].3;
            let width = units[i + 1].0 - units[i].1;
            if width <= 0.0 || drift <= 0.0 {
                continue;
            }
            let ll = (drift * width / span).ln() + ln_beta(la + k_lo as f64, lb + m_lo as f64)
                - base_lo
                + ln_beta(a + (k_all - k_lo) as f64, b + (m_all - m_lo) as f64)
                - base_hi;
            comps.push((ll, units[i].1, units[i + 1].0, k_lo, m_lo));
        }
        let max = comps.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = comps.iter().map(|c| (c.0 - max).exp()).sum();
        let ll = max + total.ln();
        let mean = |x: f64, y: f64| x / (x + y);
        let (mut q_hi, mut changed, mut lo_changed) = (0.0, 0.0, 0.0);
        let mut splits = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            let w = (c.0 - max).exp() / total;
            let hi = (a + (k_all - c.3) as f64, b + (m_all - c.4) as f64);
            let lo = (la + c.3 as f64, lb + c.4 as f64);
            q_hi += w * mean(hi.0, hi.1);
            if i > 0 {
                changed += w;
                lo_changed += w * mean(lo.0, lo.1);
            }
            if w >= PRUNE || i == 0 {
                splits.push(Split {
                    w,
                    from: c.1,
                    to: c.2,
                    hi,
                    lo,
                });
            }
        }
        Class {
            ll,
            splits,
            oldest: units.first().map(|u| u.0),
            steady_prior,
            drift,
            span,
            q_hi,
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
    pub fn p_old(&self, age: f64) -> f64 {
        let mut p = 0.0;
        for (i, s) in self.splits.iter().enumerate() {
            if i == 0 {
                // No change among the tested units: one may still fall
                // between this commit and the oldest tested one, likelier
                // the farther it is from where the rate was learned.
                if let Some(oldest) = self.oldest {
                    if age < oldest {
                        let between = self.drift * (oldest - age) / self.span;
                        p += s.w * (between / self.steady_prior).min(1.0);
                    }
                }
                continue;
            }
            p += s.w
                * if age <= s.from {
                    1.0
                } else if age >= s.to {
                    0.0
                } else {
                    (s.to - age) / (s.to - s.from)
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
            span: 100.0,
        }
    }

    #[test]
    fn without_drift_it_is_one_shared_rate() {
        let units = [(10.0, 10.0, 0, 5), (50.0, 50.0, 9, 1)];
        let c = Class::new(&units, &model(0.0));
        let want = ln_beta(0.5 + 9.0, 0.5 + 6.0) - ln_beta(0.5, 0.5);
        assert!((c.ll - want).abs() < 1e-12);
        assert_eq!(c.changed, 0.0);
        assert_eq!(c.p_old(0.0), 0.0);
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
        let c = Class::new(&units, &model(0.3));
        assert!(c.changed > 0.9, "{}", c.changed);
        assert!(
            c.q_lo_changed < 0.2 && c.q_hi > 0.8,
            "{} {}",
            c.q_lo_changed,
            c.q_hi
        );
        assert!(c.p_old(7.0) > 0.9);
        assert!(c.p_old(95.0) < 0.05);
        // Between the sides, the change point is spread over the gap.
        let mid = c.p_old(35.0);
        assert!(mid > 0.3 && mid < 0.7, "{mid}");
        // The drift model explains the data better than one rate does.
        let flat = Class::new(&units, &model(0.0));
        assert!(c.ll > flat.ll + 2.0);
    }

    #[test]
    fn a_change_exactly_at_a_narrow_gap_is_unlikely() {
        // One clean unit right below crashing ones: the only change that
        // makes it "present but quiet" falls in a gap of width 1.
        let narrow = [(49.0, 49.0, 0, 3), (50.0, 50.0, 6, 0), (80.0, 80.0, 6, 0)];
        let wide = [(10.0, 10.0, 0, 3), (50.0, 50.0, 6, 0), (80.0, 80.0, 6, 0)];
        let m = model(0.3);
        let (n, w) = (Class::new(&narrow, &m), Class::new(&wide, &m));
        // Same counts: the odds of a change scale with the gap's width.
        let odds = |c: &Class| c.changed / (1.0 - c.changed);
        assert!(odds(&n) * 10.0 < odds(&w), "{} {}", n.changed, w.changed);
    }
}
