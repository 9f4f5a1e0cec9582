//! Child processes that never outlive their purpose: the one place culprit
//! starts, waits for and kills programs (make, QEMU, gcc, git, the user's
//! build and test commands).
//!
//! # The pieces
//!
//! - [`Cancel`]: a scoped cancellation token. Every job runs under one;
//!   cancelling a token kills the jobs under it and under its children,
//!   wakes their sleepers, and makes later jobs under them fail with
//!   [`Error::Cancelled`]. A campaign, a server request, a test each get
//!   their own tree or subtree; cancelling one never touches another.
//! - [`Job`]: what to run (program and arguments, or a `/bin/sh -c`
//!   script; directory; environment; stdin; where stdout and stderr go;
//!   timeout; parent-death signal) and [`Job::run`] / [`Job::run_with`] /
//!   [`Job::output`], which run it to its end and return an [`Outcome`]
//!   ([`Exit::Code`], [`Exit::Signal`], [`Exit::TimedOut`],
//!   [`Exit::Cancelled`], seconds, output). Output is captured bounded: the
//!   head and the tail are kept ([`Bound`], 1 MiB and 4 MiB by default) and
//!   what lies between is replaced by one marker line
//!   ([`elision_marker`]), in memory or in a file; memory never holds more
//!   than the tail.
//! - [`pool`]: N items, at most K at once, each on its own thread, results
//!   in input order, items not started when the token is cancelled
//!   reported as such.
//! - [`kill_leftovers`]: kills what a dead culprit process left of a
//!   labelled campaign ([`Cancel::with_label`]).
//! - [`handle_signals`]: SIGINT and SIGTERM cancel a root token; the
//!   process exits with status 130 once nothing observes the token
//!   (policy in [`signals`]).
//!
//! # Containment: the design
//!
//! Each job's leader is started as the leader of a new process group, with
//! a parent-death signal tied to the thread that runs the job. On top:
//!
//! 1. **Marker.** The job's environment gets `CULPRIT_PROC=<instance>/<job
//!    number>/<label>`, where the instance is `<pid>-<starttime>` of this
//!    process (unique for the machine's uptime; a pid alone is not).
//!    Descendants inherit it, whatever group or session they move to.
//! 2. **cgroup.** Where the cgroup2 hierarchy is writable and has
//!    `cgroup.kill` (Linux 5.14; on this project's machines as root, both
//!    on pure cgroup2 and on hybrid hosts with cgroup2 at
//!    /sys/fs/cgroup/unified), the job runs in its own cgroup
//!    `<our cgroup>/culprit-<instance>/job-<n>`: the leader moves itself in
//!    between fork and exec, so everything it starts is born inside, and
//!    no `setsid` or double fork leaves it. No controller is enabled: the
//!    cgroup is used for membership only, not for limits.
//! 3. **End of a job** (exit of the leader, timeout, cancel): the group is
//!    killed while the leader is still unreaped; then the cgroup is killed
//!    (`cgroup.kill`) and waited empty, or, without a cgroup, /proc is
//!    scanned for the job's marker and every marked process killed, scan
//!    after scan until none is found; then the leader is reaped, the pipes
//!    drained, the cgroup removed.
//! 4. **Death of this process**, however it dies (SIGKILL, OOM killer,
//!    panic): a watchdog, `/bin/sh` running [`WATCHDOG`], started with the
//!    first job in its own process group, blocks on a pipe whose write end
//!    only this process holds (close-on-exec, so no job inherits it). When
//!    it reads end-of-file it kills the instance's cgroup and every process
//!    carrying the instance's marker, until a scan finds none, and removes
//!    the cgroups. The parent-death signal still stops each leader at once.
//! 5. **A resumed campaign** calls [`kill_leftovers`] with its label first:
//!    it kills every process whose marker has that label and whose
//!    instance is no longer running, and the whole job cgroup each was in.
//!
//! No subreaper is used: orphans would become this process's children, and
//! their zombies could not be told apart from children that other code in
//! the process (std::process in other crates) spawned and waits for;
//! reaping one of those would steal its status. Attribution by cgroup and
//! marker does not need the orphans to be ours.
//!
//! # Guarantees (invariants)
//!
//! - No job outlives its run: when [`Job::run`] returns, the leader is
//!   reaped and every process in its cgroup, or carrying its marker, is
//!   dead.
//! - A process group is only signalled while its leader is our unreaped
//!   child, so the group id cannot have been reused; a marked process is
//!   only signalled through a pidfd, after checking that the process the
//!   pidfd pins is the one whose marker was read; a cgroup is only killed
//!   when we created it, or when its name says it belongs to a dead
//!   instance.
//! - A cancelled token never starts a job; a job started under a token that
//!   is then cancelled is killed (the start and the cancel are ordered by
//!   the token's lock).
//! - Results are deterministic where they can be: pool results in input
//!   order, markers and cgroup names from counters, scans in pid order.
//!
//! # Limits
//!
//! - Without a writable cgroup2, a descendant that both clears or
//!   rewrites its environment (`env -i`, setproctitle) and leaves the
//!   process group escapes; [`Outcome::escaped`] tells when it also kept
//!   the job's output pipe.
//! - The watchdog kills by pid from a shell (no pidfd there): between its
//!   check of a process's marker and its `kill`, the pid could in theory be
//!   reused. With a cgroup the watchdog's first act is `cgroup.kill`, which
//!   has no such window.
//! - A process with privilege can move itself to another cgroup; killing
//!   the watchdog as well as culprit (e.g. `kill -9` of both) leaves
//!   cleanup to the next [`kill_leftovers`].
//! - The parent-death signal fires when the *thread* that started the job
//!   ends: a job must be run to its end on the thread that started it,
//!   which [`Job::run`] and [`pool`] do.

mod cancel;
mod capture;
mod cgroup;
mod contain;
mod job;
mod pool;
mod run;
pub mod signals;
mod sys;

pub use cancel::{Cancel, Observing};
pub use capture::{elision_marker, Captured};
pub use contain::{configure, kill_leftovers, status, Config, Status, MARKER, WATCHDOG};
pub use job::{Bound, Exit, Input, Job, Outcome, Output, ParentDeath, Sink, Tick};
pub use pool::{pool, pool_each, Slot};
pub use signals::{handle_signals, signalled};

/// Everything that can go wrong here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token was cancelled: nothing new is started.
    #[error("interrupted")]
    Cancelled,
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for process {pid}: {source}")]
    Wait {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid label {0:?}: use letters, digits, '-', '_' and '.' (at most 128)")]
    Label(String),
    #[error(
        "containment is already set up with other settings: configure it before the first job"
    )]
    Configured,
    #[error("{0}")]
    Signals(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Whether `pid` has stopped running: no such process, or a zombie (dead,
/// waiting for whoever adopted it to reap it). How callers and tests check
/// that nothing was left behind.
pub fn exited(pid: i32) -> bool {
    sys::stat(pid).is_none_or(|s| s.state == b'Z' || s.state == b'X')
}

/// Waits up to `timeout` for [`exited`]: SIGKILL is delivered
/// asynchronously.
pub fn wait_exited(pid: i32, timeout: std::time::Duration) -> bool {
    let step = std::time::Duration::from_millis(5);
    let start = std::time::Instant::now();
    loop {
        if exited(pid) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(step);
    }
}
