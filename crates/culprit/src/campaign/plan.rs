//! The campaign's vocabulary: what to bisect ([`Plan`]), what to do next
//! ([`Action`]), how it ended ([`Finish`]), and what can go wrong
//! ([`Error`]).

use culprit_bisect::{Config, Dag, Engine, Hypothesis, NodeId, Outcome, StopReason, Verdict};
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::hints::Hint;

/// A campaign whose runs mostly test nothing is stopped with an
/// infrastructure error rather than an answer: at least this many
/// untestable runs, making up at least `INFRA_SHARE` of all runs.
pub const INFRA_MIN_RUNS: u32 = 20;
pub const INFRA_SHARE: f64 = 0.5;

/// Runs on the bad commit that all crashed with other identities than a
/// given `--target` before the campaign gives up early: a run ends at its
/// first crash, so a target that never gets its turn cannot show.
pub const NEAR_MISS_RUNS: u32 = 10;

/// One commit of the campaign's range.
#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    /// Indices of parents (topological order: parents first).
    pub parents: Vec<u32>,
    /// A good endpoint, not a candidate.
    pub good: bool,
    pub subject: String,
}

/// What to bisect and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub commits: Vec<Commit>,
    pub bad: u32,
    pub config: Config,
    /// Fixed target title (`--target`); otherwise learned on the bad commit.
    pub target_title: Option<String>,
    /// Identifies the experiment in the journal; a resumed campaign must match.
    pub key: String,
    /// What the signature line calls the build product ("kernel", "build").
    pub product: String,
    /// Ask for crash-stack hints (and use journaled ones).
    pub hints: bool,
    /// Verify a named culprit by reverting it on the bad commit.
    pub verify: bool,
    /// For the start event only.
    pub workdir: Option<PathBuf>,
    pub notes: Vec<String>,
    /// This campaign walks back over releases to find a good end (see
    /// [`Walk`]); `None` for a bisection.
    pub walk: Option<Walk>,
    /// This bisection continues a walk that found its good end: the log
    /// does not announce the campaign again.
    pub after_walk: bool,
    /// Per commit: its change cannot reach the binary under test (only
    /// documentation, by its paths; see `Engine::set_docs_only`). Empty when
    /// unknown.
    pub docs_only: Vec<bool>,
}

/// A walk back over releases, as a campaign of its own: the commits are a
/// chain of release commits, oldest first, ending with the bad commit, and
/// "culprit is release i" means the bug came in after the release below it
/// (the oldest: it is that old or older). The engine's evidence rules decide
/// when a release counts as good, as they do in the bisection.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// The release name of each commit of the chain (the bad commit's is
    /// empty).
    pub labels: Vec<String>,
    /// Prior weight of "the bug came in between the commit below and this
    /// one", by commit.
    pub prior: Vec<f64>,
    /// The oldest commit is the start of history (a first-parent walk that
    /// reached the root): nothing older can be good.
    pub ends_at_root: bool,
    /// The labels are release tags (else first-parent steps, `bad~N`).
    pub releases: bool,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WalkEnd {
    /// This commit (a release) is good at the asked confidence: bisect
    /// from it. `label` is its name.
    Good {
        commit: String,
        label: String,
        confidence: f64,
    },
    /// The oldest commit walked to has the bug.
    Oldest {
        commit: String,
        label: String,
        confidence: f64,
        root: bool,
    },
    /// The walk could not decide (limits, untestable releases, or the bug
    /// not reproducing on bad): the finish says which.
    Undecided,
}

/// One run to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunJob {
    /// Full commit hash.
    pub commit: String,
    /// 0-based index of this run on this commit (CULPRIT_RUN).
    pub run: u32,
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Build this commit; feed one [`Record::Build`].
    Build(String),
    /// Execute these runs as one round; feed one [`Record::Run`] per job.
    Run { round: u32, jobs: Vec<RunJob> },
    /// Look up a crash-stack hint for the target crash `title` whose console
    /// is `output`; answer with [`Machine::hint_found`].
    Hint { title: String, output: PathBuf },
    /// Revert `culprit` on top of `onto`; feed one [`Record::Revert`].
    Revert { culprit: String, onto: String },
    /// Nothing more: take [`Machine::finish`].
    Done,
}

/// Errors of the machine: the journal does not fit this campaign, or the
/// campaign cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the workdir holds the journal of a different campaign (bad {bad}); give another --workdir, or delete it to start afresh")]
    OtherCampaign { bad: String },
    #[error("the journal does not start with a start record; move it away")]
    NoStart,
    #[error("the journal has two start records; move it away")]
    TwoStarts,
    #[error("the journal names commit {0}, which is not in this range")]
    UnknownCommit(String),
    #[error("the plan has {flags} docs-only flags for {commits} commits (a bug in culprit: please report it)")]
    DocsOnly { flags: usize, commits: usize },
    #[error("the commit graph is not in topological order")]
    Dag(#[from] culprit_bisect::DagError),
    #[error("the bad commit {commit} does not build: {error}{log}; fix the build command or pick a bad commit that builds")]
    BadDoesNotBuild {
        commit: String,
        error: String,
        log: String,
    },
}

/// How a campaign ended.
#[derive(Debug, Clone)]
pub struct Finish {
    pub outcome: Outcome,
    /// Index of the culprit commit, when the verdict names one.
    pub culprit: Option<u32>,
    /// Posterior mass of the verdict's hypothesis (of the leading one when
    /// inconclusive).
    pub confidence: f64,
    pub builds: u32,
    pub runs: u32,
    pub rounds: u32,
    pub build_secs: f64,
    /// Sum over test rounds of the round's longest run.
    pub test_secs: f64,
    /// Of `build_secs` and `test_secs`, the verification of the answer
    /// after it was named (0 without one).
    pub verify_secs: f64,
    /// Failure identities in order of first appearance (index = identity).
    pub identities: Vec<String>,
    /// Titles seen on the bad commit with their counts, most frequent first.
    pub bad_titles: Vec<(String, u32)>,
    /// Signatures of built commits (hex), by commit index.
    pub signatures: BTreeMap<u32, String>,
    /// First error line of failed builds, by commit index.
    pub build_errors: BTreeMap<u32, String>,
    /// Build logs and configs kept by the backend, by commit index.
    pub build_logs: BTreeMap<u32, PathBuf>,
    pub configs: BTreeMap<u32, PathBuf>,
    /// Images with debug info, by commit index.
    pub symbols: BTreeMap<u32, PathBuf>,
    /// Console of the first run of each (commit, identity) that crashed.
    pub outputs: BTreeMap<(u32, u32), PathBuf>,
    /// The crash-stack hint the prior used, if any.
    pub hint: Option<Hint>,
    /// The revert verification, when one ran.
    pub verification: Option<super::Verification>,
    /// The most frequent reason runs were untestable, its count, and the
    /// count of all untestable runs.
    pub untestable: Option<(String, u32, u32)>,
    /// The engine as it ended, for per-commit evidence.
    pub engine: Engine,
}

impl Finish {
    /// The verdict's name in the JSON result and events.
    pub fn verdict_name(&self) -> &'static str {
        if self.outcome.reason == StopReason::Untestable {
            return "infrastructure_error";
        }
        verdict_name(self.outcome.verdict, self.engine.config().fix)
    }

    /// The target crash's console on `commit`, if a run there showed it.
    pub fn target_output(&self, commit: u32) -> Option<&PathBuf> {
        let t = self.outcome.status.target?;
        self.outputs.get(&(commit, t))
    }
}

pub(super) fn verdict_name(v: Verdict, fix: bool) -> &'static str {
    match v {
        Verdict::Culprit(_) => "culprit",
        Verdict::Older if fix => "not_fixed",
        Verdict::Older => "older",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NotReproduced => "not_reproduced",
    }
}

/// Why the engine stopped, as the JSON result names it.
pub fn reason_name(r: StopReason) -> &'static str {
    match r {
        StopReason::Confident => "confident",
        StopReason::MaxBuilds => "max_builds",
        StopReason::MaxRuns => "max_runs",
        StopReason::Exhausted => "exhausted",
        StopReason::NotReproduced => "not_reproduced",
        StopReason::Untestable => "untestable",
    }
}

/// Builds the engine's DAG from the plan's commits.
pub fn dag_of(plan: &Plan) -> Result<Dag, Error> {
    let parents = plan.commits.iter().map(|c| c.parents.clone()).collect();
    let good: Vec<NodeId> = (0..plan.commits.len() as u32)
        .filter(|&i| plan.commits[i as usize].good)
        .collect();
    Ok(Dag::new(parents, &good)?)
}

/// A hypothesis as the result and events name it.
pub fn hyp_name(plan: &Plan, h: Hypothesis) -> String {
    match h {
        Hypothesis::Commit(c) => plan.commits[c as usize].sha.clone(),
        Hypothesis::Older if plan.config.fix => "not-fixed".into(),
        Hypothesis::Older => "older-than-good".into(),
    }
}

/// The culprit the verdict names and the mass of the verdict's hypothesis.
pub(super) fn verdict_mass(o: &Outcome) -> (Option<u32>, f64) {
    let mass = |h| {
        o.status
            .credible
            .iter()
            .find(|(x, _)| *x == h)
            .map_or(0.0, |x| x.1)
    };
    match o.verdict {
        Verdict::Culprit(c) => (Some(c), mass(Hypothesis::Commit(c))),
        Verdict::Older => (None, mass(Hypothesis::Older)),
        _ => (None, o.status.credible.first().map_or(0.0, |h| h.1)),
    }
}

impl Finish {
    /// How a walk campaign ended: the good end it found, or that its
    /// oldest release has the bug, or neither.
    pub fn walk_end(&self, plan: &Plan) -> WalkEnd {
        walk_end_of(plan, self.outcome.verdict, self.confidence)
    }
}

/// How a walk ends with `verdict`: "culprit is step c" means the step
/// below c is good, or, for the oldest step, that it has the bug.
pub(super) fn walk_end_of(plan: &Plan, verdict: Verdict, confidence: f64) -> WalkEnd {
    let (Some(w), Verdict::Culprit(c)) = (&plan.walk, verdict) else {
        return WalkEnd::Undecided;
    };
    if c == 0 {
        return WalkEnd::Oldest {
            commit: plan.commits[0].sha.clone(),
            label: w.labels[0].clone(),
            confidence,
            root: w.ends_at_root,
        };
    }
    let below = plan.commits[c as usize].parents[0] as usize;
    WalkEnd::Good {
        commit: plan.commits[below].sha.clone(),
        label: w.labels[below].clone(),
        confidence,
    }
}
