//! The driver: the small loop that performs the machine's actions through a
//! backend, journals what happened, feeds it back and hands the events to
//! the printers.
//!
//! It owns no campaign logic (that is `crate::campaign`) and no knowledge
//! of processes or signals (that is the backend's and crates/proc's): a
//! cancelled backend returns an error, which ends the loop with the journal
//! intact.

use anyhow::{bail, Context, Result};

use crate::backend::{Backend, RunResult};
use crate::campaign::{Action, Event, Finish, Machine, Record, Sink};
use crate::hint::Hinter;
use crate::journal::Journal;

/// Runs the machine to its end: replays `past`, then acts until done.
pub fn drive(
    mut m: Machine,
    past: &[Record],
    backend: &mut dyn Backend,
    journal: &mut Journal,
    sink: &mut dyn Sink,
    hinter: &mut dyn Hinter,
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
                };
                journal.append(&rec)?;
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
                let results: Vec<RunResult> = backend.run(&jobs, &mut progress)?;
                if results.len() != jobs.len() {
                    bail!(
                        "backend returned {} results for {} runs",
                        results.len(),
                        jobs.len()
                    );
                }
                for (job, r) in jobs.into_iter().zip(results) {
                    let rec = Record::Run {
                        commit: job.commit,
                        run: job.run,
                        round,
                        status: r.status,
                        secs: r.secs,
                        output: r.output,
                    };
                    journal.append(&rec)?;
                    m.feed(&rec)?;
                }
                flush(&mut m, sink);
            }
        }
    }
}

fn flush(m: &mut Machine, sink: &mut dyn Sink) {
    for e in m.take_events() {
        sink.event(&e);
    }
}
