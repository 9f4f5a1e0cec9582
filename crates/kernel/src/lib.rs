//! Linux specifics for culprit: turn a commit of a kernel tree into a booted,
//! tested machine.
//!
//! - [`config`]: prepare the kernel config (tinyconfig plus what the VM needs,
//!   or the user's config), complete it with `make olddefconfig`, check it.
//! - [`build`]: reproducible `make` in one reused build directory (ccache when
//!   present), with a timeout, a log and the first compiler error.
//! - [`signature`]: the kernel signature of `vmlinux` (same binary, same hash).
//! - [`toolchain`]: the "compiler: ..." identity line.
//! - [`initramfs`]: a newc cpio with busybox, an init that runs a smoke test and
//!   the reproducer, and the reproducer itself (compiled from C if needed).
//! - [`accel`], [`qemu`]: boot the kernel in QEMU (KVM when it really works,
//!   else TCG) with the serial console captured to a file.
//! - [`classify`]: console text to a run outcome (crash, OK, boot failure...).
//! - [`symbols`]: which source files define a function of a crash stack.
//! - [`tree`]: which paths of a kernel tree never reach the built kernel.
//! - [`demo`]: a synthetic kernel history with an injected flaky bug, used by
//!   the end-to-end test and the README demo.
//!
//! Every program (make, QEMU, gcc, git, tar) runs through `culprit-proc`
//! under a [`culprit_proc::Cancel`] token the caller passes: contained with
//! everything it starts, killed on timeout and when the token is cancelled,
//! never left behind. A cancel surfaces as [`Error::Cancelled`].
//!
//! This crate never touches the user's checkout: builds happen in a worktree
//! and a build directory the caller owns. It knows nothing of bisection.

pub mod accel;
pub mod build;
pub mod classify;
pub mod config;
pub mod demo;
pub mod initramfs;
pub mod qemu;
pub mod signature;
pub mod symbols;
pub mod toolchain;
pub mod tree;

use std::path::Path;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error(
        "`{tool}` not found: install the Debian package `{package}` (apt-get install {package})"
    )]
    MissingTool { tool: String, package: String },
    #[error("kernel config: {0}")]
    Config(String),
    #[error("reproducer: {0}")]
    Repro(String),
    #[error("ELF: {0}")]
    Elf(String),
    #[error("{0}")]
    StaleImage(String),
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Process(culprit_proc::Error),
}

impl From<culprit_proc::Error> for Error {
    fn from(e: culprit_proc::Error) -> Self {
        match e {
            culprit_proc::Error::Cancelled => Error::Cancelled,
            e => Error::Process(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Adds a description to an I/O error.
pub(crate) fn io_ctx<T>(r: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    r.map_err(|source| Error::Io {
        what: what(),
        source,
    })
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    io_ctx(std::fs::read(path), || format!("read {}", path.display()))
}

pub(crate) fn write(path: &Path, data: impl AsRef<[u8]>) -> Result<()> {
    io_ctx(std::fs::write(path, data), || {
        format!("write {}", path.display())
    })
}

/// Whether `tool` is an executable in `PATH` (or an existing path).
pub fn have_tool(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Fails with the Debian package to install when `tool` is missing.
pub fn require_tool(tool: &str, package: &str) -> Result<()> {
    if have_tool(tool) {
        Ok(())
    } else {
        Err(Error::MissingTool {
            tool: tool.to_string(),
            package: package.to_string(),
        })
    }
}
