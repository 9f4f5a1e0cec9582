//! SIGINT and SIGTERM on a real process (this test binary, re-executed to
//! play the program): a program blocked on something that does not observe
//! the token exits with 130 soon after; a program waiting on a job sees
//! the job cancelled and ends through its own path.

use culprit_proc::{handle_signals, Cancel, Exit, Job};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "CULPRIT_PROC_SIGNAL_ROLE";

fn wait_for(path: &Path) {
    for _ in 0..800 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{} never appeared", path.display());
}

/// Plays the program when re-executed; returns otherwise.
fn play_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var("ROLE_DIR").unwrap());
    let root = Cancel::new();
    handle_signals(&root, Duration::from_millis(500)).unwrap();
    assert!(handle_signals(&root, Duration::from_millis(500)).is_err());
    match role.as_str() {
        "stdin" => {
            std::fs::write(dir.join("ready"), "").unwrap();
            // Blocks for good: the test never closes our stdin.
            let mut buf = Vec::new();
            let r = std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf);
            std::fs::write(dir.join("read"), format!("{r:?}")).unwrap();
            std::process::exit(0);
        }
        "job" => {
            let pidfile = dir.join("grandchild");
            let o = Job::shell(format!(
                "sleep 1000 & echo $! > {0}.tmp; mv {0}.tmp {0}; touch {1}; wait",
                pidfile.display(),
                dir.join("ready").display()
            ))
            .run(&root)
            .unwrap();
            std::fs::write(dir.join("ended"), format!("{:?}", o.exit)).unwrap();
            // The program's own exit path, distinct from the 130 of the
            // signal thread.
            std::process::exit(if o.exit == Exit::Cancelled { 42 } else { 1 });
        }
        r => panic!("unknown role {r}"),
    }
}

fn spawn(test: &str, role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env("ROLE_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: our own unreaped child.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn a_program_blocked_on_stdin_exits_with_130() {
    play_role();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let d = tempfile::tempdir().unwrap();
        let mut child = spawn(
            "a_program_blocked_on_stdin_exits_with_130",
            "stdin",
            d.path(),
        );
        wait_for(&d.path().join("ready"));
        // Kept open: Child::wait would close it, and end-of-file would end
        // the program before the signal policy does.
        let stdin = child.stdin.take();
        let start = Instant::now();
        signal(&child, sig);
        let st = child.wait().unwrap();
        let took = start.elapsed();
        eprintln!("signal {sig}: exited {st:?} after {took:?}");
        let read = std::fs::read_to_string(d.path().join("read")).unwrap_or_default();
        assert_eq!(st.code(), Some(130), "{st:?} {read}");
        // Generous: the policy is the grace period (0.5 s) plus a poll.
        assert!(took < Duration::from_secs(5), "{took:?}");
        drop(stdin);
    }
}

#[test]
fn a_program_waiting_on_a_job_ends_through_its_own_path() {
    play_role();
    let d = tempfile::tempdir().unwrap();
    let mut child = spawn(
        "a_program_waiting_on_a_job_ends_through_its_own_path",
        "job",
        d.path(),
    );
    wait_for(&d.path().join("ready"));
    let grandchild: i32 = std::fs::read_to_string(d.path().join("grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal(&child, libc::SIGTERM);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(42), "{st:?} (signal {:?})", st.signal());
    assert_eq!(
        std::fs::read_to_string(d.path().join("ended")).unwrap(),
        "Cancelled"
    );
    assert!(culprit_proc::wait_exited(
        grandchild,
        Duration::from_secs(2)
    ));
}
