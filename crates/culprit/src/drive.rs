//! The driver: the small loop that performs the machine's actions through a
//! backend, journals what happened, feeds it back and hands the events to
//! the printers. [`drive`] does one action at a time ([`Machine::poll`]);
//! [`drive_batch`] keeps several builds and runs in flight
//! ([`Machine::poll_batch`], `--builders`). Both run on one thread: the
//! machine, the journal and the printers are never shared.
//!
//! It owns no campaign logic (that is `crate::campaign`) and no knowledge
//! of processes or signals (that is the backend's and crates/proc's): a
//! cancelled backend returns an error, which ends the loop with the journal
//! intact.

use anyhow::{bail, Context, Result};

use crate::backend::{Backend, BuildResult, Completion, Concurrent};
use crate::campaign::{Action, Event, Finish, Machine, Record, RevertMade, Sink};
use crate::hint::Hinter;
use crate::journal::Journal;
use std::collections::BTreeMap;

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
            Action::Hint { title, output } => hint(&mut m, hinter, journal, &title, &output)?,
            Action::Revert { culprit, onto } => {
                let rec = revert(reverter, culprit, onto)?;
                record(&mut m, journal, sink, &rec)?;
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
                record(&mut m, journal, sink, &build_record(commit, r))?;
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

/// Runs the machine to its end with several builds and runs in flight at
/// once (`culprit bisect --builders B`): replays `past`, then repeatedly
/// starts what [`Machine::poll_batch`] hands out for the backend's free
/// builders and VMs, and waits for the next build or run to end, which is
/// journaled (appended and synced) and fed at once. Hints, reverts and
/// verification steps come alone and are performed as in [`drive`]; once
/// the machine is verifying or done, work still in flight is stopped.
///
/// However it ends (the answer, an error, Ctrl-C), every build and run it
/// started is stopped and reaped before it returns.
pub fn drive_batch(
    mut m: Machine,
    past: &[Record],
    backend: &mut dyn Concurrent,
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
    let mut d = Batched {
        m: &mut m,
        backend,
        journal,
        sink,
        rounds: BTreeMap::new(),
    };
    let ended = d.run(hinter, reverter);
    d.backend.stop();
    ended?;
    Ok(m.finish())
}

/// [`drive_batch`]'s state: the round each run in flight belongs to.
struct Batched<'a> {
    m: &'a mut Machine,
    backend: &'a mut dyn Concurrent,
    journal: &'a mut Journal,
    sink: &'a mut dyn Sink,
    rounds: BTreeMap<(String, u32), u32>,
}

impl Batched<'_> {
    fn run(&mut self, hinter: &mut dyn Hinter, reverter: &mut dyn Reverter) -> Result<()> {
        loop {
            let actions = {
                let b: &dyn Concurrent = &*self.backend;
                self.m
                    .poll_batch(b.free_builders(), b.free_vms(), &|c| b.is_available(c))
            };
            if self.m.settled() && self.backend.busy() {
                // The answer or the verification does not need them.
                self.backend.stop();
                self.rounds.clear();
            }
            flush(self.m, self.sink);
            if actions.is_empty() {
                if !self.backend.busy() {
                    bail!("the campaign has nothing to start and nothing in flight (a bug in culprit: please report it)");
                }
                self.wait()?;
                continue;
            }
            for a in actions {
                match a {
                    Action::Done => return Ok(()),
                    Action::Hint { title, output } => {
                        hint(self.m, hinter, self.journal, &title, &output)?
                    }
                    Action::Revert { culprit, onto } => {
                        let rec = revert(reverter, culprit, onto)?;
                        record(self.m, self.journal, self.sink, &rec)?;
                    }
                    Action::Build(commit) => self.backend.start_build(&commit)?,
                    Action::Run { round, jobs } => {
                        for j in jobs {
                            self.rounds.insert((j.commit.clone(), j.run), round);
                            self.backend.start_run(j)?;
                        }
                    }
                }
            }
            // A verification step ends before the next one is asked for.
            if self.m.settled() {
                while self.backend.busy() {
                    self.wait()?;
                }
            }
        }
    }

    /// Waits for the next thing the backend reports and takes it in.
    fn wait(&mut self) -> Result<()> {
        match self.backend.next()? {
            Completion::Started { builder, commit } => {
                self.sink.event(&Event::BuilderStarted { builder, commit })
            }
            Completion::Progress { commit, text } => {
                self.sink.event(&Event::Progress { commit, text })
            }
            Completion::Built {
                builder,
                commit,
                result,
            } => {
                let r = result.with_context(|| format!("building {commit}"))?;
                self.sink.event(&Event::BuilderFinished {
                    builder,
                    commit: commit.clone(),
                    ok: r.ok,
                    secs: r.secs,
                });
                record(self.m, self.journal, self.sink, &build_record(commit, r))?;
            }
            Completion::Ran { job, result } => {
                let r = result?;
                let Some(round) = self.rounds.remove(&(job.commit.clone(), job.run)) else {
                    bail!(
                        "the backend reported run {} of {} that was not started",
                        job.run,
                        job.commit
                    );
                };
                let rec = Record::Run {
                    commit: job.commit,
                    run: job.run,
                    round,
                    status: r.status,
                    secs: r.secs,
                    output: r.output,
                };
                record(self.m, self.journal, self.sink, &rec)?;
            }
        }
        Ok(())
    }
}

/// Looks up the hint the machine asks for and journals what it keeps.
fn hint(
    m: &mut Machine,
    hinter: &mut dyn Hinter,
    journal: &mut Journal,
    title: &str,
    output: &std::path::Path,
) -> Result<()> {
    let hint = hinter.hint(output, title);
    if let Some(r) = m.hint_found(hint) {
        journal.append(&r)?;
    }
    Ok(())
}

fn revert(reverter: &mut dyn Reverter, culprit: String, onto: String) -> Result<Record> {
    let made = reverter.revert(&culprit, &onto)?;
    Ok(Record::Revert {
        culprit,
        onto,
        made,
    })
}

/// The journal record of a build that ended.
pub(crate) fn build_record(commit: String, r: BuildResult) -> Record {
    Record::Build {
        commit,
        ok: r.ok,
        signature: r.signature.map(hex::encode),
        secs: r.secs,
        first_error: r.first_error,
        info: r.info,
        log: r.log,
        config: r.config,
        symbols: r.symbols,
    }
}

/// Journals a record (appended and synced), feeds it to the machine and
/// prints the events it caused.
fn record(m: &mut Machine, journal: &mut Journal, sink: &mut dyn Sink, rec: &Record) -> Result<()> {
    journal.append(rec)?;
    journal.sync()?;
    let fed = m.feed(rec);
    flush(m, sink);
    Ok(fed?)
}

fn flush(m: &mut Machine, sink: &mut dyn Sink) {
    for e in m.take_events() {
        sink.event(&e);
    }
}

#[cfg(test)]
mod tests;
