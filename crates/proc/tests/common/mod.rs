//! Containment scenarios on real processes, shared by the test binary that
//! uses cgroups where it can (contain.rs) and the one that relies on the
//! marker alone (contain_marker.rs).
//!
//! Each scenario's job starts two descendants that a process-group kill
//! misses: a `setsid` grandchild, and a double-forked daemon (a session
//! leader that forks and exits, so the survivor is an orphan in a session
//! of its own). A role process (this test binary re-executed with
//! [`ROLE`] set) plays culprit when culprit itself must die.

#![allow(dead_code)]

use culprit_proc::{Cancel, Config, Exit, Job};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable that makes the re-executed test binary play a role.
pub const ROLE: &str = "CULPRIT_PROC_TEST_ROLE";

pub fn read_pid(path: &Path) -> i32 {
    for _ in 0..800 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{} was never written", path.display());
}

/// The descendants a scenario job leaves when they are all started.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub leader: i32,
    pub setsid: i32,
    pub daemon: i32,
}

impl Tree {
    pub fn pids(&self) -> [i32; 3] {
        [self.leader, self.setsid, self.daemon]
    }

    /// Waits for the job to have started all of them.
    pub fn read(dir: &Path) -> Tree {
        Tree {
            leader: read_pid(&dir.join("leader.pid")),
            setsid: read_pid(&dir.join("setsid.pid")),
            daemon: read_pid(&dir.join("daemon.pid")),
        }
    }

    /// Every process of the tree is dead (or a zombie) within `t`.
    pub fn all_gone(&self, t: Duration) -> bool {
        self.pids().iter().all(|&p| culprit_proc::wait_exited(p, t))
    }

    pub fn escapers_alive(&self) -> bool {
        !culprit_proc::exited(self.setsid) && !culprit_proc::exited(self.daemon)
    }
}

/// The scenario: escapers started and their pids written to `dir`, then
/// `rest`.
pub fn scenario(dir: &Path, rest: &str) -> Job {
    let d = dir.display();
    Job::shell(format!(
        "echo $$ > {d}/leader.tmp; mv {d}/leader.tmp {d}/leader.pid
setsid sleep 1000 &
echo $! > {d}/setsid.tmp; mv {d}/setsid.tmp {d}/setsid.pid
setsid sh -c 'sleep 1000 & echo $! > {d}/daemon.tmp; mv {d}/daemon.tmp {d}/daemon.pid' &
while [ ! -e {d}/daemon.pid ]; do sleep 0.01; done
{rest}"
    ))
}

/// Live processes whose marker starts with `prefix`.
pub fn marked(prefix: &str) -> Vec<i32> {
    let key = format!("CULPRIT_PROC={prefix}");
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if culprit_proc::exited(pid) {
            continue;
        }
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            if env
                .split(|&b| b == 0)
                .any(|x| x.starts_with(key.as_bytes()))
            {
                v.push(pid);
            }
        }
    }
    v
}

/// Waits up to `t` for no live process to carry a marker with `prefix`.
pub fn none_marked(prefix: &str, t: Duration) -> Result<(), Vec<i32>> {
    let end = Instant::now() + t;
    loop {
        let m = marked(prefix);
        if m.is_empty() {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(m);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills whatever a failed test left, so it does not linger for 1000 s.
pub fn reap_tree(t: &Tree) {
    for p in t.pids() {
        if !culprit_proc::exited(p) {
            // SAFETY: test cleanup of processes this test started.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
    }
}

pub fn normal_end(dir: &Path) {
    let o = scenario(dir, "exit 7").run(&Cancel::new()).unwrap();
    assert_eq!(o.exit, Exit::Code(7));
    let t = Tree::read(dir);
    let gone = t.all_gone(Duration::from_secs(2));
    reap_tree(&t);
    assert!(gone, "descendants outlived the job's end: {t:?}");
}

pub fn timeout(dir: &Path) {
    let mut j = scenario(dir, "sleep 1000");
    j.timeout(Duration::from_secs(1));
    let o = j.run(&Cancel::new()).unwrap();
    assert_eq!(o.exit, Exit::TimedOut);
    let t = Tree::read(dir);
    let gone = t.all_gone(Duration::from_secs(2));
    reap_tree(&t);
    assert!(gone, "descendants outlived the timeout: {t:?}");
}

/// Runs the scenario on a thread under `token`; returns its tree once
/// started and the thread's handle.
pub fn start(
    dir: &Path,
    token: &Cancel,
) -> (
    Tree,
    std::thread::JoinHandle<culprit_proc::Result<culprit_proc::Outcome>>,
) {
    let (d, c) = (dir.to_path_buf(), token.clone());
    let h = std::thread::spawn(move || scenario(&d, "sleep 1000").run(&c));
    (Tree::read(dir), h)
}

/// Cancelling one token kills its job's whole tree and nothing of a
/// sibling token's job.
pub fn cancel_is_scoped(dir_a: &Path, dir_b: &Path) {
    let root = Cancel::new();
    let (a, b) = (root.child(), root.child());
    let (ta, ha) = start(dir_a, &a);
    let (tb, hb) = start(dir_b, &b);
    assert!(ta.escapers_alive() && tb.escapers_alive());
    a.cancel();
    let oa = ha.join().unwrap().unwrap();
    let a_gone = ta.all_gone(Duration::from_secs(2));
    // b's tree is untouched: give a wrong kill time to land first.
    std::thread::sleep(Duration::from_millis(200));
    let b_alive = tb.pids().iter().all(|&p| !culprit_proc::exited(p));
    root.cancel();
    let ob = hb.join().unwrap().unwrap();
    let b_gone = tb.all_gone(Duration::from_secs(2));
    reap_tree(&ta);
    reap_tree(&tb);
    assert_eq!(oa.exit, Exit::Cancelled);
    assert!(a_gone, "cancel left descendants running: {ta:?}");
    assert!(b_alive, "cancel of one token killed another's job: {tb:?}");
    assert_eq!(ob.exit, Exit::Cancelled);
    assert!(
        b_gone,
        "cancel of the root left descendants running: {tb:?}"
    );
}

/// Starts the test binary as a role process: it runs the scenario in
/// `dir` under the given containment settings (and label), writes its
/// instance id to `dir/instance`, and blocks until killed.
pub fn spawn_role(test: &str, dir: &Path, config: &Config, label: Option<&str>) -> Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, dir)
        .env("ROLE_CGROUPS", if config.cgroups { "1" } else { "0" })
        .env("ROLE_WATCHDOG", if config.watchdog { "1" } else { "0" })
        .env("ROLE_LABEL", label.unwrap_or(""))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    c.spawn().unwrap()
}

/// The role: called first thing by the test named in [`spawn_role`].
/// Never returns when [`ROLE`] is set.
pub fn play_role() {
    let Some(dir) = std::env::var_os(ROLE).map(PathBuf::from) else {
        return;
    };
    let flag = |k: &str| std::env::var(k).is_ok_and(|v| v == "1");
    culprit_proc::configure(Config {
        cgroups: flag("ROLE_CGROUPS"),
        watchdog: flag("ROLE_WATCHDOG"),
    })
    .unwrap();
    let root = Cancel::new();
    let token = match std::env::var("ROLE_LABEL") {
        Ok(l) if !l.is_empty() => root.with_label(&l).unwrap(),
        _ => root,
    };
    let st = culprit_proc::status();
    let info = format!(
        "{}\n{}\n",
        st.instance,
        st.cgroup
            .map(|c| c.display().to_string())
            .unwrap_or_default()
    );
    std::fs::write(dir.join("instance.tmp"), info).unwrap();
    std::fs::rename(dir.join("instance.tmp"), dir.join("instance")).unwrap();
    let _ = scenario(&dir, "sleep 1000").run(&token);
    std::process::exit(3);
}

/// The role's instance id and cgroup directory.
pub fn role_instance(dir: &Path) -> (String, Option<PathBuf>) {
    for _ in 0..800 {
        if let Ok(s) = std::fs::read_to_string(dir.join("instance")) {
            let mut l = s.lines();
            let inst = l.next().unwrap_or_default().to_string();
            let cg = l.next().filter(|c| !c.is_empty()).map(PathBuf::from);
            return (inst, cg);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the role never started");
}

fn sigkill(child: &mut Child) {
    // SAFETY: our own unreaped child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL));
}

/// kill -9 of the process playing culprit: nothing it started survives.
pub fn parent_sigkill(test: &str, dir: &Path, config: &Config) {
    let mut role = spawn_role(test, dir, config, None);
    let (inst, cgroup) = role_instance(dir);
    let t = Tree::read(dir);
    assert!(t.escapers_alive());
    assert!(!marked(&format!("{inst}/")).is_empty());
    sigkill(&mut role);
    let gone = t.all_gone(Duration::from_secs(5));
    let left = none_marked(&format!("{inst}/"), Duration::from_secs(5));
    reap_tree(&t);
    assert!(gone, "descendants outlived culprit's SIGKILL: {t:?}");
    assert_eq!(left, Ok(()), "marked processes outlived culprit's SIGKILL");
    if let Some(cg) = cgroup {
        let end = Instant::now() + Duration::from_secs(5);
        while cg.exists() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!cg.exists(), "the watchdog left {}", cg.display());
    }
}

/// Without the watchdog the escapers survive culprit's death (the
/// parent-death signal reaches the leader only); the resumed campaign's
/// kill_leftovers ends them, and never touches a live instance's jobs.
pub fn leftovers(test: &str, dir: &Path, live_dir: &Path, cgroups: bool) {
    let label = format!("leftovers-{}", std::process::id());
    let config = Config {
        cgroups,
        watchdog: false,
    };
    let mut role = spawn_role(test, dir, &config, Some(&label));
    let (inst, cgroup) = role_instance(dir);
    let t = Tree::read(dir);
    sigkill(&mut role);
    // The parent-death signal ended the leader; the escapers run on.
    let leader_gone = culprit_proc::wait_exited(t.leader, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    let escaped = t.escapers_alive();

    // A job of this (live) process with the same label must survive.
    let live = Cancel::new().with_label(&label).unwrap();
    let (lt, lh) = start(live_dir, &live);

    let killed = culprit_proc::kill_leftovers(&label).unwrap();
    let gone = t.all_gone(Duration::from_secs(2));
    let live_untouched = lt.pids().iter().all(|&p| !culprit_proc::exited(p));
    live.cancel();
    let _ = lh.join();
    let left = marked(&format!("{inst}/"));
    reap_tree(&t);
    reap_tree(&lt);
    assert!(
        leader_gone,
        "the parent-death signal did not end the leader"
    );
    assert!(escaped, "nothing escaped: the scenario tests nothing");
    assert!(
        gone,
        "kill_leftovers left {t:?} running (killed {killed:?})"
    );
    for p in [t.setsid, t.daemon] {
        assert!(killed.contains(&(p as u32)), "{p} not in {killed:?}");
    }
    assert!(
        live_untouched,
        "kill_leftovers killed a live instance's job"
    );
    assert!(left.is_empty(), "{left:?}");
    if let Some(cg) = cgroup {
        assert!(!cg.exists(), "kill_leftovers left {}", cg.display());
    }
}
