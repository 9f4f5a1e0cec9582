//! Which driver performs a campaign: the one-action loop on a [`Backend`]
//! (one build at a time, `--builders 1`, as always) or the batch loop on a
//! [`Concurrent`] backend (`--builders B`, or one builder with
//! `--overlap`).

use anyhow::{bail, Result};

use crate::backend::builders::MAX_BUILDERS;
use crate::backend::command::CommandSettings;
use crate::backend::slurm::Executor;
use crate::backend::{Backend, Concurrent};
use crate::campaign::{Finish, Machine, Record, Sink};
use crate::drive::{drive, drive_batch, Reverter};
use crate::hint::Hinter;
use crate::journal::Journal;
use crate::spec::{CampaignSpec, Generic};

use super::timeout;

/// A campaign's backend, with the driver that goes with it.
pub enum Exec {
    One(Box<dyn Backend>),
    Many(Box<dyn Concurrent>),
}

impl Exec {
    /// Drives `m` to its end (see [`drive`] and [`drive_batch`]).
    pub fn drive(
        &mut self,
        m: Machine,
        past: &[Record],
        journal: &mut Journal,
        sink: &mut dyn Sink,
        hinter: &mut dyn Hinter,
        reverter: &mut dyn Reverter,
    ) -> Result<Finish> {
        match self {
            Exec::One(b) => drive(m, past, b.as_mut(), journal, sink, hinter, reverter),
            Exec::Many(b) => drive_batch(m, past, b.as_mut(), journal, sink, hinter, reverter),
        }
    }
}

pub(super) fn command_settings(spec: &CampaignSpec, g: &Generic) -> Result<CommandSettings> {
    Ok(CommandSettings {
        build: g.build.clone(),
        test: g.test.clone(),
        artifact: g.artifact.clone(),
        vms: spec.search.vms,
        run_timeout: timeout("--run-timeout", g.run_timeout)?,
        build_timeout: timeout("--build-timeout", g.build_timeout)?,
    })
}

/// `--builders`: in range, and only where several builders exist.
pub(super) fn check_builders(spec: &CampaignSpec) -> Result<()> {
    let b = spec.search.builders;
    if !(1..=MAX_BUILDERS).contains(&b) {
        bail!("--builders must be between 1 and {MAX_BUILDERS} (got {b}): the builds at once, each in its own checkout");
    }
    if spec.search.overlap && spec.executor != Executor::Local {
        bail!("--overlap is for the local executor only, for now; --executor slurm builds one commit at a time (its runs already go to the cluster --vms at once): drop --overlap");
    }
    if b == 1 {
        return Ok(());
    }
    if spec.executor != Executor::Local {
        bail!("--builders {b}: several builders are for the local executor only, for now; --executor slurm builds one commit at a time (its runs already go to the cluster --vms at once): drop --builders");
    }
    Ok(())
}
