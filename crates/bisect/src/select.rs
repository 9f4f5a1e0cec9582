//! Probe evaluation for the engine: every commit worth considering gets
//! the information a test of it promises, discounted by what could make the
//! test fail (a likely broken build nearby, runs that test nothing).

use crate::bits::Walker;
use crate::dag::NodeId;
use crate::engine::Engine;
use crate::plan::Choice;
use crate::posterior::Posterior;
use crate::probe::{candidates, lower_bound, Tables};

/// Runs without a single testable outcome after which a unit is untestable.
const UNTESTABLE_AFTER: u32 = 3;
/// Chance that a neighbour of a failed build fails too, and how it decays
/// with the distance (in topological positions).
const NEAR_FAIL: f64 = 0.9;
const NEAR_FAIL_DECAY: f64 = 0.7;

impl Engine {
    /// Runnable and buildable commits with the information their tests
    /// promise, and whether the top hypothesis `top` (index n: older) is
    /// stuck: no testable commit can tell it from others holding so much mass
    /// that the confidence is out of reach, while together they hold it.
    pub(crate) fn options(&self, post: &Posterior, top: usize) -> (Vec<Choice>, Vec<Choice>, bool) {
        let (mut total, mut lost) = (0u32, 0u32);
        for &rep in self.members.keys() {
            total += self.unit_runs(rep);
            let e = &self.evidence[rep as usize];
            lost += e.other + e.untestable;
        }
        let global_lost = (lost as f64 + 1.0) / (total as f64 + 10.0);
        let untestable = |rep: NodeId| {
            let e = &self.evidence[rep as usize];
            e.target + e.clean == 0 && e.other + e.untestable >= UNTESTABLE_AFTER
        };
        let built: Vec<NodeId> = self
            .members
            .keys()
            .copied()
            .filter(|&r| self.evidence[r as usize].built == Some(true))
            .collect();
        let failed: Vec<NodeId> = self
            .anc
            .keys()
            .copied()
            .filter(|&x| self.evidence[x as usize].built == Some(false))
            .collect();
        let oks: Vec<NodeId> = self
            .anc
            .keys()
            .copied()
            .filter(|&x| self.evidence[x as usize].built == Some(true))
            .collect();
        let base_fail = (failed.len() as f64 + 0.5) / ((failed.len() + oks.len()) as f64 + 5.0);
        let lo = lower_bound(post);
        let (cands, covers) =
            candidates(&self.dag, &self.children, post, self.bad, lo, &built, |x| {
                let i = x as usize;
                self.evidence[i].built == Some(false)
                    || self.unit_of[i].is_some_and(|r| r != x || untestable(r))
            });
        let tables = Tables::new(post, &self.model(), self.config.vms.max(1));
        let mut walker = Walker::new(self.dag.len());
        let mut runs = Vec::new();
        let mut builds = Vec::new();
        let mut pm = vec![0.0; post.classes.len()];
        // Mass of each class's commit hypotheses ("older" not included).
        let mut commit_mass = post.class_mass.clone();
        commit_mass[post.older_class as usize] -= post.older;
        let (mut fails_below, mut oks_below) = (Vec::new(), Vec::new());
        // Which evaluated commits each hypothesis is present at, as an
        // xor-hash of commit ids: equal hashes cannot be told apart.
        let n = self.dag.len();
        let mut pattern = vec![0u64; if covers { n } else { 0 }];
        let mut older_pattern = 0u64;
        for x in cands {
            let mx = mix(x);
            older_pattern ^= mx;
            pm.iter_mut().for_each(|v| *v = 0.0);
            fails_below.clear();
            oks_below.clear();
            walker.walk(&self.dag, x, lo, |y| {
                pm[post.class[y as usize] as usize] += post.w[y as usize];
                if covers {
                    pattern[y as usize] ^= mx;
                }
                match self.evidence[y as usize].built {
                    Some(false) if self.anc.contains_key(&y) => fails_below.push(y),
                    Some(true) if self.anc.contains_key(&y) => oks_below.push(y),
                    _ => {}
                }
            });
            if self.config.fix {
                // The bug is present where the culprit is not an ancestor.
                for (c, v) in pm.iter_mut().enumerate() {
                    *v = (commit_mass[c] - *v).max(0.0);
                }
            }
            pm[post.older_class as usize] += post.older;
            let mut curve = tables.curve(&pm, &post.old_at(self.age(x)));
            if self.evidence[x as usize].built == Some(true) {
                let e = &self.evidence[x as usize];
                let n_runs = (e.target + e.other + e.clean + e.untestable) as f64;
                let lost = (e.other + e.untestable) as f64;
                let keep = 1.0 - (lost + 2.0 * global_lost) / (n_runs + 2.0);
                curve.iter_mut().for_each(|v| *v *= keep);
                let node = std::iter::once(x)
                    .chain(self.unit_members(x).iter().copied())
                    .find(|&m| self.available[m as usize]);
                match node {
                    // A unit that did not settle in this many runs will not
                    // settle in more: its crashes fit both sides equally.
                    Some(_) if n_runs >= self.config.max_unit_runs as f64 => {}
                    Some(m) => runs.push(Choice { node: m, curve }),
                    None => builds.push(Choice { node: x, curve }),
                }
                continue;
            }
            // A failed build nearby, with no good build in between, makes
            // this one likely to fail too: broken stretches are short.
            let mut ok = 1.0 - base_fail;
            for &f in &fails_below {
                if f != x
                    && !oks_below
                        .iter()
                        .any(|&b| b != f && self.anc[&b].get(f as usize))
                {
                    ok *= 1.0 - near_failure_risk(x, f);
                }
            }
            for &f in &failed {
                let fa = &self.anc[&f];
                if f != x
                    && fa.get(x as usize)
                    && !oks
                        .iter()
                        .any(|&b| fa.get(b as usize) && self.anc[&b].get(x as usize))
                {
                    ok *= 1.0 - near_failure_risk(x, f);
                }
            }
            let ok = ok * (1.0 - global_lost);
            curve.iter_mut().for_each(|v| *v *= ok);
            builds.push(Choice { node: x, curve });
        }
        let mut stuck = false;
        if covers {
            if self.config.fix {
                // Presence patterns of commit hypotheses are complements.
                for p in pattern.iter_mut() {
                    *p ^= older_pattern;
                }
            }
            let (top_w, top_p) = if top == n {
                (post.older, older_pattern)
            } else {
                (post.w[top], pattern[top])
            };
            let mut group = if older_pattern == top_p {
                post.older
            } else {
                0.0
            };
            for (h, &p) in pattern.iter().enumerate().skip(lo as usize) {
                if p == top_p && !self.dag.is_good(h as NodeId) {
                    group += post.w[h];
                }
            }
            let conf = self.config.confidence;
            stuck = top_w < conf * group && group >= conf;
        }
        (runs, builds, stuck)
    }
}

/// Risk that `x` fails to build given that `f` failed and no successful build
/// lies between them.
fn near_failure_risk(x: NodeId, f: NodeId) -> f64 {
    let d = x.abs_diff(f).max(1) - 1;
    NEAR_FAIL * NEAR_FAIL_DECAY.powi(d.min(200) as i32)
}

/// A well-spread 64-bit value per node (splitmix64 finaliser).
fn mix(x: NodeId) -> u64 {
    let mut z = (x as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
