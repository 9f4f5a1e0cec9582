//! The cgroup2 side of containment: finding the hierarchy, killing a
//! cgroup, waiting for it to empty, removing it. Never touches a cgroup it
//! was not given.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes `cgroup.kill`: SIGKILL to every process in the cgroup and below,
/// atomically with respect to forks.
pub fn cgroup_kill(dir: &Path) -> bool {
    OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.kill"))
        .and_then(|mut f| f.write_all(b"1"))
        .is_ok()
}

/// Waits until no process is left in the cgroup.
pub fn cgroup_wait_empty(dir: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    let mut nap = Duration::from_micros(200);
    loop {
        match std::fs::read_to_string(dir.join("cgroup.events")) {
            Ok(t) if t.lines().any(|l| l == "populated 0") => return true,
            Ok(_) => {}
            // Gone: nothing left in it.
            Err(_) => return true,
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Removes a cgroup directory and any below it (a nested culprit's),
/// deepest first. Only empty cgroups can be removed.
pub fn cgroup_remove(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                cgroup_remove(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Where cgroup2 is mounted, and which cgroup path is the mount's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup2Mount {
    pub point: PathBuf,
    pub root: String,
}

impl Cgroup2Mount {
    pub fn find() -> Option<Cgroup2Mount> {
        parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)
    }

    /// The directory of cgroup `path` (as /proc/PID/cgroup shows it).
    pub fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let root = self.root.trim_end_matches('/');
        let rest = path.strip_prefix(root)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(self.point.join(rest.trim_start_matches('/')))
    }

    /// The inverse of [`Cgroup2Mount::dir_of`].
    pub fn relative(&self, dir: &Path) -> String {
        let rest = dir.strip_prefix(&self.point).unwrap_or(dir);
        let root = self.root.trim_end_matches('/');
        format!("{root}/{}", rest.display())
            .trim_end_matches('/')
            .to_string()
            .replace("//", "/")
    }
}

fn unescape_mount(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mountinfo(text: &str) -> Option<Cgroup2Mount> {
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let f: Vec<&str> = left.split_whitespace().collect();
        Some(Cgroup2Mount {
            root: unescape_mount(f.get(3)?),
            point: PathBuf::from(unescape_mount(f.get(4)?)),
        })
    })
}

/// The cgroup2 path of `pid` ("0::/path").
pub fn cgroup_of(pid: i32) -> Option<String> {
    let t = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    t.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches(" (deleted)").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_finds_cgroup2_with_escapes() {
        let text = "\
24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
36 24 0:31 /sub /sys/fs/cgroup/my\\040unified rw,relatime - cgroup2 cgroup2 rw
";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.point, PathBuf::from("/sys/fs/cgroup/my unified"));
        assert_eq!(m.root, "/sub");
        assert_eq!(
            m.dir_of("/sub/a/b").unwrap(),
            PathBuf::from("/sys/fs/cgroup/my unified/a/b")
        );
        assert_eq!(
            m.dir_of("/sub").unwrap(),
            PathBuf::from("/sys/fs/cgroup/my unified")
        );
        assert_eq!(m.dir_of("/subway"), None);
        assert_eq!(m.dir_of("/other"), None);
        assert_eq!(
            m.relative(Path::new("/sys/fs/cgroup/my unified/a/b")),
            "/sub/a/b"
        );
        assert!(parse_mountinfo("24 30 0:22 / /sys rw - sysfs sysfs rw\n").is_none());
        let root = Cgroup2Mount {
            point: "/sys/fs/cgroup".into(),
            root: "/".into(),
        };
        assert_eq!(
            root.relative(Path::new("/sys/fs/cgroup/x/job-1")),
            "/x/job-1"
        );
        assert_eq!(root.dir_of("/").unwrap(), PathBuf::from("/sys/fs/cgroup"));
    }
}
