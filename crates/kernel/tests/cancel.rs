//! Ctrl-C: `cancel_all` kills every running child group and ends the waits.
//! In its own test binary because cancelling is process-wide and final.

use culprit_kernel::process::{self, Wait};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn cancel_all_kills_running_children_and_refuses_new_ones() {
    let pidfile = tempfile::NamedTempFile::new().unwrap();
    let path = pidfile.path().to_path_buf();
    let waiter = std::thread::spawn(move || {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 60 & echo $! > {}; wait", path.display()));
        let mut g = process::spawn(&mut cmd, libc::SIGKILL).unwrap();
        let start = Instant::now();
        let w = g
            .wait_until(start + Duration::from_secs(60), |_| {})
            .unwrap();
        (w, start.elapsed())
    });
    // Wait until the grandchild exists, then cancel.
    let mut grandchild = 0;
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(pidfile.path()) {
            if let Ok(p) = s.trim().parse::<i32>() {
                grandchild = p;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(grandchild > 0, "child did not start");
    process::cancel_all();
    let (w, took) = waiter.join().unwrap();
    assert!(matches!(w, Wait::Cancelled), "{w:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let mut gone = false;
    for _ in 0..40 {
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat"));
        if stat.map(|s| s.contains(") Z ")).unwrap_or(true) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "grandchild {grandchild} survived the cancel");
    let mut cmd = Command::new("true");
    assert!(process::spawn(&mut cmd, libc::SIGKILL).is_err());
}
