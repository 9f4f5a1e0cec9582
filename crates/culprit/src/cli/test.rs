//! `culprit test`: does this commit, with these patches, still crash?
//! (syzbot's `#syz test`.) The patches are applied in the object database
//! (`Repo::apply_patches`: the user's checkout is never touched), the
//! resulting commit is built by the same backends as `culprit bisect`, and
//! the test runs N times; the output says how many runs crashed with which
//! titles, ran clean or were untestable.

use anyhow::{bail, Context, Result};
use clap::{ArgMatches, Args, ValueHint};
use culprit_git::Repo;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

use super::bisect::{given_in, ExecutorArgs, GenericArgs};
use super::paths::default_workdir;
use super::test_backend::{backend_for, seconds, Place};
use crate::backend::kernel::{self, KernelSettings};
use crate::backend::slurm::Executor;
use crate::print::trial::{self as printer, TestSummary};
use crate::spec::{Mode, Search};
use crate::trial::{self, Crash, Reason, TestOutcome};

/// Exit status of `culprit test` (documented in the README and `--help`).
pub mod exit {
    /// At least one run tested the commit and none crashed.
    pub const CLEAN: i32 = 0;
    /// At least one run crashed.
    pub const CRASHED: i32 = 6;
    /// Nothing was tested: the build failed, or every run was untestable.
    pub const UNTESTED: i32 = 7;
}

/// The options of `culprit test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The repository (never modified: the patches are applied in git's
    /// object database, commits are checked out in culprit's worktree).
    #[arg(long, value_name = "PATH", default_value = ".", value_hint = ValueHint::DirPath)]
    pub repo: PathBuf,

    /// The commit to test (the patches are applied on top of it).
    #[arg(long, value_name = "REV")]
    pub commit: String,

    /// A patch to apply before building: a diff, or mails from `git
    /// format-patch`. Repeat for several; they are applied in order, as
    /// `git apply` applies them.
    #[arg(long = "patch", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub patches: Vec<PathBuf>,

    /// How many times to run the test (the reproducer in kernel mode).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub runs: u32,

    /// Runs executed in parallel (VMs in kernel mode).
    #[arg(long, value_name = "K", default_value_t = Search::default().vms)]
    pub vms: u32,

    /// Where culprit keeps its worktree, builds and run outputs. Default:
    /// ~/.cache/culprit/<id of the repository and build settings>, so
    /// that testing again reuses the build.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub workdir: Option<PathBuf>,

    /// Also write the result as JSON to FILE (schema `culprit-test/1`).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub json: Option<PathBuf>,

    /// Print only the result, not each run.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub generic: GenericArgs,

    /// Test a Linux kernel: build the commit reproducibly and boot it in
    /// QEMU with the reproducer (no --build/--test).
    #[arg(long, help_heading = "Kernel mode")]
    pub kernel: bool,

    #[command(flatten)]
    pub kernel_settings: KernelSettings,

    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// The JSON result of `culprit test` (schema `culprit-test/1`).
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub schema: &'static str,
    /// The commit built and tested (`base` with the patches applied).
    pub commit: String,
    /// `--commit`, resolved.
    pub base: String,
    pub patches: Vec<PathBuf>,
    pub build: BuildDoc,
    pub runs: u32,
    pub crashed: u32,
    pub clean: u32,
    pub untestable: u32,
    /// Crash titles, most frequent first, with the consoles showing them.
    pub crashes: Vec<Crash>,
    pub untestable_reasons: Vec<Reason>,
    pub exit_code: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildDoc {
    /// `ok`, `failed`, or `kept` (built before, not rebuilt).
    pub status: &'static str,
    pub first_error: Option<String>,
    pub signature: Option<String>,
    pub log: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// The exit status an outcome gives.
pub fn exit_code(t: &TestOutcome) -> i32 {
    if t.crashed() > 0 {
        exit::CRASHED
    } else if t.clean > 0 {
        exit::CLEAN
    } else {
        exit::UNTESTED
    }
}

/// The JSON result of a trial.
pub fn to_result(t: &TestOutcome, base: &str, patches: &[PathBuf]) -> TestResult {
    let build = match &t.build {
        None => BuildDoc {
            status: "kept",
            first_error: None,
            signature: None,
            log: None,
            config: None,
        },
        Some(b) => BuildDoc {
            status: if b.ok { "ok" } else { "failed" },
            first_error: b.first_error.clone(),
            signature: b.signature.map(hex::encode),
            log: b.log.clone(),
            config: b.config.clone(),
        },
    };
    TestResult {
        schema: "culprit-test/1",
        commit: t.commit.clone(),
        base: base.to_string(),
        patches: patches.to_vec(),
        build,
        runs: t.runs.len() as u32,
        crashed: t.crashed(),
        clean: t.clean,
        untestable: t.untestable,
        crashes: t.crashes.clone(),
        untestable_reasons: t.untestable_reasons.clone(),
        exit_code: exit_code(t),
    }
}

/// Runs `culprit test`; returns the exit status.
pub fn run(a: &TestArgs, sub: Option<&ArgMatches>) -> Result<i32> {
    let empty = ArgMatches::default();
    let given = given_in(sub.unwrap_or(&empty));
    let mode = a.generic.mode(a.kernel, &a.kernel_settings, &given)?;
    let executor = a.executor.to_executor(&given)?;
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if a.vms == 0 {
        bail!("--vms must be at least 1");
    }
    match &mode {
        Mode::Generic(g) => {
            seconds("--run-timeout", g.run_timeout)?;
            seconds("--build-timeout", g.build_timeout)?;
        }
        Mode::Kernel(k) => k.validate()?,
    }
    if let Some(p) = &a.json {
        crate::execute::check_writable(p, "the JSON result")?;
    }
    let repo = Repo::open(&a.repo)
        .with_context(|| format!("opening the repository {}", a.repo.display()))?;
    let base = repo.resolve(&a.commit).context("resolving --commit")?;
    let commit = repo
        .apply_patches(&base, &a.patches)
        .with_context(|| format!("applying the patches to {base}"))?;
    if let Mode::Kernel(k) = &mode {
        let has = |f: &str| matches!(repo.file_at(&commit, f), Ok(Some(_)));
        if !kernel::is_kernel_tree(&has) {
            bail!(
                "{} is not a Linux kernel tree at {base} (no Kconfig, Makefile and arch/x86/Kconfig): drop --kernel and give --build and --test for other projects",
                a.repo.display()
            );
        }
        // On Slurm the nodes need the tools; their jobs check them.
        if executor == Executor::Local {
            kernel::preflight(k)?;
        }
    }
    let key = serde_json::json!({
        "command": "test",
        "repo": repo.common_dir()?,
        "mode": mode,
    })
    .to_string();
    let workdir = a.workdir.clone().unwrap_or_else(|| default_workdir(&key));
    std::fs::create_dir_all(&workdir)
        .with_context(|| format!("creating the workdir {}", workdir.display()))?;
    let workdir = workdir.canonicalize()?;
    let label = format!(
        "test-{}",
        &hex::encode(Sha256::digest(key.as_bytes()))[..16]
    );
    let cancel = crate::procs::root()
        .with_label(&label)
        .context("labelling the test's processes")?;
    if let Err(e) = culprit_proc::kill_leftovers(&label) {
        tracing::warn!("cannot look for processes of an earlier run: {e}");
    }
    let repo = repo.with_cancel(&cancel);
    let _observing = cancel.observe();
    let quiet = a.quiet;
    let mut progress = |text: String| {
        if !quiet {
            eprintln!("{text}");
        }
    };
    if !quiet {
        for l in printer::header(&commit, &base, &a.patches) {
            println!("{l}");
        }
    }
    let outcome = (|| {
        let place = Place {
            repo: &repo,
            repo_path: &a.repo,
            start: &commit,
            workdir: &workdir,
            vms: a.vms,
        };
        let mut backend = backend_for(&mode, &executor, &place, cancel.clone(), &mut progress)?;
        trial::test_commit(backend.as_mut(), &commit, 0..a.runs, &mut progress)
    })();
    if cancel.is_cancelled() {
        return outcome.and_then(|_| bail!("interrupted"));
    }
    let outcome = outcome?;
    let code = exit_code(&outcome);
    let product = match mode {
        Mode::Generic(_) => "build",
        Mode::Kernel(_) => "kernel",
    };
    let summary = TestSummary {
        outcome: &outcome,
        product,
        exit_code: code,
    };
    if !quiet {
        for l in printer::runs(&outcome, product) {
            println!("{l}");
        }
    }
    for l in printer::result(&summary) {
        println!("{l}");
    }
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&to_result(&outcome, &base, &a.patches))?;
        std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BuildResult, RunJob, RunResult, RunStatus};

    fn outcome(build_ok: bool, statuses: &[RunStatus]) -> TestOutcome {
        let runs = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    RunJob {
                        commit: "c".into(),
                        run: i as u32,
                    },
                    RunResult {
                        status: s.clone(),
                        secs: 1.0,
                        output: None,
                    },
                )
            })
            .collect();
        let build = BuildResult {
            ok: build_ok,
            signature: Some([7; 32]),
            ..BuildResult::default()
        };
        trial::tally("c", Some(build), runs)
    }

    #[test]
    fn exit_status_says_crashed_clean_or_untested() {
        use crate::campaign::Untestable;
        let crash = RunStatus::crashed("t");
        let boot = RunStatus::untestable(Untestable::Boot, "x");
        assert_eq!(
            exit_code(&outcome(true, &[RunStatus::Ok, crash.clone()])),
            exit::CRASHED
        );
        assert_eq!(
            exit_code(&outcome(true, &[boot.clone(), crash])),
            exit::CRASHED
        );
        assert_eq!(
            exit_code(&outcome(true, &[RunStatus::Ok, boot.clone()])),
            exit::CLEAN
        );
        assert_eq!(exit_code(&outcome(true, &[boot])), exit::UNTESTED);
        assert_eq!(exit_code(&outcome(false, &[])), exit::UNTESTED);
        let codes = [exit::CLEAN, exit::CRASHED, exit::UNTESTED];
        for c in codes {
            assert!(![1, 2, 130].contains(&c), "{c} is taken");
        }
    }

    #[test]
    fn the_json_result_names_build_and_counts() {
        let r = to_result(
            &outcome(true, &[RunStatus::Ok, RunStatus::crashed("t")]),
            "b",
            &[PathBuf::from("p.diff")],
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], "culprit-test/1");
        assert_eq!(v["build"]["status"], "ok");
        assert_eq!(v["build"]["signature"], hex::encode([7u8; 32]));
        assert_eq!(v["crashes"][0]["title"], "t");
        assert_eq!(
            (v["runs"].as_u64(), v["crashed"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(v["exit_code"], exit::CRASHED);
        assert_eq!(v["patches"][0], "p.diff");
    }
}
