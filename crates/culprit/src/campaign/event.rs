//! What a campaign tells the world: typed [`Event`]s.
//!
//! The machine emits them; printers (`crate::print`) turn them into the
//! syzbot-format text log, the progress display and the JSON-lines event
//! stream (`--events FILE`, schema in docs/events.md, checked by a test).
//! Nothing parses log text back: whatever a printer needs is a field here.

use serde::Serialize;
use std::path::PathBuf;

use super::record::RunStatus;

/// One event. Serialised with an `"event"` tag in snake case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A campaign starts (or resumes).
    Started {
        /// `cause` (what introduced the bug).
        direction: &'static str,
        bad: String,
        goods: Vec<String>,
        /// Commits that could be the culprit.
        candidates: usize,
        workdir: Option<PathBuf>,
        /// Things the user should know before anything runs (a good commit
        /// replaced by a merge base, ...).
        notes: Vec<String>,
        /// No good end given: the releases (or `bad~N` first-parent steps)
        /// a walk may test to find one, newest first. Empty for a bisection.
        walk: Vec<String>,
        /// A bisection continuing the walk that found its good end.
        continued: bool,
    },
    /// The journal held earlier work that was replayed, not redone.
    Resumed { builds: u32, runs: u32 },
    /// Where the engine stands (after every step).
    Status {
        builds: u32,
        runs: u32,
        rounds: u32,
        /// The most likely culprit (`older-than-good` for the bug being
        /// older than every good commit) and its posterior probability.
        leading: Option<String>,
        mass: f64,
        /// Size of the smallest set of hypotheses holding the asked
        /// confidence.
        credible: usize,
        q_estimate: f64,
    },
    /// The crash that is the bug is settled: given with `--target`, or the
    /// most frequent failure on the bad commit once it shows clearly.
    TargetLocked { title: String, given: bool },
    /// A crash title seen for the first time counts as an earlier crash
    /// (crash identity: the same bug under another title).
    SameCrash {
        title: String,
        same_as: String,
        why: String,
    },
    /// A crash-stack hint was found for the target; `used` false when it
    /// named too many commits to tell anything.
    Hint {
        text: String,
        commits: usize,
        used: bool,
    },
    /// The engine chose a new commit to build, other than the bad end.
    CommitChosen {
        commit: String,
        subject: String,
        /// Size of the credible set and its mass when it was chosen.
        credible: usize,
        mass: f64,
    },
    BuildStarted {
        commit: String,
        subject: String,
        /// The release this commit is, in a walk.
        release: Option<String>,
    },
    /// With several builders (`--builders`): one of them starts building a
    /// commit that `build_started` handed out (possibly earlier, while
    /// every builder was busy). Builders are numbered from 1.
    BuilderStarted { builder: u32, commit: String },
    /// The builder is done with the commit (`build_finished` follows) and
    /// free for another.
    BuilderFinished {
        builder: u32,
        commit: String,
        ok: bool,
        secs: f64,
    },
    /// A line of progress from a long step (checkout, make), for people
    /// watching; not part of the evidence.
    Progress { commit: String, text: String },
    BuildFinished {
        commit: String,
        ok: bool,
        secs: f64,
        /// What the signature line calls the product ("kernel", "build").
        product: String,
        signature: Option<String>,
        error: Option<String>,
        /// Lines the backend wants in the log (compiler, build tree, ...).
        info: Vec<String>,
        log: Option<PathBuf>,
        /// An earlier commit with the same signature: one test unit.
        same_as: Option<String>,
    },
    /// A test round starts: runs on built commits, in parallel.
    RoundStarted { round: u32, jobs: Vec<RoundJob> },
    RunFinished {
        commit: String,
        run: u32,
        round: u32,
        status: RunStatus,
        secs: f64,
        output: Option<PathBuf>,
    },
    /// The engine moved on from a commit it ran tests on: every run of that
    /// visit (one or more consecutive rounds), for a block in the log.
    CommitTested {
        commit: String,
        subject: String,
        runs: Vec<RunLine>,
        /// Runs on this commit before this visit.
        earlier: u32,
        counts: Counts,
    },
    /// The engine named a culprit (or, unable to decide, leads with one);
    /// it is reverted on top of the bad commit to see whether the crash
    /// goes away.
    VerifyStarted { culprit: String, onto: String },
    /// The revert's runs went into the search as evidence, and it goes on:
    /// they left the reverted commit at posterior `confidence`.
    SearchResumed { culprit: String, confidence: f64 },
    /// How the revert verification ended (`fixed`, `persists`,
    /// `does_not_apply`, `does_not_build`, `untested`).
    Verified {
        outcome: super::VerifyOutcome,
        text: &'static str,
        reason: String,
        commit: Option<String>,
    },
    /// A walk back over releases ended: the newest release that is good at
    /// the asked confidence, or the oldest one walked to has the bug.
    WalkEnded {
        good: Option<String>,
        good_commit: Option<String>,
        oldest: Option<String>,
        /// The oldest commit walked to is the start of history.
        root: bool,
        /// The steps are release tags (else `bad~N` first-parent steps).
        releases: bool,
        confidence: f64,
    },
    /// The campaign ended.
    Finished {
        verdict: &'static str,
        reason: &'static str,
        culprit: Option<String>,
        confidence: f64,
        builds: u32,
        runs: u32,
        rounds: u32,
    },
}

/// Runs of one commit in a round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundJob {
    pub commit: String,
    pub runs: u32,
}

/// One run of a visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLine {
    pub run: u32,
    pub status: RunStatus,
}

/// Runs on a commit by what they showed (shared by one test unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub target: u32,
    pub other: u32,
    pub clean: u32,
    pub untestable: u32,
}

impl Event {
    /// The event's tag, as in the JSON stream.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Started { .. } => "started",
            Event::Resumed { .. } => "resumed",
            Event::Status { .. } => "status",
            Event::TargetLocked { .. } => "target_locked",
            Event::SameCrash { .. } => "same_crash",
            Event::Hint { .. } => "hint",
            Event::CommitChosen { .. } => "commit_chosen",
            Event::BuildStarted { .. } => "build_started",
            Event::BuilderStarted { .. } => "builder_started",
            Event::BuilderFinished { .. } => "builder_finished",
            Event::WalkEnded { .. } => "walk_ended",
            Event::Progress { .. } => "progress",
            Event::BuildFinished { .. } => "build_finished",
            Event::RoundStarted { .. } => "round_started",
            Event::RunFinished { .. } => "run_finished",
            Event::CommitTested { .. } => "commit_tested",
            Event::VerifyStarted { .. } => "verify_started",
            Event::Verified { .. } => "verified",
            Event::SearchResumed { .. } => "search_resumed",
            Event::Finished { .. } => "finished",
        }
    }
}

/// Where events go. Printers implement it; the bench uses [`Discard`].
pub trait Sink {
    fn event(&mut self, e: &Event);
}

/// Drops every event (simulations, tests).
pub struct Discard;
impl Sink for Discard {
    fn event(&mut self, _: &Event) {}
}

/// Keeps every event (tests).
#[derive(Default)]
pub struct Collect(pub Vec<Event>);
impl Sink for Collect {
    fn event(&mut self, e: &Event) {
        self.0.push(e.clone());
    }
}

/// Sends each event to several sinks in turn.
pub struct Fanout<'a>(pub Vec<&'a mut dyn Sink>);
impl Sink for Fanout<'_> {
    fn event(&mut self, e: &Event) {
        for s in self.0.iter_mut() {
            s.event(e);
        }
    }
}
