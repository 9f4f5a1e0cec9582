//! The driver: the small loop that performs the machine's actions through a
//! backend, journals what happened, feeds it back and hands the events to
//! the printers.
//!
//! It owns no campaign logic (that is `crate::campaign`) and no knowledge
//! of processes or signals (that is the backend's and crates/proc's): a
//! cancelled backend returns an error, which ends the loop with the journal
//! intact.

use anyhow::{bail, Context, Result};

use crate::backend::Backend;
use crate::campaign::{Action, Event, Finish, Machine, Record, RevertMade, Sink};
use crate::hint::Hinter;
use crate::journal::Journal;

/// Makes the revert commit revert verification asks for.
pub trait Reverter {
    fn revert(&mut self, culprit: &str, onto: &str) -> Result<RevertMade>;
}

/// The revert lives in the repository's object database only: no ref, no
/// work tree or index touched (crates/git's `revert_onto`).
impl Reverter for culprit_git::Repo {
    fn revert(&mut self, culprit: &str, onto: &str) -> Result<RevertMade> {
        use culprit_git::Revert;
        let made = self
            .revert_onto(onto, culprit)
            .with_context(|| format!("reverting {culprit} on {onto}"))?;
        Ok(match made {
            Revert::Applied { commit } => RevertMade::Applied { commit },
            Revert::Empty => RevertMade::Empty,
            Revert::Conflict { files } => RevertMade::Conflict { files },
        })
    }
}

/// For campaigns that never verify (simulations).
pub struct NoReverts;
impl Reverter for NoReverts {
    fn revert(&mut self, culprit: &str, _: &str) -> Result<RevertMade> {
        bail!("this campaign cannot revert {culprit}: it has no repository")
    }
}

/// Runs the machine to its end: replays `past`, then acts until done.
pub fn drive(
    mut m: Machine,
    past: &[Record],
    backend: &mut dyn Backend,
    journal: &mut Journal,
    sink: &mut dyn Sink,
    hinter: &mut dyn Hinter,
    reverter: &mut dyn Reverter,
) -> Result<Finish> {
    let start = m.resume(past);
    flush(&mut m, sink);
    if let Some(r) = start? {
        journal.append(&r)?;
    }
    loop {
        let action = m.poll(&|c| backend.is_available(c));
        flush(&mut m, sink);
        match action {
            Action::Done => return Ok(m.finish()),
            Action::Hint { title, output } => {
                let hint = hinter.hint(&output, &title);
                if let Some(r) = m.hint_found(hint) {
                    journal.append(&r)?;
                }
            }
            Action::Revert { culprit, onto } => {
                let made = reverter.revert(&culprit, &onto)?;
                let rec = Record::Revert {
                    culprit,
                    onto,
                    made,
                };
                journal.append(&rec)?;
                journal.sync()?;
                let fed = m.feed(&rec);
                flush(&mut m, sink);
                fed?;
            }
            Action::Build(commit) => {
                let mut progress = |text: String| {
                    sink.event(&Event::Progress {
                        commit: commit.clone(),
                        text,
                    })
                };
                let r = backend
                    .build(&commit, &mut progress)
                    .with_context(|| format!("building {commit}"))?;
                let rec = Record::Build {
                    commit: commit.clone(),
                    ok: r.ok,
                    signature: r.signature.map(hex::encode),
                    secs: r.secs,
                    first_error: r.first_error,
                    info: r.info,
                    log: r.log,
                    config: r.config,
                    symbols: r.symbols,
                };
                journal.append(&rec)?;
                journal.sync()?;
                let fed = m.feed(&rec);
                flush(&mut m, sink);
                fed?;
            }
            Action::Run { round, jobs } => {
                let mut progress = |text: String| {
                    sink.event(&Event::Progress {
                        commit: String::new(),
                        text,
                    })
                };
                // Each run is journaled and told to the machine as it
                // ends, so an interrupted round keeps what finished.
                let mut seen = vec![false; jobs.len()];
                let mut failed: Option<anyhow::Error> = None;
                let ran = backend.run(&jobs, &mut progress, &mut |i, r| {
                    if failed.is_some() || i >= jobs.len() || seen[i] {
                        failed.get_or_insert_with(|| {
                            anyhow::anyhow!(
                                "the backend reported run {i} of {} twice or out of range",
                                jobs.len()
                            )
                        });
                        return;
                    }
                    seen[i] = true;
                    let rec = Record::Run {
                        commit: jobs[i].commit.clone(),
                        run: jobs[i].run,
                        round,
                        status: r.status,
                        secs: r.secs,
                        output: r.output,
                    };
                    let fed = journal.append(&rec).and_then(|_| Ok(m.feed(&rec)?));
                    if let Err(e) = fed {
                        failed = Some(e);
                    }
                });
                journal.sync()?;
                flush(&mut m, sink);
                if let Some(e) = failed {
                    return Err(e);
                }
                ran?;
                if let Some(i) = seen.iter().position(|s| !s) {
                    bail!(
                        "the backend returned no result for run {i} of {}",
                        jobs.len()
                    );
                }
            }
        }
    }
}

fn flush(m: &mut Machine, sink: &mut dyn Sink) {
    for e in m.take_events() {
        sink.event(&e);
    }
}
