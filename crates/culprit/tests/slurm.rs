//! The Slurm executor against a real cluster: generic campaigns whose
//! builds and runs are Slurm jobs (checked in the job completion log,
//! `sacct -c`), one run job cancelled from outside that the campaign
//! survives, Ctrl-C cancelling the campaign's jobs, and `culprit test`
//! with its build and runs as jobs.
//!
//! Needs a cluster whose controller runs here and whose job completion log
//! this user can read (`scripts/slurm-up` as root makes one). Without it
//! each test prints why and passes, unless CULPRIT_REQUIRE_SLURM=1 (CI),
//! where it fails.

mod common;

use common::slurm::{campaign_share, cluster, completed_under_one_name, jobs_of, sacct_wait};
use common::{culprit, fix_patch, json, linear, stderr, test_always_args, BUILD, TEST_ALWAYS};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn slurm_args<'a>(bad: &'a str, good: &'a str, test: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--bad",
        bad,
        "--good",
        good,
        "--build",
        BUILD,
        "--test",
        test,
        "--artifact",
        "out/state",
        "--executor",
        "slurm",
        "--run-timeout",
        "120",
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_campaign_runs_its_builds_and_runs_as_slurm_jobs() {
    if !cluster() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (repo, first, bug, last) = linear(t.path(), 12, 7);
    let node = t.path().join("node");
    let node_s = node.to_str().unwrap();
    let args = slurm_args(&last, &first, TEST_ALWAYS, &["--node-dir", node_s]);
    let (log, result) = common::bisect(t.path(), &repo, &args);
    assert_eq!(result["culprit"], bug.as_str(), "{log}");

    // Every build and run was a job, and each ended COMPLETED under the
    // campaign's job name.
    let jobs = jobs_of(&t.path().join("w"));
    let builds = jobs.iter().filter(|(_, s)| s.starts_with("build-")).count();
    let runs = jobs.iter().filter(|(_, s)| s.starts_with("run-")).count();
    assert!(builds >= 3 && runs >= builds, "{jobs:?}");
    let name = completed_under_one_name(&jobs);
    assert!(name.starts_with("culprit-"), "{name}");
    // The builds happened in the node-local checkout, not in the workdir.
    assert!(
        std::fs::read_dir(&node).unwrap().count() > 0,
        "nothing in --node-dir"
    );
    assert!(!t.path().join("w/tree").exists());
    assert!(log.contains("(Slurm job "), "{log}");
}

/// A test that, the first time only, records its job ID in `id_file` and
/// sleeps so that the test can act on that job; otherwise TEST_ALWAYS.
fn test_sleeping_once(dir: &Path) -> String {
    let mark = dir.join("once");
    let id_file = dir.join("job-id");
    format!(
        "if mkdir {} 2>/dev/null; then echo $SLURM_JOB_ID > {}.tmp; mv {}.tmp {}; sleep 100; fi; {TEST_ALWAYS}",
        mark.display(),
        id_file.display(),
        id_file.display(),
        id_file.display()
    )
}

fn wait_for_id(p: &Path, child: &mut std::process::Child) -> u64 {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(t) = std::fs::read_to_string(p) {
            if let Ok(id) = t.trim().parse() {
                return id;
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("culprit ended ({st}) before the sleeping run started");
        }
        assert!(Instant::now() < end, "the sleeping run never started");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_run_job_cancelled_from_outside_is_untestable_and_the_campaign_goes_on() {
    if !cluster() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (repo, first, bug, last) = linear(t.path(), 12, 7);
    // Node checkouts in the test's directory, not left in /tmp.
    let node = t.path().join("node").to_string_lossy().into_owned();
    let test = test_sleeping_once(t.path());
    let shared = t.path().join("shared");
    let out_json = t.path().join("r.json");
    let mut child = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(slurm_args(&last, &first, &test, &["--node-dir", &node]))
        .arg("--shared-dir")
        .arg(&shared)
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(&out_json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_id(&t.path().join("job-id"), &mut child);
    let st = Command::new("scancel")
        .arg(id.to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{log}\n{}", stderr(&o));
    assert_eq!(json(&out_json)["culprit"], bug.as_str(), "{log}");
    assert!(
        log.contains(&format!("Slurm job {id} was cancelled")) && log.contains("not by culprit"),
        "the cancelled job is not reported as untestable:\n{log}"
    );
    assert_eq!(sacct_wait(id).1, "CANCELLED");
    // The shared directory held the job files; the logs came back to the
    // workdir, where the local executor keeps them.
    let share = campaign_share(&shared).expect("nothing in the shared directory");
    assert!(jobs_of(&share).iter().any(|(j, _)| *j == id));
    assert!(t.path().join("w/builds").read_dir().unwrap().count() > 0);
    assert!(t.path().join("w/runs").read_dir().unwrap().count() > 0);
}

#[test]
fn a_lost_build_job_is_built_again() {
    if !cluster() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (repo, first, bug, last) = linear(t.path(), 12, 7);
    let node = t.path().join("node").to_string_lossy().into_owned();
    let mark = t.path().join("once");
    let id_file = t.path().join("job-id");
    let build = format!(
        "if mkdir {m} 2>/dev/null; then echo $SLURM_JOB_ID > {i}.tmp; mv {i}.tmp {i}; sleep 100; fi; {BUILD}",
        m = mark.display(),
        i = id_file.display()
    );
    let mut args = slurm_args(&last, &first, TEST_ALWAYS, &["--node-dir", &node]);
    let b = args.iter().position(|a| *a == "--build").unwrap();
    args[b + 1] = &build;
    let out_json = t.path().join("r.json");
    let mut child = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(&args)
        .arg("--workdir")
        .arg(t.path().join("w"))
        .arg("--json")
        .arg(&out_json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_id(&id_file, &mut child);
    assert!(Command::new("scancel")
        .arg(id.to_string())
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{log}\n{}", stderr(&o));
    assert_eq!(json(&out_json)["culprit"], bug.as_str(), "{log}");
    assert_eq!(sacct_wait(id).1, "CANCELLED");
    // The first build (of the bad commit) was lost and submitted again;
    // the commit was not counted as failing to build.
    let of_bad: Vec<u64> = jobs_of(&t.path().join("w"))
        .into_iter()
        .filter(|(_, s)| s.starts_with(&format!("build-{}", &last[..12])))
        .map(|(j, _)| j)
        .collect();
    assert_eq!(of_bad.len(), 2, "{of_bad:?}");
    assert_eq!(of_bad[0], id);
    assert_eq!(sacct_wait(of_bad[1]).1, "COMPLETED");
    assert!(!log.contains("build failed"), "{log}");
}

#[test]
fn ctrl_c_cancels_the_campaigns_jobs() {
    if !cluster() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, last) = linear(t.path(), 12, 7);
    let node = t.path().join("node").to_string_lossy().into_owned();
    let test = test_sleeping_once(t.path());
    let mut child = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args(slurm_args(&last, &first, &test, &["--node-dir", &node]))
        .arg("--workdir")
        .arg(t.path().join("w"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_id(&t.path().join("job-id"), &mut child);
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    // Cancelled, not left to sleep its 100 s.
    assert_eq!(sacct_wait(id).1, "CANCELLED");
}

#[test]
fn culprit_test_builds_and_runs_a_patched_commit_as_slurm_jobs() {
    if !cluster() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (repo, _, _, last) = linear(t.path(), 5, 3);
    // The fix, as a diff from git: the test applies it in the object
    // database and builds the result on the node.
    let patch = fix_patch(t.path(), &repo);
    let node = t.path().join("node").to_string_lossy().into_owned();
    let test = |name: &str, extra: &[&str]| {
        let work = t.path().join(name);
        let out = t.path().join(format!("{name}.json"));
        let o = culprit()
            .args(test_always_args(&last, &["--runs", "3", "--vms", "2"]))
            .arg("--repo")
            .arg(&repo)
            .args([
                "--executor",
                "slurm",
                "--node-dir",
                &node,
                "--run-timeout",
                "120",
            ])
            .args(extra)
            .arg("--workdir")
            .arg(&work)
            .arg("--json")
            .arg(&out)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        (o.status.code(), json(&out), jobs_of(&work), log, stderr(&o))
    };
    let (code, result, jobs, log, err) = test("plain", &[]);
    assert_eq!(code, Some(6), "{log}\n{err}");
    assert_eq!(result["crashed"], 3, "{result}");
    let patch_s = patch.to_string_lossy().into_owned();
    let (fixed_code, fixed, fixed_jobs, log, err) = test("fixed", &["--patch", &patch_s]);
    assert_eq!(fixed_code, Some(0), "{log}\n{err}");
    assert_eq!(
        (fixed["clean"].as_u64(), fixed["crashed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_ne!(fixed["commit"], result["commit"]);
    // One build and three runs each, every one a job that completed.
    for (jobs, result) in [(&jobs, &result), (&fixed_jobs, &fixed)] {
        let builds = jobs.iter().filter(|(_, s)| s.starts_with("build-")).count();
        let runs = jobs.iter().filter(|(_, s)| s.starts_with("run-")).count();
        assert_eq!((builds, runs), (1, 3), "{jobs:?} {result}");
        assert!(completed_under_one_name(jobs).starts_with("culprit-"));
    }
}

#[test]
fn slurm_options_need_the_slurm_executor() {
    let t = tempfile::tempdir().unwrap();
    let (repo, first, _, last) = linear(t.path(), 3, 2);
    let run = |extra: &[&str]| {
        let o = culprit()
            .args(["bisect", "--repo"])
            .arg(&repo)
            .args(["--bad", &last, "--good", &first, "--workdir"])
            .arg(t.path().join("w"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let e = run(&[
        "--build",
        "true",
        "--test",
        "true",
        "--slurm-partition",
        "p",
    ]);
    assert!(
        e.contains("--slurm-partition is an option of the Slurm executor"),
        "{e}"
    );
    // Kernel mode goes to Slurm too (tests/slurm_kernel.rs); its input is
    // checked as locally.
    let e = run(&["--kernel", "--repro", "r.c", "--executor", "slurm"]);
    assert!(e.contains("the reproducer r.c is not a file"), "{e}");
    let repro = t.path().join("r.sh");
    std::fs::write(&repro, "true\n").unwrap();
    let repro = repro.to_str().unwrap();
    for tree in [&["--private-tree"][..], &["--build-tree", "/tmp/t"]] {
        let mut a = vec!["--kernel", "--repro", repro, "--executor", "slurm"];
        a.extend_from_slice(tree);
        let e = run(&a);
        assert!(
            e.contains("each build node keeps its kernel build tree under --node-dir"),
            "{e}"
        );
    }
    let e = run(&["--build", "true", "--test", "true", "--executor", "pbs"]);
    assert!(e.contains("pbs"), "{e}");

    let o = culprit().args(["bisect", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--executor <WHERE>",
        "--slurm-partition",
        "--shared-dir",
        "--node-dir",
        "--sbatch-arg",
    ] {
        assert!(help.contains(flag), "--help does not teach {flag}:\n{help}");
    }
}
