//! What a campaign journals: one [`Record`] per line of the journal, and the
//! one type a run's outcome has from the backend to the journal,
//! [`RunStatus`].
//!
//! These are plain data: the journal file (`crate::journal`) reads and
//! writes them, the machine (`super::Machine`) consumes them. A record says
//! what happened, never what to do next: replaying the same records into a
//! fresh machine restores the same state.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The campaign's identity; a resumed campaign must match it.
    Start {
        bad: String,
        goods: Vec<String>,
        /// The campaign identity (hash of what defines the experiment).
        key: String,
    },
    Build {
        commit: String,
        ok: bool,
        signature: Option<String>,
        secs: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_error: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        info: Vec<String>,
        /// The build's full output.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log: Option<PathBuf>,
        /// The configuration the commit was built with (kernel mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<PathBuf>,
        /// The image with debug info, for symbolising its crashes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbols: Option<PathBuf>,
    },
    Run {
        commit: String,
        run: u32,
        /// Test round this run belonged to (runs of a round ran in parallel).
        round: u32,
        status: RunStatus,
        secs: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<PathBuf>,
    },
    /// Commits that touch the code in the target crash's stack; they got a
    /// larger share of the prior from here on.
    Hint {
        commits: Vec<String>,
        text: String,
        /// The target title the hint was computed for (absent in journals
        /// written before hints followed the target).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// The culprit reverted on top of the bad commit (revert verification):
    /// the commit to build and run, or why there is none.
    Revert {
        culprit: String,
        onto: String,
        made: RevertMade,
    },
}

/// What reverting the culprit on top of the bad commit gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "revert", rename_all = "snake_case")]
pub enum RevertMade {
    /// The revert commit (in the repository's object database, no ref).
    Applied { commit: String },
    /// Reverting changes nothing on the bad commit.
    Empty,
    /// The revert conflicts in these files.
    Conflict { files: Vec<String> },
}

/// Why a run could not test anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Untestable {
    /// The machine did not come up (log line "boot failed: ...").
    Boot,
    /// The smoke test before the reproducer failed ("basic kernel testing failed: ...").
    SmokeTest,
    /// The run went past its timeout.
    Timeout,
    /// The test said so (exit 125) or the infrastructure failed.
    Infra,
}

/// What one run showed: the one run-status type from the backend to the
/// journal. Its `Display` is how the log writes it after "run #N: ".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// The test passed.
    Ok,
    /// The test failed; `title` is its identity (first crash report's title,
    /// else "exit status N"); `crash` what else its report says about it.
    Crashed {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crash: Option<Crash>,
    },
    /// Nothing was tested.
    Untestable { why: Untestable, reason: String },
}

/// What identifies a crash beyond its title, from its report: what crash
/// identity compares (`culprit_report::identity_match_target`) when two
/// titles differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_titles: Vec<String>,
    /// The crash type, as the report parser names it.
    pub kind: String,
    /// The report's top frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub corrupted: bool,
}

impl Crash {
    /// The identity of a crash known by its title and, if any, its report.
    pub fn target(title: &str, crash: Option<&Crash>) -> culprit_report::Target {
        match crash {
            Some(c) => culprit_report::Target {
                title: title.to_string(),
                alt_titles: c.alt_titles.clone(),
                kind: c.kind.clone(),
                frames: c.frames.clone(),
            },
            None => culprit_report::Target::from_title(title),
        }
    }
}

impl RunStatus {
    /// A crash known only by its title ("exit status N", a simulated crash).
    pub fn crashed(title: impl Into<String>) -> RunStatus {
        RunStatus::Crashed {
            title: title.into(),
            crash: None,
        }
    }

    /// The crash a report shows.
    pub fn of_report(r: &culprit_report::Report) -> RunStatus {
        RunStatus::Crashed {
            title: r.title.clone(),
            crash: Some(Crash {
                alt_titles: r.alt_titles.clone(),
                kind: r.kind.clone(),
                frames: r.frames.clone(),
                corrupted: r.corrupted,
            }),
        }
    }

    pub fn untestable(why: Untestable, reason: impl Into<String>) -> RunStatus {
        RunStatus::Untestable {
            why,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RunStatus {
    /// "OK", "crashed: TITLE", "boot failed: ...", as the reference log.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RunStatus::Ok => write!(f, "OK"),
            RunStatus::Crashed { title, .. } => write!(f, "crashed: {title}"),
            RunStatus::Untestable { why, reason } => match why {
                Untestable::Boot => write!(f, "boot failed: {reason}"),
                Untestable::SmokeTest => write!(f, "basic kernel testing failed: {reason}"),
                Untestable::Timeout => write!(f, "timed out: {reason}"),
                Untestable::Infra => write!(f, "untestable: {reason}"),
            },
        }
    }
}
