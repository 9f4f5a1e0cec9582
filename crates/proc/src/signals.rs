//! SIGINT and SIGTERM for a program: they cancel a root token, so every
//! job under it is killed and the program winds down by itself; and if
//! nothing would notice the cancel, the process exits with status 130.
//!
//! The policy: after the first signal the token is cancelled. From then
//! on, as soon as the token's tree has had no observer (a running job, a
//! [`Cancel::sleep`]/[`Cancel::wait`], a [`crate::pool`], or a
//! [`Cancel::observe`] guard) for a continuous grace period, the process
//! exits with [`EXIT_STATUS`]: a program that was, say, blocked reading
//! standard input ends within the grace period (plus 50 ms), while one that
//! was waiting on a job returns through its own error path (its jobs are
//! killed, its waits return) and exits by itself. A second signal exits at
//! once. The exit is `_exit`: no destructors and no buffered output, as if
//! the signal had killed the process; the watchdog and the jobs' own
//! cleanup leave no child behind.

use crate::{Cancel, Error, Result};
use std::io::Read;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The status the process exits with when a signal ends it.
pub const EXIT_STATUS: i32 = 130;

/// Write end of the socket that wakes the signal thread; -1 before
/// [`handle_signals`].
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// The first signal received, 0 before.
static FIRST: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work: one non-blocking write of the signal
    // number. errno is restored because the interrupted code may read it.
    // SAFETY: __errno_location is this thread's errno; write(2) on a
    // descriptor we own (or -1, which fails harmlessly).
    unsafe {
        let errno = *libc::__errno_location();
        let fd = WAKE.load(Ordering::SeqCst);
        if fd >= 0 {
            let b = sig as u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// From now on SIGINT and SIGTERM cancel `root` instead of killing the
/// process, with the exit policy of this module's doc (`grace`: how long
/// the tree must go unobserved before the process exits; half a second
/// suits a CLI). Once per process: a second call fails.
pub fn handle_signals(root: &Cancel, grace: Duration) -> Result<()> {
    let (mut rx, tx) = UnixStream::pair().map_err(|source| Error::Io {
        what: "create the signal socket".into(),
        source,
    })?;
    // A burst of signals must never block the handler.
    tx.set_nonblocking(true).map_err(|source| Error::Io {
        what: "set up the signal socket".into(),
        source,
    })?;
    let fd = tx.into_raw_fd();
    if WAKE
        .compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: the descriptor was ours and is not stored anywhere.
        unsafe {
            libc::close(fd);
        }
        return Err(Error::Signals(
            "signal handling is already installed".into(),
        ));
    }
    let root = root.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(&mut rx, &root, grace))
        .map_err(|source| Error::Io {
            what: "start the signal thread".into(),
            source,
        })?;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only does async-signal-safe work;
        // SA_RESTART keeps other threads' syscalls from failing with EINTR.
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if r != 0 {
            return Err(Error::Signals(format!(
                "cannot handle signal {sig}: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// The first SIGINT or SIGTERM received since [`handle_signals`], if any.
pub fn signalled() -> Option<i32> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

fn exit_now() -> ! {
    // SAFETY: ends the process; nothing runs after it.
    unsafe { libc::_exit(EXIT_STATUS) }
}

/// The signal thread: cancels on the first signal, then exits the process
/// once the tree stays unobserved for `grace`, or on a second signal.
fn watch(rx: &mut UnixStream, root: &Cancel, grace: Duration) {
    let mut buf = [0u8; 16];
    loop {
        match rx.read(&mut buf) {
            Ok(n) if n > 0 => {
                FIRST.store(buf[0] as i32, Ordering::SeqCst);
                if n > 1 {
                    exit_now();
                }
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The socket cannot close (we hold the write end for good).
            _ => return,
        }
    }
    root.cancel();
    let step = Duration::from_millis(50);
    let _ = rx.set_read_timeout(Some(step));
    let mut idle_since: Option<Instant> = None;
    loop {
        match rx.read(&mut buf) {
            Ok(n) if n > 0 => exit_now(),
            _ => {}
        }
        if root.observers() > 0 {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= grace {
            exit_now();
        }
    }
}
