//! Kernel helpers of the integration tests: the demo history (or a loud
//! skip when the kernel tools are missing), the machine's kernel build
//! lock, and workdirs under the demo directory that keep their builds.

use culprit_kernel::demo::{self, Demo};
use culprit_proc::Cancel;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";

/// The machine's one-kernel-build-at-a-time lock.
pub const MACHINE_LOCK: &str = "/tmp/kernel-build.lock";

/// The demo history on linux-source-6.1 (cached, see
/// `culprit_kernel::demo::default_dir`); `None` when a kernel tool is
/// missing and CULPRIT_SKIP_KERNEL is set, else a missing tool panics
/// saying what to install.
pub fn demo_or_skip() -> Option<Demo> {
    for (what, ok) in [
        ("linux-source-6.1", Path::new(TARBALL).exists()),
        (
            "qemu-system-x86",
            culprit_kernel::have_tool("qemu-system-x86_64"),
        ),
        ("busybox-static", Path::new("/bin/busybox").exists()),
    ] {
        if !ok {
            // CI installs everything (.ci/run); elsewhere, say so loudly.
            if std::env::var_os("CULPRIT_SKIP_KERNEL").is_some() {
                eprintln!("SKIPPED: {what} is not installed and CULPRIT_SKIP_KERNEL is set");
                return None;
            }
            panic!("{what} is not installed: apt-get install {what} (or set CULPRIT_SKIP_KERNEL=1 to skip the kernel tests)");
        }
    }
    let d = demo::create(
        TARBALL.as_ref(),
        &demo::default_dir(),
        &mut |l| eprintln!("demo: {l}"),
        &Cancel::new(),
    )
    .expect("creating the demo history");
    Some(d)
}

/// [`MACHINE_LOCK`], held until dropped.
pub fn machine_lock() -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(MACHINE_LOCK)
        .unwrap();
    eprintln!("waiting for {MACHINE_LOCK}");
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// The workdir `name` under the demo directory, keeping only the
/// checkouts and build directories of earlier runs (so builds are
/// incremental) and nothing else: no kernels, runs or journal, so every
/// test really builds and tests. Deleting a kernel tree is slow on some
/// disks, which is why it is kept.
pub fn fresh_workdir(name: &str) -> PathBuf {
    let dir = demo::default_dir().join(name);
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            // Builder 1's checkout (and culprit's index, head and
            // ownership files beside it) and build directory, and the
            // other builders' `builder-K` directories.
            let n = e.file_name().to_string_lossy().into_owned();
            let keep = n == "tree"
                || n.starts_with("tree.culprit-")
                || n == "build"
                || n.starts_with("builder-");
            if !keep {
                let p = e.path();
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Adds the demo history's options to a `culprit bisect --kernel` command.
pub trait DemoArgs {
    /// `--repo`, `--kernel-config` and `--repro` of `d` (the ends, the
    /// workdir and the rest are the caller's).
    fn demo(&mut self, d: &Demo) -> &mut Self;
}

impl DemoArgs for Command {
    fn demo(&mut self, d: &Demo) -> &mut Self {
        self.arg("--repo")
            .arg(&d.repo)
            .arg("--kernel-config")
            .arg(&d.config)
            .arg("--repro")
            .arg(&d.repro)
    }
}
