//! Ctrl-C for the CLI: SIGINT and SIGTERM become `culprit_proc::cancel`, so
//! every child group is killed and the campaign returns with the journal
//! intact (exit 130) instead of culprit dying mid-write.
//!
//! Starting, waiting for and killing children is crates/proc's job; this
//! module only turns the signals into its cancellation.

use std::io::Read;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};

/// Write end of the socket that wakes the cancelling thread; -1 before
/// [`install_interrupt_handler`].
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    // Only async-signal-safe work here: one non-blocking write. errno is
    // restored because the interrupted code may be about to read it.
    // SAFETY: __errno_location is this thread's errno; write(2) on a
    // descriptor we own (or -1, which fails harmlessly).
    unsafe {
        let errno = *libc::__errno_location();
        let fd = WAKE.load(Ordering::SeqCst);
        if fd >= 0 {
            libc::write(fd, b"!".as_ptr().cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// From now on Ctrl-C (SIGINT) and SIGTERM stop the running children and
/// make [`interrupted`] true instead of killing culprit. Call it once, early.
pub fn install_interrupt_handler() {
    let Ok((mut rx, tx)) = UnixStream::pair() else {
        tracing::warn!("cannot create the Ctrl-C socket; Ctrl-C will kill culprit outright");
        return;
    };
    // A burst of signals must never block the handler.
    if tx.set_nonblocking(true).is_err() {
        return;
    }
    // The cancel takes a lock and kills groups: a thread does it, not the
    // handler.
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let mut buf = [0u8; 16];
            loop {
                match rx.read(&mut buf) {
                    Ok(n) if n > 0 => culprit_proc::cancel(),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    _ => return,
                }
            }
        });
    if spawned.is_err() {
        return;
    }
    // Kept open for the life of the process: the handler may fire any time.
    WAKE.store(tx.into_raw_fd(), Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only does async-signal-safe work;
        // SA_RESTART keeps other threads' syscalls from failing with EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                tracing::warn!("cannot handle signal {sig}");
            }
        }
    }
}

/// Whether Ctrl-C (or SIGTERM) arrived, i.e. the children were cancelled.
pub fn interrupted() -> bool {
    culprit_proc::cancelled()
}
