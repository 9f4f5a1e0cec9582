//! The engine's public face: configuration, observations, decisions.
//!
//! PLACEHOLDER IMPLEMENTATION: the types are the contract; the internals are
//! a naive stand-in until the real posterior/probe selection lands.

use crate::dag::{Dag, NodeId};
use crate::Identity;
use serde::{Deserialize, Serialize};

/// Signature of a build product: equal signatures mean the same binary.
pub type Signature = [u8; 32];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Stop when one hypothesis holds this posterior mass.
    pub confidence: f64,
    /// Runs that can execute at once (one test round).
    pub vms: u32,
    /// Probability that a run on a commit without the bug shows the target.
    pub false_target_rate: f64,
    /// Beta prior (alpha, beta) on the reproduction rate q.
    pub q_prior: (f64, f64),
    /// Prior mass on "the bug is older than every good commit".
    pub older_prior: f64,
    pub max_builds: Option<u32>,
    pub max_runs: Option<u32>,
    /// Runs on the bad commit without any failure before giving up.
    pub verify_runs: u32,
    /// The target identity, if the user fixed it; otherwise the most frequent
    /// failure identity on the bad commit.
    pub target: Option<Identity>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            confidence: 0.99,
            vms: 1,
            false_target_rate: 0.005,
            q_prior: (1.0, 1.0),
            older_prior: 0.01,
            max_builds: None,
            max_runs: None,
            verify_runs: 20,
            target: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunOutcome {
    /// The test passed.
    Clean,
    /// The test failed with this identity (target or other crash).
    Failure(Identity),
    /// The run could not test anything (boot failure, infrastructure, timeout).
    Untestable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BuildOutcome {
    Ok { signature: Option<Signature> },
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Build this commit next.
    Build(NodeId),
    /// Run these (built) commits this many times each, all in one round.
    Run(Vec<(NodeId, u32)>),
    /// Nothing more to do.
    Done(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Hypothesis {
    /// This commit introduced the bug.
    Commit(NodeId),
    /// The bug is older than every good commit.
    Older,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// One hypothesis reached the configured confidence.
    Confident,
    /// The build budget ran out.
    MaxBuilds,
    /// The run budget ran out.
    MaxRuns,
    /// No commit left whose testing could change what we know (for example
    /// everything near the answer fails to build).
    Exhausted,
    /// The bad commit never showed a failure in `verify_runs` runs.
    NotReproduced,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Verdict {
    Culprit(NodeId),
    Older,
    /// No hypothesis reached the confidence; see the credible set.
    Inconclusive,
    /// The bug did not reproduce on the bad commit.
    NotReproduced,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: StopReason,
    pub status: Status,
}

/// What the engine knows now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The smallest set of hypotheses holding `confidence` mass, most likely
    /// first, with their masses.
    pub credible: Vec<(Hypothesis, f64)>,
    /// Posterior mean of the reproduction rate.
    pub q_estimate: f64,
    /// The target identity, once known.
    pub target: Option<Identity>,
    pub builds: u32,
    pub runs: u32,
}

/// Everything observed on one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// None: not built; Some(true): built; Some(false): build failed.
    pub built: Option<bool>,
    pub signature: Option<Signature>,
    /// Node whose evidence this node shares because their signatures are equal.
    pub same_as: Option<NodeId>,
    pub target: u32,
    pub other: u32,
    pub clean: u32,
    pub untestable: u32,
}

/// The engine. See the crate docs.
#[derive(Debug, Clone)]
pub struct Engine {
    dag: Dag,
    bad: NodeId,
    config: Config,
    evidence: Vec<Evidence>,
    failures_on_bad: Vec<(Identity, u32)>,
    available: Vec<bool>,
    build_secs: Vec<f64>,
    run_secs: Vec<f64>,
}

impl Engine {
    pub fn new(dag: Dag, bad: NodeId, config: Config) -> Engine {
        let n = dag.len();
        Engine {
            dag,
            bad,
            config,
            evidence: vec![Evidence::default(); n],
            failures_on_bad: Vec::new(),
            available: vec![false; n],
            build_secs: Vec::new(),
            run_secs: Vec::new(),
        }
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

    pub fn evidence(&self, n: NodeId) -> &Evidence {
        &self.evidence[n as usize]
    }

    /// The target identity: fixed by the config, or the most frequent failure
    /// on the bad commit (earliest seen wins ties).
    pub fn target(&self) -> Option<Identity> {
        self.config.target.or_else(|| {
            let mut best: Option<(Identity, u32)> = None;
            for &(id, c) in &self.failures_on_bad {
                if best.is_none_or(|(_, bc)| c > bc) {
                    best = Some((id, c));
                }
            }
            best.map(|(id, _)| id)
        })
    }

    pub fn record_build(&mut self, n: NodeId, outcome: BuildOutcome, secs: f64) {
        self.build_secs.push(secs);
        let e = &mut self.evidence[n as usize];
        match outcome {
            BuildOutcome::Ok { signature } => {
                e.built = Some(true);
                e.signature = signature;
                self.available[n as usize] = true;
            }
            BuildOutcome::Failed => e.built = Some(false),
        }
    }

    /// The build product of `n` is gone; running it again needs a rebuild.
    pub fn forget_build(&mut self, n: NodeId) {
        self.available[n as usize] = false;
    }

    pub fn is_available(&self, n: NodeId) -> bool {
        self.available[n as usize]
    }

    pub fn record_run(&mut self, n: NodeId, outcome: RunOutcome, secs: f64) {
        self.run_secs.push(secs);
        if n == self.bad {
            if let RunOutcome::Failure(id) = outcome {
                match self.failures_on_bad.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, c)) => *c += 1,
                    None => self.failures_on_bad.push((id, 1)),
                }
            }
        }
        let target = self.target();
        let e = &mut self.evidence[n as usize];
        match outcome {
            RunOutcome::Clean => e.clean += 1,
            RunOutcome::Untestable => e.untestable += 1,
            RunOutcome::Failure(id) if Some(id) == target => e.target += 1,
            RunOutcome::Failure(_) => e.other += 1,
        }
    }

    pub fn builds(&self) -> u32 {
        self.build_secs.len() as u32
    }

    pub fn runs(&self) -> u32 {
        self.run_secs.len() as u32
    }

    /// Naive stand-in: state of a commit decided by one run.
    fn present(&self, n: NodeId) -> Option<bool> {
        let e = &self.evidence[n as usize];
        if e.target > 0 {
            Some(true)
        } else if e.clean > 0 {
            Some(false)
        } else {
            None
        }
    }

    fn ancestors(&self, n: NodeId) -> Vec<bool> {
        let mut seen = vec![false; self.dag.len()];
        let mut stack = vec![n];
        seen[n as usize] = true;
        while let Some(x) = stack.pop() {
            for &p in self.dag.parents(x) {
                if !seen[p as usize] {
                    seen[p as usize] = true;
                    stack.push(p);
                }
            }
        }
        seen
    }

    fn consistent(&self) -> Vec<Hypothesis> {
        let n = self.dag.len();
        let mut alive: Vec<bool> = (0..n).map(|i| !self.dag.is_good(i as NodeId)).collect();
        let mut older = true;
        for x in 0..n as NodeId {
            let Some(p) = self.present(x) else { continue };
            if self.dag.is_good(x) {
                older &= p;
                continue;
            }
            older &= p;
            let anc = self.ancestors(x);
            for h in 0..n {
                if alive[h] && anc[h] != p {
                    alive[h] = false;
                }
            }
        }
        let mut v: Vec<Hypothesis> = (0..n)
            .filter(|&h| alive[h])
            .map(|h| Hypothesis::Commit(h as NodeId))
            .collect();
        if older {
            v.push(Hypothesis::Older);
        }
        v
    }

    pub fn status(&self) -> Status {
        let alive = self.consistent();
        let m = 1.0 / alive.len().max(1) as f64;
        Status {
            credible: alive.into_iter().map(|h| (h, m)).collect(),
            q_estimate: 1.0,
            target: self.target(),
            builds: self.builds(),
            runs: self.runs(),
        }
    }

    pub fn next(&self) -> Step {
        let status = self.status();
        let done = |verdict, reason| {
            Step::Done(Outcome {
                verdict,
                reason,
                status: status.clone(),
            })
        };
        let bad = &self.evidence[self.bad as usize];
        if bad.target == 0 {
            if bad.clean + bad.other + bad.untestable >= self.config.verify_runs {
                return done(Verdict::NotReproduced, StopReason::NotReproduced);
            }
            return if self.available[self.bad as usize] {
                Step::Run(vec![(self.bad, 1)])
            } else {
                Step::Build(self.bad)
            };
        }
        if status.credible.len() == 1 {
            let v = match status.credible[0].0 {
                Hypothesis::Commit(c) => Verdict::Culprit(c),
                Hypothesis::Older => Verdict::Older,
            };
            return done(v, StopReason::Confident);
        }
        // Midpoint among untested, buildable nodes.
        let total = status.credible.len() as f64;
        let mut best: Option<(f64, NodeId)> = None;
        for x in 0..self.dag.len() as NodeId {
            let e = &self.evidence[x as usize];
            if e.built == Some(false) || self.present(x).is_some() {
                continue;
            }
            let anc = self.ancestors(x);
            let below = status
                .credible
                .iter()
                .filter(|(h, _)| match h {
                    Hypothesis::Commit(c) => anc[*c as usize],
                    Hypothesis::Older => true,
                })
                .count() as f64;
            let score = (below / total - 0.5).abs();
            if below > 0.0 && below < total && best.is_none_or(|(s, _)| score < s) {
                best = Some((score, x));
            }
        }
        match best {
            None => done(Verdict::Inconclusive, StopReason::Exhausted),
            Some((_, x)) if self.available[x as usize] => Step::Run(vec![(x, 1)]),
            Some((_, x)) => Step::Build(x),
        }
    }
}
