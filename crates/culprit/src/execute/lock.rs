//! One campaign process per workdir: the lock is held for the whole
//! campaign, and a second process is refused with who holds it.

use anyhow::{bail, Context, Result};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The workdir's lock; released when dropped or when the process dies.
pub struct WorkdirLock {
    _file: std::fs::File,
}

impl WorkdirLock {
    /// Takes the lock of `workdir`, or says which process holds it.
    pub fn take(workdir: &Path) -> Result<WorkdirLock> {
        let path = workdir.join("lock");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            bail!(
                "another culprit is running this campaign in {} ({}); wait for it to end, or give another --workdir",
                workdir.display(),
                if holder.is_empty() { "pid unknown" } else { holder }
            );
        }
        let me = format!(
            "pid {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        f.set_len(0)
            .and_then(|_| f.rewind())
            .and_then(|_| f.write_all(me.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(WorkdirLock { _file: f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let d = tempfile::tempdir().unwrap();
        let first = WorkdirLock::take(d.path()).unwrap();
        let e = WorkdirLock::take(d.path()).err().unwrap().to_string();
        assert!(e.contains("another culprit is running"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        // Free again (a child forked meanwhile by another test thread may
        // hold the descriptor until it execs).
        let again = (0..200).find_map(|_| {
            let l = WorkdirLock::take(d.path()).ok();
            if l.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            l
        });
        assert!(again.is_some());
    }
}
