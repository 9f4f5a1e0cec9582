//! The kernel backend: build a Linux commit reproducibly, boot it in QEMU
//! with culprit's initramfs, run the reproducer, classify the console.
//!
//! Layout (the build tree is the workdir with a private tree, else the
//! shared one):
//! - `tree/`: culprit's worktree in the build tree (the user's checkout is
//!   never touched); builder K of `--builders` has `builder-K/tree/`;
//! - `build/`: one build directory reused across commits (plus ccache), so a
//!   commit that changes one file rebuilds in seconds; builder K's is
//!   `builder-K/build/`;
//! - `WORKDIR/kernels/<sha>/`: bzImage, effective .config, build log,
//!   signature and compiler identity of each commit built, so later runs
//!   need no rebuild (every builder writes here, every VM boots from here);
//! - `WORKDIR/runs/<sha>/<run>.log`: the serial console of every run;
//! - `WORKDIR/initramfs.cpio`: busybox, init and the reproducer (built once).
//!
//! The parts: `build` (one builder), `vm` (one run), [`KernelBackend`] (one
//! builder and the VMs, one action at a time) and [`KernelBuilders`] (B
//! builders and the VMs at once). Every QEMU and make process is killed on
//! timeout, on error and on Ctrl-C.
//!
//! On Slurm (`backend::slurm::kernel`) the same code runs on the nodes:
//! `job` builds with [`KernelBackend::for_builds`] and runs with
//! [`run_vm`], the one place a console becomes a run status.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_kernel::initramfs::{self, Repro};
use culprit_kernel::{accel, config};
use culprit_proc::Cancel;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Backend, BuildResult, Done, Progress, RunJob};

mod build;
pub mod builders;
pub mod job;
mod settings;
mod tree;
mod vm;
pub use build::{builder_dirs, kept};
use build::{BaseConfig, TreeBuild};
pub use builders::KernelBuilders;
pub use settings::{
    is_kernel_tree, preflight, preflight_build, KernelSettings, BUILD_TIMEOUT, RUN_TIMEOUT,
};
use tree::shared_tree;
pub use tree::{tree_name, TreeChoice, TreeLock};
use vm::Vm;
pub use vm::{machine_for, run_vm, VM_ATTEMPTS};

/// How many VMs, and which build tree.
#[derive(Debug, Clone)]
pub struct Pool {
    /// VMs booted in parallel.
    pub vms: u32,
    pub tree: TreeChoice,
}

/// What every builder and VM of a campaign shares, made once: the checked
/// input, the initramfs, the accelerator and the build tree (held).
struct Shared {
    vm: Vm,
    base: Arc<BaseConfig>,
    /// Where the builders' checkouts and build directories live.
    root: PathBuf,
    /// Said once, with the first build.
    notes: Vec<String>,
    /// Held while a shared build tree is ours (see [`TreeLock`]).
    lock: Option<TreeLock>,
}

impl Shared {
    /// Checks tools and input, builds the initramfs (compiling the
    /// reproducer) and takes the build tree.
    fn new(workdir: &Path, s: KernelSettings, pool: &Pool, cancel: &Cancel) -> Result<Shared> {
        preflight(&s)?;
        s.validate()?;
        if pool.vms == 0 {
            bail!("vms must be at least 1");
        }
        let workdir = std::path::absolute(workdir).context("workdir path")?;
        std::fs::create_dir_all(&workdir)
            .with_context(|| format!("creating {}", workdir.display()))?;
        let base = base_of(&s)?;
        let initrd = make_initramfs(&s, &workdir, cancel)?;
        let (accel, why) = accel::choose(&s.accel).map_err(anyhow::Error::msg)?;
        let mut notes = vec![why];
        let (root, lock) = match shared_tree(&pool.tree, &mut notes)? {
            Some((d, lock)) => (d, Some(lock)),
            None => (workdir.clone(), None),
        };
        Ok(Shared {
            base: BaseConfig::new(base, &workdir),
            vm: Vm {
                s,
                workdir,
                initrd,
                accel,
            },
            root,
            notes,
            lock,
        })
    }

    /// Opens builder `k`'s checkout with `jobs` make jobs.
    fn builder(
        &self,
        repo: &Repo,
        bad: &str,
        k: u32,
        jobs: usize,
        progress: Progress,
    ) -> Result<TreeBuild> {
        TreeBuild::open(
            repo,
            bad,
            &self.root,
            k,
            &self.vm.s,
            jobs,
            &self.vm.workdir,
            self.base.clone(),
            progress,
        )
    }
}

/// The user's kernel config, checked, or None for tinyconfig + VM options.
pub fn base_of(s: &KernelSettings) -> Result<Option<String>> {
    let Some(p) = &s.config else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("reading the kernel config {}", p.display()))?;
    // Catch a config that cannot boot before any build; options that
    // olddefconfig drops are caught per commit.
    config::check(&text).with_context(|| format!("the kernel config {}", p.display()))?;
    Ok(Some(text))
}

/// Builds `dir/initramfs.cpio` (busybox, init, the reproducer compiled
/// here); its path.
pub fn make_initramfs(s: &KernelSettings, dir: &Path, cancel: &Cancel) -> Result<PathBuf> {
    let repro_path = s.reproducer.clone().unwrap_or_default();
    let repro = Repro::detect(&repro_path).context("the reproducer")?;
    let initrd = dir.join("initramfs.cpio");
    let tmp = dir.join("repro-build");
    std::fs::create_dir_all(&tmp)?;
    initramfs::build(
        &s.busybox,
        &repro,
        initramfs::ReproRun {
            secs: s.repro_time.ceil() as u64,
            repeat: s.repro_repeat,
        },
        &tmp,
        &initrd,
        cancel,
    )
    .context("building the initramfs")?;
    Ok(initrd)
}

/// Make jobs of each of `builders` builders: `--jobs` when given, else
/// the machine's cores shared between them.
fn jobs_of(s: &KernelSettings, builders: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    s.jobs
        .unwrap_or(super::builders::jobs_per_builder(cores, builders) as usize)
}

/// One builder and the VMs, one action at a time ([`Backend`]): `culprit
/// test`, and the tests of the parts.
pub struct KernelBackend {
    vm: Vm,
    vms: u32,
    /// The campaign's token: every make and QEMU runs under it.
    cancel: Cancel,
    tree: TreeBuild,
    /// Said once, with the first build.
    notes: Vec<String>,
    _lock: Option<TreeLock>,
}

impl KernelBackend {
    /// Checks tools and input, builds the initramfs (compiling the
    /// reproducer) and creates the worktree at `bad`.
    pub fn new(
        repo: &Repo,
        bad: &str,
        workdir: &Path,
        s: KernelSettings,
        pool: Pool,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        let jobs = jobs_of(&s, 1);
        let shared = Shared::new(workdir, s, &pool, &cancel)?;
        let tree = shared.builder(repo, bad, 1, jobs, progress)?;
        Ok(KernelBackend {
            vm: shared.vm,
            vms: pool.vms,
            cancel,
            tree,
            notes: shared.notes,
            _lock: shared.lock,
        })
    }

    /// A backend that only builds (no initramfs, no QEMU: a build node),
    /// in the checkout and build directory under `root`, which the caller
    /// holds (see [`TreeLock::wait`]); products go to `workdir/kernels/`.
    /// The settings are the submitting side's, already validated there.
    pub fn for_builds(
        repo: &Repo,
        commit: &str,
        workdir: &Path,
        s: KernelSettings,
        root: &Path,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        preflight_build(&s)?;
        let workdir = std::path::absolute(workdir).context("workdir path")?;
        std::fs::create_dir_all(&workdir)
            .with_context(|| format!("creating {}", workdir.display()))?;
        let base = BaseConfig::new(base_of(&s)?, &workdir);
        let jobs = jobs_of(&s, 1);
        let tree = TreeBuild::open(repo, commit, root, 1, &s, jobs, &workdir, base, progress)?;
        Ok(KernelBackend {
            // Runs need `new`: a run refuses a VM without an initramfs.
            vm: Vm {
                s,
                workdir,
                initrd: PathBuf::new(),
                accel: accel::Accel::Tcg,
            },
            vms: 1,
            cancel,
            tree,
            notes: Vec::new(),
            _lock: None,
        })
    }
}

impl Backend for KernelBackend {
    fn build(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        let mut r = self.tree.build(commit, &self.cancel, progress)?;
        if r.ok && !self.notes.is_empty() {
            r.info.append(&mut self.notes);
        }
        Ok(r)
    }

    fn run(&mut self, jobs: &[RunJob], _progress: Progress, done: Done) -> Result<()> {
        for j in jobs {
            if !self.is_available(&j.commit) {
                bail!("commit {} has no kernel built", j.commit);
            }
        }
        let workers = (self.vms as usize).min(jobs.len()).max(1);
        let vm = &self.vm;
        let cancel = &self.cancel;
        let mut first_error: Option<anyhow::Error> = None;
        // A cancel of the campaign's token (Ctrl-C) kills the running VMs
        // and stops the pool from starting more; each run is handed over
        // as it ends.
        let started = culprit_proc::pool_each(
            &self.cancel,
            jobs,
            workers,
            |j| vm.run_one(j, cancel),
            |i, r| match r {
                Ok(r) => done(i, r),
                Err(e) => {
                    let j = &jobs[i];
                    first_error.get_or_insert(e.context(format!("run #{} on {}", j.run, j.commit)));
                }
            },
        );
        if let Some(e) = first_error {
            return Err(e);
        }
        if self.cancel.is_cancelled() || started.iter().any(|s| !s) {
            bail!("interrupted");
        }
        Ok(())
    }

    fn is_available(&self, commit: &str) -> bool {
        vm::is_built(&self.vm.workdir, commit)
    }
}
