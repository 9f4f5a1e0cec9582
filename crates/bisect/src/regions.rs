//! The absent side of a hypothesis when the target may come from an older
//! bug with the same symptom: a false-target region.
//!
//! A target crash on a commit without the bug is rare, but not independent:
//! an older bug with the same title fires on the stretch of history where it
//! lived, which for a bisection means a run of commits just below the
//! culprit. Read as independent coincidences at the small rate f, a few
//! such crashes cost so much that the engine would rather move the culprit
//! down and call them the bug firing at a low rate on older code (a change
//! of rate, `rates`), which names the older bug's commit.
//!
//! The model: with prior probability `prior` the absent commits older than
//! the oldest tested commit with the bug, down to a boundary, fire at a rate
//! f_r instead of f. The boundary's distance below that commit is
//! exponential with mean `length` commits on its axis (depth or topological
//! position, half the prior each, as for a change of rate). f_r is one of
//! `rate`, `rate`/2, ... `rate`/32, equally likely.
//!
//! Counts alone cannot tell a region from a change of rate: none, low and
//! high along history read both as "the culprit at the upper step, an older
//! same-title bug below" and as "the culprit at the lower step, firing less
//! on older code". What separates them is extent and rate. A region is
//! short, while the reproducer's lower rate holds from the culprit up to
//! where it changes, anywhere in the range. And a region fires rarely, at
//! the scale of f, while the reproducer on older code fires at rates the
//! Beta prior of `rates` spreads over (0, 1): the ceiling `rate` keeps the
//! two apart, so that a stretch firing at 0.1 stays the bug firing less.
//! Measured on git's v2.44.0..v2.45.0 (729 commits, 30 seeds), a region
//! rate relative to the reproducer's own (up to a quarter of it) took drift
//! scenarios from 1.00 to as low as 0.43 (runs x3); an absolute ceiling of
//! 0.05 with prior 0.1 left a wrong confident answer where a gradual decline
//! met the culprit; 0.03 with prior 0.03 none (README).
//!
//! The stop rule treats belief in a region like belief in a change of rate
//! (a wider margin), since both are the same counts read two ways.
//!
//! Must never depend on anything but the counts and ages given (no state).

use crate::math::{ln_1m_exp, log_sum_exp};
use crate::rates::{Age, Present, AXES};

/// Parameters of the region model.
#[derive(Debug, Clone, Copy)]
pub struct RegionModel {
    /// Prior probability of a false-target region below the culprit.
    pub prior: f64,
    /// Mean extent of a region, in commits along an axis.
    pub length: f64,
    /// The highest rate a region fires at.
    pub rate: f64,
}

/// Rates of a region, as fractions of `RegionModel::rate`.
const FRACTIONS: [f64; 6] = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125];

/// Log of the factor by which the region model changes the likelihood of
/// the absent units (`absent`, read at the rate f) under hypotheses whose
/// oldest tested present unit is at `top`. 0 when there is no region to
/// consider.
pub fn region_ll(absent: &[Present], top: Option<Age>, f: f64, model: &RegionModel) -> f64 {
    let prior = model.prior.clamp(0.0, 1.0);
    let Some(top) = top else { return 0.0 };
    if prior <= 0.0 || absent.is_empty() {
        return 0.0;
    }
    let f = f.clamp(1e-12, 0.5);
    let (ln_f, ln_1f) = (f.ln(), (1.0 - f).ln());
    let rates: Vec<(f64, f64)> = FRACTIONS
        .iter()
        .map(|r| {
            let x = (r * model.rate).clamp(1e-12, 0.5);
            (x.ln(), (1.0 - x).ln())
        })
        .collect();
    let ln_weight = -(FRACTIONS.len() as f64).ln();
    let length = model.length.max(1e-9);
    let mut per_axis = Vec::with_capacity(AXES);
    let mut grid = Vec::with_capacity(FRACTIONS.len());
    for (ax, &top) in top.iter().enumerate() {
        // A unit is in the region when the boundary lies below its oldest
        // member: at distance d from top.
        let mut below: Vec<(f64, u32, u32)> = absent
            .iter()
            .filter(|u| u.newest[ax] < top && u.k + u.m > 0)
            .map(|u| (top - u.oldest[ax], u.k, u.m))
            .collect();
        below.sort_by(|x, y| x.0.total_cmp(&y.0));
        // Terms: ln mass of the boundary's interval plus the ln likelihood
        // ratio of the region it makes against rate f.
        let mut terms: Vec<f64> = Vec::with_capacity(below.len() + 1);
        let first = below.first().map_or(f64::INFINITY, |b| b.0);
        terms.push(ln_1m_exp(-first / length));
        let (mut k, mut m) = (0.0, 0.0);
        for (i, &(d, uk, um)) in below.iter().enumerate() {
            k += uk as f64;
            m += um as f64;
            grid.clear();
            grid.extend(rates.iter().map(|(l, l1)| ln_weight + k * l + m * l1));
            let ratio = log_sum_exp(&grid) - (k * ln_f + m * ln_1f);
            // The boundary falls between this unit and the next one.
            let mass = match below.get(i + 1) {
                Some(next) => -d / length + ln_1m_exp(-(next.0 - d) / length),
                None => -d / length,
            };
            terms.push(mass + ratio);
        }
        per_axis.push(log_sum_exp(&terms) - (AXES as f64).ln());
    }
    let region = log_sum_exp(&per_axis);
    log_sum_exp(&[(1.0 - prior).ln(), prior.ln() + region])
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: f64 = 0.005;

    fn model() -> RegionModel {
        RegionModel {
            prior: 0.03,
            length: 30.0,
            rate: 0.03,
        }
    }

    fn at(age: f64, k: u32, m: u32) -> Present {
        Present {
            oldest: [age; AXES],
            newest: [age; AXES],
            k,
            m,
        }
    }

    #[test]
    fn clean_absent_units_change_almost_nothing() {
        let absent = [at(10.0, 0, 10), at(40.0, 0, 10), at(90.0, 0, 10)];
        let r = region_ll(&absent, Some([100.0; AXES]), F, &model());
        // Clean runs fit f better than any region rate, so the factor is
        // below 1, and never below the no-region prior 1 - 0.03.
        assert!(r < 0.0 && r > (0.97f64).ln(), "{r}");
        assert_eq!(region_ll(&absent, None, F, &model()), 0.0);
        assert_eq!(region_ll(&[], Some([100.0; AXES]), F, &model()), 0.0);
    }

    #[test]
    fn a_short_run_of_rare_crashes_below_the_culprit_reads_as_a_region() {
        // 5 target crashes in 100 runs on the 20 commits below the culprit:
        // at f = 0.005 half a crash is expected, and at 0.03 five are
        // likely, a likelihood ratio near e^6.5; the prior 0.03 and the
        // extent still leave the region reading several times likelier.
        let near: Vec<Present> = (0..5).map(|i| at(99.0 - 4.0 * i as f64, 1, 19)).collect();
        let r = region_ll(&near, Some([100.0; AXES]), F, &model());
        assert!(r > 0.7, "{r}");
        // A likelier region, the likelier the reading.
        let mut likely = model();
        likely.prior = 0.3;
        assert!(region_ll(&near, Some([100.0; AXES]), F, &likely) > r + 1.0);
        // The same crashes far below the culprit: the region would have to
        // stretch down to them, which its extent's prior makes unlikely.
        let far: Vec<Present> = (0..5)
            .map(|i| at(99.0 - 400.0 - 4.0 * i as f64, 1, 19))
            .collect();
        let top = Some([500.0; AXES]);
        assert!(region_ll(&far, top, F, &model()) < 0.01);
    }

    #[test]
    fn frequent_crashes_are_not_a_region() {
        // Each crash beyond the first multiplies the reading at f by 1/f =
        // 200, but a region's by at most rate/f = 6: a unit firing 9 in 10
        // gains far less over one firing 1 in 10 than 8 crashes at f cost.
        let hot = region_ll(&[at(99.0, 9, 1)], Some([100.0; AXES]), F, &model());
        let rare = region_ll(&[at(99.0, 1, 9)], Some([100.0; AXES]), F, &model());
        let at_f = 8.0 * (F.ln() - (1.0 - F).ln());
        assert!(hot - rare < -at_f - 20.0, "{hot} {rare}");
        // Crashes above the ceiling gain nothing from a higher count.
        let ceiling = model().rate;
        let more = region_ll(&[at(99.0, 5, 5)], Some([100.0; AXES]), ceiling, &model());
        let fewer = region_ll(&[at(99.0, 2, 8)], Some([100.0; AXES]), ceiling, &model());
        assert!(more <= fewer + 1e-9, "{more} {fewer}");
    }
}
