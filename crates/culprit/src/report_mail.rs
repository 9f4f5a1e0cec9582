//! The maintainer e-mail of a finished campaign: a [`Mail`] assembled from
//! its [`Summary`], the repository (the found commit's header, subjects and
//! tags) and what only the caller knows ([`MailOptions`]: the direction,
//! the verification, the sender, the tree, the crash report). Printing it
//! is `print::mail`'s job; this module only reads.

use anyhow::{Context, Result};
use culprit_git::Repo;
use std::path::PathBuf;

use crate::print::mail::{
    Address, Candidate, CommitRef, CrashInfo, Direction, Effort, Files, Flag, Mail, Outcome,
    Verification,
};
use crate::result::Summary;

/// What the e-mail needs that the result does not say.
#[derive(Debug, Clone)]
pub struct MailOptions {
    pub direction: Direction,
    pub verification: Verification,
    pub from: Option<Address>,
    pub subject_prefix: Option<String>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
    pub date: Option<String>,
    /// The repository as maintainers know it (URL and branch).
    pub tree: Option<String>,
    /// Trailer lines for the body (`Reported-by: ...`).
    pub trailers: Vec<String>,
    /// The final crash report, when one was extracted.
    pub crash_report: Option<String>,
    /// The bisection log (`WORKDIR/bisect.log`).
    pub log: Option<PathBuf>,
    pub reproducer: Option<PathBuf>,
}

impl MailOptions {
    /// Options for a direction and verification, nothing else set.
    pub fn new(direction: Direction, verification: Verification) -> MailOptions {
        MailOptions {
            direction,
            verification,
            from: None,
            subject_prefix: Some("[culprit]".into()),
            in_reply_to: None,
            message_id: None,
            date: None,
            tree: None,
            trailers: Vec::new(),
            crash_report: None,
            log: None,
            reproducer: None,
        }
    }
}

fn commit_ref(repo: &Repo, sha: &str) -> Result<CommitRef> {
    let meta = repo.commit(sha)?;
    let tag = repo
        .tags_at(sha)?
        .into_iter()
        .find(|t| culprit_git::release_version(t).is_some());
    Ok(CommitRef {
        sha: meta.hash,
        subject: meta.subject,
        tag,
    })
}

/// Why an inconclusive search stopped, in words.
fn stop_words(reason: &str) -> Option<String> {
    Some(
        match reason {
            "max_builds" => "the build budget (--max-builds) ran out",
            "max_runs" => "the run budget (--max-runs) ran out",
            "exhausted" => "the commits around the answer could not be tested further (they did not build, or every run on them was untestable)",
            _ => return None,
        }
        .to_string(),
    )
}

fn flag(name: &str) -> Option<Flag> {
    match name {
        "merge" => Some(Flag::Merge),
        "release" => Some(Flag::Release),
        "no-op" => Some(Flag::NoOp),
        "off-path" => Some(Flag::OffPath),
        _ => None,
    }
}

fn path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// The e-mail about the campaign `s` summarises.
pub fn mail_for(repo: &Repo, s: &Summary, o: &MailOptions) -> Result<Mail> {
    let r = &s.result;
    let outcome = match r.verdict {
        "culprit" => {
            let sha = r
                .culprit
                .as_deref()
                .context("a culprit verdict names a commit")?;
            Outcome::Found {
                commit: repo.commit(sha)?,
                probability: r.confidence,
                flags: r.flags.iter().filter_map(|f| flag(f)).collect(),
            }
        }
        "inconclusive" => Outcome::Inconclusive {
            candidates: s
                .credible
                .iter()
                .map(|(name, mass, subject)| Candidate {
                    commit: (name != "older-than-good").then(|| CommitRef {
                        sha: name.clone(),
                        subject: subject.clone(),
                        tag: None,
                    }),
                    mass: *mass,
                })
                .collect(),
            why: stop_words(r.reason),
        },
        "older" => {
            // The good end given, or the oldest release a walk reached.
            let oldest_step = r
                .walk
                .as_ref()
                .and_then(|w| w.steps.last())
                .map(|s| &s.commit);
            let good = r
                .goods
                .first()
                .or(oldest_step)
                .context("an older verdict has a good end or a walk")?;
            let doc = r.commits.iter().find(|c| &c.commit == good);
            let (crashed, runs) = doc.map_or((0, 0), |d| {
                let c = &d.runs;
                (c.target, c.target + c.other + c.clean + c.untestable)
            });
            Outcome::Older {
                oldest: commit_ref(repo, good)?,
                crashed,
                runs,
            }
        }
        "not_fixed" => {
            let doc = r.commits.iter().find(|c| c.commit == r.bad);
            let (crashed, runs) = doc.map_or((0, 0), |d| {
                let c = &d.runs;
                (c.target, c.target + c.other + c.clean + c.untestable)
            });
            Outcome::NotFixed {
                newest: commit_ref(repo, &r.bad)?,
                crashed,
                runs,
            }
        }
        _ => Outcome::NotReproduced {
            why: s.not_reproduced.clone().unwrap_or_default(),
        },
    };
    let (to, cc) = match &r.recipients {
        Some(rc) => (
            rc.to.iter().map(Address::new).collect(),
            rc.cc.iter().map(Address::new).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Mail {
        from: o.from.clone(),
        to,
        cc,
        subject: None,
        subject_prefix: o.subject_prefix.clone(),
        in_reply_to: o.in_reply_to.clone(),
        message_id: o.message_id.clone(),
        date: o.date.clone(),
        direction: o.direction,
        outcome,
        verification: o.verification.clone(),
        start: commit_ref(repo, &r.bad)?,
        tree: o.tree.clone(),
        probability_asked: s.asked_confidence,
        crash: CrashInfo {
            title: r.target.clone(),
            report: o.crash_report.clone(),
        },
        files: Files {
            log: path(&o.log),
            console: path(&r.files.console),
            config: path(&r.files.config),
            reproducer: path(&o.reproducer),
        },
        effort: Effort {
            revisions: r.counts.revisions_tested as u32,
            builds: r.counts.builds,
            runs: r.counts.runs,
            build_secs: r.timings.build_secs,
            test_secs: r.timings.test_secs,
            q_estimate: (r.verdict != "not_reproduced").then_some(r.q_estimate),
        },
        trailers: o.trailers.clone(),
        tool: format!("culprit {}", env!("CARGO_PKG_VERSION")),
        kernel: s.product == "kernel",
    })
}

#[cfg(test)]
mod tests;
