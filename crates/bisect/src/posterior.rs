//! The posterior over hypotheses ("culprit is c" for every candidate c, and
//! "older than every good commit"), with the reproduction rates integrated
//! out in closed form.
//!
//! Under a hypothesis h the bug is present at the test units in a set S_h.
//! Present units: the rate model of `rates` (one shared rate, or a change of
//! rate along history). Absent units: a target crash is a coincidence at the
//! small rate f, or, just below the oldest present unit, the work of an
//! older bug with the same title (`regions`, a factor per class). A few
//! such crashes do not drag the answer there: explaining them as presence
//! on the far side of a change of rate needs the change in the narrow gap
//! right at the culprit, which its prior (proportional to the gap's width)
//! makes unlikely, and the region reading explains them without moving the
//! culprit. The engine names them as suspicious (`Status::suspicious`) and
//! reports its belief in a region (`Status::region`).
//!
//! Hypotheses with the same set of present units form a class: they share
//! the present side's likelihood and the rates' posterior, which probe
//! selection uses.

use crate::bits::Bits;
use crate::rates::{Age, Class, Present, RateModel};
use crate::regions::{region_ll, AbsentTerms, RegionModel};
use crate::reverts::Shift;
use std::collections::BTreeMap;

/// A test unit with evidence: commits with one binary (same signature).
pub struct TestedUnit<'a> {
    /// Candidate-ancestor sets of every member.
    pub members: Vec<&'a Bits>,
    /// Target crashes on the unit.
    pub k: u32,
    /// Clean runs on the unit.
    pub m: u32,
    /// Ages of the unit's oldest and newest members on every axis (see
    /// `Engine::age`).
    pub ages: (Age, Age),
}

#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub rates: RateModel,
    /// False-target regions on the absent side (not used by a fix
    /// bisection).
    pub regions: RegionModel,
    /// Target rate on commits without the bug.
    pub f: f64,
    pub older_prior: f64,
    /// Log-likelihood charged per unit whose members would differ in state.
    pub ln_penalty: f64,
    /// Fix bisection (see `Config::fix`): under "culprit is c" the bug is
    /// absent at c's descendants-or-self and present everywhere else.
    pub fix: bool,
}

impl Model {
    /// Log-likelihood of k target crashes and m clean runs on a unit
    /// without the bug.
    pub fn absent_ll(&self, k: u32, m: u32) -> f64 {
        let f = self.f.clamp(1e-12, 0.5);
        k as f64 * f.ln() + m as f64 * (1.0 - f).ln()
    }
}

#[derive(Debug, Clone)]
pub struct Posterior {
    /// Mass of "culprit is node i"; zero for good nodes.
    pub w: Vec<f64>,
    /// Mass of "older than every good commit".
    pub older: f64,
    /// Class of each node's hypothesis (meaningless for good nodes).
    pub class: Vec<u32>,
    pub older_class: u32,
    pub classes: Vec<Class>,
    pub class_mass: Vec<f64>,
    /// Posterior mean of the (recent) reproduction rate.
    pub q_mean: f64,
    /// Posterior mean of its square.
    pub q_mean2: f64,
    /// Posterior mean of the rate on the old side of a change.
    pub q_old: f64,
    /// Posterior probability of a change of rate among the tested units.
    pub drift: f64,
    /// Posterior probability that target crashes below the culprit come
    /// from a false-target region.
    pub region: f64,
    /// The same for a background: target crashes on commits without the
    /// bug anywhere in the range.
    pub background: f64,
}

/// A well-spread 64-bit key per unit (splitmix64 finaliser).
fn unit_key(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Posterior {
    /// `prior`: relative prior weight of "culprit is node i" (good nodes
    /// ignored); None for uniform. The commits share `1 - older_prior`.
    pub fn compute(
        good: &[bool],
        units: &[TestedUnit],
        model: &Model,
        prior: Option<&[f64]>,
        shift: &Shift,
    ) -> Posterior {
        let n = good.len();
        let mut key_h = vec![0u64; n];
        let mut absent_ll = vec![0f64; n];
        let mut mixed = vec![0u32; n];
        let mut present_bits: Vec<Vec<u64>> = Vec::with_capacity(units.len());
        let mut total_absent = 0.0;
        for (ui, u) in units.iter().enumerate() {
            let ll = model.absent_ll(u.k, u.m);
            let key = unit_key(ui);
            let tested = u.k > 0 || u.m > 0;
            if tested {
                total_absent += ll;
            }
            let words = u.members[0].words().len();
            let mut bits = vec![0u64; words];
            for (wi, slot) in bits.iter_mut().enumerate() {
                let (mut and, mut or) = (!0u64, 0u64);
                for b in &u.members {
                    and &= b.words()[wi];
                    or |= b.words()[wi];
                }
                *slot = and;
                let mut present = and;
                while present != 0 && tested {
                    let h = wi * 64 + present.trailing_zeros() as usize;
                    present &= present - 1;
                    key_h[h] ^= key;
                    absent_ll[h] += ll;
                }
                let mut mix = or & !and;
                while mix != 0 {
                    let h = wi * 64 + mix.trailing_zeros() as usize;
                    mix &= mix - 1;
                    mixed[h] += 1;
                }
            }
            present_bits.push(bits);
        }
        // Units with runs, oldest first.
        let mut order: Vec<usize> = (0..units.len())
            .filter(|&i| units[i].k > 0 || units[i].m > 0)
            .collect();
        order.sort_by(|&x, &y| {
            units[x].ages.0[0]
                .total_cmp(&units[y].ages.0[0])
                .then(x.cmp(&y))
        });
        // Units with runs where the bug is present, and absent, under
        // "culprit is h" (None: older, all present). A fix bisection has
        // the bug where h is not an ancestor.
        let sides_of = |h: Option<usize>| -> (Vec<Present>, Vec<Present>) {
            let (mut present, mut absent) = (Vec::new(), Vec::new());
            for &i in &order {
                let p = Present {
                    oldest: units[i].ages.0,
                    newest: units[i].ages.1,
                    k: units[i].k,
                    m: units[i].m,
                };
                if h.is_none_or(|h| (present_bits[i][h / 64] >> (h % 64) & 1 == 1) != model.fix) {
                    present.push(p);
                } else {
                    absent.push(p);
                }
            }
            (present, absent)
        };

        let mut ids: BTreeMap<u64, u32> = BTreeMap::new();
        let mut classes: Vec<Class> = Vec::new();
        // The region term of each class, beside it.
        let mut region: Vec<AbsentTerms> = Vec::new();
        let mut class_id = |key: u64,
                            h: Option<usize>,
                            classes: &mut Vec<Class>,
                            region: &mut Vec<AbsentTerms>|
         -> u32 {
            *ids.entry(key).or_insert_with(|| {
                let (present, absent) = sides_of(h);
                let class = Class::new(&present, &model.rates);
                region.push(if model.fix {
                    AbsentTerms::NONE
                } else {
                    region_ll(&absent, class.oldest, model.f, &model.regions)
                });
                classes.push(class);
                classes.len() as u32 - 1
            })
        };

        let candidates = good.iter().filter(|g| !**g).count();
        let older_prior = if candidates == 0 {
            1.0
        } else {
            model.older_prior.clamp(0.0, 1.0)
        };
        let ln_prior_c = ((1.0 - older_prior) / candidates.max(1) as f64).ln();
        let prior_total: f64 = prior.map_or(0.0, |p| {
            p.iter()
                .zip(good)
                .filter(|(_, &g)| !g)
                .map(|(&w, _)| w)
                .sum()
        });
        let ln_prior = |h: usize| match prior {
            Some(p) if prior_total > 0.0 => ((1.0 - older_prior) * p[h] / prior_total).ln(),
            _ => ln_prior_c,
        };
        let mut class = vec![0u32; n];
        let mut ll = vec![f64::NEG_INFINITY; n];
        let mut max = f64::NEG_INFINITY;
        let mut last: Option<(u64, u32)> = None;
        for h in 0..n {
            if good[h] {
                continue;
            }
            let key = key_h[h];
            let id = match last {
                Some((k, id)) if k == key => id,
                _ => {
                    let id = class_id(key, Some(h), &mut classes, &mut region);
                    last = Some((key, id));
                    id
                }
            };
            class[h] = id;
            // The f side: the units where the bug is absent under h.
            let f_side = if model.fix {
                absent_ll[h]
            } else {
                total_absent - absent_ll[h]
            };
            let v = ln_prior(h)
                + classes[id as usize].ll
                + f_side
                + region[id as usize].ll
                + mixed[h] as f64 * model.ln_penalty;
            ll[h] = v;
        }
        for &(c, d) in &shift.nodes {
            if !good[c as usize] {
                ll[c as usize] += d;
            }
        }
        for &v in &ll {
            max = max.max(v);
        }
        // "Older": every unit with runs is present; units of good nodes are
        // present only here, so its key is kept apart from the commits'.
        let older_key = order.iter().fold(0u64, |k, &i| k ^ unit_key(i)) ^ 0x5a5a_5a5a_5a5a_5a5a;
        let older_class = class_id(older_key, None, &mut classes, &mut region);
        let older_ll = if older_prior > 0.0 {
            older_prior.ln() + classes[older_class as usize].ll + shift.older
        } else {
            f64::NEG_INFINITY
        };
        max = max.max(older_ll);

        let mut w: Vec<f64> = ll.iter().map(|&v| (v - max).exp()).collect();
        let mut older = (older_ll - max).exp();
        let total: f64 = w.iter().sum::<f64>() + older;
        w.iter_mut().for_each(|x| *x /= total);
        older /= total;

        let mut class_mass = vec![0.0; classes.len()];
        for h in 0..n {
            if !good[h] {
                class_mass[class[h] as usize] += w[h];
            }
        }
        class_mass[older_class as usize] += older;
        // The far side's rate is reported given a change (without one it
        // is the prior's and says nothing).
        let (mut q_mean, mut q_mean2, mut old_sum, mut drift) = (0.0, 0.0, 0.0, 0.0);
        for (c, &p) in classes.iter().zip(&class_mass) {
            q_mean += p * c.q_hi;
            q_mean2 += p * c.q_hi2;
            old_sum += p * c.changed * c.q_lo_changed;
            drift += p * c.changed;
        }
        // Belief in a region, and in a background, beyond the prior's: 0
        // when the absent side says nothing for or against one.
        let beyond = |prior: f64, get: fn(&AbsentTerms) -> f64| -> f64 {
            let prior = prior.clamp(0.0, 1.0);
            region
                .iter()
                .zip(&class_mass)
                .map(|(t, &p)| p * ((get(t) - prior) / (1.0 - prior).max(1e-12)).max(0.0))
                .sum()
        };
        let region_p = beyond(model.regions.prior, |t| t.region);
        let background_p = beyond(model.regions.background, |t| t.background);
        let q_old = if drift > 1e-12 {
            old_sum / drift
        } else {
            q_mean
        };
        Posterior {
            w,
            older,
            class,
            older_class,
            classes,
            class_mass,
            q_mean,
            q_mean2,
            q_old,
            drift,
            region: region_p,
            background: background_p,
        }
    }
}

impl Posterior {
    /// Per class, the probability that a commit of this age with the bug
    /// lies on the far side of a change of rate (0 for classes without
    /// mass).
    pub fn old_at(&self, age: Age) -> Vec<f64> {
        self.classes
            .iter()
            .zip(&self.class_mass)
            .map(|(c, &m)| if m > 1e-12 { c.p_old(age) } else { 0.0 })
            .collect()
    }

    /// Probability that a commit of this age with the bug lies on the far
    /// side of a change of rate, over all hypotheses.
    pub fn p_old(&self, age: Age) -> f64 {
        let total: f64 = self.class_mass.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        self.old_at(age)
            .iter()
            .zip(&self.class_mass)
            .map(|(o, m)| o * m)
            .sum::<f64>()
            / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::ancestors;
    use crate::dag::Dag;

    fn model() -> Model {
        Model {
            rates: RateModel {
                a: 1.0,
                b: 1.0,
                drift: 0.0,
                lo: (1.0, 2.0),
                span: [10.0; crate::rates::AXES],
            },
            regions: RegionModel {
                prior: 0.0,
                length: 30.0,
                rate: 0.03,
                background: 0.0,
            },
            f: 0.005,
            older_prior: 0.01,
            ln_penalty: (1e-6f64).ln(),
            fix: false,
        }
    }

    #[test]
    fn chain_posterior_follows_evidence() {
        // 0 good, 1..=9 a chain, bad = 9.
        let parents: Vec<Vec<u32>> = (0..10)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let good: Vec<bool> = (0..10).map(|i| i == 0).collect();
        let dag = Dag::new(parents, &[0]).unwrap();
        let a9 = ancestors(&dag, 9);
        let a5 = ancestors(&dag, 5);
        let a4 = ancestors(&dag, 4);
        let units = vec![
            TestedUnit {
                members: vec![&a9],
                k: 3,
                m: 0,
                ages: ([9.0; crate::rates::AXES], [9.0; crate::rates::AXES]),
            },
            TestedUnit {
                members: vec![&a5],
                k: 2,
                m: 0,
                ages: ([5.0; crate::rates::AXES], [5.0; crate::rates::AXES]),
            },
            TestedUnit {
                members: vec![&a4],
                k: 0,
                m: 6,
                ages: ([4.0; crate::rates::AXES], [4.0; crate::rates::AXES]),
            },
        ];
        let p = Posterior::compute(&good, &units, &model(), None, &Shift::default());
        assert!(p.w[5] > 0.95, "{:?}", p.w);
        let total: f64 = p.w.iter().sum::<f64>() + p.older;
        assert!((total - 1.0).abs() < 1e-12);
        assert!(p.q_mean > 0.7);
        // A unit made of 4 and 5 (same binary) penalises culprit 5.
        let units = vec![
            TestedUnit {
                members: vec![&a9],
                k: 3,
                m: 0,
                ages: ([9.0; crate::rates::AXES], [9.0; crate::rates::AXES]),
            },
            TestedUnit {
                members: vec![&a4, &a5],
                k: 0,
                m: 0,
                ages: ([4.0; crate::rates::AXES], [4.0; crate::rates::AXES]),
            },
        ];
        let p = Posterior::compute(&good, &units, &model(), None, &Shift::default());
        assert!(p.w[5] < 1e-5 && p.w[4] > 1e-2);
    }

    #[test]
    fn a_fix_posterior_reads_crashes_as_the_old_side() {
        // 0 good (crashes), 1..=9 a chain, bad = 9 (fixed); the fix is 5.
        let parents: Vec<Vec<u32>> = (0..10)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let good: Vec<bool> = (0..10).map(|i| i == 0).collect();
        let dag = Dag::new(parents, &[0]).unwrap();
        let (a0, a4, a5, a9) = (
            ancestors(&dag, 0),
            ancestors(&dag, 4),
            ancestors(&dag, 5),
            ancestors(&dag, 9),
        );
        let unit = |members, k, m| TestedUnit {
            members,
            k,
            m,
            ages: ([0.0; crate::rates::AXES], [0.0; crate::rates::AXES]),
        };
        let units = vec![
            unit(vec![&a0], 4, 0),
            unit(vec![&a4], 3, 0),
            unit(vec![&a5], 0, 6),
            unit(vec![&a9], 0, 6),
        ];
        let fix = Model {
            fix: true,
            ..model()
        };
        let p = Posterior::compute(&good, &units, &fix, None, &Shift::default());
        assert!(p.w[5] > 0.95, "{:?}", p.w);
        assert!(p.q_mean > 0.7, "{}", p.q_mean);
        assert!(
            p.older < 1e-4,
            "not fixed, with clean runs at bad: {}",
            p.older
        );
        // The same evidence read as a cause bisection makes no sense of it.
        let p = Posterior::compute(&good, &units, &model(), None, &Shift::default());
        assert!(p.w[5] < 0.5, "{:?}", p.w);
        // A crash on the new end: the bug is not fixed.
        let units = vec![unit(vec![&a0], 4, 0), unit(vec![&a9], 3, 0)];
        let p = Posterior::compute(&good, &units, &fix, None, &Shift::default());
        assert!(p.older > 0.9, "{}", p.older);
    }
}
