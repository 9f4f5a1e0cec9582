//! Thin wrappers over the few Linux calls std does not offer: pidfds,
//! pipes, poll, and reading /proc. Each `unsafe` block is one syscall.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A pidfd for `pid`, or None when the process is gone or the kernel has no
/// pidfd_open (before 5.3). A pidfd names one process for good: signals
/// sent through it can never reach a later process that reused the pid.
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| {
        // SAFETY: the syscall just returned this new descriptor to us.
        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
    })
}

/// Sends `sig` to the process a pidfd names. False when it already exited.
pub fn pidfd_kill(fd: &OwnedFd, sig: libc::c_int) -> bool {
    // SAFETY: plain syscall; a null siginfo is allowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    r == 0
}

/// Whether the process behind a pidfd has exited (the pidfd is readable).
pub fn pidfd_exited(fd: &OwnedFd) -> bool {
    let mut p = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    poll(&mut p, Duration::ZERO) > 0 && p[0].revents != 0
}

/// Sends SIGKILL to a process group. Callers guarantee the group is theirs
/// (its leader is their unreaped child).
pub fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a negative pid addresses the group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// poll(2); returns the number of ready descriptors (0 on timeout or EINTR,
/// which callers treat the same: they loop).
pub fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> i32 {
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // Round up so that a deadline 0.3 ms away is not a busy loop.
    let ms = if ms == 0 && !timeout.is_zero() { 1 } else { ms };
    // SAFETY: the slice is valid for its length.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    r.max(0)
}

/// Reads what is available without blocking. Ok(0) is end of file;
/// WouldBlock means nothing now.
pub fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: reads into a buffer valid for its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether our child `pid` has exited, without reaping it (so its pid and
/// process group id stay ours).
pub fn child_exited(pid: i32) -> io::Result<bool> {
    // SAFETY: waitid fills `info`; WNOWAIT leaves the child unreaped.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(info.si_pid() != 0)
    }
}

/// The fields of /proc/PID/stat we use.
pub struct Stat {
    pub state: u8,
    /// Clock ticks after boot: with the pid, names the process for good.
    pub starttime: u64,
}

/// None when the process is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses /proc/PID/stat; the command name may hold spaces and parentheses,
/// so fields are counted from the last ')'.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); starttime is field 22.
    Some(Stat {
        state: *f.first()?.as_bytes().first()?,
        starttime: f.get(19)?.parse().ok()?,
    })
}

/// The pids in /proc, ascending.
pub fn pids() -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_a_name_with_parentheses() {
        let s = "42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let st = parse_stat(s).unwrap();
        assert_eq!(st.state, b'S');
        assert_eq!(st.starttime, 12345);
        assert!(parse_stat("42 (x) S").is_none());
    }

    #[test]
    fn our_own_stat() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        assert!(b"RS".contains(&st.state));
        assert!(st.starttime > 0);
        assert!(pids().contains(&me));
    }
}
