//! Containment: attributing every descendant of a job to it, and killing
//! them all when the job ends, when its token is cancelled, and when this
//! process dies. The design, its guarantees and limits are in the crate
//! doc; this module is the mechanism.
//!
//! - The *instance* is this process: `<pid>-<starttime>` names it for good
//!   (a pid alone can be reused).
//! - Every job gets the environment variable [`MARKER`] =
//!   `<instance>/<job number>/<label>`; descendants inherit it.
//! - Where the cgroup2 hierarchy is writable, every job also runs in its own
//!   cgroup `<our cgroup>/culprit-<instance>/job-<n>`, which no descendant
//!   can leave and which `cgroup.kill` empties at once.
//! - A watchdog (`/bin/sh` running [`WATCHDOG`]) waits for this process to
//!   die and then kills the instance's cgroup and every marked process.

use crate::cgroup::{cgroup_kill, cgroup_of, cgroup_remove, cgroup_wait_empty, Cgroup2Mount};
use crate::{sys, Error, Result};
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The environment variable that marks a job's processes.
pub const MARKER: &str = "CULPRIT_PROC";

/// How long a cleanup waits for killed processes to be gone.
const CLEANUP: Duration = Duration::from_secs(5);

/// The watchdog: blocks on its standard input, a pipe only this process
/// holds the write end of, so it reads end-of-file exactly when this
/// process is gone (whatever killed it). Then it kills the instance's
/// cgroup and every process carrying the instance's marker, until a scan
/// finds none, and removes the cgroups. Arguments: instance, cgroup dir or
/// "".
pub const WATCHDOG: &str = r#"trap '' HUP INT QUIT TERM PIPE
owner=$1
cg=$2
while read -r _; do :; done
[ -n "$cg" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null
i=0
while [ $i -lt 100 ]; do
  found=
  for f in $(grep -lzs "^CULPRIT_PROC=$owner/" /proc/[0-9]*/environ); do
    p=${f#/proc/}
    kill -9 "${p%/environ}" 2>/dev/null && found=1
  done
  [ -z "$found" ] && break
  i=$((i + 1))
  sleep 0.05
done
if [ -n "$cg" ]; then
  i=0
  while [ $i -lt 100 ] && ! grep -qs '^populated 0' "$cg/cgroup.events"; do
    echo 1 > "$cg/cgroup.kill" 2>/dev/null
    i=$((i + 1))
    sleep 0.05
  done
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
fi
"#;

/// Containment settings; see [`configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Use a cgroup per job where the cgroup2 hierarchy is writable.
    /// Default: yes, unless the environment variable
    /// `CULPRIT_PROC_CGROUPS` is `0`.
    pub cgroups: bool,
    /// Start the watchdog. Default: yes.
    pub watchdog: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cgroups: std::env::var_os("CULPRIT_PROC_CGROUPS").is_none_or(|v| v != "0"),
            watchdog: true,
        }
    }
}

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);
static INSTANCE: OnceLock<Instance> = OnceLock::new();

/// Sets the containment settings. Must come before the first job; later
/// calls with other settings fail with [`Error::Configured`] (the same
/// settings again are fine).
pub fn configure(config: Config) -> Result<()> {
    let mut c = CONFIG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = INSTANCE.get() {
        return if i.config == config {
            Ok(())
        } else {
            Err(Error::Configured)
        };
    }
    *c = Some(config);
    Ok(())
}

/// How this process contains its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `<pid>-<starttime>`: the instance part of the marker.
    pub instance: String,
    /// The instance's cgroup directory, when jobs get cgroups.
    pub cgroup: Option<PathBuf>,
    /// The watchdog's pid, when it runs.
    pub watchdog: Option<u32>,
}

/// Sets containment up (if no job did yet) and says how it works here.
pub fn status() -> Status {
    let i = instance();
    Status {
        instance: i.owner.clone(),
        cgroup: i
            .cgroup
            .as_ref()
            .filter(|_| i.cgroup_ok.load(Ordering::SeqCst))
            .map(|c| c.dir.clone()),
        watchdog: i.watchdog_pid,
    }
}

pub(crate) struct Instance {
    config: Config,
    pub owner: String,
    cgroup: Option<InstanceCgroup>,
    /// Cleared when a job could not be moved into its cgroup: the rest of
    /// this process's jobs rely on the marker alone.
    cgroup_ok: AtomicBool,
    jobs: AtomicU64,
    watchdog_pid: Option<u32>,
    /// Held open for the life of the process; its closing wakes the
    /// watchdog.
    _watchdog_pipe: Option<OwnedFd>,
}

struct InstanceCgroup {
    dir: PathBuf,
    mount: Cgroup2Mount,
}

pub(crate) fn instance() -> &'static Instance {
    INSTANCE.get_or_init(|| {
        let config = CONFIG
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        Instance::start(config)
    })
}

/// This process's `<pid>-<starttime>`.
fn own_instance_id() -> String {
    let pid = std::process::id() as i32;
    let start = sys::stat(pid).map(|s| s.starttime).unwrap_or(0);
    format!("{pid}-{start}")
}

impl Instance {
    fn start(config: Config) -> Instance {
        let owner = own_instance_id();
        let cgroup = if config.cgroups {
            InstanceCgroup::create(&owner)
        } else {
            None
        };
        let (watchdog_pid, pipe) = if config.watchdog {
            match start_watchdog(&owner, cgroup.as_ref().map(|c| c.dir.as_path())) {
                Some((pid, w)) => (Some(pid), Some(w)),
                None => (None, None),
            }
        } else {
            (None, None)
        };
        Instance {
            config,
            cgroup_ok: AtomicBool::new(cgroup.is_some()),
            cgroup,
            owner,
            jobs: AtomicU64::new(0),
            watchdog_pid,
            _watchdog_pipe: pipe,
        }
    }

    pub fn next_job(&self) -> u64 {
        self.jobs.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The marker value for a job.
    pub fn marker(&self, job: u64, label: Option<&str>) -> String {
        format!("{}/{job}/{}", self.owner, label.unwrap_or(""))
    }

    /// A fresh cgroup for the job, or None (marker only).
    pub fn job_cgroup(&self, job: u64) -> Option<JobCgroup> {
        if !self.cgroup_ok.load(Ordering::SeqCst) {
            return None;
        }
        let ic = self.cgroup.as_ref()?;
        let dir = ic.dir.join(format!("job-{job}"));
        if std::fs::create_dir(&dir).is_err() {
            self.cgroup_ok.store(false, Ordering::SeqCst);
            return None;
        }
        match OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
        {
            Ok(procs) => Some(JobCgroup {
                rel: ic.mount.relative(&dir),
                dir,
                procs,
            }),
            Err(_) => {
                let _ = std::fs::remove_dir(&dir);
                self.cgroup_ok.store(false, Ordering::SeqCst);
                None
            }
        }
    }

    /// Called when a child did not end up in its cgroup: the pre-exec move
    /// failed, so cgroups are not usable from here.
    pub fn cgroups_failed(&self) {
        self.cgroup_ok.store(false, Ordering::SeqCst);
    }

    /// Kills every process marked with this job, scan after scan until one
    /// finds none (a process may fork while the scan runs).
    pub fn kill_job_marked(&self, job: u64) {
        let prefix = format!("{}/{job}/", self.owner);
        kill_marked(&|m| m.starts_with(&prefix), &mut |_| {});
    }
}

/// A job's cgroup. The descriptor of its `cgroup.procs` is written by the
/// child between fork and exec, so the job starts inside.
pub(crate) struct JobCgroup {
    pub dir: PathBuf,
    /// The path as /proc/PID/cgroup shows it.
    rel: String,
    pub procs: File,
}

impl JobCgroup {
    /// Whether `pid` is in this cgroup.
    pub fn holds(&self, pid: i32) -> bool {
        cgroup_of(pid).is_some_and(|p| p == self.rel)
    }
}

impl InstanceCgroup {
    /// `culprit-<instance>` under our own cgroup, if cgroup2 is there and
    /// writable and has `cgroup.kill` (Linux 5.14).
    fn create(owner: &str) -> Option<InstanceCgroup> {
        let mount = Cgroup2Mount::find()?;
        let ours = mount.dir_of(&cgroup_of(std::process::id() as i32)?)?;
        let dir = ours.join(format!("culprit-{owner}"));
        std::fs::create_dir(&dir).ok()?;
        if !dir.join("cgroup.kill").exists() {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(InstanceCgroup { dir, mount })
    }
}

fn start_watchdog(owner: &str, cgroup: Option<&Path>) -> Option<(u32, OwnedFd)> {
    let (r, w) = sys::pipe().ok()?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("culprit-watchdog")
        .arg(owner)
        .arg(cgroup.map(|c| c.as_os_str()).unwrap_or_default())
        .stdin(Stdio::from(r))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .env_remove(MARKER)
        // Out of the terminal's foreground group: Ctrl-C is for culprit.
        .process_group(0);
    let child = cmd.spawn().ok()?;
    // Never waited for: it outlives us by design. Dropping the handle
    // leaves it running.
    Some((child.id(), w))
}

/// The marker value in /proc/PID/environ, if any. Empty for zombies and
/// for other users' processes.
fn marker_of(pid: i32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{MARKER}=");
    env.split(|&b| b == 0)
        .find_map(|e| e.strip_prefix(key.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Kills `pid` if its marker satisfies `pred`, without ever signalling
/// another process that reused the pid: the pidfd pins the process, and
/// the marker read through /proc is only trusted if the pinned process is
/// still alive afterwards.
fn kill_if(pid: i32, pred: &dyn Fn(&str) -> bool, before: &mut dyn FnMut(i32)) -> bool {
    let fd = sys::pidfd_open(pid);
    let Some(m) = marker_of(pid) else {
        return false;
    };
    if !pred(&m) {
        return false;
    }
    before(pid);
    match fd {
        Some(fd) => !sys::pidfd_exited(&fd) && sys::pidfd_kill(&fd, libc::SIGKILL),
        // No pidfds (Linux < 5.3): the window between the read and the kill
        // is the only exposure to a reused pid.
        None => {
            // SAFETY: plain syscall.
            unsafe { libc::kill(pid, libc::SIGKILL) == 0 }
        }
    }
}

/// Scans /proc and kills every process whose marker satisfies `pred`,
/// until a scan finds none or [`CLEANUP`] passed; `before` sees each pid
/// about to be killed. Returns the pids killed.
fn kill_marked(pred: &dyn Fn(&str) -> bool, before: &mut dyn FnMut(i32)) -> Vec<u32> {
    let me = std::process::id() as i32;
    let end = Instant::now() + CLEANUP;
    let mut killed = Vec::new();
    loop {
        let mut any = false;
        for pid in sys::pids() {
            if pid != me && kill_if(pid, pred, before) {
                killed.push(pid as u32);
                any = true;
            }
        }
        if !any || Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.sort_unstable();
    killed.dedup();
    killed
}

/// Whether the instance `<pid>-<starttime>` is still running.
fn instance_alive(id: &str) -> bool {
    let Some((pid, start)) = id.split_once('-') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
        return false;
    };
    sys::stat(pid).is_some_and(|s| s.starttime == start && s.state != b'Z')
}

/// Kills what is left of jobs labelled `label` (see
/// [`crate::Cancel::with_label`]) whose culprit process is dead: every
/// process carrying such a marker, and the whole cgroup of each job it
/// belongs to. Jobs of a running culprit process (this one included) are
/// never touched. A resumed campaign calls it before anything else, so
/// nothing of the dead run goes on writing into its checkout. Returns the
/// pids killed, ascending.
pub fn kill_leftovers(label: &str) -> Result<Vec<u32>> {
    if label.is_empty() || label.contains('/') {
        return Err(Error::Label(label.to_string()));
    }
    let mount = Cgroup2Mount::find();
    let mut cgroups: Vec<PathBuf> = Vec::new();
    let ours = own_instance_id();
    let pred = |m: &str| {
        let mut parts = m.splitn(3, '/');
        let (Some(owner), Some(_job), Some(l)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        l == label && owner != ours && !instance_alive(owner)
    };
    // Each leftover's job cgroup may hold more (processes that cleared
    // their environment): noted before the kill, as the process may be
    // reaped right after it.
    let killed = kill_marked(&pred, &mut |pid| {
        if let Some(dir) = mount.as_ref().and_then(|m| leftover_job_cgroup(m, pid)) {
            if !cgroups.contains(&dir) {
                cgroups.push(dir);
            }
        }
    });
    for dir in &cgroups {
        cgroup_kill(dir);
    }
    for dir in &cgroups {
        cgroup_wait_empty(dir, CLEANUP);
        cgroup_remove(dir);
        // The instance directory goes with its last job.
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    let end = Instant::now() + CLEANUP;
    for &pid in &killed {
        let left = end.saturating_duration_since(Instant::now());
        crate::wait_exited(pid as i32, left);
    }
    Ok(killed)
}

/// The job cgroup (`.../culprit-<dead instance>/job-<n>`) a leftover is in.
fn leftover_job_cgroup(mount: &Cgroup2Mount, pid: i32) -> Option<PathBuf> {
    let path = cgroup_of(pid)?;
    let mut comps = path.rsplit('/');
    let job = comps.next()?;
    let inst = comps.next()?.strip_prefix("culprit-")?;
    if !job
        .strip_prefix("job-")?
        .bytes()
        .all(|b| b.is_ascii_digit())
        || instance_alive(inst)
    {
        return None;
    }
    mount.dir_of(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_alive_only_with_their_start_time() {
        let me = own_instance_id();
        assert!(instance_alive(&me));
        let (pid, start) = me.split_once('-').unwrap();
        let start: u64 = start.parse().unwrap();
        assert!(!instance_alive(&format!("{pid}-{}", start + 1)));
        assert!(!instance_alive("nonsense"));
        assert!(!instance_alive("-1-2"));
    }

    #[test]
    fn leftovers_need_a_plain_label() {
        assert!(matches!(kill_leftovers(""), Err(Error::Label(_))));
        assert!(matches!(kill_leftovers("a/b"), Err(Error::Label(_))));
    }
}
