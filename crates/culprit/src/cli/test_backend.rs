//! The backend a [`Mode`] and an [`Executor`] describe, ready to build and
//! run: the user's commands ([`CommandBackend`]) or Linux in QEMU
//! ([`KernelBackend`], in the repository's shared build tree unless told
//! otherwise), as child processes here or as jobs on a Slurm cluster
//! ([`SlurmBackend`], [`SlurmKernelBackend`]).
//!
//! `culprit test` builds its backend here, and so does a campaign on
//! Slurm (`crate::execute`); a local campaign builds its own there, as it
//! may want several builders (`--builders`, `--overlap`) and its pool of
//! VMs comes from the campaign's options.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_proc::Cancel;
use std::path::Path;
use std::time::Duration;

use crate::backend::command::{CommandBackend, CommandSettings};
use crate::backend::kernel::{KernelBackend, Pool, TreeChoice};
use crate::backend::slurm::kernel::SlurmKernelBackend;
use crate::backend::slurm::{Executor, SlurmBackend};
use crate::backend::{Backend, Progress};
use crate::cli::paths::default_build_tree;
use crate::spec::Mode;

/// Where and how wide a backend works.
pub struct Place<'a> {
    /// The repository, opened under the campaign's token.
    pub repo: &'a Repo,
    /// The path the user gave for it (names the default build tree).
    pub repo_path: &'a Path,
    /// The commit the worktree is created at, when it is new.
    pub start: &'a str,
    pub workdir: &'a Path,
    /// Runs in parallel.
    pub vms: u32,
}

/// A timeout option in seconds, checked.
pub fn seconds(name: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        Some(s) if !(s > 0.0 && s.is_finite() && s <= 1e7) => {
            bail!("{name} must be a positive number of seconds (up to 10^7), not {s}")
        }
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

/// Options of the local kernel backend that Slurm has no use for: each
/// build node keeps its build tree under --node-dir.
pub fn check_executor(mode: &Mode, executor: &Executor) -> Result<()> {
    if let (Mode::Kernel(k), Executor::Slurm(_)) = (mode, executor) {
        if k.build_tree.is_some() || k.private_tree {
            bail!("--build-tree and --private-tree are for the local executor: with --executor slurm each build node keeps its kernel build tree under --node-dir (docs/slurm.md)");
        }
    }
    Ok(())
}

/// Creates the backend `mode` describes on `executor`. Every job it starts
/// runs under `cancel` (on Slurm, cancelling it cancels the jobs); long
/// steps (the first checkout, the initramfs) report through `progress`.
pub fn backend_for(
    mode: &Mode,
    executor: &Executor,
    at: &Place<'_>,
    cancel: Cancel,
    progress: Progress,
) -> Result<Box<dyn Backend>> {
    if at.vms == 0 {
        bail!("--vms must be at least 1");
    }
    Ok(match (mode, executor) {
        (Mode::Generic(g), executor) => {
            let settings = CommandSettings {
                build: g.build.clone(),
                test: g.test.clone(),
                artifact: g.artifact.clone(),
                vms: at.vms,
                run_timeout: seconds("--run-timeout", g.run_timeout)?,
                build_timeout: seconds("--build-timeout", g.build_timeout)?,
            };
            match executor {
                Executor::Local => Box::new(CommandBackend::new(
                    at.repo, at.start, at.workdir, settings, cancel, progress,
                )?),
                Executor::Slurm(slurm) => Box::new(SlurmBackend::new(
                    at.repo,
                    at.workdir,
                    settings,
                    slurm.clone(),
                    cancel,
                    progress,
                )?),
            }
        }
        (Mode::Kernel(k), Executor::Slurm(slurm)) => {
            check_executor(mode, executor)?;
            Box::new(
                SlurmKernelBackend::new(
                    at.repo,
                    at.workdir,
                    k.clone(),
                    slurm.clone(),
                    at.vms,
                    cancel,
                    progress,
                )
                .context("preparing the kernel backend on Slurm")?,
            )
        }
        (Mode::Kernel(k), Executor::Local) => {
            let tree = if k.private_tree {
                TreeChoice::Private
            } else if let Some(d) = &k.build_tree {
                TreeChoice::Shared(d.clone())
            } else {
                TreeChoice::SharedOrPrivate(default_build_tree(at.repo_path)?)
            };
            Box::new(
                KernelBackend::new(
                    at.repo,
                    at.start,
                    at.workdir,
                    k.clone(),
                    Pool { vms: at.vms, tree },
                    cancel,
                    progress,
                )
                .context("preparing the kernel backend")?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_checked() {
        assert_eq!(seconds("--x", None).unwrap(), None);
        assert_eq!(
            seconds("--x", Some(1.5)).unwrap(),
            Some(Duration::from_millis(1500))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e8] {
            let e = seconds("--run-timeout", Some(bad)).unwrap_err().to_string();
            assert!(e.starts_with("--run-timeout must be"), "{e}");
        }
    }
}
