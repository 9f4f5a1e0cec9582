//! One guarded child: spawn, wait with a deadline, kill the group.

use crate::{cancelled, kill_group, live, Error, Result};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How often a wait looks at the cancellation flag and calls its callback.
const TICK: Duration = Duration::from_millis(50);

/// The signal the child gets when culprit dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentDeath {
    /// SIGTERM: for programs that clean up and stop their own children on
    /// it (make kills its jobs).
    Term,
    /// SIGKILL: for everything else (QEMU, shell commands).
    Kill,
}

impl ParentDeath {
    fn signal(self) -> libc::c_int {
        match self {
            ParentDeath::Term => libc::SIGTERM,
            ParentDeath::Kill => libc::SIGKILL,
        }
    }
}

/// How a wait ended.
#[derive(Debug)]
pub enum Wait {
    /// The leader exited by itself (the rest of its group was then killed).
    Exited(ExitStatus),
    /// The deadline passed; the group was killed.
    TimedOut,
    /// [`crate::cancel`] was called; the group was killed.
    Cancelled,
}

/// A running child, leader of its own process group.
///
/// Not `Send`: Linux delivers the parent-death signal when the *thread* that
/// spawned the child ends, so the child must stay with that thread.
pub struct Guarded {
    child: Child,
    pgid: i32,
    /// Lets a wait sleep until the leader exits instead of polling blindly.
    pidfd: Option<OwnedFd>,
    reaped: bool,
    _not_send: PhantomData<*const ()>,
}

/// Starts `cmd` as the leader of a new process group; `death` is delivered
/// to it if culprit dies. Fails with [`Error::Cancelled`] once
/// [`crate::cancel`] was called.
pub fn spawn(cmd: &mut Command, death: ParentDeath) -> Result<Guarded> {
    let signal = death.signal();
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between fork and prctl: no signal will come.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    // Held across the spawn so that a concurrent cancel either stops this
    // spawn or sees the new group.
    let mut live = live();
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let child = cmd.spawn().map_err(|source| Error::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    let pgid = child.id() as i32;
    live.push(pgid);
    drop(live);
    Ok(Guarded {
        pidfd: pidfd_open(pgid),
        child,
        pgid,
        reaped: false,
        _not_send: PhantomData,
    })
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; the pid is our unreaped child, so it is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // Older kernels lack pidfd_open; waits then sleep in ticks.
    (fd >= 0).then(|| {
        // SAFETY: the syscall just returned this new descriptor to us.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    })
}

impl Guarded {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the leader exits, `deadline` passes, or a cancel. `tick`
    /// is called about every 50 ms and may move the deadline (for example
    /// when a VM reaches a new phase).
    pub fn wait_until(
        &mut self,
        mut deadline: Instant,
        mut tick: impl FnMut(&mut Instant),
    ) -> Result<Wait> {
        self.wait_loop(|| {
            tick(&mut deadline);
            Some(deadline)
        })
    }

    /// Waits until the leader exits or a cancel, with no deadline.
    pub fn wait(&mut self) -> Result<Wait> {
        self.wait_loop(|| None)
    }

    fn wait_loop(&mut self, mut deadline: impl FnMut() -> Option<Instant>) -> Result<Wait> {
        if self.reaped {
            // Killed or waited for before: the status is kept, the group
            // must not be signalled again.
            let status = self.child.wait().map_err(|source| Error::Wait {
                pid: self.id(),
                source,
            })?;
            return Ok(Wait::Exited(status));
        }
        loop {
            if self.leader_exited()? {
                // Its jobs may still run: kill them while the leader's
                // zombie still holds the group id, then reap.
                kill_group(self.pgid);
                self.unregister();
                let status = self.child.wait().map_err(|source| Error::Wait {
                    pid: self.id(),
                    source,
                })?;
                self.reaped = true;
                // Killed by cancel: say so, not "killed by signal 9".
                if cancelled() {
                    return Ok(Wait::Cancelled);
                }
                return Ok(Wait::Exited(status));
            }
            if cancelled() {
                self.kill();
                return Ok(Wait::Cancelled);
            }
            let mut nap = TICK;
            if let Some(d) = deadline() {
                let now = Instant::now();
                if now >= d {
                    self.kill();
                    return Ok(Wait::TimedOut);
                }
                nap = nap.min(d - now);
            }
            self.nap(nap);
        }
    }

    /// Whether the leader has exited, without reaping it.
    fn leader_exited(&self) -> Result<bool> {
        // SAFETY: waitid fills `info`; WNOWAIT leaves the child unreaped.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            if r != 0 {
                return Err(Error::Wait {
                    pid: self.id(),
                    source: std::io::Error::last_os_error(),
                });
            }
            info.si_pid()
        };
        Ok(pid != 0)
    }

    /// Sleeps up to `d`, waking early when the leader exits.
    fn nap(&self, d: Duration) {
        let ms = d.as_millis().clamp(1, i32::MAX as u128) as i32;
        match &self.pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; an error or EINTR only ends the
                // nap early, and the caller loops.
                unsafe {
                    libc::poll(&mut p, 1, ms);
                }
            }
            None => std::thread::sleep(Duration::from_millis(ms as u64)),
        }
    }

    /// Kills the whole group and reaps the leader. Idempotent.
    pub fn kill(&mut self) {
        if !self.reaped {
            kill_group(self.pgid);
            self.unregister();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }

    fn unregister(&self) {
        live().retain(|&p| p != self.pgid);
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}
