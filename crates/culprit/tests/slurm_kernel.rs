//! Kernel mode through Slurm against the real test cluster: the campaign
//! of tests/kernel_e2e.rs (the demo history on linux-source-6.1, no good
//! commit given, one reproducer execution per boot) with `--executor
//! slurm`, where every kernel build and every VM run is a Slurm job
//! running `culprit kernel-job` on the node. It must name the same
//! injected commit as the local campaign does, although one of its run
//! jobs is cancelled from outside while it runs (a lost job: untestable,
//! never evidence).
//!
//! Needs the cluster (`scripts/slurm-up` as root; skipped without it
//! unless CULPRIT_REQUIRE_SLURM=1, as tests/slurm.rs) and the kernel tools
//! (as tests/kernel_e2e.rs: fails without them unless
//! CULPRIT_SKIP_KERNEL=1). The node's build tree is kept under the demo
//! directory across runs, so its builds are incremental (plus ccache);
//! the campaign holds /tmp/kernel-build.lock, the machine's one-kernel-
//! build-at-a-time lock.

mod common;

use common::kernel::{demo_or_skip, machine_lock, DemoArgs};
use common::slurm::{
    campaign_share, cluster, completed_under_one_name, jobs_of, jobs_so_far, sacct_wait,
};
use culprit_kernel::demo;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Watches the campaign's job list under `shared` and cancels the first
/// run job it finds running; its id, or `None` once `done` is set.
fn cancel_a_running_run_job(shared: PathBuf, done: Arc<AtomicBool>) -> Option<u64> {
    let state = |id: u64| {
        let o = Command::new("squeue")
            .args(["-h", "-o", "%T", "-j"])
            .arg(id.to_string())
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut tried = std::collections::BTreeSet::new();
    while !done.load(Ordering::SeqCst) {
        let jobs = campaign_share(&shared).map_or_else(Vec::new, |s| jobs_so_far(&s));
        for (id, stem) in jobs {
            if !stem.starts_with("run-") || tried.contains(&id) {
                continue;
            }
            // A job still waiting for its node is looked at again (on a
            // loaded machine a run job may first be seen pending); one
            // that ran or ended is not.
            match state(id).as_deref() {
                Some("PENDING" | "CONFIGURING") => continue,
                Some("RUNNING") => {}
                _ => {
                    tried.insert(id);
                    continue;
                }
            }
            tried.insert(id);
            if Command::new("scancel")
                .arg(id.to_string())
                .status()
                .is_ok_and(|s| s.success())
            {
                return Some(id);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn a_kernel_campaign_through_slurm_names_the_injected_commit() {
    if !cluster() {
        return;
    }
    let Some(d) = demo_or_skip() else { return };
    let _lock = machine_lock();
    // Under the demo directory, apart from kernel_e2e's workdirs: a new
    // workdir and shared directory each time (every build and run is
    // really done), the node directory (its build tree) kept.
    let base = demo::default_dir().join("slurm-kernel");
    let (work, shared, node) = (base.join("work"), base.join("shared"), base.join("node"));
    for dir in [&work, &shared] {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(&shared).unwrap();
    let json = base.join("result.json");
    let _ = std::fs::remove_file(&json);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (shared, done) = (shared.clone(), done.clone());
        std::thread::spawn(move || cancel_a_running_run_job(shared, done))
    };
    let start = Instant::now();
    let out = common::culprit()
        .args(["bisect", "--kernel"])
        .demo(&d)
        .args(["--bad", &d.bad])
        .args(["--vms", "2", "--repro-repeat", "1"])
        .args(["--executor", "slurm", "--shared-dir"])
        .arg(&shared)
        .arg("--node-dir")
        .arg(&node)
        .arg("--workdir")
        .arg(&work)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let cancelled = watcher.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "culprit failed:\n{stdout}\n{stderr}");
    let cancelled = cancelled.expect("no run job was seen running to cancel");

    // The answer of the local campaign (kernel_e2e): the walk finds v6.2
    // good, the bisection names the injected commit, its revert fixes it.
    let v = common::json(&json);
    assert_eq!(v["culprit"], d.injected.as_str(), "{stdout}");
    assert_eq!(v["walk"]["good"], "v6.2", "{}", v["walk"]);
    assert_eq!(
        v["verification"]["outcome"], "fixed",
        "{}",
        v["verification"]
    );
    let first_bad = stdout
        .lines()
        .find(|l| l.contains("first bad commit"))
        .unwrap_or_else(|| panic!("no first bad commit in:\n{stdout}"));
    assert!(first_bad.contains(&d.injected), "{first_bad}");
    for line in [
        "compiler: gcc",
        "kernel signature: ",
        "crashed: ",
        "(Slurm job ",
    ] {
        assert!(stdout.contains(line), "log lacks {line:?}:\n{stdout}");
    }

    // The cancelled run was lost, and the log says so (untestable).
    assert!(
        stdout.contains(&format!("Slurm job {cancelled} was cancelled"))
            && stdout.contains("not by culprit"),
        "the cancelled run job is not reported as untestable:\n{stdout}"
    );
    assert_eq!(sacct_wait(cancelled).1, "CANCELLED");

    // Every other build and run was a Slurm job of the campaign, and each
    // ended COMPLETED: nothing else was lost on the way.
    let share = campaign_share(&shared).expect("nothing in the shared directory");
    let jobs = jobs_of(&share);
    let builds = jobs.iter().filter(|(_, s)| s.starts_with("build-")).count();
    let runs = jobs.iter().filter(|(_, s)| s.starts_with("run-")).count();
    assert!(builds >= 3 && runs >= builds, "{jobs:?}");
    // One build job per kernel: none lost, none built twice.
    let built: std::collections::BTreeSet<&str> = jobs
        .iter()
        .filter_map(|(_, s)| s.strip_prefix("build-"))
        .map(|s| s.split('-').next().unwrap())
        .collect();
    assert_eq!(built.len(), builds, "{jobs:?}");
    let others: Vec<(u64, String)> = jobs.iter().filter(|j| j.0 != cancelled).cloned().collect();
    completed_under_one_name(&others);

    // Kernels were built in the node's build tree, not on this side; the
    // runs' consoles came back to the workdir.
    assert!(node.join("culprit-trees").is_dir());
    assert!(!work.join("tree").exists() && !work.join("build").exists());
    let consoles = std::fs::read_dir(work.join("runs")).unwrap().count();
    assert!(consoles > 0);
    eprintln!(
        "kernel campaign through Slurm: {secs:.1} s, {builds} build jobs, {runs} run jobs, culprit {}",
        d.injected
    );
}
