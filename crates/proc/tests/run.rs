//! The runner on real processes: exit statuses, output capture and its
//! bound, deadlines and ticks, cancellation, environment and stdin.

use culprit_proc::{
    elision_marker, Bound, Cancel, Error, Exit, Input, Job, ParentDeath, Sink, MARKER,
};
use std::path::Path;
use std::time::{Duration, Instant};

fn read_pid(path: &Path) -> i32 {
    for _ in 0..400 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{} was never written", path.display());
}

/// A script that ignores SIGTERM and starts a grandchild in its group,
/// writing the grandchild's pid to `pidfile`, then runs `rest`.
fn with_grandchild(pidfile: &Path, rest: &str) -> Job {
    Job::shell(format!(
        "trap '' TERM; sleep 60 & echo $! > {0}.tmp; mv {0}.tmp {0}; {rest}",
        pidfile.display()
    ))
}

#[test]
fn exit_statuses_and_merged_output() {
    let c = Cancel::new();
    let mut j = Job::shell("echo out; echo err >&2; echo out2; exit 3");
    j.stdout(Sink::memory()).merge_stderr();
    let o = j.run(&c).unwrap();
    assert_eq!(o.exit, Exit::Code(3));
    assert_eq!(o.stdout.bytes, b"out\nerr\nout2\n");
    assert_eq!((o.stdout.total, o.stdout.elided), (13, 0));
    assert!(o.stderr.bytes.is_empty() && !o.escaped);

    let mut j = Job::shell("echo dying; kill -9 $$");
    j.stdout(Sink::memory());
    let o = j.run(&c).unwrap();
    assert_eq!(o.exit, Exit::Signal(9));
    assert_eq!(o.stdout.bytes, b"dying\n");
    assert!(Job::new("true").run(&c).unwrap().exit.success());
}

#[test]
fn separate_streams_and_output_helper() {
    let c = Cancel::new();
    let mut j = Job::shell("echo out; echo err >&2");
    j.stdout(Sink::memory()).stderr(Sink::memory());
    let o = j.run(&c).unwrap();
    assert_eq!(o.stdout.bytes, b"out\n");
    assert_eq!(o.stderr.bytes, b"err\n");
    // Both pipes reached their end when the job did (no copy of a write
    // end kept open by us).
    assert!(!o.escaped);
    // output() keeps stdout whole however long it is.
    let mut j = Job::new("seq");
    j.args(["1", "400000"]);
    let out = j.output(&c).unwrap();
    assert!(out.success());
    let want: String = (1..=400000).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.stdout.len(), want.len());
    assert!(out.stdout == want.as_bytes());
}

#[test]
fn a_long_output_keeps_head_and_tail_in_the_file() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("out.log");
    let n = 300_000;
    let mut j = Job::new("seq");
    j.arg("1").arg(n.to_string()).stdout(Sink::File(
        log.clone(),
        Bound {
            head: 1000,
            tail: 3000,
        },
    ));
    let o = j.run(&Cancel::new()).unwrap();
    assert!(o.exit.success());
    let full: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let full = full.as_bytes();
    let elided = full.len() as u64 - 4000;
    assert_eq!(o.stdout.total, full.len() as u64);
    assert_eq!(o.stdout.elided, elided);
    assert_eq!(o.stdout.path.as_deref(), Some(log.as_path()));
    let mut want = full[..1000].to_vec();
    want.extend_from_slice(elision_marker(elided, 1000, 3000).as_bytes());
    want.extend_from_slice(&full[full.len() - 3000..]);
    let got = std::fs::read(&log).unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the file is not head + marker + tail");
}

#[test]
fn deadline_kills_a_term_ignoring_leader_and_its_grandchild() {
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("grandchild");
    let mut j = with_grandchild(&pidfile, "wait");
    j.timeout(Duration::from_millis(500));
    let start = Instant::now();
    let o = j.run(&Cancel::new()).unwrap();
    assert_eq!(o.exit, Exit::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(500));
    let grandchild = read_pid(&pidfile);
    assert!(
        culprit_proc::wait_exited(grandchild, Duration::from_secs(2)),
        "grandchild {grandchild} survived the deadline"
    );
}

#[test]
fn leftovers_in_the_group_are_killed_when_the_leader_exits() {
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("grandchild");
    let o = with_grandchild(&pidfile, "exit 4")
        .run(&Cancel::new())
        .unwrap();
    assert_eq!(o.exit, Exit::Code(4));
    let grandchild = read_pid(&pidfile);
    assert!(
        culprit_proc::wait_exited(grandchild, Duration::from_secs(2)),
        "grandchild {grandchild} outlived its leader"
    );
}

#[test]
fn a_tick_can_move_the_deadline_when_a_watched_line_appears() {
    let c = Cancel::new();
    let mut j = Job::shell("sleep 0.3; echo READY; sleep 0.5; echo done");
    j.stdout(Sink::memory()).timeout(Duration::from_millis(600));
    let ready = j.watch("READY");
    let never = j.watch("NEVER");
    let mut moved = false;
    let o = j
        .run_with(&c, |t| {
            if t.seen(ready) && !moved {
                moved = true;
                t.deadline = Some(Instant::now() + Duration::from_secs(20));
            }
        })
        .unwrap();
    assert!(moved);
    assert_eq!(o.exit, Exit::Code(0), "{:?}", o.stdout);
    assert!(o.seen(ready) && !o.seen(never));
    assert_eq!(o.stdout.bytes, b"READY\ndone\n");
    // The same job, without the move, times out.
    let o = j.run(&c).unwrap();
    assert_eq!(o.exit, Exit::TimedOut);
    assert!(o.seen(ready));
}

#[test]
fn environment_directory_and_stdin() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("input"), "from a file\n").unwrap();
    let c = Cancel::new().with_label("env-test").unwrap();
    let mut j = Job::shell("pwd; echo \"$A|${B-unset}\"; echo \"$CULPRIT_PROC\"; cat");
    j.cwd(d.path())
        .env("A", "a value")
        .env("B", "x")
        .env_remove("B")
        .stdin(Input::File(d.path().join("input")));
    let out = j.output(&c).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        Path::new(lines[0]).canonicalize().unwrap(),
        d.path().canonicalize().unwrap()
    );
    assert_eq!(lines[1], "a value|unset");
    // The marker: this process's instance, a job number, the label.
    let inst = culprit_proc::status().instance;
    let marker = lines[2];
    assert!(marker.starts_with(&format!("{inst}/")), "{marker}");
    assert!(marker.ends_with("/env-test"), "{marker}");
    assert_eq!(lines[3], "from a file");
    assert_eq!(MARKER, "CULPRIT_PROC");
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    match Job::new("/nonexistent/culprit-test-program").run(&Cancel::new()) {
        Err(Error::Spawn { program, source }) => {
            assert_eq!(program, "/nonexistent/culprit-test-program");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    let mut j = Job::new("true");
    j.cwd("/nonexistent/dir");
    assert!(matches!(j.run(&Cancel::new()), Err(Error::Spawn { .. })));
}

#[test]
fn cancel_kills_a_running_job_and_refuses_new_ones() {
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("grandchild");
    let root = Cancel::new();
    let c = root.child();
    let t = {
        let (c, pidfile) = (c.clone(), pidfile.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut j = with_grandchild(&pidfile, "wait");
            j.parent_death(ParentDeath::Term);
            (j.run(&c), start.elapsed())
        })
    };
    let grandchild = read_pid(&pidfile);
    c.cancel();
    let (o, took) = t.join().unwrap();
    assert_eq!(o.unwrap().exit, Exit::Cancelled);
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(culprit_proc::wait_exited(
        grandchild,
        Duration::from_secs(2)
    ));
    assert!(matches!(Job::new("true").run(&c), Err(Error::Cancelled)));
    assert!(matches!(Job::new("true").output(&c), Err(Error::Cancelled)));
    // The parent token is untouched.
    assert!(Job::new("true").run(&root).unwrap().exit.success());
}

#[test]
fn quick_jobs_are_noticed_without_waiting_for_a_tick() {
    // Informative: the wait wakes on the leader's exit.
    let c = Cancel::new();
    let start = Instant::now();
    for i in 0..20 {
        let o = Job::shell(format!("exit {}", i % 3)).run(&c).unwrap();
        assert_eq!(o.exit, Exit::Code(i % 3));
    }
    eprintln!(
        "20 quick jobs: {:?} ({:?})",
        start.elapsed(),
        culprit_proc::status()
    );
}
