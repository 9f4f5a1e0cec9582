//! Watching the jobs in flight: one `squeue -t all` per poll for all of
//! them, `sacct` for a job squeue forgot, culprit's own cancel of a job
//! running past its timeout, and `scancel` of whatever is left when the
//! watch ends early (an error, Ctrl-C).

use anyhow::{bail, Result};
use culprit_proc::Cancel;
use std::time::{Duration, Instant};

use super::client::{self, Seen};
use super::state::{self, Ending, Finished, OurCancel, Phase};
use super::INTERRUPTED;
use crate::backend::Progress;

/// Times squeue may not know a job before it counts as lost.
const MISSING_POLLS: u32 = 3;

/// One job in flight.
pub struct Live {
    pub id: u64,
    /// Index of the run (0 for a build).
    pub index: usize,
    pub stem: String,
    pub submitted: Instant,
    pub running_since: Option<Instant>,
    /// Cancel it when it runs longer than this.
    pub limit: Option<Duration>,
    pub ours: Option<OurCancel>,
    pub missing: u32,
    pub state: String,
}

/// The jobs in flight; whatever is left when it is dropped (an error, a
/// Ctrl-C) is cancelled.
#[derive(Default)]
pub struct Flight(pub Vec<Live>);

impl Drop for Flight {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.0.iter().map(|l| l.id).collect();
        client::scancel(&ids);
    }
}

/// Waits until at least one job of `flight` ends; the ended ones,
/// removed from it, with their final state.
pub fn wait_some(
    flight: &mut Flight,
    cancel: &Cancel,
    progress: Progress,
) -> Result<Vec<(Live, Seen)>> {
    let mut quiet_since = Instant::now();
    loop {
        // Often at first (a short job ends within seconds), then
        // gently: one squeue call per poll for all jobs.
        let idle = quiet_since.elapsed();
        let pause = if idle < Duration::from_secs(5) {
            Duration::from_millis(250)
        } else if idle < Duration::from_secs(60) {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3)
        };
        if cancel.sleep(pause).is_err() {
            bail!(INTERRUPTED);
        }
        let ids: Vec<u64> = flight.0.iter().map(|l| l.id).collect();
        let seen = client::query(&ids, cancel)?;
        let mut ended = Vec::new();
        let mut i = 0;
        while i < flight.0.len() {
            let live = &mut flight.0[i];
            let answer = match seen.iter().find(|s| s.id == live.id) {
                Some(s) => {
                    live.missing = 0;
                    Some(s.clone())
                }
                None => {
                    live.missing += 1;
                    match client::accounting(live.id, cancel)? {
                        Some(s) => Some(s),
                        None if live.missing >= MISSING_POLLS => Some(Seen {
                            id: live.id,
                            state: "VANISHED".into(),
                            node: String::new(),
                            reason: "neither squeue nor sacct knows it".into(),
                        }),
                        None => None,
                    }
                }
            };
            let Some(s) = answer else {
                i += 1;
                continue;
            };
            if s.state != live.state {
                quiet_since = Instant::now();
                progress(format!(
                    "Slurm job {}: {}{}",
                    live.id,
                    s.state,
                    if s.node.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", s.node)
                    }
                ));
                live.state = s.state.clone();
            }
            match state::phase(&s.state) {
                Phase::Ended => {
                    ended.push((flight.0.remove(i), s));
                    continue;
                }
                Phase::Running => {
                    let since = *live.running_since.get_or_insert_with(Instant::now);
                    if live.ours.is_none() && live.limit.is_some_and(|l| since.elapsed() > l) {
                        progress(format!(
                            "Slurm job {} runs past its timeout: cancelling it",
                            live.id
                        ));
                        live.ours = Some(OurCancel::Timeout);
                        client::scancel(&[live.id]);
                    }
                }
                Phase::Waiting => {}
            }
            i += 1;
        }
        if !ended.is_empty() {
            return Ok(ended);
        }
    }
}

pub fn ending(live: &Live, s: &Seen) -> Ending {
    state::ending(
        &Finished {
            id: live.id,
            state: &s.state,
            node: &s.node,
            reason: &s.reason,
        },
        live.ours,
    )
}
