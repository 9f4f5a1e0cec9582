//! Child processes: run shell commands in parallel, each in its own process
//! group, with a timeout, and stop them all on Ctrl-C.
//!
//! A timed-out or interrupted command is killed with its whole process group,
//! so nothing it started (a VM, a compiler) outlives it.

use anyhow::{bail, Context, Result};
use std::fmt;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::Notify;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn notify() -> &'static Notify {
    static N: OnceLock<Notify> = OnceLock::new();
    N.get_or_init(Notify::new)
}

/// The runtime all child processes are driven by.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("cannot start the async runtime")
    })
}

/// From now on Ctrl-C (SIGINT) and SIGTERM stop the running children and
/// make [`interrupted`] true instead of killing culprit mid-write.
pub fn install_interrupt_handler() {
    runtime().spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            notify().notify_waiters();
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    Timeout,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::Timeout => write!(f, "timed out"),
        }
    }
}

/// One shell command to run.
pub struct Spawn<'a> {
    pub script: &'a str,
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    /// Standard output and error both go here.
    pub output: &'a Path,
    pub timeout: Option<Duration>,
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) with a negative pid signals the process group we
        // created for this child; it has no memory-safety preconditions.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

async fn one(s: &Spawn<'_>) -> Result<Exit> {
    let out = File::create(s.output).with_context(|| format!("creating {}", s.output.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(s.script)
        .current_dir(s.cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}` in {}", s.script, s.cwd.display()))?;
    let pid = child.id();
    let wait = async {
        match s.timeout {
            Some(t) => tokio::time::timeout(t, child.wait()).await.ok(),
            None => Some(child.wait().await),
        }
    };
    let cancelled = async {
        loop {
            let n = notify().notified();
            if interrupted() {
                return;
            }
            n.await;
        }
    };
    let res = tokio::select! {
        r = wait => r,
        _ = cancelled => {
            kill_group(pid);
            bail!("interrupted by a signal (Ctrl-C)");
        }
    };
    match res {
        None => {
            kill_group(pid);
            let _ = child.wait().await;
            Ok(Exit::Timeout)
        }
        Some(status) => {
            // The command is done; anything it left behind in its group goes too.
            kill_group(pid);
            let status = status.context("waiting for a child process")?;
            use std::os::unix::process::ExitStatusExt;
            Ok(match (status.code(), status.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(sig)) => Exit::Signal(sig),
                _ => Exit::Code(-1),
            })
        }
    }
}

/// Runs all commands at once and waits for all of them.
pub fn run_all(spawns: &[Spawn<'_>]) -> Result<Vec<Exit>> {
    if interrupted() {
        bail!("interrupted by a signal (Ctrl-C)");
    }
    runtime()
        .block_on(async { futures::future::join_all(spawns.iter().map(one)).await })
        .into_iter()
        .collect()
}
