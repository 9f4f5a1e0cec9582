//! Slurm's commands (sbatch, squeue, sacct, scancel), run through
//! crates/proc and parsed. This is the only code that talks to Slurm; it
//! knows nothing about builds or runs.

use anyhow::{bail, Context, Result};
use culprit_proc::{Cancel, Job};
use std::time::Duration;

/// Slurm's answer for one job: `squeue -o '%i|%T|%N|%r'` or sacct's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: u64,
    pub state: String,
    pub node: String,
    pub reason: String,
}

/// Errors of a busy or restarting controller, worth a retry.
fn transient(stderr: &str) -> bool {
    [
        "Socket timed out",
        "Unable to contact slurm controller",
        "Resource temporarily unavailable",
        "temporarily unable",
        "Zero Bytes were transmitted",
        "Connection refused",
    ]
    .iter()
    .any(|m| stderr.contains(m))
}

/// Runs a Slurm command with a deadline; (success, stdout, stderr).
fn call(program: &str, args: &[String], cancel: &Cancel) -> Result<(bool, String, String)> {
    let mut job = Job::new(program);
    job.args(args).timeout(Duration::from_secs(60));
    let out = match job.output(cancel) {
        Err(culprit_proc::Error::Cancelled) => bail!(super::INTERRUPTED),
        Err(culprit_proc::Error::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            bail!("`{program}` is not installed here: --executor slurm needs Slurm's client commands (Debian: apt-get install slurm-client)")
        }
        r => r.with_context(|| format!("running {program}"))?,
    };
    if out.exit == culprit_proc::Exit::TimedOut {
        return Ok((
            false,
            String::new(),
            format!("{program}: Socket timed out (no answer in 60 s)"),
        ));
    }
    Ok((
        out.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
}

/// [`call`], retried with a growing pause while the controller is busy or
/// restarting (about 5 minutes in all).
fn call_retrying(
    program: &str,
    args: &[String],
    cancel: &Cancel,
) -> Result<(bool, String, String)> {
    let mut pause = Duration::from_secs(1);
    for _ in 0..10 {
        let r = call(program, args, cancel)?;
        if r.0 || !transient(&r.2) {
            return Ok(r);
        }
        tracing::warn!("{program}: {} (retrying in {pause:?})", r.2);
        if cancel.sleep(pause).is_err() {
            bail!(super::INTERRUPTED);
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
    call(program, args, cancel)
}

/// Submits a batch job: `sbatch --parsable ARGS`; its job ID.
pub fn submit(args: &[String], cancel: &Cancel) -> Result<u64> {
    let mut all = vec!["--parsable".to_string()];
    all.extend_from_slice(args);
    let (ok, out, err) = call_retrying("sbatch", &all, cancel)?;
    if !ok {
        bail!("sbatch refused the job: {err}\n(sbatch {})", all.join(" "));
    }
    parse_submitted(&out).with_context(|| format!("sbatch printed {out:?}, not a job ID"))
}

/// `--parsable` prints `ID` or `ID;CLUSTER`.
pub fn parse_submitted(out: &str) -> Option<u64> {
    out.trim().split(';').next()?.trim().parse().ok()
}

/// The state of these jobs: `squeue -t all`, which still knows a job for
/// MinJobAge (300 s by default) after it ended. Jobs it does not know are
/// left out of the answer.
pub fn query(ids: &[u64], cancel: &Cancel) -> Result<Vec<Seen>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    let args = [
        "-h".to_string(),
        "-t".into(),
        "all".into(),
        "-j".into(),
        list.join(","),
        "-o".into(),
        "%i|%T|%N|%r".into(),
    ];
    let (ok, out, err) = call_retrying("squeue", &args, cancel)?;
    if !ok {
        // Every ID unknown: an error, not an empty answer (docs/slurm.md).
        if err.contains("Invalid job id") {
            return Ok(Vec::new());
        }
        bail!("squeue failed: {err}");
    }
    Ok(parse_squeue(&out))
}

/// Lines `ID|STATE|NODES|REASON`; others (array or heterogeneous job
/// lines culprit never submits) are skipped.
pub fn parse_squeue(out: &str) -> Vec<Seen> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(4, '|');
            let id = f.next()?.parse().ok()?;
            let state = f.next()?.to_string();
            let node = f.next().unwrap_or("").to_string();
            let reason = f.next().unwrap_or("").to_string();
            Some(Seen {
                id,
                state,
                node,
                reason,
            })
        })
        .collect()
}

/// The final state of a job squeue no longer knows, from accounting
/// (slurmdbd) or, on a cluster without it, the job completion log
/// (`sacct -c`, docs/slurm.md). `None` if neither knows it.
pub fn accounting(id: u64, cancel: &Cancel) -> Result<Option<Seen>> {
    let id_s = id.to_string();
    for args in [
        vec!["-n", "-P", "-X", "-j", &id_s, "-o", "JobID,State,NodeList"],
        vec!["-c", "-n", "-P", "-j", &id_s, "-o", "JobID,State,NodeList"],
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let (ok, out, _) = call("sacct", &args, cancel)?;
        if !ok {
            continue;
        }
        // A requeued job has one line per run; the last one is its end.
        let last = out.lines().rev().find_map(|l| {
            let mut f = l.trim().split('|');
            let jid = f.next()?;
            (jid == id_s).then(|| Seen {
                id,
                state: f.next().unwrap_or("").to_string(),
                node: f.next().unwrap_or("").to_string(),
                reason: String::new(),
            })
        });
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

/// IDs of the caller's jobs named `name` still queued or running.
pub fn named(name: &str, cancel: &Cancel) -> Result<Vec<u64>> {
    let args = ["--me", "-h", "-n", name, "-o", "%i"].map(String::from);
    let (ok, out, err) = call_retrying("squeue", &args, cancel)?;
    if !ok {
        bail!("squeue failed: {err}");
    }
    Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Cancels these jobs (`scancel`). Runs even when `cancel` has fired:
/// it is how a cancelled campaign stops its jobs. Failures are logged,
/// not returned: there is nothing better to do with them.
pub fn scancel(ids: &[u64]) {
    if ids.is_empty() {
        return;
    }
    let args: Vec<String> = ids.iter().map(u64::to_string).collect();
    match call("scancel", &args, &Cancel::new()) {
        Ok((true, _, _)) => {}
        Ok((false, _, err)) => tracing::warn!("scancel {}: {err}", args.join(" ")),
        Err(e) => tracing::warn!("scancel {}: {e:#}", args.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
        assert_eq!(parse_submitted("123\n"), Some(123));
        assert_eq!(parse_submitted("77;cluster\n"), Some(77));
        assert_eq!(parse_submitted("Submitted batch job 5"), None);
        let seen = parse_squeue(
            "12|RUNNING|vm|None\n13|PENDING||Resources\nbad line\n14|CANCELLED|n[1-2]|a|b\n",
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].node, "vm");
        assert_eq!(
            (seen[1].state.as_str(), seen[1].reason.as_str()),
            ("PENDING", "Resources")
        );
        assert_eq!(seen[2].reason, "a|b");
        assert!(transient(
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
        ));
        assert!(!transient(
            "sbatch: error: invalid partition specified: nosuch"
        ));
    }
}
