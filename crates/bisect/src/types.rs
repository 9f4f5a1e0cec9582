//! The engine's vocabulary: configuration, observations, decisions, status.

use crate::dag::NodeId;
use crate::Identity;

/// Signature of a build product: equal signatures mean the same binary.
pub type Signature = [u8; 32];

#[derive(Debug, Clone)]
pub struct Config {
    /// Stop when one hypothesis holds this posterior mass.
    pub confidence: f64,
    /// Runs that can execute at once (one test round).
    pub vms: u32,
    /// Probability that a run on a commit without the bug shows the target.
    pub false_target_rate: f64,
    /// Beta prior (alpha, beta) on the reproduction rate q. The default is
    /// Jeffreys' (0.5, 0.5): it keeps mass near 1 (reliable reproducers
    /// decide with few runs) and near 0 (flaky ones do not make a few clean
    /// runs look conclusive).
    pub q_prior: (f64, f64),
    /// Prior mass on "the bug is older than every good commit".
    pub older_prior: f64,
    /// Prior probability that the reproduction rate changes somewhere in
    /// the range (the reproducer fires less on older code; see `rates`).
    pub drift_prior: f64,
    /// Beta prior (alpha, beta) of the rate on the far side of a change.
    pub q_old_prior: (f64, f64),
    /// Relative prior weight of a merge commit as the culprit (other
    /// commits weigh 1). A merge rarely brings a bug of its own: the bug
    /// came with one of its parents' lines, and where a search reaches a
    /// merge whose tested parents were clean by luck (a reproducer firing
    /// less on older code), an equal prior lets it be named confidently.
    pub merge_prior: f64,
    /// Relative prior weight, as the culprit, of a commit the caller
    /// declared docs-only (`Engine::set_docs_only`): its change cannot
    /// reach the binary, so it cannot bring a crash unless the caller's
    /// rule is wrong for this bug.
    pub docs_prior: f64,
    /// Prior probability that commits just below the culprit show the
    /// target from an older bug with the same title (see `regions`).
    pub region_prior: f64,
    /// Mean extent of such a region, in commits.
    pub region_length: f64,
    /// The highest rate at which such a region shows the target.
    pub region_rate: f64,
    /// Prior probability that the target shows, at a rate up to
    /// `region_rate`, on commits without the bug anywhere in the range: a
    /// generic title, or a second cause not tied to one stretch of
    /// history (see `regions`).
    pub background_prior: f64,
    /// Probability that reverting the culprit on the bad commit leaves the
    /// crash there all the same: another commit brings it too, or a later
    /// commit depends on the culprit's change and keeps it alive (in a fix
    /// bisection: reverting the fix leaves the bug fixed, by another
    /// commit too; see `reverts`). It bounds what one such revert can say
    /// against its commit.
    pub revert_keeps: f64,
    /// Runs on one test unit after which it is not tested any more (a
    /// reproducer too weak there to tell its state in that many runs
    /// leaves it to the others).
    pub max_unit_runs: u32,
    pub max_builds: Option<u32>,
    pub max_runs: Option<u32>,
    /// Runs on the bad commit without any failure before giving up.
    pub verify_runs: u32,
    /// The target identity, if the user fixed it; otherwise the most frequent
    /// failure identity on the bad commit.
    pub target: Option<Identity>,
    /// Fix bisection: the bug shows on the good nodes (the old ends) and the
    /// culprit is the first commit where it no longer does; `bad` is the
    /// new end, where it is gone. The roles of the two sides swap: the
    /// culprit's descendants-or-self show the target at the small rate f,
    /// every other commit at the learned q. `Hypothesis::Older` then means
    /// "not fixed even at bad" (the bug is present everywhere), and the
    /// target is learned, and reproduction checked, on the first good node.
    pub fix: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            confidence: 0.99,
            vms: 1,
            false_target_rate: 0.005,
            q_prior: (0.5, 0.5),
            older_prior: 0.01,
            drift_prior: 0.3,
            q_old_prior: (2.0, 3.0),
            merge_prior: 0.2,
            docs_prior: 0.01,
            region_prior: 0.03,
            region_length: 30.0,
            region_rate: 0.03,
            background_prior: 0.05,
            revert_keeps: 0.1,
            max_unit_runs: 100,
            max_builds: None,
            max_runs: None,
            verify_runs: 40,
            target: None,
            fix: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The test passed.
    Clean,
    /// The test failed with this identity (target or other crash).
    Failure(Identity),
    /// The run could not test anything (boot failure, infrastructure, timeout).
    Untestable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hypothesis {
    /// This commit introduced the bug (fixed it, in a fix bisection).
    Commit(NodeId),
    /// The bug is older than every good commit (in a fix bisection: it is
    /// not fixed, even at bad).
    Older,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Given up from outside the engine: most runs tested nothing (the
    /// machines, not the commits, are broken), so no answer is given.
    Untestable,
}

#[derive(Debug, Clone, Copy, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The smallest set of hypotheses holding `confidence` mass, most likely
    /// first, with their masses.
    pub credible: Vec<(Hypothesis, f64)>,
    /// Posterior mean of the reproduction rate (where it was learned, when
    /// it changes along history).
    pub q_estimate: f64,
    /// Beta(a, b) with the mean and variance of that rate's posterior: how
    /// sure the runs make it. A few runs leave it wide, and a rule sized by
    /// the mean alone (clean runs until a present bug would have shown)
    /// trusts a lucky start; see [`Status::miss`].
    pub q_beta: (f64, f64),
    /// Posterior mean of the rate on the far side of a change of rate.
    pub q_old: f64,
    /// Posterior probability that the rate changes among the tested commits.
    pub drift: f64,
    /// Posterior probability that target crashes below the culprit come
    /// from a false-target region (an older bug with the same title), over
    /// what the prior alone says.
    pub region: f64,
    /// Posterior probability that target crashes on commits without the
    /// bug come from a background (the title shows anywhere in the range
    /// at a low rate: a generic title), over what the prior alone says.
    pub background: f64,
    /// Tested commits (first of their test unit) that showed the target
    /// although the posterior says the bug is absent there: a coincidence
    /// or a false-target region. With the number of target crashes.
    pub suspicious: Vec<(NodeId, u32)>,
    /// Tested commits whose state is still uncertain, most uncertain first,
    /// with how many more runs would settle each at the current rates
    /// (clean runs until a bug present there would have shown).
    pub weak: Vec<(NodeId, u32)>,
    /// The target identity, once known.
    pub target: Option<Identity>,
    pub builds: u32,
    pub runs: u32,
}

impl Status {
    /// The posterior mass of `h`: its share in the credible set, 0 outside
    /// it (the set holds the asked confidence; what is outside is below).
    pub fn mass(&self, h: Hypothesis) -> f64 {
        self.credible
            .iter()
            .find(|(x, _)| *x == h)
            .map_or(0.0, |m| m.1)
    }

    /// Probability that `n` runs on a commit with the bug all come out
    /// clean, over what the runs so far say about the rate (not at its
    /// mean: a rate learnt from five runs may be much lower).
    pub fn miss(&self, n: u32) -> f64 {
        crate::math::beta_miss(self.q_beta.0, self.q_beta.1, n)
    }

    /// Clean runs after which a bug present on a commit would have shown
    /// with probability `confidence`; `u32::MAX` when no number would do
    /// (a rate believed to be zero).
    pub fn clean_runs_needed(&self, confidence: f64) -> u32 {
        let allowed = (1.0 - confidence).clamp(f64::MIN_POSITIVE, 1.0);
        // The miss probability falls monotonically in n; search by doubling,
        // then bisect.
        let (mut lo, mut hi) = (0u32, 1u32);
        while self.miss(hi) > allowed {
            if hi >= 1 << 20 {
                return u32::MAX;
            }
            lo = hi;
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.miss(mid) > allowed {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

/// Everything observed on one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
