//! What to run and what came of it: [`Job`] describes one program run,
//! [`Outcome`] and [`Output`] say how it ended.

use crate::capture::Captured;
use crate::{Cancel, Result};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The signal the job's leader gets when the thread that started it ends
/// (culprit dying included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentDeath {
    /// SIGTERM: for programs that clean up and stop their own children on
    /// it (make kills its jobs).
    Term,
    /// SIGKILL: for everything else (QEMU, shell commands).
    Kill,
}

impl ParentDeath {
    pub(crate) fn signal(self) -> libc::c_int {
        match self {
            ParentDeath::Term => libc::SIGTERM,
            ParentDeath::Kill => libc::SIGKILL,
        }
    }
}

/// How much of an output stream is kept: the first `head` bytes and the
/// last `tail` bytes; what lies between is replaced by one marker line
/// (see [`crate::elision_marker`]). Memory use is bounded by `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub head: u64,
    pub tail: u64,
}

impl Bound {
    /// Keeps everything (memory grows with the output): for callers that
    /// parse the whole output, like `git rev-list`.
    pub const UNLIMITED: Bound = Bound {
        head: u64::MAX,
        tail: 0,
    };
}

impl Default for Bound {
    /// The first 1 MiB (how it started) and the last 4 MiB (a crash report
    /// is usually near the end).
    fn default() -> Self {
        Bound {
            head: 1 << 20,
            tail: 4 << 20,
        }
    }
}

/// Where an output stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// /dev/null.
    Null,
    /// This process's own stream.
    Inherit,
    /// Kept in memory, bounded; in [`Captured::bytes`].
    Memory(Bound),
    /// Written to this file (created or truncated), bounded.
    File(PathBuf, Bound),
}

impl Sink {
    /// A file with the default bound.
    pub fn file(path: impl Into<PathBuf>) -> Sink {
        Sink::File(path.into(), Bound::default())
    }

    /// Memory with the default bound.
    pub fn memory() -> Sink {
        Sink::Memory(Bound::default())
    }
}

/// Where standard input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// /dev/null: jobs never wait for a terminal.
    Null,
    /// This file's contents.
    File(PathBuf),
}

/// One program run: program and arguments (or a shell script), working
/// directory, environment, standard streams, timeout, parent-death signal.
/// Run it with [`Job::run`], [`Job::run_with`] or [`Job::output`].
#[derive(Debug, Clone)]
pub struct Job {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: Option<PathBuf>,
    /// In order; `None` removes the variable.
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) stdin: Input,
    pub(crate) stdout: Sink,
    /// `None`: into the same pipe as stdout, interleaved as written.
    pub(crate) stderr: Option<Sink>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) death: ParentDeath,
    pub(crate) watches: Vec<Vec<u8>>,
}

impl Job {
    /// `program` with no arguments; stdin null, stdout and stderr null, no
    /// timeout, SIGKILL on parent death.
    pub fn new(program: impl AsRef<OsStr>) -> Job {
        Job {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            stdin: Input::Null,
            stdout: Sink::Null,
            stderr: Some(Sink::Null),
            timeout: None,
            death: ParentDeath::Kill,
            watches: Vec::new(),
        }
    }

    /// `script` run by `/bin/sh -c`.
    pub fn shell(script: impl AsRef<OsStr>) -> Job {
        let mut j = Job::new("/bin/sh");
        j.arg("-c").arg(script);
        j
    }

    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Job {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Job
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    pub fn cwd(&mut self, dir: impl AsRef<Path>) -> &mut Job {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Job {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Job {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn stdin(&mut self, input: Input) -> &mut Job {
        self.stdin = input;
        self
    }

    pub fn stdout(&mut self, sink: Sink) -> &mut Job {
        self.stdout = sink;
        self
    }

    pub fn stderr(&mut self, sink: Sink) -> &mut Job {
        self.stderr = Some(sink);
        self
    }

    /// Standard error into standard output's sink, interleaved as written.
    pub fn merge_stderr(&mut self) -> &mut Job {
        self.stderr = None;
        self
    }

    /// The job is killed (with everything it started) this long after it
    /// started, unless a tick callback moves the deadline.
    pub fn timeout(&mut self, t: Duration) -> &mut Job {
        self.timeout = Some(t);
        self
    }

    pub fn parent_death(&mut self, d: ParentDeath) -> &mut Job {
        self.death = d;
        self
    }

    /// Watches standard output (merged stderr included) for `needle`;
    /// returns the index to ask [`Tick::seen`] and [`Outcome::seen`] with.
    /// Found even in output that the bound elides.
    pub fn watch(&mut self, needle: impl AsRef<[u8]>) -> usize {
        self.watches.push(needle.as_ref().to_vec());
        self.watches.len() - 1
    }

    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The environment changes, in order (`None`: removed).
    pub fn get_envs(&self) -> impl Iterator<Item = (&OsStr, Option<&OsStr>)> {
        self.env.iter().map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }

    pub fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// Runs the job to its end under `cancel`. `Err` only when it could not
    /// start (including [`crate::Error::Cancelled`] for a token cancelled
    /// before) or culprit itself failed (an output file it cannot write).
    pub fn run(&self, cancel: &Cancel) -> Result<Outcome> {
        crate::run::run(self, cancel, &mut |_| {})
    }

    /// [`Job::run`], calling `tick` about every 50 ms while the job runs;
    /// the callback may move the deadline.
    pub fn run_with(&self, cancel: &Cancel, mut tick: impl FnMut(&mut Tick)) -> Result<Outcome> {
        crate::run::run(self, cancel, &mut tick)
    }

    /// Runs with stdout kept whole in memory and stderr bounded (64 KiB
    /// head and tail), as `std::process::Command::output` for git and gcc.
    /// A job cancelled while running is `Err(Error::Cancelled)`.
    pub fn output(&self, cancel: &Cancel) -> Result<Output> {
        let mut j = self.clone();
        j.stdout = Sink::Memory(Bound::UNLIMITED);
        j.stderr = Some(Sink::Memory(Bound {
            head: 64 << 10,
            tail: 64 << 10,
        }));
        let o = j.run(cancel)?;
        if o.exit == Exit::Cancelled {
            return Err(crate::Error::Cancelled);
        }
        Ok(Output {
            exit: o.exit,
            stdout: o.stdout.bytes,
            stderr: o.stderr.bytes,
        })
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The leader exited with this status.
    Code(i32),
    /// The leader was killed by this signal (not by us).
    Signal(i32),
    /// The deadline passed; the job was killed.
    TimedOut,
    /// Its token was cancelled; the job was killed.
    Cancelled,
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => f.write_str("timed out"),
            Exit::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// What a run came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit: Exit,
    /// From start to the end of the cleanup.
    pub secs: f64,
    pub stdout: Captured,
    /// Empty when stderr was merged into stdout.
    pub stderr: Captured,
    /// Which watched needles appeared, in [`Job::watch`] order.
    pub seen: Vec<bool>,
    /// Something the job started still held its output pipe after the
    /// job's containment was killed: a process that left both the job's
    /// cgroup and its marker (see the crate doc's limits). Its output after
    /// that point is lost.
    pub escaped: bool,
}

impl Outcome {
    pub fn seen(&self, watch: usize) -> bool {
        self.seen.get(watch).copied().unwrap_or(false)
    }
}

/// What [`Job::output`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit.success()
    }
}

/// What a tick callback sees and may change.
pub struct Tick {
    /// When the job will be killed; `None`: never. The callback may move it.
    pub deadline: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) seen: Vec<bool>,
}

impl Tick {
    /// Whether the watched needle has appeared so far.
    pub fn seen(&self, watch: usize) -> bool {
        self.seen.get(watch).copied().unwrap_or(false)
    }

    /// When the job started.
    pub fn started(&self) -> Instant {
        self.started
    }
}
