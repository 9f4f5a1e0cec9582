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

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use culprit_kernel::build::{Builder, Compiler};
use culprit_kernel::classify::{classify, Verdict};
use culprit_kernel::initramfs::{self, Repro};
use culprit_kernel::qemu::Machine;
use culprit_kernel::{accel, config, signature, toolchain};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Backend, BuildResult, RunJob, RunResult, RunStatus, Untestable};

/// The `[kernel]` section of a campaign file (and the `--kernel` options).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KernelSettings {
    /// Kernel config file; completed with `make olddefconfig` on every
    /// commit. Default: tinyconfig plus what the VM needs.
    pub config: Option<PathBuf>,
    /// The reproducer: C source (compiled with `gcc -static`), a static
    /// binary, or a shell script.
    pub reproducer: PathBuf,
    /// Compiler; ccache is put in front of it when installed.
    pub compiler: String,
    /// Use ccache (default: when installed).
    pub ccache: Option<bool>,
    /// VMs booted in parallel.
    pub vms: u32,
    /// Memory per VM, MiB.
    pub memory: u32,
    /// CPUs per VM.
    pub cpus: u32,
    /// Seconds until init must have started.
    pub boot_timeout: f64,
    /// Seconds the VM may run after init started.
    pub run_timeout: f64,
    /// Seconds the reproducer runs before it is stopped (counted OK if the
    /// kernel survived).
    pub repro_time: f64,
    /// Executions of the reproducer per boot, one after the other until the
    /// kernel crashes or `repro_time` is over: a boot costs far more than an
    /// execution, and a reproducer that triggers on a coin flip shows far
    /// more often per boot when repeated.
    pub repro_repeat: u32,
    /// Seconds a build may take.
    pub build_timeout: f64,
    /// Extra kernel command line.
    pub cmdline: String,
    /// "auto" (KVM when it really works, else TCG), "kvm" or "tcg".
    pub accel: String,
    pub qemu: String,
    /// A static busybox.
    pub busybox: PathBuf,
    /// Parallel make jobs (default: number of CPUs).
    pub jobs: Option<usize>,
    /// Where the kernel checkout and build directory live. Given, they are
    /// reused by later campaigns (no new checkout, no first full build);
    /// default: inside the workdir, new for every campaign.
    pub build_tree: Option<PathBuf>,
    /// When `build_tree` is in use by another campaign, check out and build
    /// inside the workdir instead of failing (for a default shared tree).
    #[serde(skip)]
    pub build_tree_fallback: bool,
}

impl Default for KernelSettings {
    fn default() -> Self {
        KernelSettings {
            config: None,
            reproducer: PathBuf::new(),
            compiler: "gcc".into(),
            ccache: None,
            vms: 2,
            memory: 512,
            cpus: 1,
            boot_timeout: 120.0,
            run_timeout: 300.0,
            repro_time: 60.0,
            repro_repeat: 10,
            build_timeout: 3600.0,
            cmdline: String::new(),
            accel: "auto".into(),
            qemu: "qemu-system-x86_64".into(),
            busybox: "/bin/busybox".into(),
            jobs: None,
            build_tree: None,
            build_tree_fallback: false,
        }
    }
}

/// Checks that the tools exist and says which Debian package to install.
pub fn preflight(s: &KernelSettings) -> Result<()> {
    let mut missing = Vec::new();
    let tools = [
        (s.qemu.as_str(), "qemu-system-x86"),
        (s.compiler.as_str(), "gcc"),
        ("make", "make"),
        ("flex", "flex"),
        ("bison", "bison"),
        ("bc", "bc"),
        ("git", "git"),
    ];
    for (tool, pkg) in tools {
        if let Err(e) = culprit_kernel::require_tool(tool, pkg) {
            missing.push(e.to_string());
        }
    }
    if !s.busybox.is_file() {
        missing.push(format!(
            "{} not found: install the Debian package `busybox-static`",
            s.busybox.display()
        ));
    }
    if !missing.is_empty() {
        bail!("missing tools:\n  {}", missing.join("\n  "));
    }
    Ok(())
}

struct Prepared {
    /// The base config: the user's file or tinyconfig + VM options.
    base: Option<String>,
}

pub struct KernelBackend {
    s: KernelSettings,
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

/// An exclusive lock on a shared build tree: two campaigns building in one
/// tree would check out commits under each other's make. Released when the
/// file is closed, also when culprit dies.
struct TreeLock {
    _file: std::fs::File,
}

impl TreeLock {
    fn take(dir: &Path) -> Result<TreeLock> {
        match TreeLock::try_take(dir)? {
            Some(l) => Ok(l),
            None => bail!(
                "another campaign is using the build tree {}; wait for it or give another --build-tree",
                dir.display()
            ),
        }
    }

    /// The lock, or None while another campaign holds it.
    fn try_take(dir: &Path) -> Result<Option<TreeLock>> {
        use std::os::fd::AsRawFd;
        let path = dir.join("culprit.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Ok(None);
        }
        Ok(Some(TreeLock { _file: f }))
    }
}

/// The shared build tree and its lock, or None for a tree in the workdir
/// (none asked for, or the default one busy: `build_tree_fallback`). Says
/// which in `notes`.
fn shared_tree(
    repo: &Repo,
    s: &KernelSettings,
    notes: &mut Vec<String>,
) -> Result<Option<(PathBuf, TreeLock)>> {
    let Some(d) = &s.build_tree else {
        return Ok(None);
    };
    let d = std::path::absolute(d).context("build tree path")?;
    std::fs::create_dir_all(&d)
        .with_context(|| format!("creating the build tree {}", d.display()))?;
    let lock = if s.build_tree_fallback {
        TreeLock::try_take(&d)?
    } else {
        Some(TreeLock::take(&d)?)
    };
    let Some(lock) = lock else {
        notes.push(format!(
            "build tree: {} is in use by another campaign; checking out and building in the workdir instead",
            d.display()
        ));
        return Ok(None);
    };
    if d.join("tree").join(".git").exists() {
        same_repository(repo, &d.join("tree"))?;
    }
    notes.push(format!(
        "build tree: {} (kept for later campaigns on this repository)",
        d.display()
    ));
    Ok(Some((d, lock)))
}

/// A reused tree must be a checkout of the repository being bisected.
fn same_repository(repo: &Repo, tree: &Path) -> Result<()> {
    let theirs = Repo::open(tree).with_context(|| format!("opening {}", tree.display()))?;
    if repo.common_dir()? != theirs.common_dir()? {
        bail!(
            "the build tree {} is a checkout of another repository; give a --build-tree per repository",
            tree.display()
        );
    }
    Ok(())
}

impl KernelBackend {
    /// Checks tools and input, builds the initramfs (compiling the
    /// reproducer) and creates the worktree at `bad`.
    pub fn new(repo: &Repo, bad: &str, workdir: &Path, s: KernelSettings) -> Result<Self> {
        preflight(&s)?;
        if s.vms == 0 {
            bail!("vms must be at least 1");
        }
        let workdir = std::path::absolute(workdir).context("workdir path")?;
        std::fs::create_dir_all(&workdir)
            .with_context(|| format!("creating {}", workdir.display()))?;
        let base = match &s.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading the kernel config {}", p.display()))?;
                // Catch a config that cannot boot before any build; options
                // that olddefconfig drops are caught per commit.
                config::check(&text)
                    .with_context(|| format!("the kernel config {}", p.display()))?;
                Some(text)
            }
            None => None,
        };
        let repro = Repro::detect(&s.reproducer).context("the reproducer")?;
        let initrd = workdir.join("initramfs.cpio");
        let tmp = workdir.join("repro-build");
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
            crate::procs::root(),
        )
        .context("building the initramfs")?;
        let (accel, why) = accel::choose(&s.accel).map_err(anyhow::Error::msg)?;
        let mut notes = vec![why];
        let shared = shared_tree(repo, &s, &mut notes)?;
        let (root, lock) = match shared {
            Some((d, lock)) => (d, Some(lock)),
            None => (workdir.clone(), None),
        };
        let tree = Worktree::ensure(repo, &root.join("tree"), bad)
            .context("creating culprit's worktree")?;
        let compiler = Compiler {
            cc: s.compiler.clone(),
            ccache: s
                .ccache
                .unwrap_or_else(|| culprit_kernel::have_tool("ccache")),
        };
        let mut builder = Builder::new(tree.dir(), &root.join("build"), compiler)?;
        builder.timeout = Duration::from_secs_f64(s.build_timeout);
        if let Some(j) = s.jobs {
            builder.jobs = j.max(1);
        }
        Ok(KernelBackend {
            s,
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

    fn kernel_dir(&self, commit: &str) -> PathBuf {
        self.workdir.join("kernels").join(commit)
    }

    fn cached(&self, commit: &str) -> Option<BuildResult> {
        let dir = self.kernel_dir(commit);
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
            info: vec![format!("compiler: {}", get("compiler")?)],
        })
    }

    fn base_config(&mut self, log: &Path) -> Result<String> {
        if let Some(b) = &self.prepared.base {
            return Ok(b.clone());
        }
        let saved = self.workdir.join("base.config");
        let text = match std::fs::read_to_string(&saved) {
            Ok(t) => t,
            Err(_) => {
                let t = config::tiny_vm_config(&self.builder, log, crate::procs::root())
                    .context("making tinyconfig + VM options")?;
                std::fs::write(&saved, &t)?;
                t
            }
        };
        self.prepared.base = Some(text.clone());
        Ok(text)
    }

    fn build_now(&mut self, commit: &str) -> Result<BuildResult> {
        let start = Instant::now();
        let dir = self.kernel_dir(commit);
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("build.log");
        self.tree
            .checkout(commit)
            .with_context(|| format!("checking out {commit}"))?;
        let failed = |first_error: String, log: &Path| BuildResult {
            ok: false,
            signature: None,
            secs: start.elapsed().as_secs_f64(),
            first_error: Some(first_error),
            log: Some(log.to_path_buf()),
            info: vec![],
        };
        let cfg_log = dir.join("config.log");
        let base = self.base_config(&cfg_log)?;
        let effective = match config::prepare(&self.builder, &base, &cfg_log, crate::procs::root())
        {
            Ok(t) => t,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e @ (culprit_kernel::Error::Io { .. } | culprit_kernel::Error::Process(_))) => {
                return Err(e.into())
            }
            Err(e) => return Ok(failed(e.to_string(), &cfg_log)),
        };
        std::fs::write(dir.join("config"), &effective)?;
        let out = match self.builder.make(&["bzImage"], &log, crate::procs::root()) {
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
        let compiler = toolchain::identity(build, &self.builder.compiler.cc, crate::procs::root());
        std::fs::copy(build.join("arch/x86/boot/bzImage"), dir.join("bzImage"))
            .context("keeping bzImage")?;
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
            info: vec![format!("compiler: {compiler}")],
        })
    }

    fn machine(&self, commit: &str) -> Machine {
        Machine {
            qemu: self.s.qemu.clone(),
            kernel: self.kernel_dir(commit).join("bzImage"),
            initrd: self.initrd.clone(),
            memory_mb: self.s.memory,
            cpus: self.s.cpus,
            accel: self.accel,
            cmdline: self.s.cmdline.clone(),
            boot_timeout: Duration::from_secs_f64(self.s.boot_timeout),
            // The reproducer's own limit plus the smoke test and shutdown.
            run_timeout: Duration::from_secs_f64(self.s.run_timeout.max(self.s.repro_time + 30.0)),
        }
    }

    fn run_one(&self, job: &RunJob) -> Result<RunResult> {
        let dir = self.workdir.join("runs").join(&job.commit);
        std::fs::create_dir_all(&dir)?;
        let console = dir.join(format!("{}.log", job.run));
        let out = match self
            .machine(&job.commit)
            .boot(&console, crate::procs::root())
        {
            Ok(o) => o,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e) => return Err(e.into()),
        };
        let status = match classify(&out) {
            Verdict::Ok => RunStatus::Ok,
            Verdict::Crashed(title) => RunStatus::Crashed { title },
            Verdict::BootFailed(reason) => untestable(Untestable::Boot, reason),
            Verdict::SmokeFailed(reason) => untestable(Untestable::SmokeTest, reason),
            Verdict::Timeout(reason) => untestable(Untestable::Timeout, reason),
            Verdict::Infra(reason) => untestable(Untestable::Infra, reason),
        };
        Ok(RunResult {
            status,
            secs: out.secs,
            output: Some(console),
        })
    }
}

fn untestable(why: Untestable, reason: String) -> RunStatus {
    RunStatus::Untestable { why, reason }
}

impl Backend for KernelBackend {
    fn build(&mut self, commit: &str) -> Result<BuildResult> {
        let mut r = match self.cached(commit) {
            Some(r) => r,
            None => self.build_now(commit)?,
        };
        if r.ok && !self.notes.is_empty() {
            r.info.append(&mut self.notes);
        }
        Ok(r)
    }

    fn run(&mut self, jobs: &[RunJob]) -> Result<Vec<RunResult>> {
        for j in jobs {
            if !self.is_available(&j.commit) {
                bail!("commit {} has no kernel built", j.commit);
            }
        }
        let workers = (self.s.vms as usize).min(jobs.len()).max(1);
        let this = &*self;
        // Ctrl-C (a cancel of the root token) kills the running VMs and
        // stops the pool from starting more.
        let results = culprit_proc::pool(crate::procs::root(), jobs, workers, |j| this.run_one(j));
        if crate::procs::interrupted() {
            bail!("interrupted");
        }
        results
            .into_iter()
            .zip(jobs)
            .map(|(r, j)| {
                r.done()
                    .unwrap_or_else(|| Err(anyhow::anyhow!("run #{} was not executed", j.run)))
                    .with_context(|| format!("run #{} on {}", j.run, j.commit))
            })
            .collect()
    }

    fn is_available(&self, commit: &str) -> bool {
        self.kernel_dir(commit).join("bzImage").is_file()
            && self.kernel_dir(commit).join("build.txt").is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_tree_is_one_campaign_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let first = TreeLock::take(d.path()).unwrap();
        let e = TreeLock::take(d.path())
            .err()
            .expect("second lock must fail");
        assert!(e.to_string().contains("another campaign"), "{e}");
        assert!(TreeLock::try_take(d.path()).unwrap().is_none());
        drop(first);
        // A child that another test thread forks meanwhile holds a copy of
        // the descriptor, and with it the lock, until it execs.
        let again = (0..200).find_map(|_| {
            let l = TreeLock::try_take(d.path()).unwrap();
            if l.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            l
        });
        assert!(again.is_some(), "free again once the first is dropped");
    }

    #[test]
    fn a_build_tree_of_another_repository_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let init = |name: &str| {
            let p = d.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            let ok = std::process::Command::new("git")
                .args(["init", "-q"])
                .current_dir(&p)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            Repo::open(&p).unwrap()
        };
        let (a, b) = (init("a"), init("b"));
        same_repository(&a, a.path()).unwrap();
        let e = same_repository(&a, b.path()).unwrap_err();
        assert!(e.to_string().contains("another repository"), "{e}");
    }

    #[test]
    fn settings_from_toml_with_defaults() {
        let s: KernelSettings = toml::from_str(
            "reproducer = \"repro.c\"\nconfig = \"k.config\"\nvms = 4\ncmdline = \"quiet\"\n",
        )
        .unwrap();
        assert_eq!(s.vms, 4);
        assert_eq!(s.reproducer, PathBuf::from("repro.c"));
        assert_eq!(s.compiler, "gcc");
        assert_eq!(s.accel, "auto");
        assert!(toml::from_str::<KernelSettings>("vmz = 3\n").is_err());
    }

    #[test]
    fn preflight_names_the_package() {
        let s = KernelSettings {
            qemu: "qemu-system-x86_64-not-installed".into(),
            ..KernelSettings::default()
        };
        let e = preflight(&s).unwrap_err().to_string();
        assert!(e.contains("qemu-system-x86"), "{e}");
    }
}
