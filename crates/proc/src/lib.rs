//! Child processes that are never left behind: the one place culprit starts,
//! waits for and kills programs (make, QEMU, the user's build and test
//! commands).
//!
//! - [`spawn`] starts a command as the leader of its own process group, with
//!   a parent-death signal so it goes if culprit dies, and registers the
//!   group.
//! - [`Guarded::wait_until`] / [`Guarded::wait`] wait for it with a deadline
//!   (that a callback may move) and stop early on cancellation; when the
//!   leader exits, whatever it left running in its group is killed too.
//! - [`Guarded::kill`] (and dropping a [`Guarded`]) kills the whole group and
//!   reaps the leader.
//! - [`cancel`] is the process-wide, final "stop everything" (the binary calls
//!   it from its Ctrl-C handling): it kills every registered group, running
//!   waits return [`Wait::Cancelled`] and [`spawn`] refuses to start more.
//!
//! What it must never do: leave a child it started running after a wait
//! returned [`Wait::TimedOut`] or [`Wait::Cancelled`], after
//! [`Guarded::kill`], or after the [`Guarded`] is dropped; start a child once
//! [`cancel`] was called; or signal a process group that is not one of its
//! own (a group is only killed while its leader is unreaped, so the id cannot
//! have been reused).
//!
//! Limits: the parent-death signal reaches the leader only (a shell forwards
//! nothing, make forwards SIGTERM to its jobs), and a descendant that moves
//! itself to another group or session (`setsid`) escapes the group kill.

mod child;

pub use child::{spawn, Guarded, ParentDeath, Wait};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Everything that can go wrong here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`cancel`] was called: nothing new is started.
    #[error("interrupted")]
    Cancelled,
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for process {pid}: {source}")]
    Wait {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Process group ids of the children whose leader is not reaped yet.
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<i32>> {
    // A panic elsewhere must not stop us from killing children.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops everything, for good: kills every live child group, makes running
/// waits return [`Wait::Cancelled`] and later [`spawn`]s fail with
/// [`Error::Cancelled`]. Call it from an ordinary thread (it takes a lock),
/// not from inside a raw signal handler.
pub fn cancel() {
    CANCELLED.store(true, Ordering::SeqCst);
    for &pgid in live().iter() {
        kill_group(pgid);
    }
}

/// Whether [`cancel`] was called.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// Whether `pid` has stopped running: no such process, or a zombie (dead,
/// waiting for whoever adopted it to reap it). How callers and tests check
/// that nothing was left behind.
pub fn exited(pid: i32) -> bool {
    // SAFETY: signal 0 only probes for existence.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    !exists
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

/// Waits up to `timeout` for [`exited`]: SIGKILL is delivered asynchronously.
pub fn wait_exited(pid: i32, timeout: std::time::Duration) -> bool {
    let step = std::time::Duration::from_millis(20);
    let start = std::time::Instant::now();
    loop {
        if exited(pid) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(step);
    }
}

fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}
