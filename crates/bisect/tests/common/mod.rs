//! A simulated world for driving the engine: synthetic kernel-like DAGs and a
//! seeded oracle that builds and runs commits.

#![allow(dead_code)]

use culprit_bisect::{BuildOutcome, Config, Dag, Engine, NodeId, Outcome, RunOutcome, Step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Failure identities used by the oracle.
pub const TARGET: u32 = 1;
pub const OTHER: u32 = 2;

/// A synthetic history: parents in topological order and its good nodes.
pub struct History {
    pub parents: Vec<Vec<NodeId>>,
    pub good: Vec<NodeId>,
    pub bad: NodeId,
}

impl History {
    /// A straight line: 0 is good, n-1 is bad.
    pub fn linear(n: usize) -> History {
        History {
            parents: (0..n)
                .map(|i| {
                    if i == 0 {
                        vec![]
                    } else {
                        vec![i as NodeId - 1]
                    }
                })
                .collect(),
            good: vec![0],
            bad: n as NodeId - 1,
        }
    }

    /// Kernel-like: a mainline that merges topic branches; branches fork
    /// from recent mainline commits, or from old commits outside the range
    /// (extra good nodes). About `n` nodes in total.
    pub fn merge_heavy(n: usize, rng: &mut ChaCha8Rng) -> History {
        let mut parents: Vec<Vec<NodeId>> = vec![vec![]];
        let mut good = vec![0];
        let mut mainline: Vec<NodeId> = vec![0];
        while parents.len() < n {
            let tip = *mainline.last().unwrap();
            if rng.gen_bool(0.35) {
                let id = parents.len() as NodeId;
                parents.push(vec![tip]);
                mainline.push(id);
                continue;
            }
            // A topic branch of 1..=25 commits.
            let base = if rng.gen_bool(0.15) {
                let id = parents.len() as NodeId;
                parents.push(vec![]);
                good.push(id);
                id
            } else {
                let back = rng.gen_range(0..mainline.len().min(40));
                mainline[mainline.len() - 1 - back]
            };
            let len = rng
                .gen_range(1..=25)
                .min(n.saturating_sub(parents.len() + 1).max(1));
            let mut b = base;
            for _ in 0..len {
                let id = parents.len() as NodeId;
                parents.push(vec![b]);
                b = id;
            }
            let id = parents.len() as NodeId;
            parents.push(vec![tip, b]);
            mainline.push(id);
        }
        let bad = parents.len() as NodeId - 1;
        History { parents, good, bad }
    }

    pub fn dag(&self) -> Dag {
        Dag::new(self.parents.clone(), &self.good).unwrap()
    }

    /// Ancestors-or-self of x (including good nodes).
    pub fn ancestors(&self, x: NodeId) -> Vec<bool> {
        let mut seen = vec![false; self.parents.len()];
        let mut stack = vec![x];
        seen[x as usize] = true;
        while let Some(y) = stack.pop() {
            for &p in &self.parents[y as usize] {
                if !seen[p as usize] {
                    seen[p as usize] = true;
                    stack.push(p);
                }
            }
        }
        seen
    }
}

/// How the simulated world behaves.
#[derive(Clone, Debug)]
pub struct World {
    /// None: the bug is older than every good commit.
    pub culprit: Option<NodeId>,
    pub q: f64,
    /// Unrelated crash rate per run (other identity).
    pub other: f64,
    pub untestable: f64,
    /// Target-looking crash rate on commits without the bug.
    pub false_target: f64,
    /// Fraction of commits whose build fails (in stretches along chains).
    pub build_fail: f64,
    /// Longest broken stretch.
    pub fail_stretch: u32,
    /// Fraction of (non-merge) commits that do not change the binary.
    pub doc_only: f64,
    /// Drift: commits with the bug older (by index) than the point
    /// `drift_at` of the way from the culprit to the bad commit fire at
    /// this rate instead of `q`.
    pub q_old: Option<f64>,
    pub drift_at: f64,
    /// When > 0: `false_target` applies only to the culprit's first-parent
    /// ancestors up to this many steps back (an older bug, same title).
    pub false_region: u32,
}

impl World {
    pub fn clean(culprit: NodeId, q: f64) -> World {
        World {
            culprit: Some(culprit),
            q,
            other: 0.0,
            untestable: 0.0,
            false_target: 0.0,
            build_fail: 0.0,
            fail_stretch: 4,
            doc_only: 0.0,
            q_old: None,
            drift_at: 0.5,
            false_region: 0,
        }
    }
}

/// The oracle's fixed facts about every commit.
pub struct Truth {
    pub present: Vec<bool>,
    /// Probability that a testable run shows the target, per commit.
    pub rate: Vec<f64>,
    pub builds: Vec<bool>,
    pub signature: Vec<u32>,
}

impl Truth {
    pub fn new(h: &History, w: &World, rng: &mut ChaCha8Rng) -> Truth {
        let n = h.parents.len();
        let present = match w.culprit {
            Some(c) => {
                // present at x iff c is an ancestor-or-self of x
                let mut p = vec![false; n];
                for x in 0..n {
                    p[x] = x as NodeId == c || h.parents[x].iter().any(|&q| p[q as usize]);
                }
                p
            }
            None => vec![true; n],
        };
        let mut signature: Vec<u32> = (0..n as u32).collect();
        for x in 0..n {
            let ps = &h.parents[x];
            if ps.len() == 1 && Some(x as NodeId) != w.culprit && rng.gen_bool(w.doc_only) {
                signature[x] = signature[ps[0] as usize];
            }
        }
        // Broken stretches: a commit breaks the build and a few first-parent
        // descendants stay broken.
        let mut builds = vec![true; n];
        let mut child: Vec<Option<NodeId>> = vec![None; n];
        for x in 0..n {
            if let Some(&p) = h.parents[x].first() {
                child[p as usize].get_or_insert(x as NodeId);
            }
        }
        let mut broken = 0usize;
        let goal = (w.build_fail * n as f64).round() as usize;
        let mut tries = 0;
        while broken < goal && tries < 100 * n {
            tries += 1;
            let mut x = rng.gen_range(0..n as NodeId);
            let len = rng.gen_range(1..=w.fail_stretch.max(1));
            for _ in 0..len {
                if builds[x as usize] && Some(x) != w.culprit && x != h.bad && !h.good.contains(&x)
                {
                    builds[x as usize] = false;
                    broken += 1;
                }
                match child[x as usize] {
                    Some(c) => x = c,
                    None => break,
                }
            }
        }
        let mut rate: Vec<f64> = present.iter().map(|&p| if p { w.q } else { 0.0 }).collect();
        if let (Some(old), Some(c)) = (w.q_old, w.culprit) {
            let point = c as f64 + w.drift_at * (h.bad as f64 - c as f64);
            for x in 0..n {
                if present[x] && (x as f64) < point {
                    rate[x] = old;
                }
            }
        }
        match (w.false_region, w.culprit) {
            (0, _) | (_, None) => {
                for x in 0..n {
                    if !present[x] {
                        rate[x] = w.false_target;
                    }
                }
            }
            (k, Some(c)) => {
                let mut x = c;
                for _ in 0..k {
                    match h.parents[x as usize].first() {
                        Some(&p) if !h.good.contains(&p) => {
                            x = p;
                            rate[x as usize] = w.false_target;
                        }
                        _ => break,
                    }
                }
            }
        }
        Truth {
            present,
            rate,
            builds,
            signature,
        }
    }
}

pub struct Drive {
    pub outcome: Outcome,
    pub steps: Vec<Step>,
    pub builds: u32,
    pub runs: u32,
    pub rounds: u32,
}

pub fn drive(h: &History, w: &World, config: Config, seed: u64) -> Drive {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let truth = Truth::new(h, w, &mut rng);
    drive_truth(h, w, &truth, config, &mut rng)
}

pub fn drive_truth(
    h: &History,
    w: &World,
    truth: &Truth,
    config: Config,
    rng: &mut ChaCha8Rng,
) -> Drive {
    drive_with_prior(h, w, truth, config, None, rng)
}

/// `drive_truth` with the engine's prior set to `prior` first.
pub fn drive_with_prior(
    h: &History,
    w: &World,
    truth: &Truth,
    config: Config,
    prior: Option<&[f64]>,
    rng: &mut ChaCha8Rng,
) -> Drive {
    let mut e = Engine::new(h.dag(), h.bad, config);
    if let Some(p) = prior {
        e.set_prior(p);
    }
    run_engine(e, h, w, truth, rng)
}

/// `drive_truth` with `docs_only` declared to the engine first.
pub fn drive_declared(
    h: &History,
    w: &World,
    truth: &Truth,
    config: Config,
    docs_only: &[bool],
    rng: &mut ChaCha8Rng,
) -> Drive {
    let mut e = Engine::new(h.dag(), h.bad, config);
    e.set_docs_only(docs_only);
    run_engine(e, h, w, truth, rng)
}

/// Answers the engine's steps from the oracle until it is done.
fn run_engine(mut e: Engine, h: &History, w: &World, truth: &Truth, rng: &mut ChaCha8Rng) -> Drive {
    let mut steps = Vec::new();
    let mut rounds = 0;
    for _ in 0..10_000 {
        let step = e.next();
        steps.push(step.clone());
        if std::env::var("TRACE").is_ok_and(|v| v == "2") {
            let st = e.status();
            eprintln!(
                "    {step:?} top {:?} q {:.3} q_old {:.3} drift {:.3} weak {:?} susp {:?}",
                &st.credible[..st.credible.len().min(3)],
                st.q_estimate,
                st.q_old,
                st.drift,
                st.weak,
                st.suspicious
            );
        }
        match step {
            Step::Build(x) => {
                let out = if truth.builds[x as usize] {
                    let mut s = [0u8; 32];
                    s[..4].copy_from_slice(&truth.signature[x as usize].to_le_bytes());
                    BuildOutcome::Ok { signature: Some(s) }
                } else {
                    BuildOutcome::Failed
                };
                e.record_build(x, out, 390.0);
            }
            Step::Run(alloc) => {
                rounds += 1;
                assert!(!alloc.is_empty());
                let total: u32 = alloc.iter().map(|a| a.1).sum();
                assert!(total <= e.config().vms.max(1), "{alloc:?}");
                for (x, k) in alloc {
                    assert!(e.is_available(x), "run on unbuilt {x}");
                    for _ in 0..k {
                        let out = run_at(w, truth.rate[x as usize], rng);
                        e.record_run(x, out, 522.0);
                    }
                }
            }
            Step::Done(outcome) => {
                return Drive {
                    outcome,
                    steps,
                    builds: e.builds(),
                    runs: e.runs(),
                    rounds,
                }
            }
        }
    }
    let tested: Vec<String> = (0..h.parents.len() as u32)
        .filter(|&x| e.evidence(x).target + e.evidence(x).clean > 0)
        .map(|x| {
            let ev = e.evidence(x);
            format!(
                "{x}:{}/{}@{}",
                ev.target,
                ev.target + ev.clean,
                truth.rate[x as usize]
            )
        })
        .collect();
    panic!("engine did not finish; tested (crashes/runs@rate) {tested:?}");
}

pub fn run_once(w: &World, present: bool, rng: &mut ChaCha8Rng) -> RunOutcome {
    if rng.gen_bool(w.untestable) {
        RunOutcome::Untestable
    } else if rng.gen_bool(w.other) {
        RunOutcome::Failure(OTHER)
    } else if (present && rng.gen_bool(w.q)) || (!present && rng.gen_bool(w.false_target)) {
        RunOutcome::Failure(TARGET)
    } else {
        RunOutcome::Clean
    }
}

/// One run on a commit where a testable run shows the target at `rate`.
pub fn run_at(w: &World, rate: f64, rng: &mut ChaCha8Rng) -> RunOutcome {
    if rng.gen_bool(w.untestable) {
        RunOutcome::Untestable
    } else if rng.gen_bool(w.other) {
        RunOutcome::Failure(OTHER)
    } else if rng.gen_bool(rate) {
        RunOutcome::Failure(TARGET)
    } else {
        RunOutcome::Clean
    }
}

/// A culprit chosen at random among the non-good nodes of a history.
pub fn pick_culprit(h: &History, rng: &mut ChaCha8Rng) -> NodeId {
    loop {
        let c = rng.gen_range(0..h.parents.len() as NodeId);
        if !h.good.contains(&c) {
            return c;
        }
    }
}

/// A culprit that is not a merge, as the bench draws them: a bug comes with
/// a change, and the engine's prior says so (`Config::merge_prior`).
pub fn pick_change(h: &History, rng: &mut ChaCha8Rng) -> NodeId {
    pick_culprit_where(h, rng, |parents| parents < 2)
}

/// A merge culprit (a semantic conflict of its two lines).
pub fn pick_merge(h: &History, rng: &mut ChaCha8Rng) -> NodeId {
    pick_culprit_where(h, rng, |parents| parents > 1)
}

fn pick_culprit_where(h: &History, rng: &mut ChaCha8Rng, keep: impl Fn(usize) -> bool) -> NodeId {
    loop {
        let c = pick_culprit(h, rng);
        if keep(h.parents[c as usize].len()) {
            return c;
        }
    }
}
