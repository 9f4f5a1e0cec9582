//! The kernel backend: build a Linux commit reproducibly, boot it in QEMU
//! with culprit's initramfs, run the reproducer, classify the console.
//!
//! Layout under the workdir:
//! - `tree/`: culprit's worktree (the user's checkout is never touched);
//! - `build/`: one build directory reused across commits (plus ccache), so a
//!   commit that changes one file rebuilds in seconds;
//! - `kernels/<sha>/`: bzImage, effective .config, build log, signature and
//!   compiler identity of each commit built, so later runs need no rebuild;
//! - `runs/<sha>/<run>.log`: the serial console of every run;
//! - `initramfs.cpio`: busybox, init and the reproducer (built once).
//!
//! Every QEMU and make process is killed on timeout, on error and on Ctrl-C.
//!
//! On Slurm (`backend::slurm::kernel`) the same code runs on the nodes:
//! `job` builds with [`KernelBackend::for_builds`] and runs with
//! [`run_vm`], the one place a console becomes a run status.

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use culprit_kernel::build::{Builder, Compiler};
use culprit_kernel::classify::{classify, Verdict};
use culprit_kernel::initramfs::{self, Repro};
use culprit_kernel::qemu::Machine;
use culprit_kernel::{accel, config, signature, toolchain};
use culprit_proc::Cancel;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Backend, BuildResult, Done, Progress, RunJob, RunResult, RunStatus, Untestable};

pub mod job;
mod settings;
mod tree;
pub use settings::{
    is_kernel_tree, preflight, preflight_build, KernelSettings, BUILD_TIMEOUT, RUN_TIMEOUT,
};
use tree::shared_tree;
pub use tree::{tree_name, TreeChoice, TreeLock};

struct Prepared {
    /// The base config: the user's file or tinyconfig + VM options.
    base: Option<String>,
}

/// How many VMs, and which build tree.
#[derive(Debug, Clone)]
pub struct Pool {
    /// VMs booted in parallel.
    pub vms: u32,
    pub tree: TreeChoice,
}

pub struct KernelBackend {
    s: KernelSettings,
    /// The repository bisected (read only).
    repo: Repo,
    vms: u32,
    /// The campaign's token: every make and QEMU runs under it.
    cancel: Cancel,
    tree: Worktree,
    workdir: PathBuf,
    builder: Builder,
    initrd: PathBuf,
    accel: accel::Accel,
    /// Said once, with the first build.
    notes: Vec<String>,
    prepared: Prepared,
    /// Held while a shared build tree is ours (see [`TreeLock`]).
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
        preflight(&s)?;
        s.validate()?;
        if pool.vms == 0 {
            bail!("vms must be at least 1");
        }
        let workdir = std::path::absolute(workdir).context("workdir path")?;
        std::fs::create_dir_all(&workdir)
            .with_context(|| format!("creating {}", workdir.display()))?;
        let base = base_of(&s)?;
        let initrd = make_initramfs(&s, &workdir, &cancel)?;
        let (accel, why) = accel::choose(&s.accel).map_err(anyhow::Error::msg)?;
        let mut notes = vec![why];
        let shared = shared_tree(&pool.tree, &mut notes)?;
        let (root, lock) = match shared {
            Some((d, lock)) => (d, Some(lock)),
            None => (workdir.clone(), None),
        };
        let (tree, builder) = tree_and_builder(repo, &root, bad, &s, progress)?;
        Ok(KernelBackend {
            repo: repo.clone(),
            s,
            vms: pool.vms,
            cancel,
            tree,
            workdir,
            builder,
            initrd,
            accel,
            notes,
            prepared: Prepared { base },
            _lock: lock,
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
        let base = base_of(&s)?;
        let (tree, builder) = tree_and_builder(repo, root, commit, &s, progress)?;
        Ok(KernelBackend {
            repo: repo.clone(),
            s,
            vms: 1,
            cancel,
            tree,
            workdir,
            builder,
            // Runs need `new`: `run` refuses a backend without an initramfs.
            initrd: PathBuf::new(),
            accel: accel::Accel::Tcg,
            notes: Vec::new(),
            prepared: Prepared { base },
            _lock: None,
        })
    }

    fn kernel_dir(&self, commit: &str) -> PathBuf {
        self.workdir.join("kernels").join(commit)
    }

    fn cached(&self, commit: &str) -> Option<BuildResult> {
        kept(&self.kernel_dir(commit))
    }

    fn base_config(&mut self, log: &Path) -> Result<String> {
        if let Some(b) = &self.prepared.base {
            return Ok(b.clone());
        }
        let saved = self.workdir.join("base.config");
        let text = match std::fs::read_to_string(&saved) {
            Ok(t) => t,
            Err(_) => {
                let t = config::tiny_vm_config(&self.builder, log, &self.cancel)
                    .context("making tinyconfig + VM options")?;
                std::fs::write(&saved, &t)?;
                t
            }
        };
        self.prepared.base = Some(text.clone());
        Ok(text)
    }

    fn build_now(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        let start = Instant::now();
        let dir = self.kernel_dir(commit);
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("build.log");
        self.tree
            .checkout(commit, progress)
            .with_context(|| format!("checking out {commit}"))?;
        let failed = |first_error: String, log: &Path| BuildResult {
            ok: false,
            signature: None,
            secs: start.elapsed().as_secs_f64(),
            first_error: Some(first_error),
            log: Some(log.to_path_buf()),
            config: None,
            symbols: None,
            info: vec![],
        };
        let cfg_log = dir.join("config.log");
        let base = self.base_config(&cfg_log)?;
        let source = Some((&self.repo, commit));
        let effective = match config::prepare(&self.builder, &base, &cfg_log, &self.cancel, source)
        {
            Ok(t) => t,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e @ (culprit_kernel::Error::Io { .. } | culprit_kernel::Error::Process(_))) => {
                return Err(e.into())
            }
            Err(e) => return Ok(failed(e.to_string(), &cfg_log)),
        };
        std::fs::write(dir.join("config"), &effective)?;
        let out = match self
            .builder
            .make_with(&["bzImage"], &log, &self.cancel, progress)
        {
            Ok(o) => o,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e) => return Err(e.into()),
        };
        if !out.ok {
            return Ok(failed(
                out.first_error.unwrap_or_else(|| "make failed".into()),
                &log,
            ));
        }
        let build = &self.builder.build_dir;
        culprit_kernel::build::check_bzimage(build)?;
        let sig = signature::of_file(&build.join("vmlinux")).context("signing vmlinux")?;
        let compiler = toolchain::identity(build, &self.builder.compiler.cc, &self.cancel);
        std::fs::copy(build.join("arch/x86/boot/bzImage"), dir.join("bzImage"))
            .context("keeping bzImage")?;
        let symbols = keep_symbols(&build.join("vmlinux"), &dir.join("vmlinux"), &effective)?;
        std::fs::write(
            dir.join("build.txt"),
            format!(
                "signature: {}\ncompiler: {compiler}\nseconds: {:.1}\n",
                hex::encode(sig),
                out.secs
            ),
        )?;
        Ok(BuildResult {
            ok: true,
            signature: Some(sig),
            secs: start.elapsed().as_secs_f64(),
            first_error: None,
            log: Some(log),
            config: Some(dir.join("config")),
            symbols,
            info: vec![format!("compiler: {compiler}")],
        })
    }

    fn machine(&self, commit: &str) -> Machine {
        machine_for(
            &self.s,
            self.kernel_dir(commit).join("bzImage"),
            self.initrd.clone(),
            self.accel,
        )
    }

    fn run_one(&self, job: &RunJob) -> Result<RunResult> {
        let dir = self.workdir.join("runs").join(&job.commit);
        std::fs::create_dir_all(&dir)?;
        let console = dir.join(format!("{}.log", job.run));
        run_vm(&self.machine(&job.commit), job, &console, &self.cancel)
    }
}

/// The kernel kept in `dir` (a `kernels/<commit>/` directory), as a
/// build result that needs no rebuild; None unless it is complete.
pub fn kept(dir: &Path) -> Option<BuildResult> {
    let meta = std::fs::read_to_string(dir.join("build.txt")).ok()?;
    if !dir.join("bzImage").is_file() {
        return None;
    }
    let get = |k: &str| {
        meta.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .map(str::to_string)
    };
    let sig = hex::decode(get("signature")?).ok()?.try_into().ok()?;
    Some(BuildResult {
        ok: true,
        signature: Some(sig),
        secs: 0.0,
        first_error: None,
        log: Some(dir.join("build.log")),
        config: Some(dir.join("config")),
        symbols: Some(dir.join("vmlinux")).filter(|p| p.is_file()),
        info: vec![format!("compiler: {}", get("compiler")?)],
    })
}

/// One run: boots `m` (again, up to [`VM_ATTEMPTS`], when the VM itself
/// fails), the console to `console`, and classifies what it shows. The
/// one place a console becomes a run status, wherever the VM runs.
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

/// culprit's checkout under `root` (made at `at` when new) and the
/// builder of its build directory.
fn tree_and_builder(
    repo: &Repo,
    root: &Path,
    at: &str,
    s: &KernelSettings,
    progress: Progress,
) -> Result<(Worktree, Builder)> {
    let tree = Worktree::ensure(repo, &root.join("tree"), at, progress)
        .context("creating culprit's worktree")?;
    let compiler = Compiler {
        cc: s.compiler.clone(),
        ccache: s
            .ccache
            .unwrap_or_else(|| culprit_kernel::have_tool("ccache")),
    };
    let mut builder = Builder::new(tree.dir(), &root.join("build"), compiler)?;
    builder.timeout = Duration::from_secs_f64(s.build_timeout());
    if let Some(j) = s.jobs {
        builder.jobs = j.max(1);
    }
    Ok((tree, builder))
}

/// Starts of one VM run before its infrastructure failure is final.
pub const VM_ATTEMPTS: u32 = 3;

/// Keeps the vmlinux of a build with debug info beside its bzImage, to
/// symbolise its crashes later. A hard link costs nothing (the linker
/// writes a new file for the next build); a copy where links fail.
fn keep_symbols(vmlinux: &Path, kept: &Path, config: &str) -> Result<Option<PathBuf>> {
    let parsed = config::parse(config);
    let debug = ["DEBUG_INFO", "DEBUG_INFO_DWARF5", "DEBUG_INFO_DWARF4"]
        .iter()
        .any(|o| parsed.get(*o).map(String::as_str) == Some("y"));
    let _ = std::fs::remove_file(kept);
    if !debug {
        return Ok(None);
    }
    if std::fs::hard_link(vmlinux, kept).is_err() {
        std::fs::copy(vmlinux, kept).context("keeping vmlinux")?;
    }
    Ok(Some(kept.to_path_buf()))
}

impl Backend for KernelBackend {
    fn build(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        let mut r = match self.cached(commit) {
            Some(r) => r,
            None => self.build_now(commit, progress)?,
        };
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
        if self.initrd.as_os_str().is_empty() {
            bail!("this kernel backend only builds (KernelBackend::for_builds)");
        }
        let workers = (self.vms as usize).min(jobs.len()).max(1);
        let this = &*self;
        let mut first_error: Option<anyhow::Error> = None;
        // A cancel of the campaign's token (Ctrl-C) kills the running VMs
        // and stops the pool from starting more; each run is handed over
        // as it ends.
        let started = culprit_proc::pool_each(
            &self.cancel,
            jobs,
            workers,
            |j| this.run_one(j),
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
        self.kernel_dir(commit).join("bzImage").is_file()
            && self.kernel_dir(commit).join("build.txt").is_file()
    }
}
