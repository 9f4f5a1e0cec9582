//! What a Slurm job's state means for the campaign: the one mapping from
//! job states (as squeue, sacct and scontrol print them) and the result file
//! a job script writes to a build or run outcome. Pure functions, no I/O.
//!
//! The rule: only a job that Slurm reports COMPLETED and that wrote its
//! result file tested anything. Every other end (node lost, preempted,
//! cancelled by someone, time limit, out of memory) is the
//! infrastructure's doing and becomes an untestable run (or a build attempt
//! to retry) with Slurm's reason, never a clean or crashed observation.
//! The submitter's exit status is never used: docs/slurm.md measured srun
//! exiting 0 after a node failure.

use crate::backend::command::{classify, Exit};
use crate::backend::{RunStatus, Untestable};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet, or held, suspended or put back in the queue.
    Waiting,
    /// Started (its processes may still be stopping).
    Running,
    /// Over: its state is final.
    Ended,
}

/// The phase of a state name. `CANCELLED by 0` (sacct) and `COMPLETED+`
/// count as their first word. A state this code does not know is taken as
/// final, so that a newer Slurm's new failure state ends a wait instead of
/// prolonging it forever (and the run is untestable with that state).
pub fn phase(state: &str) -> Phase {
    match base(state) {
        "PENDING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD" | "SUSPENDED"
        | "STOPPED" | "RESIZING" | "SPECIAL_EXIT" => Phase::Waiting,
        "RUNNING" | "CONFIGURING" | "COMPLETING" | "SIGNALING" | "STAGE_OUT" => Phase::Running,
        _ => Phase::Ended,
    }
}

fn base(state: &str) -> &str {
    state
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('+')
}

/// Why culprit itself cancelled a job, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OurCancel {
    /// Still running well past its timeout: the node's own `timeout` did
    /// not end it (a hung node).
    Timeout,
}

/// How a finished job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The job ran its script to the end: its result file says what the
    /// command did.
    Completed,
    /// Slurm or the node ended it: nothing was tested.
    Lost { why: Untestable, reason: String },
}

/// A finished job as Slurm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished<'a> {
    pub id: u64,
    pub state: &'a str,
    /// The node it ran on (empty if none).
    pub node: &'a str,
    /// squeue's reason (`%r`), `None` when there is none.
    pub reason: &'a str,
}

/// The ending a final state stands for.
pub fn ending(job: &Finished<'_>, ours: Option<OurCancel>) -> Ending {
    let on = if job.node.is_empty() {
        String::new()
    } else {
        format!(" on {}", job.node)
    };
    let why_slurm = match job.reason {
        "" | "None" => String::new(),
        r => format!(" ({r})"),
    };
    let id = job.id;
    let lost = |why, reason: String| Ending::Lost { why, reason };
    match base(job.state) {
        "COMPLETED" => Ending::Completed,
        "TIMEOUT" => lost(
            Untestable::Timeout,
            format!("Slurm job {id} reached its time limit{on}"),
        ),
        "CANCELLED" => match ours {
            Some(OurCancel::Timeout) => lost(
                Untestable::Timeout,
                format!("Slurm job {id} still ran{on} long after its timeout; culprit cancelled it"),
            ),
            None => lost(
                Untestable::Infra,
                format!("Slurm job {id} was cancelled{on}, not by culprit (scancel by a user or an admin){why_slurm}"),
            ),
        },
        "NODE_FAIL" => lost(
            Untestable::Infra,
            format!("Slurm job {id}: node failure{on}{why_slurm}"),
        ),
        "BOOT_FAIL" => lost(
            Untestable::Infra,
            format!("Slurm job {id}: its node failed to boot{on}"),
        ),
        "PREEMPTED" => lost(
            Untestable::Infra,
            format!("Slurm job {id} was preempted{on}"),
        ),
        "OUT_OF_MEMORY" => lost(
            Untestable::Infra,
            format!("Slurm job {id} ran out of memory{on} (ask for more with --sbatch-arg=--mem=SIZE)"),
        ),
        "DEADLINE" => lost(
            Untestable::Infra,
            format!("Slurm job {id} passed its deadline{on}"),
        ),
        "FAILED" => lost(
            Untestable::Infra,
            format!("Slurm job {id}'s script failed{on}{why_slurm}: see its output in the shared directory's slurm/"),
        ),
        other => lost(
            Untestable::Infra,
            format!("Slurm job {id} ended in state {other}{on}{why_slurm}"),
        ),
    }
}

/// What a job script wrote as its last step: how the user's command
/// ended on the node.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    /// The command's exit status as the shell saw it (128+N: signal N).
    pub exit: i32,
    /// The node's `timeout` killed the command.
    pub timed_out: bool,
    pub node: String,
    /// Seconds the command took.
    pub secs: f64,
    /// Builds with --artifact: whether the artifact was there and copied.
    pub artifact: Option<bool>,
}

impl JobResult {
    /// Parses `key=value` lines; `None` if `exit` is missing or a value is
    /// malformed (a torn or foreign file counts as no result).
    pub fn parse(text: &str) -> Option<JobResult> {
        let mut r = JobResult {
            exit: -1,
            timed_out: false,
            node: String::new(),
            secs: 0.0,
            artifact: None,
        };
        let mut has_exit = false;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "exit" => {
                    r.exit = v.parse().ok()?;
                    has_exit = true;
                }
                "timedout" => r.timed_out = v == "1",
                "node" => r.node = v.to_string(),
                "secs" => r.secs = v.parse().ok().filter(|s: &f64| s.is_finite())?,
                "artifact" => r.artifact = Some(v == "ok"),
                _ => {}
            }
        }
        has_exit.then_some(r)
    }

    /// The command's end in the local backend's terms.
    pub fn exit(&self) -> Exit {
        if self.timed_out {
            Exit::Timeout
        } else {
            Exit::Code(self.exit)
        }
    }
}

/// The status of a run job: `ending` from Slurm, then the result file and
/// the run's output read by the local backend's rules (`git bisect run`'s
/// exit codes, crash reports in the output). An `Err` stops the campaign,
/// as it does locally (a test that cannot start, an exit >= 128).
pub fn run_status(
    id: u64,
    ending: Ending,
    result: Option<&JobResult>,
    output: &[u8],
) -> anyhow::Result<RunStatus> {
    match (ending, result) {
        (Ending::Lost { why, reason }, _) => Ok(RunStatus::Untestable { why, reason }),
        (Ending::Completed, None) => Ok(RunStatus::Untestable {
            why: Untestable::Infra,
            reason: format!(
                "Slurm job {id} completed without writing its result file (does the node see the shared directory?)"
            ),
        }),
        (Ending::Completed, Some(r)) => classify(r.exit(), output),
    }
}

/// Whether a kernel job (`culprit kernel-job` under the script) did its
/// work: `Ok` when Slurm says COMPLETED, the script wrote its result file
/// and the program exited 0 (its outcome file then says what it found);
/// otherwise why it did not, as an untestable run's reason or a lost
/// build attempt's. `log_tail` is the last line of the job's output (the
/// program's error). Unlike a user's test, a kernel job's exit status is
/// never the commit's: the run's verdict is in the outcome file only.
pub fn kernel_job_end(
    id: u64,
    ending: Ending,
    result: Option<&JobResult>,
    log_tail: &str,
) -> Result<(), (Untestable, String)> {
    match (ending, result) {
        (Ending::Lost { why, reason }, _) => Err((why, reason)),
        (Ending::Completed, None) => Err((
            Untestable::Infra,
            format!("Slurm job {id} completed without writing its result file (does the node see the shared directory?)"),
        )),
        (Ending::Completed, Some(r)) if r.timed_out => Err((
            Untestable::Timeout,
            format!("Slurm job {id} ran past its time limit on {}", r.node),
        )),
        (Ending::Completed, Some(r)) if r.exit != 0 => Err((
            Untestable::Infra,
            format!(
                "Slurm job {id}: culprit kernel-job failed on {} (exit status {}){}",
                r.node,
                r.exit,
                match log_tail.trim() {
                    "" => String::new(),
                    t => format!(": {t}"),
                }
            ),
        )),
        (Ending::Completed, Some(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fin(state: &str) -> Finished<'_> {
        Finished {
            id: 42,
            state,
            node: "n1",
            reason: "None",
        }
    }

    fn lost(e: Ending) -> (Untestable, String) {
        match e {
            Ending::Lost { why, reason } => (why, reason),
            Ending::Completed => panic!("expected a lost job"),
        }
    }

    #[test]
    fn phases_of_the_states_slurm_prints() {
        for s in ["PENDING", "REQUEUED", "SUSPENDED", "REQUEUE_HOLD"] {
            assert_eq!(phase(s), Phase::Waiting, "{s}");
        }
        for s in ["RUNNING", "COMPLETING", "CONFIGURING"] {
            assert_eq!(phase(s), Phase::Running, "{s}");
        }
        for s in [
            "COMPLETED",
            "FAILED",
            "CANCELLED by 0",
            "TIMEOUT",
            "NODE_FAIL",
            "PREEMPTED",
            "OUT_OF_MEMORY",
            "SOMETHING_NEW",
        ] {
            assert_eq!(phase(s), Phase::Ended, "{s}");
        }
    }

    #[test]
    fn only_completed_is_a_completed_job() {
        assert_eq!(ending(&fin("COMPLETED"), None), Ending::Completed);
        assert_eq!(ending(&fin("COMPLETED+"), None), Ending::Completed);
        for (state, why, words) in [
            ("NODE_FAIL", Untestable::Infra, "node failure on n1"),
            ("PREEMPTED", Untestable::Infra, "preempted on n1"),
            ("CANCELLED", Untestable::Infra, "not by culprit"),
            ("CANCELLED by 1000", Untestable::Infra, "not by culprit"),
            ("TIMEOUT", Untestable::Timeout, "time limit on n1"),
            ("OUT_OF_MEMORY", Untestable::Infra, "--mem"),
            ("BOOT_FAIL", Untestable::Infra, "failed to boot"),
            ("FAILED", Untestable::Infra, "script failed on n1"),
            ("DEADLINE", Untestable::Infra, "deadline"),
            ("REVOKED", Untestable::Infra, "state REVOKED"),
        ] {
            let (w, reason) = lost(ending(&fin(state), None));
            assert_eq!(w, why, "{state}");
            assert!(reason.contains(words), "{state}: {reason}");
            assert!(reason.contains("42"), "{state}: {reason}");
        }
        let (w, reason) = lost(ending(&fin("CANCELLED"), Some(OurCancel::Timeout)));
        assert_eq!(w, Untestable::Timeout);
        assert!(reason.contains("culprit cancelled it"), "{reason}");
        let with_reason = Finished {
            reason: "NodeDown",
            ..fin("NODE_FAIL")
        };
        assert!(lost(ending(&with_reason, None)).1.contains("(NodeDown)"));
    }

    #[test]
    fn result_files_parse_or_count_as_missing() {
        let r = JobResult::parse("exit=3\ntimedout=0\nnode=n1\nsecs=1.5\nartifact=ok\n").unwrap();
        assert_eq!(r.exit(), Exit::Code(3));
        assert_eq!(
            (r.node.as_str(), r.secs, r.artifact),
            ("n1", 1.5, Some(true))
        );
        let t = JobResult::parse("exit=124\ntimedout=1\n").unwrap();
        assert_eq!(t.exit(), Exit::Timeout);
        assert_eq!(
            JobResult::parse("artifact=missing\nexit=0")
                .unwrap()
                .artifact,
            Some(false)
        );
        assert!(JobResult::parse("").is_none());
        assert!(JobResult::parse("node=n1\n").is_none());
        assert!(JobResult::parse("exit=x\n").is_none());
        assert!(JobResult::parse("exit=0\nsecs=NaN\n").is_none());
    }

    #[test]
    fn a_kernel_job_counts_only_when_it_completed_and_exited_0() {
        let ok = JobResult::parse("exit=0\nnode=n1\n").unwrap();
        assert_eq!(kernel_job_end(1, Ending::Completed, Some(&ok), ""), Ok(()));
        // A crash is in the outcome file, never in the exit status: exit 1
        // is culprit failing on the node, not the kernel crashing.
        let failed = JobResult::parse("exit=1\nnode=n1\n").unwrap();
        let (why, reason) = kernel_job_end(
            3,
            Ending::Completed,
            Some(&failed),
            "error: missing tools: qemu-system-x86_64 not found\n",
        )
        .unwrap_err();
        assert_eq!(why, Untestable::Infra);
        assert!(
            reason.contains("Slurm job 3")
                && reason.contains("on n1")
                && reason.contains("missing tools"),
            "{reason}"
        );
        let timed_out = JobResult::parse("exit=124\ntimedout=1\nnode=n1\n").unwrap();
        assert_eq!(
            kernel_job_end(4, Ending::Completed, Some(&timed_out), "")
                .unwrap_err()
                .0,
            Untestable::Timeout
        );
        let (why, reason) = kernel_job_end(5, Ending::Completed, None, "").unwrap_err();
        assert_eq!(why, Untestable::Infra);
        assert!(reason.contains("result file"), "{reason}");
        // Lost to the infrastructure even with a clean result file.
        let (why, reason) =
            kernel_job_end(42, ending(&fin("NODE_FAIL"), None), Some(&ok), "").unwrap_err();
        assert_eq!(why, Untestable::Infra);
        assert!(reason.contains("node failure"), "{reason}");
    }

    #[test]
    fn a_run_counts_only_when_its_job_completed_and_reported() {
        let ok = JobResult::parse("exit=0\n").unwrap();
        let crash = JobResult::parse("exit=1\n").unwrap();
        let skip = JobResult::parse("exit=125\n").unwrap();
        assert_eq!(
            run_status(1, Ending::Completed, Some(&ok), b"").unwrap(),
            RunStatus::Ok
        );
        assert!(matches!(
            run_status(1, Ending::Completed, Some(&crash), b"").unwrap(),
            RunStatus::Crashed { title, .. } if title == "exit status 1"
        ));
        assert!(matches!(
            run_status(1, Ending::Completed, Some(&skip), b"").unwrap(),
            RunStatus::Untestable {
                why: Untestable::Infra,
                ..
            }
        ));
        // A crash result from a job Slurm then reports lost is not evidence.
        let lost_job = ending(&fin("NODE_FAIL"), None);
        assert!(matches!(
            run_status(42, lost_job, Some(&crash), b"").unwrap(),
            RunStatus::Untestable { why: Untestable::Infra, reason } if reason.contains("node failure")
        ));
        assert!(matches!(
            run_status(7, Ending::Completed, None, b"").unwrap(),
            RunStatus::Untestable { why: Untestable::Infra, reason } if reason.contains("result file")
        ));
        let timed_out = JobResult::parse("exit=124\ntimedout=1\n").unwrap();
        assert!(matches!(
            run_status(1, Ending::Completed, Some(&timed_out), b"").unwrap(),
            RunStatus::Untestable {
                why: Untestable::Timeout,
                ..
            }
        ));
        // The local backend's rule holds: exit >= 128 stops the campaign.
        let killed = JobResult::parse("exit=137\n").unwrap();
        assert!(run_status(1, Ending::Completed, Some(&killed), b"").is_err());
    }
}
