//! Slurm helpers of the integration tests: whether the test cluster is
//! there, and what the job completion log says about a campaign's jobs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether the cluster is usable; panics when it must be and is not.
pub fn cluster() -> bool {
    let works = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let problem = if !works("scontrol", &["ping"]) {
        Some("no Slurm controller answers `scontrol ping`")
    } else if !works("sacct", &["-c", "-n", "-j", "1"]) {
        Some("`sacct -c` (the job completion log) is not readable here")
    } else {
        None
    };
    match problem {
        None => true,
        Some(p) if std::env::var("CULPRIT_REQUIRE_SLURM").as_deref() == Ok("1") => {
            panic!("CULPRIT_REQUIRE_SLURM=1 but {p}: run scripts/slurm-up as root")
        }
        Some(p) => {
            eprintln!("skipped: {p} (scripts/slurm-up as root starts a one-node cluster)");
            false
        }
    }
}

/// (job ID, what it was) from the executor's job list in `share`.
pub fn jobs_of(share: &Path) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(share.join("slurm/jobs.txt")).unwrap();
    text.lines()
        .map(|l| job_line(l).unwrap_or_else(|| panic!("bad job list line {l:?}")))
        .collect()
}

/// [`jobs_of`] while the campaign runs: nothing before the list exists,
/// and a line still being written is left for the next look.
pub fn jobs_so_far(share: &Path) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(share.join("slurm/jobs.txt")).unwrap_or_default();
    text.lines().filter_map(job_line).collect()
}

fn job_line(l: &str) -> Option<(u64, String)> {
    let (id, stem) = l.split_once(' ')?;
    Some((id.parse().ok()?, stem.to_string()))
}

/// The campaign's directory under `--shared-dir`, once it exists.
pub fn campaign_share(shared: &Path) -> Option<PathBuf> {
    Some(std::fs::read_dir(shared).ok()?.next()?.ok()?.path())
}

/// (name, state) of job `id` in the job completion log.
pub fn sacct(id: u64) -> Option<(String, String)> {
    let o = Command::new("sacct")
        .args(["-c", "-n", "-P", "-o", "JobID,JobName,State", "-j"])
        .arg(id.to_string())
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .rev()
        .find_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.len() == 3 && f[0] == id.to_string()).then(|| (f[1].to_string(), f[2].to_string()))
        })
}

/// Waits until the job completion log has job `id` (slurmctld writes it
/// as the job ends, a moment after squeue shows the end).
pub fn sacct_wait(id: u64) -> (String, String) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = sacct(id) {
            return r;
        }
        assert!(Instant::now() < end, "job {id} never reached sacct -c");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The one job name of a campaign's `jobs` (from [`jobs_of`]); asserts
/// that each of them ended COMPLETED in the job completion log and that
/// they all share that name.
pub fn completed_under_one_name(jobs: &[(u64, String)]) -> String {
    let names: std::collections::BTreeSet<String> = jobs
        .iter()
        .map(|(id, stem)| {
            let (name, state) = sacct_wait(*id);
            assert_eq!(state, "COMPLETED", "job {id} ({stem})");
            name
        })
        .collect();
    assert_eq!(names.len(), 1, "one job name per campaign: {names:?}");
    names.into_iter().next().unwrap_or_default()
}
