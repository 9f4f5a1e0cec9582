//! The engine: bookkeeping of builds, runs and test units, and the decision
//! loop that turns the posterior into the next step.

use crate::bits::{ancestors, Bits, Children};
use crate::dag::{Dag, NodeId};
use crate::math::moment_beta;
use crate::plan::{best_build, best_round, Costs};
use crate::posterior::{Model, Posterior, TestedUnit};
use crate::rates::{Age, RateModel, AXES};
use crate::regions::RegionModel;
use crate::reverts::RevertRuns;
use crate::types::{
    BuildOutcome, Config, Evidence, Hypothesis, Outcome, RunOutcome, Signature, Status, Step,
    StopReason, Verdict,
};
use crate::Identity;
use std::collections::BTreeMap;

/// Likelihood factor for a hypothesis under which one binary (one test unit)
/// would be both buggy and clean.
const PENALTY: f64 = 1e-6;
/// The engine stops when the top hypothesis leaves at most this fraction of
/// the allowed error (1 - confidence) to the others.
const STOP_MARGIN: f64 = 0.5;
/// How much of the margin a certain change of rate takes away.
const DRIFT_MARGIN: f64 = 0.8;
/// Below this many bits a step is not worth taking.
pub(crate) const MIN_VALUE: f64 = 1e-4;
/// Cost of one run, as a fraction of a round's wall time.
const RUN_CHARGE: f64 = 0.5;
/// Build cost in run durations before anything was measured.
const DEFAULT_BUILD_RUNS: f64 = 10.0;
/// When reaching the stopping confidence would take more runs than this at
/// the information per run the best round offers, the engine stops with
/// the posterior it has (a weak reproducer on old code can make every
/// further run worth almost nothing).
const MAX_SETTLE_RUNS: f64 = 400.0;

/// Runs physically made on one node, by outcome (identities kept, so that
/// they can be re-classified when the target changes).
#[derive(Debug, Clone, Default)]
struct NodeRuns {
    failures: Vec<(Identity, u32)>,
    clean: u32,
    untestable: u32,
}

/// The engine. See the crate docs.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) dag: Dag,
    pub(crate) children: Children,
    pub(crate) bad: NodeId,
    /// See [`Engine::shows`].
    shows: NodeId,
    pub(crate) config: Config,
    pub(crate) evidence: Vec<Evidence>,
    runs_of: Vec<NodeRuns>,
    pub(crate) available: Vec<bool>,
    /// First node of the test unit of each built node.
    pub(crate) unit_of: Vec<Option<NodeId>>,
    pub(crate) members: BTreeMap<NodeId, Vec<NodeId>>,
    pub(crate) by_signature: BTreeMap<Signature, NodeId>,
    /// Candidate ancestors of every built (or failed) node.
    pub(crate) anc: BTreeMap<NodeId, Bits>,
    pub(crate) bad_failures: Vec<(Identity, u32)>,
    pub(crate) target: Option<Identity>,
    pub(crate) builds: u32,
    pub(crate) runs: u32,
    pub(crate) build_secs: (f64, u32),
    pub(crate) run_secs: (f64, u32),
    /// Relative prior weight of each commit being the culprit (the
    /// caller's weights times `Config::merge_prior` on merges and
    /// `Config::docs_prior` on docs-only commits; see `prior`); None:
    /// uniform.
    prior: Option<Vec<f64>>,
    /// The caller's weights (`set_prior`), kept to recompute `prior`.
    weights: Option<Vec<f64>>,
    /// The commit whose age each node takes: itself, or for a docs-only
    /// commit the nearest first-parent ancestor that changes the binary
    /// (it runs that commit's binary, old or new as that one is). A node
    /// is docs-only exactly when this is not itself.
    aged_as: Vec<NodeId>,
    /// Generation number of every node (longest path from a root): depth,
    /// one of the two axes of age a change of reproduction rate is placed
    /// on (the other is the node's position in the topological order).
    generation: Vec<u32>,
    /// Extent of the range on every axis of age: generations, and nodes
    /// (the DAG's nodes are in topological order, parents first).
    span: Age,
    /// Runs on reverts of candidates, by candidate (see `reverts`).
    pub(crate) reverts: BTreeMap<NodeId, RevertRuns>,
}

impl Engine {
    pub fn new(dag: Dag, bad: NodeId, config: Config) -> Engine {
        let n = dag.len();
        let target = config.target;
        let shows = if config.fix {
            (0..n as NodeId).find(|&g| dag.is_good(g)).unwrap_or(bad)
        } else {
            bad
        };
        let mut generation = vec![0u32; n];
        for x in 0..n {
            generation[x] = dag
                .parents(x as NodeId)
                .iter()
                .map(|&p| generation[p as usize] + 1)
                .max()
                .unwrap_or(0);
        }
        let span = [
            generation.iter().copied().max().unwrap_or(0) as f64 + 1.0,
            n as f64,
        ];
        let mut e = Engine {
            shows,
            generation,
            span,
            children: Children::new(&dag),
            dag,
            bad,
            config,
            evidence: vec![Evidence::default(); n],
            runs_of: vec![NodeRuns::default(); n],
            available: vec![false; n],
            unit_of: vec![None; n],
            members: BTreeMap::new(),
            by_signature: BTreeMap::new(),
            anc: BTreeMap::new(),
            bad_failures: Vec::new(),
            target,
            builds: 0,
            runs: 0,
            build_secs: (0.0, 0),
            run_secs: (0.0, 0),
            prior: None,
            weights: None,
            aged_as: (0..n as NodeId).collect(),
            reverts: BTreeMap::new(),
        };
        e.reweigh();
        e
    }

    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    pub fn bad(&self) -> NodeId {
        self.bad
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Evidence of `n`. Nodes of one test unit share their counts.
    pub fn evidence(&self, n: NodeId) -> &Evidence {
        &self.evidence[n as usize]
    }

    /// The target identity: fixed by the config, or the most frequent failure
    /// on the bad commit (earliest seen wins ties).
    pub fn target(&self) -> Option<Identity> {
        self.target
    }

    pub fn builds(&self) -> u32 {
        self.builds
    }

    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// Runs the budget still allows (`u32::MAX` without a budget).
    pub(crate) fn runs_left(&self) -> u32 {
        self.config
            .max_runs
            .map_or(u32::MAX, |m| m.saturating_sub(self.runs))
    }

    pub fn is_available(&self, n: NodeId) -> bool {
        self.available[n as usize]
    }

    /// The build product of `n` is gone; running it again needs a rebuild.
    pub fn forget_build(&mut self, n: NodeId) {
        self.available[n as usize] = false;
    }

    pub fn record_build(&mut self, n: NodeId, outcome: BuildOutcome, secs: f64) {
        self.builds += 1;
        if secs > 0.0 {
            self.build_secs.0 += secs;
            self.build_secs.1 += 1;
        }
        let i = n as usize;
        if !self.anc.contains_key(&n) {
            self.anc.insert(n, ancestors(&self.dag, n));
        }
        match outcome {
            BuildOutcome::Failed => {
                self.evidence[i].built = Some(false);
                self.available[i] = false;
            }
            BuildOutcome::Ok { signature } => {
                self.evidence[i].built = Some(true);
                if self.evidence[i].signature.is_none() {
                    self.evidence[i].signature = signature;
                }
                self.available[i] = true;
                let fresh = match self.unit_of[i] {
                    None => true,
                    // A node run before its build was recorded may still join.
                    Some(r) => r == n && self.members[&n].len() == 1 && self.unit_runs(n) == 0,
                };
                if fresh {
                    self.join_unit(n, signature);
                }
                self.refresh_unit(self.rep(n));
            }
        }
    }

    fn join_unit(&mut self, n: NodeId, signature: Option<Signature>) {
        let first = signature
            .and_then(|s| self.by_signature.get(&s).copied())
            .filter(|&r| r != n);
        match first {
            Some(r) => {
                self.members.remove(&n);
                self.unit_of[n as usize] = Some(r);
                self.members.entry(r).or_default().push(n);
                self.evidence[n as usize].same_as = Some(r);
            }
            None => {
                self.unit_of[n as usize] = Some(n);
                self.members.insert(n, vec![n]);
                if let Some(s) = signature {
                    self.by_signature.entry(s).or_insert(n);
                }
            }
        }
    }

    pub fn record_run(&mut self, n: NodeId, outcome: RunOutcome, secs: f64) {
        self.runs += 1;
        if secs > 0.0 {
            self.run_secs.0 += secs;
            self.run_secs.1 += 1;
        }
        if self.unit_of[n as usize].is_none() {
            // Runs without a recorded build: the node is its own unit.
            self.unit_of[n as usize] = Some(n);
            self.members.insert(n, vec![n]);
            if !self.anc.contains_key(&n) {
                self.anc.insert(n, ancestors(&self.dag, n));
            }
        }
        let rep = self.rep(n);
        let r = &mut self.runs_of[n as usize];
        match outcome {
            RunOutcome::Clean => r.clean += 1,
            RunOutcome::Untestable => r.untestable += 1,
            RunOutcome::Failure(id) => {
                bump(&mut r.failures, id);
                if rep == self.rep(self.shows()) {
                    bump(&mut self.bad_failures, id);
                }
            }
        }
        let target = self.config.target.or_else(|| {
            let mut best: Option<(Identity, u32)> = None;
            for &(id, c) in &self.bad_failures {
                if best.is_none_or(|(_, bc)| c > bc) {
                    best = Some((id, c));
                }
            }
            best.map(|(id, _)| id)
        });
        if target != self.target {
            self.target = target;
            let reps: Vec<NodeId> = self.members.keys().copied().collect();
            for r in reps {
                self.refresh_unit(r);
            }
        } else {
            self.refresh_unit(rep);
        }
    }

    /// The node where the bug is known to show: bad, or in a fix bisection
    /// the first good node (the old end).
    pub fn shows(&self) -> NodeId {
        self.shows
    }

    pub(crate) fn rep(&self, n: NodeId) -> NodeId {
        self.unit_of[n as usize].unwrap_or(n)
    }

    pub(crate) fn unit_members(&self, rep: NodeId) -> &[NodeId] {
        self.members.get(&rep).map_or(&[][..], |v| v.as_slice())
    }

    pub(crate) fn unit_runs(&self, rep: NodeId) -> u32 {
        let e = &self.evidence[rep as usize];
        e.target + e.other + e.clean + e.untestable
    }

    /// Re-derives the shared counts of a unit from its members' runs.
    fn refresh_unit(&mut self, rep: NodeId) {
        let (mut t, mut o, mut c, mut u) = (0, 0, 0, 0);
        for &m in self.unit_members(rep) {
            let r = &self.runs_of[m as usize];
            for &(id, k) in &r.failures {
                if Some(id) == self.target {
                    t += k;
                } else {
                    o += k;
                }
            }
            c += r.clean;
            u += r.untestable;
        }
        for m in self.members.get(&rep).cloned().unwrap_or_default() {
            let e = &mut self.evidence[m as usize];
            (e.target, e.other, e.clean, e.untestable) = (t, o, c, u);
        }
    }

    pub(crate) fn model(&self) -> Model {
        Model {
            rates: RateModel {
                a: self.config.q_prior.0,
                b: self.config.q_prior.1,
                drift: self.config.drift_prior,
                lo: self.config.q_old_prior,
                span: self.span,
            },
            regions: RegionModel {
                prior: self.config.region_prior,
                length: self.config.region_length,
                rate: self.config.region_rate,
                background: self.config.background_prior,
            },
            f: self.config.false_target_rate,
            older_prior: self.config.older_prior,
            ln_penalty: PENALTY.ln(),
            fix: self.config.fix,
        }
    }

    /// Age of a node for the rate model (see `rates`): its depth and its
    /// position, counted from the end where the rate is learned (the bad
    /// commit's side in a cause bisection, the old end's in a fix
    /// bisection), so that "the far side of a change" is always away from
    /// where q was measured.
    pub(crate) fn age(&self, x: NodeId) -> Age {
        let x = self.aged_as[x as usize];
        let at = [self.generation[x as usize] as f64, x as f64];
        if self.config.fix {
            [self.span[0] - at[0], self.span[1] - at[1]]
        } else {
            at
        }
    }

    pub(crate) fn posterior(&self) -> Posterior {
        let units: Vec<TestedUnit> = self
            .members
            .iter()
            .filter_map(|(&rep, mem)| {
                let e = &self.evidence[rep as usize];
                (e.target + e.clean > 0 || mem.len() > 1).then(|| TestedUnit {
                    members: mem.iter().map(|m| &self.anc[m]).collect(),
                    k: e.target,
                    m: e.clean,
                    ages: mem.iter().fold(
                        ([f64::INFINITY; AXES], [f64::NEG_INFINITY; AXES]),
                        |(mut lo, mut hi), &x| {
                            let a = self.age(x);
                            for ax in 0..AXES {
                                lo[ax] = lo[ax].min(a[ax]);
                                hi[ax] = hi[ax].max(a[ax]);
                            }
                            (lo, hi)
                        },
                    ),
                })
            })
            .collect();
        Posterior::compute(
            self.dag.good_flags(),
            &units,
            &self.model(),
            self.prior.as_deref(),
            &self.revert_shift(),
        )
    }

    /// What the engine knows now.
    pub fn status(&self) -> Status {
        self.status_of(&self.posterior())
    }

    pub(crate) fn status_of(&self, post: &Posterior) -> Status {
        let n = self.dag.len();
        let mut all: Vec<(f64, usize)> = (0..n)
            .filter(|&i| !self.dag.is_good(i as NodeId) && post.w[i] > 0.0)
            .map(|i| (post.w[i], i))
            .collect();
        if post.older > 0.0 {
            all.push((post.older, n));
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut credible = Vec::new();
        let mut cum = 0.0;
        for (w, i) in all {
            let h = if i == n {
                Hypothesis::Older
            } else {
                Hypothesis::Commit(i as NodeId)
            };
            credible.push((h, w));
            cum += w;
            if cum >= self.config.confidence {
                break;
            }
        }
        let (suspicious, weak) = self.doubts(post);
        Status {
            credible,
            q_estimate: post.q_mean,
            q_beta: moment_beta(post.q_mean, post.q_mean2),
            q_old: post.q_old,
            drift: post.drift,
            region: post.region,
            background: post.background,
            suspicious,
            weak,
            target: self.target,
            builds: self.builds,
            runs: self.runs,
        }
    }

    /// Mean measured costs, with defaults in run durations before any.
    pub(crate) fn costs(&self) -> Costs {
        let mean = |(s, c): (f64, u32)| (c > 0).then(|| s / c as f64);
        let (round, build) = match (mean(self.run_secs), mean(self.build_secs)) {
            (Some(r), Some(b)) => (r, b),
            (Some(r), None) => (r, r * DEFAULT_BUILD_RUNS),
            (None, Some(b)) => (b / DEFAULT_BUILD_RUNS, b),
            (None, None) => (1.0, DEFAULT_BUILD_RUNS),
        };
        Costs {
            build,
            round,
            run: round * RUN_CHARGE,
        }
    }

    /// Decides the next step.
    pub fn next(&self) -> Step {
        if let Some(step) = self.verify_step() {
            return step;
        }
        let post = self.posterior();
        let done = |verdict, reason| {
            Step::Done(Outcome {
                verdict,
                reason,
                status: self.status_of(&post),
            })
        };
        let best = match self.settled(&post) {
            Ok(top) => top,
            Err(o) => return Step::Done(*o),
        };
        let runs_left = self.runs_left();
        let can_build = self.config.max_builds.is_none_or(|m| self.builds < m);
        let (run_opts, build_opts, stuck) = self.options(&post, best);
        if stuck {
            return done(Verdict::Inconclusive, StopReason::Exhausted);
        }
        let costs = self.costs();
        let round = best_round(&run_opts, costs, self.config.vms.max(1).min(runs_left));
        let build = best_build(&build_opts, costs);
        let round = round.filter(|r| r.value >= MIN_VALUE);
        let build = build.filter(|b| b.value >= MIN_VALUE);
        // Without a way to settle, the leader is still the answer when it
        // holds the asked confidence, reported with its true posterior.
        let leader = self.leader(&post, best);
        if let Some(r) = &round {
            let builds_help = can_build && build.as_ref().is_some_and(|b| b.rate > r.rate);
            if !builds_help && self.settle_runs(&post, best, r) > MAX_SETTLE_RUNS {
                // A build would have helped but the budget is spent.
                let reason = if !can_build && build.is_some() {
                    StopReason::MaxBuilds
                } else {
                    StopReason::Exhausted
                };
                return done(leader, reason);
            }
        }
        match (round, build) {
            (Some(r), Some(b)) if can_build && b.rate > r.rate => Step::Build(b.node),
            (Some(r), _) => Step::Run(r.alloc),
            (None, Some(b)) if can_build => Step::Build(b.node),
            (None, Some(_)) => done(leader, StopReason::MaxBuilds),
            (None, None) => done(leader, StopReason::Exhausted),
        }
    }

    /// The top hypothesis (index n: older), or the outcome when the search
    /// is over: confident, or out of runs.
    pub(crate) fn settled(&self, post: &Posterior) -> Result<usize, Box<Outcome>> {
        let done = |verdict, reason| {
            Box::new(Outcome {
                verdict,
                reason,
                status: self.status_of(post),
            })
        };
        let n = self.dag.len();
        let mut best = (post.older, n);
        for (i, &w) in post.w.iter().enumerate() {
            if w > best.0 || (w == best.0 && i < best.1) {
                best = (w, i);
            }
        }
        let stop_at = self.stop_at(post);
        if best.0 >= stop_at {
            let v = if best.1 == n {
                Verdict::Older
            } else {
                Verdict::Culprit(best.1 as NodeId)
            };
            return Err(done(v, StopReason::Confident));
        }
        if self.runs_left() == 0 {
            return Err(done(Verdict::Inconclusive, StopReason::MaxRuns));
        }
        Ok(best.1)
    }

    /// Whether `h` holds the posterior mass at which the search stops.
    pub fn settles(&self, h: Hypothesis) -> bool {
        let post = self.posterior();
        let mass = match h {
            Hypothesis::Commit(c) => post.w.get(c as usize).copied().unwrap_or(0.0),
            Hypothesis::Older => post.older,
        };
        mass >= self.stop_at(&post)
    }

    /// The posterior mass at which the search stops. Stopping the moment
    /// the posterior crosses the asked confidence favours runs of luck when
    /// the true rate is far from the prior's, so a margin keeps confident
    /// answers right at the stated rate; when the rate seems to change
    /// along history the two-rate model is a simplification of a rate that
    /// may fall gradually or at several points, and the margin grows with
    /// the belief in the change, or in a false-target region or a
    /// background (other readings of the same counts, see `regions`).
    pub(crate) fn stop_at(&self, post: &Posterior) -> f64 {
        let drift = post
            .drift
            .max(post.region)
            .max(post.background)
            .clamp(0.0, 1.0);
        let margin = STOP_MARGIN * (1.0 - DRIFT_MARGIN * drift);
        1.0 - (1.0 - self.config.confidence) * margin
    }
}

fn bump(list: &mut Vec<(Identity, u32)>, id: Identity) {
    match list.iter_mut().find(|(i, _)| *i == id) {
        Some((_, c)) => *c += 1,
        None => list.push((id, 1)),
    }
}

mod prior;
#[cfg(test)]
mod tests;
