//! What the e-mail about a result says, as typed values the caller fills
//! from the campaign's result (see the parent module).

use culprit_git::CommitMeta;

use super::Address;

/// Which way the bisection went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The commit that introduced the crash.
    Cause,
    /// The commit that made the crash go away.
    Fix,
}

/// A commit named in passing: hash, subject, and a tag if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRef {
    pub sha: String,
    pub subject: String,
    pub tag: Option<String>,
}

/// Why a result deserves a second look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Merge,
    Release,
    /// The commit's build is identical to its parent's.
    NoOp,
    /// A fixing commit whose history does not contain the old end: it sits
    /// on a branch that forked before the crash was seen.
    OffPath,
}

/// One member of the credible set of an inconclusive result.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `None`: "older than every good commit" (cause) / "not fixed in
    /// the range" (fix).
    pub commit: Option<CommitRef>,
    pub mass: f64,
}

/// What the bisection found: the result class.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// One commit holds the asked probability.
    Found {
        commit: CommitMeta,
        probability: f64,
        flags: Vec<Flag>,
    },
    /// No commit does: the smallest set holding it, most probable first.
    Inconclusive {
        candidates: Vec<Candidate>,
        /// Why the search stopped, in words ("the build budget ran out").
        why: Option<String>,
    },
    /// Cause bisection: the crash shows on the oldest commit tested too.
    Older {
        oldest: CommitRef,
        crashed: u32,
        runs: u32,
    },
    /// Fix bisection: the crash still shows on the newest commit tested.
    NotFixed {
        newest: CommitRef,
        crashed: u32,
        runs: u32,
    },
    /// The crash did not show on the start commit.
    NotReproduced { why: String },
}

/// How the found commit was checked: by reverting it on the start commit
/// (cause: the crash should go away; fix: it should come back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Not attempted, and why ("not asked for", "the commit is a merge").
    NotDone { why: String },
    /// The revert did what it should.
    Confirmed { runs: u32, crashed: u32 },
    /// The revert did not: the crash stayed (cause) or stayed away (fix).
    Refuted { runs: u32, crashed: u32 },
    /// The revert does not apply on the start commit.
    Conflict { files: Vec<String> },
    /// The revert could not be tested (it did not build, every run was
    /// untestable), and why.
    Untestable { why: String },
}

/// The crash the bisection was about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashInfo {
    pub title: Option<String>,
    /// The final crash report (symbolised oops), when there is one.
    pub report: Option<String>,
}

/// Where the evidence is, as paths or URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    /// The bisection log.
    pub log: Option<String>,
    /// A console showing the crash.
    pub console: Option<String>,
    /// The kernel (or build) config of the found commit.
    pub config: Option<String>,
    /// The reproducer (generic mode: the test command, or a script).
    pub reproducer: Option<String>,
}

/// What the search cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effort {
    pub revisions: u32,
    pub builds: u32,
    pub runs: u32,
    pub build_secs: f64,
    pub test_secs: f64,
    /// The estimated reproduction rate.
    pub q_estimate: Option<f64>,
}

/// Everything the e-mail says.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// `None`: no `From:` field (sendmail and git send-email add one).
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// `None`: made from the result (see [`subject`]).
    pub subject: Option<String>,
    /// Put before the made subject, e.g. `[culprit]`.
    pub subject_prefix: Option<String>,
    /// The Message-ID of the report this answers (`<...>`), for threading.
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
    /// An RFC 5322 date; `None` leaves it to the transfer agent.
    pub date: Option<String>,
    pub direction: Direction,
    pub outcome: Outcome,
    pub verification: Verification,
    /// Where the crash was seen and the bisection started.
    pub start: CommitRef,
    /// The repository (URL or path), and branch if known.
    pub tree: Option<String>,
    pub probability_asked: f64,
    pub crash: CrashInfo,
    pub files: Files,
    pub effort: Effort,
    /// Trailer lines to copy into the body (`Reported-by: ...`).
    pub trailers: Vec<String>,
    /// The program and version that wrote the mail ("culprit 0.1.0").
    pub tool: String,
    /// Kernel mode: the config is a kernel config and the test a
    /// reproducer (else a build config and the test command).
    pub kernel: bool,
}
