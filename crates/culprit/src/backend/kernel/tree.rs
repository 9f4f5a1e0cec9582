//! The build tree of the kernel backend: a checkout and a build directory
//! that later campaigns on the same repository reuse, held by one campaign
//! at a time.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Which build tree a campaign uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeChoice {
    /// A tree of the campaign's own, in its workdir.
    Private,
    /// This shared tree; an error if another campaign holds it.
    Shared(PathBuf),
    /// This shared tree (the default one); the workdir if another campaign
    /// holds it.
    SharedOrPrivate(PathBuf),
}

/// An exclusive lock on a shared build tree: two campaigns building in one
/// tree would check out commits under each other's make. Released when the
/// file is closed, also when culprit dies.
pub struct TreeLock {
    _file: std::fs::File,
}

impl TreeLock {
    pub fn take(dir: &Path) -> Result<TreeLock> {
        match TreeLock::try_take(dir)? {
            Some(l) => Ok(l),
            None => bail!(
                "another campaign is using the build tree {}; wait for it or give another --build-tree",
                dir.display()
            ),
        }
    }

    /// The lock, or None while another campaign holds it.
    pub fn try_take(dir: &Path) -> Result<Option<TreeLock>> {
        TreeLock::flock(dir, libc::LOCK_EX | libc::LOCK_NB)
    }

    /// The lock, once whoever holds it lets go (jobs on one build node
    /// take turns with the tree); an error when `cancel` fires first.
    pub fn wait(dir: &Path, cancel: &culprit_proc::Cancel) -> Result<TreeLock> {
        loop {
            if let Some(l) = TreeLock::try_take(dir)? {
                return Ok(l);
            }
            if cancel.sleep(std::time::Duration::from_millis(500)).is_err() {
                bail!(
                    "interrupted while waiting for the build tree {}",
                    dir.display()
                );
            }
        }
    }

    fn flock(dir: &Path, how: libc::c_int) -> Result<Option<TreeLock>> {
        use std::os::fd::AsRawFd;
        let path = dir.join("culprit.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), how) } != 0 {
            return Ok(None);
        }
        Ok(Some(TreeLock { _file: f }))
    }
}

/// The shared build tree and its lock, or None for a tree in the workdir
/// (none asked for, or the default one busy). Says which in `notes`.
/// A tree holding another repository's checkout is refused when the
/// checkout is opened (its ownership marker names the repository).
pub fn shared_tree(
    choice: &TreeChoice,
    notes: &mut Vec<String>,
) -> Result<Option<(PathBuf, TreeLock)>> {
    let (d, fallback) = match choice {
        TreeChoice::Private => return Ok(None),
        TreeChoice::Shared(d) => (d, false),
        TreeChoice::SharedOrPrivate(d) => (d, true),
    };
    let d = std::path::absolute(d).context("build tree path")?;
    std::fs::create_dir_all(&d)
        .with_context(|| format!("creating the build tree {}", d.display()))?;
    let lock = if fallback {
        TreeLock::try_take(&d)?
    } else {
        Some(TreeLock::take(&d)?)
    };
    let Some(lock) = lock else {
        notes.push(format!(
            "build tree: {} is in use by another campaign; checking out and building in the workdir instead",
            d.display()
        ));
        return Ok(None);
    };
    notes.push(format!(
        "build tree: {} (kept for later campaigns on this repository)",
        d.display()
    ));
    Ok(Some((d, lock)))
}

/// The name of a repository's build tree, from its git directory: the
/// repository's name (for people) and a hash of the path (unique).
pub fn tree_name(common: &Path) -> String {
    let top = if common.file_name().is_some_and(|n| n == ".git") {
        common.parent().unwrap_or(common)
    } else {
        common
    };
    let name: String = top
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = hex::encode(&Sha256::digest(common.as_os_str().as_encoded_bytes())[..6]);
    format!("{name}-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_tree_is_one_campaign_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let first = TreeLock::take(d.path()).unwrap();
        let e = TreeLock::take(d.path())
            .err()
            .expect("second lock must fail");
        assert!(e.to_string().contains("another campaign"), "{e}");
        assert!(TreeLock::try_take(d.path()).unwrap().is_none());
        drop(first);
        // A child that another test thread forks meanwhile holds a copy of
        // the descriptor, and with it the lock, until it execs.
        let again = (0..200).find_map(|_| {
            let l = TreeLock::try_take(d.path()).unwrap();
            if l.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            l
        });
        assert!(again.is_some(), "free again once the first is dropped");
    }
}
