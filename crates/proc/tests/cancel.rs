//! `cancel` kills every running child group, ends the waits and refuses new
//! children. In its own test binary because cancelling is process-wide and
//! final.

use culprit_proc::{cancel, cancelled, spawn, Error, ParentDeath, Wait};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn cancel_kills_running_children_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let pidfiles: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("{i}.pid")))
        .collect();
    // Two waits in two threads, one with a deadline and one without; each
    // child ignores SIGTERM and has a grandchild in its group.
    let waiters: Vec<_> = pidfiles
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut cmd = Command::new("sh");
                cmd.arg("-c").arg(format!(
                    "trap '' TERM; sleep 60 & echo $! > {0}.tmp; mv {0}.tmp {0}; wait",
                    path.display()
                ));
                let mut g = spawn(&mut cmd, ParentDeath::Kill).unwrap();
                let start = Instant::now();
                let w = if i == 0 {
                    g.wait_until(start + Duration::from_secs(60), |_| {})
                } else {
                    g.wait()
                }
                .unwrap();
                (w, start.elapsed())
            })
        })
        .collect();
    let mut grandchildren = Vec::new();
    for path in &pidfiles {
        let mut pid = 0;
        for _ in 0..200 {
            if let Ok(p) = std::fs::read_to_string(path).map(|s| s.trim().parse::<i32>()) {
                pid = p.unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert!(pid > 0, "child did not start");
        grandchildren.push(pid);
    }
    assert!(!cancelled());
    cancel();
    assert!(cancelled());
    for w in waiters {
        let (w, took) = w.join().unwrap();
        assert!(matches!(w, Wait::Cancelled), "{w:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    for pid in grandchildren {
        assert!(
            culprit_proc::wait_exited(pid, Duration::from_secs(2)),
            "grandchild {pid} survived the cancel"
        );
    }
    let mut cmd = Command::new("true");
    assert!(matches!(
        spawn(&mut cmd, ParentDeath::Kill),
        Err(Error::Cancelled)
    ));
}
