//! Several builds at once: which commits to start building on idle
//! builders, and which runs to start on idle VMs, while other builds and
//! runs are still in flight.
//!
//! Builds are picked together, for the information of their joint outcome,
//! not as independent best picks (which would all land near the median).
//! The hypotheses are grouped into cells by the pattern of presence at the
//! commits whose outcome will be known first (the ones being tested or
//! built, the runs started now): on a line with k such commits there are
//! k + 1 cells, on a DAG the ancestor sets give the patterns. A new pick is
//! worth the information its own test adds inside each cell (with the noise
//! of a binary "target seen in r runs" outcome at the learned rate q),
//! discounted by the risk that its build fails; the next pick splits the
//! cells further. While tests run, this makes idle builders build the
//! commits the posterior will most likely want once those tests end
//! (speculative builds): each splits the cells the tests may leave, a
//! wasted one costs only builder time. Runs worth little wait while builds
//! are coming and leave VMs for their first tests; when the free builders
//! end up with nothing worth building, the runs are chosen as if no build
//! were coming.
//!
//! Like the rest of the crate: no I/O, deterministic (ties go to the lower
//! node). The in-flight work is the caller's bookkeeping, passed in.

use crate::bits::Walker;
use crate::dag::NodeId;
use crate::engine::{Engine, MIN_VALUE};
use crate::plan::{best_round, Choice};
use crate::posterior::Posterior;
use crate::probe::{lower_bound, Tables};
use crate::types::{Outcome, Step, StopReason};

/// A pick must promise at least this many bits (after its build risk).
const MIN_PICK: f64 = 0.02;
/// VMs are kept free for builds in flight when the runs they would get now
/// are worth less than this share of the builds' first tests.
const RESERVE_SHARE: f64 = 0.5;
/// A run is started only if it adds this share of the best a run can tell
/// at the estimated q, or of what is left to learn (idle VMs are no reason
/// to spend the run budget).
const RUN_FLOOR: f64 = 0.1;
/// In-flight commits whose outcomes shape the cells, at most (the first
/// ones given).
const MAX_FIXED: usize = 24;

/// Work in flight: commits being built, runs being executed.
#[derive(Debug, Clone, Copy, Default)]
pub struct InFlight<'a> {
    pub building: &'a [NodeId],
    /// (commit, runs) in flight.
    pub testing: &'a [(NodeId, u32)],
}

/// What to start now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Commits to start building, most valuable first.
    pub builds: Vec<NodeId>,
    /// Runs to start on idle VMs (empty: none now).
    pub runs: Vec<(NodeId, u32)>,
    /// The search is over; work still in flight can be abandoned.
    pub done: Option<Outcome>,
}

impl Engine {
    /// Decides what to start on `free_builders` idle builders and
    /// `free_vms` idle VMs, given the work in flight (VMs are independent:
    /// runs may start while others run). An empty batch without `done`
    /// means: wait for the work in flight. With nothing in flight the batch
    /// is never empty.
    pub fn next_batch(&self, free_builders: u32, free_vms: u32, flight: InFlight) -> Batch {
        let mut out = Batch::default();
        let post = self.posterior();
        let idle = flight.building.is_empty() && flight.testing.is_empty();
        let in_flight = flight.building.len() as u32;
        let can_build = self
            .config
            .max_builds
            .is_none_or(|m| self.builds + in_flight < m);
        let mut fixed: Vec<NodeId> = flight
            .testing
            .iter()
            .map(|t| t.0)
            .chain(flight.building.iter().copied())
            .collect();
        let verifying = match self.verify_step() {
            None => false,
            Some(Step::Done(o)) => {
                out.done = Some(o);
                return out;
            }
            Some(Step::Build(b)) => {
                if free_builders > 0 && !flight.building.contains(&b) {
                    out.builds.push(b);
                    fixed.push(b);
                }
                true
            }
            Some(Step::Run(alloc)) => {
                let busy = flight.testing.iter().any(|t| t.0 == self.bad);
                if free_vms > 0 && !busy {
                    out.runs = cap_runs(alloc, free_vms);
                }
                true
            }
        };
        let top = match self.settled(&post) {
            Ok(top) => top,
            Err(o) if !verifying => {
                out.done = Some(*o);
                return out;
            }
            Err(_) => return out,
        };
        let (run_opts, build_opts, stuck) = self.options(&post, top);
        let want = free_builders.saturating_sub(out.builds.len() as u32);
        let vms = self.config.vms.max(1);
        let planned = in_flight + free_builders;
        // Runs a new commit's test needs: enough to see the bug nine times
        // in ten at the estimated q, within its share of the VMs.
        let q = post.q_mean.clamp(1e-3, 1.0 - 1e-9);
        let sure = (0.1f64.ln() / (1.0 - q).ln()).ceil().max(1.0) as u32;
        let per_build = (vms / planned.max(1)).clamp(1, vms).min(sure);
        if !verifying && stuck {
            if idle {
                out.done = Some(self.give_up(&post, top, StopReason::Exhausted));
            }
            return out;
        }
        // While the bad commit is verified, other commits are tested only
        // against a target the user gave: a derived one may still change.
        let test_others = !verifying || self.config.target.is_some();
        let used: u32 = out.runs.iter().map(|r| r.1).sum();
        let max = free_vms.saturating_sub(used).min(self.runs_left());
        let runs = |floor: f64, incoming: u32| {
            let mut opts = after_flight(&run_opts, flight.testing, floor);
            if verifying {
                let bad = self.rep(self.bad);
                opts.retain(|c| self.rep(c.node) != bad);
            }
            self.runs_now(&opts, &build_opts, flight, max, incoming, per_build)
        };
        let incoming = if can_build {
            in_flight + want
        } else {
            in_flight
        };
        // Runs that tell little wait while builds are coming; builds that
        // would tell as little are not started.
        let floor = RUN_FLOOR * capacity(post.q_mean).min(entropy(&post));
        let given = out.runs.len();
        if test_others && max > 0 {
            let floor = if incoming > 0 { floor } else { 0.0 };
            out.runs.extend(runs(floor, incoming));
        }
        let fixed_before = fixed.len();
        fixed.extend(out.runs.iter().map(|r| r.0));
        if want > 0 && can_build && !stuck {
            let mut exclude: Vec<NodeId> = flight.building.to_vec();
            exclude.extend(&out.builds);
            let least = floor.max(MIN_PICK);
            let picks = self.joint_picks(
                &post,
                &build_opts,
                &fixed,
                &exclude,
                Ask {
                    count: want,
                    r: per_build,
                    least,
                },
            );
            out.builds.extend(picks);
        }
        if incoming > 0
            && out.builds.is_empty()
            && flight.building.is_empty()
            && test_others
            && max > 0
        {
            // No build is coming after all: the runs need not leave VMs
            // for one nor clear the floor (seen: a weak unit tested one or
            // two runs a round for a hundred rounds, VMs idle).
            out.runs.truncate(given);
            out.runs.extend(runs(0.0, 0));
            fixed.truncate(fixed_before);
            fixed.extend(out.runs.iter().map(|r| r.0));
        }
        if idle && out.runs.is_empty() && out.builds.is_empty() {
            // Nothing else is going on: whatever runs or builds still tell.
            if test_others && max > 0 {
                out.runs.extend(runs(0.0, 0));
            }
            if out.runs.is_empty() && want > 0 && can_build && !stuck {
                let exclude: Vec<NodeId> = flight.building.to_vec();
                let picks = self.joint_picks(
                    &post,
                    &build_opts,
                    &fixed,
                    &exclude,
                    Ask {
                        count: want,
                        r: per_build,
                        least: MIN_PICK,
                    },
                );
                out.builds.extend(picks);
            }
        }
        if idle && out.builds.is_empty() && out.runs.is_empty() && out.done.is_none() {
            let reason = if can_build || verifying {
                StopReason::Exhausted
            } else {
                StopReason::MaxBuilds
            };
            out.done = Some(self.give_up(&post, top, reason));
        }
        out
    }

    /// Runs to start on up to `max` idle VMs. Runs outlast builds, so VMs
    /// taken now are busy when the `incoming` builds land and want
    /// `per_build` runs each: when not enough VMs would be left for them,
    /// fewer runs start unless the extra ones are worth at least
    /// [`RESERVE_SHARE`] of what the builds in flight promise.
    fn runs_now(
        &self,
        opts: &[Choice],
        build_opts: &[Choice],
        flight: InFlight,
        max: u32,
        incoming: u32,
        per_build: u32,
    ) -> Vec<(NodeId, u32)> {
        let costs = self.costs();
        let full = best_round(opts, costs, max).filter(|r| r.value >= MIN_VALUE);
        let Some(full) = full else {
            return Vec::new();
        };
        let used: u32 = full.alloc.iter().map(|r| r.1).sum();
        let need = incoming * per_build;
        if used + need <= max {
            return full.alloc;
        }
        let awaited: f64 = build_opts
            .iter()
            .filter(|c| flight.building.contains(&c.node))
            .map(|c| c.curve[(per_build as usize).min(c.curve.len() - 1)])
            .fold(0.0, f64::max);
        let kept = best_round(opts, costs, max.saturating_sub(need))
            .filter(|r| r.value >= MIN_VALUE)
            .map_or((Vec::new(), 0.0), |r| (r.alloc, r.value));
        if full.value - kept.1 < RESERVE_SHARE * awaited {
            kept.0
        } else {
            full.alloc
        }
    }

    /// The end when nothing is worth starting: the leader `top` when it
    /// holds the asked confidence (below the stopping line, which keeps a
    /// margin), else inconclusive; as [`Engine::next`] ends.
    fn give_up(&self, post: &Posterior, top: usize, reason: StopReason) -> Outcome {
        Outcome {
            verdict: self.leader(post, top),
            reason,
            status: self.status_of(post),
        }
    }

    /// Up to `count` unbuilt commits from `options` (not in `exclude`)
    /// picked greedily for their joint value with the outcomes of `fixed`,
    /// each worth at least `least` bits.
    /// Each is valued as tested with `r` runs.
    fn joint_picks(
        &self,
        post: &Posterior,
        options: &[Choice],
        fixed: &[NodeId],
        exclude: &[NodeId],
        ask: Ask,
    ) -> Vec<NodeId> {
        let Ask { count, r, least } = ask;
        let dag = &self.dag;
        let lo = lower_bound(post);
        let mut walker = Walker::new(dag.len());
        let mut cells = Cells::new(self, post, lo);
        let mut seen: Vec<NodeId> = Vec::new();
        for &s in fixed {
            if seen.len() >= MAX_FIXED {
                break;
            }
            if !seen.contains(&s) {
                seen.push(s);
                cells.split(self, post, &mut walker, s);
            }
        }
        let q = post.q_mean.clamp(1e-3, 1.0);
        let f = self.config.false_target_rate.clamp(0.0, 0.5);
        let det = 1.0 - (1.0 - q).powi(r as i32);
        let fal = 1.0 - (1.0 - f).powi(r as i32);
        let tables = Tables::new(post, &self.model(), 1);
        let mut pm = vec![0.0; post.classes.len()];
        let mut inside = Vec::new();
        // First pass: every option's build risk and value; options worth
        // less than `least` now are worth less later (cells only shrink).
        let mut pool: Vec<(NodeId, f64, f64)> = Vec::new();
        for c in options {
            let x = c.node;
            // A commit whose first run would tell less than `least` is
            // not built: its runs would never be started either, and each
            // such build, landing untested, was followed by the next one
            // while the runs that mattered waited (seen in kernel mode
            // with two builders: builds walked down history one by one).
            if exclude.contains(&x) || c.curve.len() < 2 || c.curve[1] < least.max(1e-12) {
                continue;
            }
            pm.iter_mut().for_each(|v| *v = 0.0);
            cells.masses_at(post, &mut walker, dag, x, &mut inside, |y| {
                pm[post.class[y as usize] as usize] += post.w[y as usize];
            });
            pm[post.older_class as usize] += post.older;
            let mi = tables.mi(&pm, &post.old_at(self.age(x)), 1);
            let ok = if mi > 1e-12 {
                (c.curve[1] / mi).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let gain = ok * cells.gain(&inside, det, fal);
            if gain >= least {
                pool.push((x, ok, gain));
            }
        }
        let mut picks = Vec::new();
        while (picks.len() as u32) < count {
            if !picks.is_empty() {
                for p in pool.iter_mut() {
                    cells.masses_at(post, &mut walker, dag, p.0, &mut inside, |_| {});
                    p.2 = p.1 * cells.gain(&inside, det, fal);
                }
            }
            let mut best: Option<usize> = None;
            for (i, p) in pool.iter().enumerate() {
                if p.2 >= least && best.is_none_or(|b| p.2 > pool[b].2) {
                    best = Some(i);
                }
            }
            let Some(b) = best else { break };
            let x = pool.remove(b).0;
            picks.push(x);
            cells.split(self, post, &mut walker, x);
        }
        picks
    }
}

/// How many picks `joint_picks` makes, valued with how many runs each, and
/// the least value a pick must have.
#[derive(Debug, Clone, Copy)]
struct Ask {
    count: u32,
    r: u32,
    least: f64,
}

/// Hypotheses grouped by their pattern of presence at the commits split on
/// so far ("older" is present everywhere).
struct Cells {
    lo: NodeId,
    /// Cell of every node at or above `lo` (index y - lo).
    cell: Vec<u32>,
    older: u32,
    mass: Vec<f64>,
    /// Membership of the last walk (stamp == generation).
    stamp: Vec<u32>,
    generation: u32,
}

impl Cells {
    fn new(e: &Engine, post: &Posterior, lo: NodeId) -> Cells {
        let n = e.dag.len();
        let total: f64 = post.w[lo as usize..].iter().sum::<f64>() + post.older;
        Cells {
            lo,
            cell: vec![0; n - lo as usize],
            older: 0,
            mass: vec![total],
            stamp: vec![0; n - lo as usize],
            generation: 0,
        }
    }

    fn mark(&mut self, e: &Engine, walker: &mut Walker, x: NodeId) {
        self.generation += 1;
        let (g, lo) = (self.generation, self.lo);
        let stamp = &mut self.stamp;
        walker.walk(&e.dag, x, lo, |y| stamp[(y - lo) as usize] = g);
    }

    /// Refines every cell by presence at `x`.
    fn split(&mut self, e: &Engine, post: &Posterior, walker: &mut Walker, x: NodeId) {
        self.mark(e, walker, x);
        let mut map = vec![[u32::MAX; 2]; self.mass.len()];
        let mut mass: Vec<f64> = Vec::new();
        let mut id = |c: u32, inside: bool, w: f64, mass: &mut Vec<f64>| {
            let slot = &mut map[c as usize][inside as usize];
            if *slot == u32::MAX {
                *slot = mass.len() as u32;
                mass.push(0.0);
            }
            mass[*slot as usize] += w;
            *slot
        };
        for (i, c) in self.cell.iter_mut().enumerate() {
            let y = self.lo as usize + i;
            if e.dag.is_good(y as NodeId) {
                continue;
            }
            *c = id(*c, self.stamp[i] == self.generation, post.w[y], &mut mass);
        }
        self.older = id(self.older, true, post.older, &mut mass);
        self.mass = mass;
    }

    /// Mass of every cell present at `x` into `inside`; `visit` sees every
    /// node walked.
    fn masses_at(
        &mut self,
        post: &Posterior,
        walker: &mut Walker,
        dag: &crate::dag::Dag,
        x: NodeId,
        inside: &mut Vec<f64>,
        mut visit: impl FnMut(NodeId),
    ) {
        inside.clear();
        inside.resize(self.mass.len(), 0.0);
        let (lo, cell) = (self.lo, &self.cell);
        walker.walk(dag, x, lo, |y| {
            inside[cell[(y - lo) as usize] as usize] += post.w[y as usize];
            visit(y);
        });
        inside[self.older as usize] += post.older;
    }

    /// Expected information (bits) of a binary test, inside every cell,
    /// that shows with probability `det` where the bug is present and `fal`
    /// where it is not.
    fn gain(&self, inside: &[f64], det: f64, fal: f64) -> f64 {
        let (hd, hf) = (h2(det), h2(fal));
        self.mass
            .iter()
            .zip(inside)
            .filter(|(&m, _)| m > 1e-15)
            .map(|(&m, &a)| {
                let p = (a / m).clamp(0.0, 1.0);
                m * (h2(p * det + (1.0 - p) * fal) - p * hd - (1.0 - p) * hf).max(0.0)
            })
            .sum()
    }
}

/// Binary entropy in bits.
fn h2(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        return 0.0;
    }
    -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
}

/// Run options with the runs in flight taken as done: the value of r more
/// runs on a commit with k in flight is curve[k + r] - curve[k]. Each curve
/// ends before the first run that adds less than `floor` bits.
fn after_flight(opts: &[Choice], testing: &[(NodeId, u32)], floor: f64) -> Vec<Choice> {
    opts.iter()
        .filter_map(|c| {
            let k = testing
                .iter()
                .filter(|t| t.0 == c.node)
                .map(|t| t.1 as usize)
                .sum::<usize>()
                .min(c.curve.len() - 1);
            let mut curve = vec![0.0];
            for w in c.curve[k..].windows(2) {
                if w[1] - w[0] < floor {
                    break;
                }
                curve.push(w[1] - c.curve[k]);
            }
            (curve.len() > 1).then_some(Choice {
                node: c.node,
                curve,
            })
        })
        .collect()
}

/// Entropy (bits) of the posterior over the culprit.
fn entropy(post: &Posterior) -> f64 {
    let h = |w: f64| if w > 0.0 { -w * w.log2() } else { 0.0 };
    post.w.iter().map(|&w| h(w)).sum::<f64>() + h(post.older)
}

/// Information (bits) of one run at reproduction rate q, at best: the
/// capacity of the one-sided channel.
fn capacity(q: f64) -> f64 {
    let q = q.clamp(1e-6, 1.0);
    (1.0 + q * (1.0 - q).powf((1.0 - q) / q)).log2()
}

/// The first `vms` runs of a round.
fn cap_runs(alloc: Vec<(NodeId, u32)>, vms: u32) -> Vec<(NodeId, u32)> {
    let mut left = vms;
    let mut out = Vec::new();
    for (x, k) in alloc {
        let k = k.min(left);
        if k > 0 {
            out.push((x, k));
            left -= k;
        }
    }
    out
}

#[cfg(test)]
mod tests;
