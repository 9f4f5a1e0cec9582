//! Real processes: groups are killed on deadline, on exit of the leader, on
//! kill and on drop; nothing is left running.

use culprit_proc::{spawn, Error, ParentDeath, Wait};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn gone(pid: i32) -> bool {
    culprit_proc::exited(pid)
}

/// Waits up to 2 s for `pid` to be gone (SIGKILL is delivered asynchronously).
fn dies(pid: i32) -> bool {
    culprit_proc::wait_exited(pid, Duration::from_secs(2))
}

fn read_pid(path: &Path) -> i32 {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{} was never written", path.display());
}

/// A shell that ignores SIGTERM, starts a grandchild in its group and writes
/// the grandchild's pid to `pidfile`, then `rest`.
fn shell(pidfile: &Path, rest: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "trap '' TERM; sleep 60 & echo $! > {}.tmp; mv {0}.tmp {0}; {rest}",
        pidfile.display()
    ));
    cmd
}

#[test]
fn deadline_kills_a_term_ignoring_leader_and_its_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild");
    let mut g = spawn(&mut shell(&pidfile, "wait"), ParentDeath::Kill).unwrap();
    let leader = g.id() as i32;
    let start = Instant::now();
    let w = g
        .wait_until(start + Duration::from_millis(500), |_| {})
        .unwrap();
    assert!(matches!(w, Wait::TimedOut), "{w:?}");
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let grandchild = read_pid(&pidfile);
    assert!(
        dies(grandchild),
        "grandchild {grandchild} survived the deadline"
    );
    // The leader was reaped by the wait: not even a zombie remains.
    assert!(!Path::new(&format!("/proc/{leader}")).exists());
}

#[test]
fn leftovers_are_killed_when_the_leader_exits() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild");
    let mut g = spawn(&mut shell(&pidfile, "exit 3"), ParentDeath::Kill).unwrap();
    let w = g
        .wait_until(Instant::now() + Duration::from_secs(20), |_| {})
        .unwrap();
    match w {
        Wait::Exited(s) => assert_eq!(s.code(), Some(3)),
        other => panic!("{other:?}"),
    }
    let grandchild = read_pid(&pidfile);
    assert!(
        dies(grandchild),
        "grandchild {grandchild} outlived its leader"
    );
}

#[test]
fn drop_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild");
    let g = spawn(&mut shell(&pidfile, "wait"), ParentDeath::Kill).unwrap();
    let leader = g.id() as i32;
    let grandchild = read_pid(&pidfile);
    assert!(!gone(grandchild) && !gone(leader));
    let start = Instant::now();
    drop(g);
    // Bounded: a drop that merely waited would return when `sleep 60` ends.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        dies(grandchild),
        "grandchild {grandchild} survived the drop"
    );
    assert!(!Path::new(&format!("/proc/{leader}")).exists());
}

#[test]
fn kill_is_idempotent_and_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild");
    let mut g = spawn(&mut shell(&pidfile, "wait"), ParentDeath::Term).unwrap();
    let grandchild = read_pid(&pidfile);
    g.kill();
    g.kill();
    assert!(dies(grandchild), "grandchild {grandchild} survived kill()");
    // A wait after the kill reports what happened to the leader.
    match g.wait().unwrap() {
        Wait::Exited(s) => {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(s.signal(), Some(libc::SIGKILL));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tick_can_move_the_deadline() {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("sleep 0.6; exit 0");
    let mut g = spawn(&mut cmd, ParentDeath::Kill).unwrap();
    let start = Instant::now();
    let mut moved = false;
    let w = g
        .wait_until(start + Duration::from_millis(200), |d| {
            if !moved {
                moved = true;
                *d = start + Duration::from_secs(20);
            }
        })
        .unwrap();
    assert!(moved);
    assert!(matches!(&w, Wait::Exited(s) if s.success()), "{w:?}");
    // And without the move the same child times out.
    let mut g = spawn(&mut cmd, ParentDeath::Kill).unwrap();
    let w = g
        .wait_until(Instant::now() + Duration::from_millis(200), |_| {})
        .unwrap();
    assert!(matches!(w, Wait::TimedOut), "{w:?}");
}

#[test]
fn a_quick_child_is_noticed_without_waiting_for_a_tick() {
    // The wait wakes on the leader's exit: 20 quick children take far less
    // than 20 polling ticks would.
    let start = Instant::now();
    for i in 0..20 {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("exit {}", i % 3));
        let mut g = spawn(&mut cmd, ParentDeath::Kill).unwrap();
        match g.wait().unwrap() {
            Wait::Exited(s) => assert_eq!(s.code(), Some(i % 3)),
            other => panic!("{other:?}"),
        }
    }
    let took = start.elapsed();
    eprintln!("20 quick children: {took:?}");
}

#[test]
fn parent_death_signal_reaches_the_child() {
    // The signal fires when the spawning thread ends; the Guarded is leaked
    // so that only the parent-death signal can stop the child.
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let g = spawn(&mut cmd, ParentDeath::Kill).unwrap();
        pid_tx.send(g.id() as libc::pid_t).unwrap();
        std::mem::forget(g);
    })
    .join()
    .unwrap();
    let pid = pid_rx.recv().unwrap();
    let mut status = 0;
    // SAFETY: waits for our own child; it is reaped here since the Guarded
    // was leaked.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(libc::WIFSIGNALED(status), "status {status:#x}");
    assert_eq!(libc::WTERMSIG(status), libc::SIGKILL);
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    let mut cmd = Command::new("/nonexistent/culprit-test-program");
    match spawn(&mut cmd, ParentDeath::Kill) {
        Err(Error::Spawn { program, source }) => {
            assert_eq!(program, "/nonexistent/culprit-test-program");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("spawned a missing program"),
    }
}
