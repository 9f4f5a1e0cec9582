//! The run part of the kernel backend: boot a built kernel from the
//! campaign's store (`kernels/<sha>/bzImage`) in QEMU with culprit's
//! initramfs, and classify its console (`runs/<sha>/<run>.log`).
//!
//! A run reads only the store and the initramfs, never a checkout or a
//! build directory, so runs go on while any builder builds. It must never
//! run the reproducer on the host: only inside the VM.

use anyhow::{bail, Result};
use culprit_kernel::accel;
use culprit_kernel::classify::{classify, Verdict};
use culprit_kernel::qemu::Machine;
use culprit_proc::Cancel;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::settings::KernelSettings;
use crate::backend::{RunJob, RunResult, RunStatus, Untestable};

/// Starts of one VM run before its infrastructure failure is final.
pub const VM_ATTEMPTS: u32 = 3;

/// Where the kernel of `commit` is kept under `workdir`.
pub fn kernel_dir(workdir: &Path, commit: &str) -> PathBuf {
    workdir.join("kernels").join(commit)
}

/// Whether `commit` has a kernel in the store (its bzImage, and the
/// metadata written last).
pub fn is_built(workdir: &Path, commit: &str) -> bool {
    let dir = kernel_dir(workdir, commit);
    dir.join("bzImage").is_file() && dir.join("build.txt").is_file()
}

/// What every VM run of a campaign needs; shared by all run threads.
#[derive(Debug, Clone)]
pub struct Vm {
    pub(super) s: KernelSettings,
    pub(super) workdir: PathBuf,
    pub(super) initrd: PathBuf,
    pub(super) accel: accel::Accel,
}

impl Vm {
    fn machine(&self, commit: &str) -> Machine {
        machine_for(
            &self.s,
            kernel_dir(&self.workdir, commit).join("bzImage"),
            self.initrd.clone(),
            self.accel,
        )
    }

    /// Boots the kernel of `job.commit` once under `cancel` and classifies
    /// its console.
    pub fn run_one(&self, job: &RunJob, cancel: &Cancel) -> Result<RunResult> {
        if self.initrd.as_os_str().is_empty() {
            bail!("this kernel backend only builds (KernelBackend::for_builds)");
        }
        let dir = self.workdir.join("runs").join(&job.commit);
        std::fs::create_dir_all(&dir)?;
        let console = dir.join(format!("{}.log", job.run));
        run_vm(&self.machine(&job.commit), job, &console, cancel)
    }
}

/// The VM that boots `kernel` with `initrd` as the settings say.
pub fn machine_for(
    s: &KernelSettings,
    kernel: PathBuf,
    initrd: PathBuf,
    accel: accel::Accel,
) -> Machine {
    Machine {
        qemu: s.qemu.clone(),
        kernel,
        initrd,
        memory_mb: s.memory,
        cpus: s.cpus,
        accel,
        cmdline: s.cmdline.clone(),
        boot_timeout: Duration::from_secs_f64(s.boot_timeout),
        // The reproducer's own limit plus the smoke test and shutdown.
        run_timeout: Duration::from_secs_f64(s.run_timeout().max(s.repro_time + 30.0)),
    }
}

/// One run: boots `m` (again, up to [`VM_ATTEMPTS`], when the VM itself
/// fails), the console to `console`, and classifies what it shows. The
/// one place a console becomes a run status, wherever the VM runs (here,
/// or on a Slurm node: `super::job`).
pub fn run_vm(m: &Machine, job: &RunJob, console: &Path, cancel: &Cancel) -> Result<RunResult> {
    // A VM that cannot start, or that the host fails under, says nothing
    // about the commit: try again a few times before giving up.
    let mut attempt = 1;
    let (out, verdict) = loop {
        let failure = match m.boot(console, cancel) {
            Ok(o) => match classify(&o) {
                Verdict::Infra(reason) if attempt < VM_ATTEMPTS => reason,
                v => break (o, v),
            },
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e) if attempt < VM_ATTEMPTS => e.to_string(),
            Err(e) => return Err(e.into()),
        };
        tracing::warn!(
            "run #{} on {}: the VM failed ({failure}); starting it again ({}/{VM_ATTEMPTS})",
            job.run,
            job.commit,
            attempt + 1
        );
        attempt += 1;
    };
    let status = match verdict {
        Verdict::Ok => RunStatus::Ok,
        Verdict::Crashed {
            report: Some(r), ..
        } => RunStatus::of_report(&r),
        Verdict::Crashed { title, .. } => RunStatus::crashed(title),
        Verdict::BootFailed(reason) => RunStatus::untestable(Untestable::Boot, reason),
        Verdict::SmokeFailed(reason) => RunStatus::untestable(Untestable::SmokeTest, reason),
        Verdict::Timeout(reason) => RunStatus::untestable(Untestable::Timeout, reason),
        Verdict::Infra(reason) => RunStatus::untestable(Untestable::Infra, reason),
    };
    Ok(RunResult {
        status,
        secs: out.secs,
        output: Some(console.to_path_buf()),
    })
}
