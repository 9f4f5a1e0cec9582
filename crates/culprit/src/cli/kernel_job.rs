//! `culprit kernel-job FILE` (hidden): one kernel build or VM run on a
//! Slurm node, as the job description FILE says (written by the culprit
//! that submitted the job; `backend::kernel::job` does the work). Exit 0
//! when its outcome file was written; anything else is the node's failure,
//! which the submitting side counts as a lost job, never as evidence.

use anyhow::{Context, Result};
use clap::ValueHint;
use std::path::PathBuf;

use crate::backend::kernel::job::{perform, JobSpec};

#[derive(Debug, Clone, clap::Args)]
pub struct KernelJobArgs {
    /// The job description (JSON) written by the submitting culprit.
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub job: PathBuf,
}

pub fn run(a: &KernelJobArgs) -> Result<i32> {
    let spec = JobSpec::read(&a.job)?;
    let cancel = crate::procs::root()
        .with_label("kernel-job")
        .context("labelling the job's processes")?;
    // A scancel (SIGTERM) cancels the token: make and QEMU are killed and
    // the job ends without an outcome.
    let _observing = cancel.observe();
    perform(&spec, &cancel, &mut |line| println!("{line}"))
        .with_context(|| format!("the job {}", a.job.display()))?;
    Ok(0)
}
