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
//! A background is the same rates without a place: with prior
//! `background` every absent commit, wherever it lies, fires at f_r (rates
//! below f excluded: over a whole absent side's clean runs they would
//! reward every hypothesis for what it calls absent). It stands for a
//! generic title, one that other code paths also produce now and then
//! anywhere in the range. Without it, a title shown in 5% of the runs on
//! every commit without the bug read, through the clean runs on the good
//! end, as the bug firing less on older code, and the search answered
//! "older than every good commit" with confidence 0.996 to 0.9995 in 9 of
//! 40 campaigns (`bench/noise.toml`; README); with a background of prior
//! 0.05, 2. The same ceiling keeps it apart from a reproducer's rates on
//! older code. It is still one more reading of a drift's old side: on a
//! 1,530-commit cut of the git DAG the 0.9 -> 0.1 drift went from 0.92 to
//! 0.88 right (more inconclusive answers, no wrong one) while the
//! false-target region there went from 0.89 to 0.93.
//!
//! The stop rule treats belief in a region or a background like belief in
//! a change of rate (a wider margin), since each is the same counts read
//! two ways.
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
    /// Prior probability that the target shows, at a rate up to `rate`,
    /// on every commit without the bug, wherever it lies (a background).
    pub background: f64,
}

/// Rates of a region, as fractions of `RegionModel::rate`.
const FRACTIONS: [f64; 6] = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125];

/// What the region model says of the absent units of a class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbsentTerms {
    /// Log of the factor by which it changes their likelihood (read at the
    /// rate f).
    pub ll: f64,
    /// Posterior probability of a region below the class's oldest present
    /// unit, and of a background, given the class.
    pub region: f64,
    pub background: f64,
}

impl AbsentTerms {
    /// Nothing to consider: the absent units read at f, no region.
    pub const NONE: AbsentTerms = AbsentTerms {
        ll: 0.0,
        region: 0.0,
        background: 0.0,
    };
}

/// The region model's reading of the absent units (`absent`) under
/// hypotheses whose oldest tested present unit is at `top`: a region below
/// `top`, a background everywhere, or neither. A factor of 1 (ll 0) when
/// there is nothing to consider.
pub fn region_ll(absent: &[Present], top: Option<Age>, f: f64, model: &RegionModel) -> AbsentTerms {
    let prior = model.prior.clamp(0.0, 1.0);
    let background = model.background.clamp(0.0, 1.0 - prior);
    if prior + background <= 0.0 || absent.is_empty() {
        return AbsentTerms::NONE;
    }
    let f = f.clamp(1e-12, 0.5);
    let (ln_f, ln_1f) = (f.ln(), (1.0 - f).ln());
    let rates: Vec<f64> = FRACTIONS
        .iter()
        .map(|r| (r * model.rate).clamp(1e-12, 0.5))
        .collect();
    // ln likelihood ratio of k crashes and m clean runs at a rate of the
    // grid (those above `floor`, equally likely) against the rate f; no
    // such rate, no such reading.
    let ratio = |k: f64, m: f64, floor: f64| {
        let mut grid = [f64::NEG_INFINITY; FRACTIONS.len()];
        let mut used = 0;
        for (g, &x) in grid.iter_mut().zip(&rates).filter(|(_, &x)| x > floor) {
            *g = k * x.ln() + m * (1.0 - x).ln();
            used += 1;
        }
        if used == 0 {
            return f64::NEG_INFINITY;
        }
        log_sum_exp(&grid) - (used as f64).ln() - (k * ln_f + m * ln_1f)
    };
    let none = (1.0 - prior - background).ln();
    let mut bg = f64::NEG_INFINITY;
    if background > 0.0 {
        // Rates below f are no background: over the many clean runs of a
        // whole absent side they would only reward every hypothesis for
        // the clean runs it calls absent.
        let (k, m) = absent
            .iter()
            .fold((0.0, 0.0), |(k, m), u| (k + u.k as f64, m + u.m as f64));
        bg = background.ln() + ratio(k, m, f);
    }
    let (region, offset) = match top {
        Some(top) if prior > 0.0 => {
            let ratio = |k, m| ratio(k, m, 0.0);
            (prior.ln() + local(absent, top, model.length, &ratio), 0.0)
        }
        Some(_) => (f64::NEG_INFINITY, 0.0),
        // No present unit to hang a region below: only the background
        // can change anything, relative to "no region".
        None => (f64::NEG_INFINITY, (1.0 - prior).ln()),
    };
    let all = log_sum_exp(&[none, bg, region]);
    AbsentTerms {
        ll: all - offset,
        region: (region - all).exp(),
        background: (bg - all).exp(),
    }
}

/// ln of the likelihood ratio of a region below `top` against none,
/// averaged over where its boundary lies.
fn local(absent: &[Present], top: Age, length: f64, ratio: &dyn Fn(f64, f64) -> f64) -> f64 {
    let length = length.max(1e-9);
    let mut per_axis = Vec::with_capacity(AXES);
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
            // The boundary falls between this unit and the next one.
            let mass = match below.get(i + 1) {
                Some(next) => -d / length + ln_1m_exp(-(next.0 - d) / length),
                None => -d / length,
            };
            terms.push(mass + ratio(k, m));
        }
        per_axis.push(log_sum_exp(&terms) - (AXES as f64).ln());
    }
    log_sum_exp(&per_axis)
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
            background: 0.0,
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
        let r = region_ll(&absent, Some([100.0; AXES]), F, &model()).ll;
        // Clean runs fit f better than any region rate, so the factor is
        // below 1, and never below the no-region prior 1 - 0.03.
        assert!(r < 0.0 && r > (0.97f64).ln(), "{r}");
        assert_eq!(region_ll(&absent, None, F, &model()).ll, 0.0);
        assert_eq!(region_ll(&[], Some([100.0; AXES]), F, &model()).ll, 0.0);
    }

    #[test]
    fn a_short_run_of_rare_crashes_below_the_culprit_reads_as_a_region() {
        // 5 target crashes in 100 runs on the 20 commits below the culprit:
        // at f = 0.005 half a crash is expected, and at 0.03 five are
        // likely, a likelihood ratio near e^6.5; the prior 0.03 and the
        // extent still leave the region reading several times likelier.
        let near: Vec<Present> = (0..5).map(|i| at(99.0 - 4.0 * i as f64, 1, 19)).collect();
        let r = region_ll(&near, Some([100.0; AXES]), F, &model()).ll;
        assert!(r > 0.7, "{r}");
        // A likelier region, the likelier the reading.
        let mut likely = model();
        likely.prior = 0.3;
        assert!(region_ll(&near, Some([100.0; AXES]), F, &likely).ll > r + 1.0);
        // The same crashes far below the culprit: the region would have to
        // stretch down to them, which its extent's prior makes unlikely.
        let far: Vec<Present> = (0..5)
            .map(|i| at(99.0 - 400.0 - 4.0 * i as f64, 1, 19))
            .collect();
        let top = Some([500.0; AXES]);
        assert!(region_ll(&far, top, F, &model()).ll < 0.01);
    }

    #[test]
    fn rare_crashes_everywhere_read_as_a_background() {
        // One crash in 50 runs on each of 20 absent units spread over 1,000
        // commits below the culprit: 20 crashes where f expects 5. Too far
        // apart for a region; the background reads them at ~0.02.
        let spread: Vec<Present> = (0..20)
            .map(|i| at(950.0 - 50.0 * i as f64, 1, 49))
            .collect();
        let top = Some([1000.0; AXES]);
        let no_bg = region_ll(&spread, top, F, &model()).ll;
        let mut bg = model();
        bg.background = 0.05;
        let with = region_ll(&spread, top, F, &bg).ll;
        assert!(no_bg < 1.0, "{no_bg}");
        assert!(with > no_bg + 5.0, "{with} {no_bg}");
        // With no present unit tested there is no region, but still a
        // background; and without one, nothing changes.
        assert!(region_ll(&spread, None, F, &bg).ll > 5.0);
        assert_eq!(region_ll(&spread, None, F, &model()).ll, 0.0);
        // Clean absent units: the background costs at most its prior.
        let clean: Vec<Present> = (0..20)
            .map(|i| at(950.0 - 50.0 * i as f64, 0, 50))
            .collect();
        let c = region_ll(&clean, top, F, &bg).ll;
        assert!(c < 0.0 && c > (1.0f64 - 0.03 - 0.05).ln() - 1e-9, "{c}");
    }

    #[test]
    fn an_old_side_firing_at_a_reproducers_rate_is_not_a_background() {
        // The bug firing at 0.2 on older code, read as absent: the
        // background's ceiling (0.03) keeps it far less likely than the
        // rate f that it replaces is unlikely, so it does not excuse it.
        let old: Vec<Present> = (0..10)
            .map(|i| at(900.0 - 20.0 * i as f64, 4, 16))
            .collect();
        let mut bg = model();
        bg.background = 0.05;
        let with = region_ll(&old, Some([1000.0; AXES]), F, &bg).ll;
        // 40 crashes in 200 runs: at 0.03 the best reading is still e^-35
        // below the counts' own rate, so the gain over f is bounded.
        let at_rate = |r: f64| 40.0 * r.ln() + 160.0 * (1.0 - r).ln();
        assert!(with < at_rate(0.2) - at_rate(F) - 30.0, "{with}");
    }

    #[test]
    fn frequent_crashes_are_not_a_region() {
        // Each crash beyond the first multiplies the reading at f by 1/f =
        // 200, but a region's by at most rate/f = 6: a unit firing 9 in 10
        // gains far less over one firing 1 in 10 than 8 crashes at f cost.
        let hot = region_ll(&[at(99.0, 9, 1)], Some([100.0; AXES]), F, &model()).ll;
        let rare = region_ll(&[at(99.0, 1, 9)], Some([100.0; AXES]), F, &model()).ll;
        let at_f = 8.0 * (F.ln() - (1.0 - F).ln());
        assert!(hot - rare < -at_f - 20.0, "{hot} {rare}");
        // Crashes above the ceiling gain nothing from a higher count.
        let ceiling = model().rate;
        let more = region_ll(&[at(99.0, 5, 5)], Some([100.0; AXES]), ceiling, &model()).ll;
        let fewer = region_ll(&[at(99.0, 2, 8)], Some([100.0; AXES]), ceiling, &model()).ll;
        assert!(more <= fewer + 1e-9, "{more} {fewer}");
    }
}
