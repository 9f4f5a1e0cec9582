//! The posterior over hypotheses ("culprit is c" for every candidate c, and
//! "older than every good commit"), with the reproduction rate q integrated
//! out in closed form.
//!
//! Under a hypothesis h the bug is present at the commits in a set S_h. Target
//! crashes on present commits follow a shared rate q ~ Beta(a, b); with K_h
//! crashes and M_h clean runs there, the marginal likelihood is
//! B(a + K_h, b + M_h) / B(a, b). On absent commits a target crash has the
//! small probability f. Hypotheses with equal (K_h, M_h) form a "class": they
//! share the posterior of q, which probe selection uses.

use crate::bits::Bits;
use crate::math::ln_beta;
use std::collections::BTreeMap;

/// A test unit with evidence: commits with one binary (same signature).
pub struct TestedUnit<'a> {
    /// Candidate-ancestor sets of every member.
    pub members: Vec<&'a Bits>,
    /// Target crashes on the unit.
    pub k: u32,
    /// Clean runs on the unit.
    pub m: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub a: f64,
    pub b: f64,
    pub f: f64,
    pub older_prior: f64,
    /// Log-likelihood charged per unit whose members would differ in state.
    pub ln_penalty: f64,
    /// Fix bisection (see `Config::fix`): under "culprit is c" the bug is
    /// absent at c's descendants-or-self and present everywhere else.
    pub fix: bool,
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
    /// (K, M) of each class.
    pub classes: Vec<(u32, u32)>,
    pub class_mass: Vec<f64>,
    /// Posterior mean of q.
    pub q_mean: f64,
}

impl Posterior {
    /// `prior`: relative prior weight of "culprit is node i" (good nodes
    /// ignored); None for uniform. The commits share `1 - older_prior`.
    pub fn compute(
        good: &[bool],
        units: &[TestedUnit],
        model: &Model,
        prior: Option<&[f64]>,
    ) -> Posterior {
        let n = good.len();
        let mut k_h = vec![0u32; n];
        let mut m_h = vec![0u32; n];
        let mut absent_ll = vec![0f64; n];
        let mut mixed = vec![0u32; n];
        let f = model.f.clamp(1e-12, 0.5);
        let (ln_f, ln_nf) = (f.ln(), (1.0 - f).ln());
        let (mut total_absent, mut k_all, mut m_all) = (0.0, 0u32, 0u32);
        for u in units {
            let ll = u.k as f64 * ln_f + u.m as f64 * ln_nf;
            total_absent += ll;
            k_all += u.k;
            m_all += u.m;
            let words = u.members[0].words().len();
            for wi in 0..words {
                let (mut and, mut or) = (!0u64, 0u64);
                for b in &u.members {
                    and &= b.words()[wi];
                    or |= b.words()[wi];
                }
                let mut present = and;
                while present != 0 && (u.k > 0 || u.m > 0) {
                    let h = wi * 64 + present.trailing_zeros() as usize;
                    present &= present - 1;
                    k_h[h] += u.k;
                    m_h[h] += u.m;
                    absent_ll[h] += ll;
                }
                let mut mix = or & !and;
                while mix != 0 {
                    let h = wi * 64 + mix.trailing_zeros() as usize;
                    mix &= mix - 1;
                    mixed[h] += 1;
                }
            }
        }

        let mut ids: BTreeMap<(u32, u32), u32> = BTreeMap::new();
        let mut classes: Vec<(u32, u32)> = Vec::new();
        let mut class_ll: Vec<f64> = Vec::new();
        let base = ln_beta(model.a, model.b);
        let mut class_of = |k: u32, m: u32| -> (u32, f64) {
            let id = *ids.entry((k, m)).or_insert_with(|| {
                classes.push((k, m));
                class_ll.push(ln_beta(model.a + k as f64, model.b + m as f64) - base);
                classes.len() as u32 - 1
            });
            (id, class_ll[id as usize])
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
        let mut last: Option<((u32, u32), (u32, f64))> = None;
        for h in 0..n {
            if good[h] {
                continue;
            }
            // The q side: the units where the bug is present under h.
            let key = if model.fix {
                (k_all - k_h[h], m_all - m_h[h])
            } else {
                (k_h[h], m_h[h])
            };
            let (id, cl) = match last {
                Some((k, v)) if k == key => v,
                _ => {
                    let v = class_of(key.0, key.1);
                    last = Some((key, v));
                    v
                }
            };
            class[h] = id;
            // The f side: the units where it is absent.
            let f_side = if model.fix {
                absent_ll[h]
            } else {
                total_absent - absent_ll[h]
            };
            let v = ln_prior(h) + cl + f_side + mixed[h] as f64 * model.ln_penalty;
            ll[h] = v;
            max = max.max(v);
        }
        let (older_class, older_cl) = class_of(k_all, m_all);
        let older_ll = if older_prior > 0.0 {
            older_prior.ln() + older_cl
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
        let q_mean = classes
            .iter()
            .zip(&class_mass)
            .map(|(&(k, m), &p)| {
                p * (model.a + k as f64) / (model.a + model.b + k as f64 + m as f64)
            })
            .sum();
        Posterior {
            w,
            older,
            class,
            older_class,
            classes,
            class_mass,
            q_mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::ancestors;
    use crate::dag::Dag;

    fn model() -> Model {
        Model {
            a: 1.0,
            b: 1.0,
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
            },
            TestedUnit {
                members: vec![&a5],
                k: 2,
                m: 0,
            },
            TestedUnit {
                members: vec![&a4],
                k: 0,
                m: 6,
            },
        ];
        let p = Posterior::compute(&good, &units, &model(), None);
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
            },
            TestedUnit {
                members: vec![&a4, &a5],
                k: 0,
                m: 0,
            },
        ];
        let p = Posterior::compute(&good, &units, &model(), None);
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
        let unit = |members, k, m| TestedUnit { members, k, m };
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
        let p = Posterior::compute(&good, &units, &fix, None);
        assert!(p.w[5] > 0.95, "{:?}", p.w);
        assert!(p.q_mean > 0.7, "{}", p.q_mean);
        assert!(
            p.older < 1e-4,
            "not fixed, with clean runs at bad: {}",
            p.older
        );
        // The same evidence read as a cause bisection makes no sense of it.
        let p = Posterior::compute(&good, &units, &model(), None);
        assert!(p.w[5] < 0.5, "{:?}", p.w);
        // A crash on the new end: the bug is not fixed.
        let units = vec![unit(vec![&a0], 4, 0), unit(vec![&a9], 3, 0)];
        let p = Posterior::compute(&good, &units, &fix, None);
        assert!(p.older > 0.9, "{}", p.older);
    }
}
