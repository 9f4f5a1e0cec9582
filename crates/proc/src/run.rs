//! The runner: start a [`Job`] contained, wait for it while reading its
//! output, and clean up everything it started.
//!
//! One thread does it all: it spawns the leader (so the parent-death
//! signal is tied to it), then polls the leader's pidfd and the output
//! pipes together, so no reader thread is needed and memory stays bounded
//! by the captures' tails.

use crate::cancel::Killable;
use crate::capture::{Capture, Captured, Store};
use crate::contain::{self, JobCgroup};
use crate::job::{Exit, Input, Job, Outcome, Sink, Tick};
use crate::{sys, Bound, Cancel, Error, Result};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the tick callback runs and the token is looked at (the token's
/// cancel also kills the leader, which wakes the wait at once).
const TICK: Duration = Duration::from_millis(50);
/// After the job is killed, how long its pipes may take to close. Only a
/// process that escaped containment keeps them open longer.
const DRAIN: Duration = Duration::from_secs(2);
/// Reads per stream and loop turn, so a flood of output cannot starve the
/// deadline and cancel checks.
const READS_PER_TURN: usize = 16;

/// A started job as its token sees it.
struct Live {
    pid: i32,
    /// True once the leader is reaped: from then on its pid and process
    /// group id may belong to someone else and are never signalled again.
    reaped: Mutex<bool>,
    cgroup: Option<PathBuf>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.reaped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kill_locked(&self, reaped: bool) {
        if !reaped {
            sys::kill_group(self.pid);
            if let Some(d) = &self.cgroup {
                crate::cgroup::cgroup_kill(d);
            }
        }
    }
}

impl Killable for Live {
    fn kill(&self) {
        let reaped = self.lock();
        self.kill_locked(*reaped);
    }
}

/// One captured output pipe.
struct Stream {
    fd: OwnedFd,
    cap: Capture,
    open: bool,
}

impl Stream {
    /// Reads what is there; marks the stream closed at end of file.
    fn pump(&mut self, buf: &mut [u8]) {
        for _ in 0..READS_PER_TURN {
            match sys::read(&self.fd, buf) {
                Ok(0) => {
                    self.open = false;
                    return;
                }
                Ok(n) => self.cap.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.open = false;
                    return;
                }
            }
        }
    }
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

/// The child's end (twice: the second for a merged stderr) and, for a
/// captured sink, our end and its capture.
type Wired = (Stdio, Stdio, Option<Stream>);

fn wire(sink: &Sink, watches: Vec<Vec<u8>>, fd: i32) -> Result<Wired> {
    let (bound, store) = match sink {
        Sink::Null if watches.is_empty() => return Ok((Stdio::null(), Stdio::null(), None)),
        Sink::Null => (Bound { head: 0, tail: 0 }, Store::Memory(Vec::new())),
        Sink::Inherit => {
            let dup = || {
                let r = if fd == 1 {
                    std::io::stdout().as_fd().try_clone_to_owned()
                } else {
                    std::io::stderr().as_fd().try_clone_to_owned()
                };
                r.map(Stdio::from)
                    .map_err(io_err("duplicate a descriptor".into()))
            };
            return Ok((dup()?, dup()?, None));
        }
        Sink::Memory(b) => (*b, Store::Memory(Vec::new())),
        Sink::File(p, b) => {
            let f = File::create(p).map_err(io_err(format!("create {}", p.display())))?;
            (*b, Store::File(f, p.clone()))
        }
    };
    let (r, w) = sys::pipe().map_err(io_err("create a pipe".into()))?;
    sys::set_nonblocking(&r).map_err(io_err("set up a pipe".into()))?;
    let w2 = w
        .try_clone()
        .map_err(io_err("duplicate a descriptor".into()))?;
    Ok((
        Stdio::from(w),
        Stdio::from(w2),
        Some(Stream {
            fd: r,
            cap: Capture::new(bound, store, watches),
            open: true,
        }),
    ))
}

/// Why the wait ended.
enum End {
    Exited,
    TimedOut,
    Cancelled,
    Lost(std::io::Error),
}

pub(crate) fn run(job: &Job, cancel: &Cancel, tick: &mut dyn FnMut(&mut Tick)) -> Result<Outcome> {
    cancel.check()?;
    let start = Instant::now();
    let _seen = cancel.observe();
    let inst = contain::instance();
    let job_no = inst.next_job();

    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args);
    if let Some(d) = &job.cwd {
        cmd.current_dir(d);
    }
    for (k, v) in &job.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env(contain::MARKER, inst.marker(job_no, cancel.label()));
    match &job.stdin {
        Input::Null => cmd.stdin(Stdio::null()),
        Input::File(p) => {
            cmd.stdin(File::open(p).map_err(io_err(format!("open {}", p.display())))?)
        }
    };
    let (out, out_again, mut out_stream) = wire(&job.stdout, job.watches.clone(), 1)?;
    cmd.stdout(out);
    let mut err_stream = None;
    match &job.stderr {
        Some(sink) => {
            // Only a merged stderr needs the second write end; held, it
            // would keep the pipe from ever reaching end of file.
            drop(out_again);
            let (e, _, s) = wire(sink, Vec::new(), 2)?;
            cmd.stderr(e);
            err_stream = s;
        }
        // Into the same pipe (file, null, terminal) as stdout.
        None => {
            cmd.stderr(out_again);
        }
    }
    let cgroup = inst.job_cgroup(job_no);
    guard_child(
        &mut cmd,
        job.death.signal(),
        cgroup.as_ref().map(|c| c.procs.as_raw_fd()),
    );

    let program = job.program.to_string_lossy().into_owned();
    let started = cancel.start(|| {
        let child = cmd
            .spawn()
            .map_err(|source| Error::Spawn { program, source })?;
        let live = Arc::new(Live {
            pid: child.id() as i32,
            reaped: Mutex::new(false),
            cgroup: cgroup.as_ref().map(|c| c.dir.clone()),
        });
        Ok(((child, live.clone()), live as Arc<dyn Killable>))
    });
    // Our copies of the pipes' write ends: the pipes reach end of file only
    // once every writer is gone.
    drop(cmd);
    let (child, live) = match started {
        Ok(x) => x,
        Err(e) => {
            if let Some(c) = &cgroup {
                crate::cgroup::cgroup_remove(&c.dir);
            }
            return Err(e);
        }
    };
    let in_cgroup = match &cgroup {
        Some(c) if c.holds(live.pid) => true,
        Some(_) => {
            inst.cgroups_failed();
            false
        }
        None => false,
    };
    let mut streams: Vec<Stream> = Vec::new();
    let has_out = out_stream.is_some();
    streams.extend(out_stream.take());
    streams.extend(err_stream.take());

    let end = wait(job, cancel, &live, &mut streams, start, tick);
    let status = cleanup(&live, child, inst, job_no, cgroup.as_ref(), in_cgroup);
    let escaped = drain(&mut streams);
    if let Some(c) = &cgroup {
        crate::cgroup::cgroup_remove(&c.dir);
    }

    let exit = match end {
        End::Lost(source) => {
            return Err(Error::Wait {
                pid: live.pid as u32,
                source,
            })
        }
        End::Cancelled => Exit::Cancelled,
        End::TimedOut => Exit::TimedOut,
        // Killed by a cancel: say so, not "killed by signal 9".
        End::Exited if cancel.is_cancelled() => Exit::Cancelled,
        End::Exited => match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(sig)) => Exit::Signal(sig),
                _ => Exit::Code(-1),
            },
            Err(source) => {
                return Err(Error::Wait {
                    pid: live.pid as u32,
                    source,
                })
            }
        },
    };
    let mut caps = streams.into_iter().map(|s| s.cap);
    let (stdout, seen) = match has_out.then(|| caps.next()).flatten() {
        Some(c) => {
            let seen = (0..job.watches.len()).map(|i| c.seen(i)).collect();
            (finish(c)?, seen)
        }
        None => (Captured::default(), vec![false; job.watches.len()]),
    };
    let stderr = match caps.next() {
        Some(c) => finish(c)?,
        None => Captured::default(),
    };
    Ok(Outcome {
        exit,
        secs: start.elapsed().as_secs_f64(),
        stdout,
        stderr,
        seen,
        escaped,
    })
}

fn finish(c: Capture) -> Result<Captured> {
    let (k, err) = c.finish();
    match err {
        Some(source) => Err(Error::Io {
            what: format!(
                "write {}",
                k.path.as_deref().unwrap_or(Path::new("output")).display()
            ),
            source,
        }),
        None => Ok(k),
    }
}

/// Sets the leader up between fork and exec: its own process group, the
/// parent-death signal, and its move into the job's cgroup.
fn guard_child(cmd: &mut Command, signal: libc::c_int, cgroup_procs: Option<i32>) {
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between fork and prctl: no signal will come.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            // "0" moves the writer itself. A failure is noticed by the
            // parent, which then falls back to the marker.
            if let Some(fd) = cgroup_procs {
                libc::write(fd, b"0".as_ptr().cast(), 1);
            }
            Ok(())
        });
    }
}

/// Waits until the leader exits, the deadline passes or the token is
/// cancelled, reading the output meanwhile.
fn wait(
    job: &Job,
    cancel: &Cancel,
    live: &Live,
    streams: &mut [Stream],
    start: Instant,
    tick: &mut dyn FnMut(&mut Tick),
) -> End {
    let pidfd = sys::pidfd_open(live.pid);
    let mut deadline = job.timeout.map(|t| start + t);
    let mut buf = vec![0u8; 64 << 10];
    let mut last_tick = start;
    loop {
        match sys::child_exited(live.pid) {
            Ok(true) => return End::Exited,
            Ok(false) => {}
            Err(e) => return End::Lost(e),
        }
        if cancel.is_cancelled() {
            return End::Cancelled;
        }
        let now = Instant::now();
        if now.duration_since(last_tick) >= TICK {
            last_tick = now;
            let seen = match streams.first() {
                Some(s) if !job.watches.is_empty() => {
                    (0..job.watches.len()).map(|i| s.cap.seen(i)).collect()
                }
                _ => vec![false; job.watches.len()],
            };
            let mut t = Tick {
                deadline,
                started: start,
                seen,
            };
            tick(&mut t);
            deadline = t.deadline;
        }
        let now = Instant::now();
        let mut nap = TICK.saturating_sub(now.duration_since(last_tick));
        if let Some(d) = deadline {
            if now >= d {
                return End::TimedOut;
            }
            nap = nap.min(d - now);
        }
        poll_streams(pidfd.as_ref(), streams, nap, &mut buf);
    }
}

/// Sleeps up to `nap`, waking when the leader exits or output arrives, and
/// reads the output that arrived.
fn poll_streams(pidfd: Option<&OwnedFd>, streams: &mut [Stream], nap: Duration, buf: &mut [u8]) {
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
    let mut which: Vec<usize> = Vec::with_capacity(2);
    if let Some(p) = pidfd {
        fds.push(libc::pollfd {
            fd: p.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    for (i, s) in streams.iter().enumerate().filter(|(_, s)| s.open) {
        fds.push(libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        which.push(i);
    }
    if fds.is_empty() {
        std::thread::sleep(nap);
        return;
    }
    if sys::poll(&mut fds, nap) == 0 {
        return;
    }
    let skip = usize::from(pidfd.is_some());
    for (pfd, &i) in fds[skip..].iter().zip(&which) {
        if pfd.revents != 0 {
            streams[i].pump(buf);
        }
    }
}

/// Kills the job's group and contained descendants, waits for them, and
/// reaps the leader. Returns the leader's status.
fn cleanup(
    live: &Live,
    mut child: Child,
    inst: &contain::Instance,
    job_no: u64,
    cgroup: Option<&JobCgroup>,
    in_cgroup: bool,
) -> std::io::Result<std::process::ExitStatus> {
    // The leader is unreaped (its zombie holds the group id), so the group
    // is still ours to kill.
    live.kill();
    match cgroup {
        Some(c) if in_cgroup => {
            crate::cgroup::cgroup_wait_empty(&c.dir, Duration::from_secs(5));
        }
        _ => inst.kill_job_marked(job_no),
    }
    let mut reaped = live.lock();
    let status = child.wait();
    *reaped = true;
    status
}

/// Reads the pipes to their end; true when one stayed open past [`DRAIN`]
/// (held by a process that escaped containment).
fn drain(streams: &mut [Stream]) -> bool {
    let end = Instant::now() + DRAIN;
    let mut buf = vec![0u8; 64 << 10];
    while streams.iter().any(|s| s.open) {
        let now = Instant::now();
        if now >= end {
            return true;
        }
        poll_streams(None, streams, end - now, &mut buf);
    }
    false
}
