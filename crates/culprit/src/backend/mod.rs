//! Backends: how a commit is built and how a run is executed.
//!
//! The campaign only talks to this trait pair. The generic command backend
//! runs the user's shell commands (on this machine, or as Slurm jobs:
//! `slurm`); the kernel backend builds Linux and boots it in QEMU; the bench drives a simulated backend. Durations are reported by
//! the backend (measured or simulated), never read from a clock by the
//! campaign, so a simulated campaign is the real campaign code.

pub mod builders;
pub mod command;
pub mod kernel;
pub mod slurm;
mod threads;

use std::path::PathBuf;

pub use crate::campaign::{RunJob, RunStatus, Untestable};

/// Result of building one commit.
#[derive(Debug, Clone, Default)]
pub struct BuildResult {
    pub ok: bool,
    /// SHA-256 signature of the build product, if one was produced.
    pub signature: Option<[u8; 32]>,
    /// Seconds the build took (measured or simulated).
    pub secs: f64,
    /// For a failed build: the first error line of its output.
    pub first_error: Option<String>,
    /// Where the full build output was kept.
    pub log: Option<PathBuf>,
    /// Where the configuration it was built with was kept (kernel mode).
    pub config: Option<PathBuf>,
    /// The image with debug info for symbolising its crashes (kernel mode:
    /// vmlinux, when the config has debug info).
    pub symbols: Option<PathBuf>,
    /// Extra lines for the text log, printed after "testing commit"
    /// (for example "compiler: gcc ..."), without the signature line.
    pub info: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub status: RunStatus,
    /// Seconds the run took (measured or simulated).
    pub secs: f64,
    /// Where the run's output (console) was kept.
    pub output: Option<PathBuf>,
}

/// Where a backend reports progress of a long step (a checkout, a build):
/// one line at a time, for people watching. Not evidence.
pub type Progress<'a> = &'a mut dyn FnMut(String);

/// Where a backend hands over each run's result as soon as the run ends:
/// (index of the job, result). The campaign journals it there, so a round
/// interrupted halfway keeps what finished.
pub type Done<'a> = &'a mut dyn FnMut(usize, RunResult);

/// A way to build commits and run tests on them.
pub trait Backend {
    /// Build `commit` (full hash). An `Err` is an infrastructure failure that
    /// stops the campaign; a build that fails is `Ok` with `ok: false`.
    fn build(&mut self, commit: &str, progress: Progress) -> anyhow::Result<BuildResult>;

    /// Execute these runs (all on commits built before, possibly several
    /// commits), in parallel up to the backend's VM count, handing each
    /// result to `done` as its run ends (in any order). An `Err` stops the
    /// campaign (a test that cannot start, a run killed by a signal,
    /// Ctrl-C); the results handed over before it stay valid.
    fn run(&mut self, jobs: &[RunJob], progress: Progress, done: Done) -> anyhow::Result<()>;

    /// [`Backend::run`], collecting the results in job order.
    fn run_collect(
        &mut self,
        jobs: &[RunJob],
        progress: Progress,
    ) -> anyhow::Result<Vec<RunResult>> {
        let mut out: Vec<Option<RunResult>> = (0..jobs.len()).map(|_| None).collect();
        self.run(jobs, progress, &mut |i, r| {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(r);
            }
        })?;
        out.into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| anyhow::anyhow!("no result for run {i}")))
            .collect()
    }

    /// Whether the product of `commit` can still be run without a rebuild.
    fn is_available(&self, commit: &str) -> bool;
}

/// What a [`Concurrent`] backend reports, one at a time, as it happens.
#[derive(Debug)]
pub enum Completion {
    /// A builder (numbered from 1) started building a commit.
    Started { builder: u32, commit: String },
    /// A line of progress of a build.
    Progress { commit: String, text: String },
    /// A build ended; an `Err` is an infrastructure failure (or Ctrl-C)
    /// that stops the campaign.
    Built {
        builder: u32,
        commit: String,
        result: anyhow::Result<BuildResult>,
    },
    /// A run ended; an `Err` stops the campaign, as in [`Backend::run`].
    Ran {
        job: RunJob,
        result: anyhow::Result<RunResult>,
    },
}

/// A backend that keeps several builds and runs in flight at once, for
/// `culprit bisect --builders B` (`crate::drive::drive_batch`): builds and
/// runs are started without waiting, and [`Concurrent::next`] hands over
/// whatever happens next.
pub trait Concurrent {
    /// Builders that can start a build now (not counting builds accepted
    /// and still waiting for one).
    fn free_builders(&self) -> u32;
    /// VMs (run slots) that can start a run now.
    fn free_vms(&self) -> u32;
    /// Whether the product of `commit` can be run without a rebuild.
    fn is_available(&self, commit: &str) -> bool;
    /// Builds `commit` on a free builder, or on the next one to free up.
    fn start_build(&mut self, commit: &str) -> anyhow::Result<()>;
    /// Starts one run of a built commit on a free VM.
    fn start_run(&mut self, job: RunJob) -> anyhow::Result<()>;
    /// Whether anything is in flight or waiting for a builder.
    fn busy(&self) -> bool;
    /// Waits for the next thing that happens; an error when nothing is
    /// in flight.
    fn next(&mut self) -> anyhow::Result<Completion>;
    /// Stops every build and run in flight, kills their processes and
    /// waits for them, dropping their results.
    fn stop(&mut self);
}
