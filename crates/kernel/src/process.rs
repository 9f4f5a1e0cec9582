//! Child processes that are never left behind.
//!
//! Every child (make, QEMU) runs in its own process group so that a timeout
//! can kill it with everything it started. It also gets a parent-death signal,
//! so if culprit dies the child goes too, and it is registered so that
//! [`cancel_all`] (call it from a Ctrl-C handler) can kill every live group at
//! once. Dropping a [`Guarded`] kills its group and reaps the child.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Kills every live child group and makes running waits return
/// [`Wait::Cancelled`]. Safe to call from any thread (not async-signal-safe:
/// call it from a signal-handling thread or task, not a raw handler).
pub fn cancel_all() {
    CANCELLED.store(true, Ordering::SeqCst);
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pgid in live {
        kill_group(pgid);
    }
}

/// Whether [`cancel_all`] was called.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// A running child in its own process group.
pub struct Guarded {
    child: Child,
    pgid: i32,
    reaped: bool,
}

/// How a wait ended.
#[derive(Debug)]
pub enum Wait {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

/// Spawns `cmd` in a new process group; `death_signal` is delivered to the
/// child if culprit dies (SIGTERM for make, which forwards it to its jobs;
/// SIGKILL for QEMU).
pub fn spawn(cmd: &mut Command, death_signal: i32) -> std::io::Result<Guarded> {
    if cancelled() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted",
        ));
    }
    cmd.process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong);
            Ok(())
        });
    }
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let child = cmd.spawn()?;
    let pgid = child.id() as i32;
    live.push(pgid);
    Ok(Guarded {
        child,
        pgid,
        reaped: false,
    })
}

impl Guarded {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the child exits, `deadline` passes, or a cancel. `tick` is
    /// called about every 50 ms and may move the deadline (for example when
    /// the VM reaches a new phase).
    pub fn wait_until(
        &mut self,
        mut deadline: Instant,
        mut tick: impl FnMut(&mut Instant),
    ) -> std::io::Result<Wait> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                // The leader is gone; its jobs may not be.
                kill_group(self.pgid);
                self.unregister();
                // Killed by cancel_all: say so, not "killed by signal 9".
                if cancelled() {
                    return Ok(Wait::Cancelled);
                }
                return Ok(Wait::Exited(status));
            }
            if cancelled() {
                self.kill();
                return Ok(Wait::Cancelled);
            }
            tick(&mut deadline);
            if Instant::now() >= deadline {
                self.kill();
                return Ok(Wait::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the whole group and reaps the child.
    pub fn kill(&mut self) {
        if !self.reaped {
            kill_group(self.pgid);
            let _ = self.child.wait();
            self.reaped = true;
        }
        self.unregister();
    }

    fn unregister(&mut self) {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|&p| p != self.pgid);
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The shell starts a grandchild and records its pid; both must die.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        let mut g = spawn(&mut cmd, libc::SIGKILL).unwrap();
        let deadline = Instant::now() + Duration::from_millis(500);
        let w = g.wait_until(deadline, |_| {}).unwrap();
        assert!(matches!(w, Wait::TimedOut), "{w:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Give the kernel a moment to deliver SIGKILL to the grandchild,
        // which is reparented and reaped by init.
        let mut alive = true;
        for _ in 0..40 {
            // SAFETY: signal 0 only probes for existence.
            alive = unsafe { libc::kill(pid, 0) } == 0
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| s.contains(") Z "))
                    .unwrap_or(true);
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive, "grandchild {pid} survived the timeout");
    }

    #[test]
    fn exit_status_is_reported() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("exit 3");
        let mut g = spawn(&mut cmd, libc::SIGKILL).unwrap();
        let w = g
            .wait_until(Instant::now() + Duration::from_secs(10), |_| {})
            .unwrap();
        match w {
            Wait::Exited(s) => assert_eq!(s.code(), Some(3)),
            other => panic!("{other:?}"),
        }
    }
}
