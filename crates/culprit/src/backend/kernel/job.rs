//! One kernel build or one VM run done on another machine (a Slurm node),
//! described by a small JSON file the submitting side writes. The hidden
//! subcommand `culprit kernel-job FILE` reads it and does the work with
//! this backend's own code: a build is [`KernelBackend::for_builds`] in a
//! build tree on the node (kept across jobs and campaigns, taken in turns
//! under its lock), a run is [`run_vm`], the very function the local
//! backend classifies its consoles with. Products go to the campaign's
//! shared directory, laid out as the local backend's workdir is
//! (`kernels/<sha>/`, `runs/<sha>/<run>.log`, `initramfs.cpio`), and the
//! outcome is written last, atomically, as JSON.
//!
//! What it must never do: judge a console by other rules than the local
//! backend's, or leave a half-copied kernel where runs look for one (a
//! kernel directory appears by a rename, complete).

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_kernel::accel;
use culprit_proc::Cancel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::{machine_for, run_vm, KernelBackend, KernelSettings, TreeLock};
use crate::backend::{Backend, Progress, RunJob, RunStatus};

/// The version of the job description and outcome files.
pub const SCHEMA: &str = "culprit-kernel-job/1";

/// One job: what to do, with what settings, where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// [`SCHEMA`]: a node running another culprit refuses the file.
    pub schema: String,
    pub task: Task,
    /// The campaign's kernel settings (the config path is the shared
    /// directory's copy; the reproducer is already in the initramfs).
    pub settings: KernelSettings,
    /// The repository's git directory (read only).
    pub repo: PathBuf,
    /// Node-local: the build tree (checkout and build directory) that
    /// build jobs on this node share, under its lock.
    pub tree: PathBuf,
    /// Node-local: this campaign's scratch directory (a build's products
    /// before they are published, the generated base config).
    pub scratch: PathBuf,
    /// The campaign's shared directory.
    pub shared: PathBuf,
    /// Where the outcome goes.
    pub outcome: PathBuf,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    Build { commit: String },
    Run { commit: String, run: u32 },
}

/// What a build job reports. The kernel itself (when `ok`) is in the
/// shared directory's `kernels/<commit>/`, signature included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildOutcome {
    pub schema: String,
    pub ok: bool,
    pub secs: f64,
    pub first_error: Option<String>,
    /// The log's file name in `kernels/<commit>/` (build.log, or
    /// config.log when the configuration failed).
    pub log: Option<String>,
}

/// What a run job reports: the run's status as the local backend
/// classifies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOutcome {
    pub schema: String,
    pub status: RunStatus,
    pub secs: f64,
    /// Which accelerator the node chose, and why.
    pub accel: String,
}

/// A campaign's kept kernel of `commit` in the shared directory.
pub fn kernel_dir(shared: &Path, commit: &str) -> PathBuf {
    shared.join("kernels").join(commit)
}

/// The console of a run in the shared directory.
pub fn console_path(shared: &Path, commit: &str, run: u32) -> PathBuf {
    shared.join("runs").join(commit).join(format!("{run}.log"))
}

/// The campaign's initramfs in the shared directory.
pub fn initramfs_path(shared: &Path) -> PathBuf {
    shared.join("initramfs.cpio")
}

/// Writes `bytes` to `path` through a temporary file and a rename: a
/// reader sees the whole file or none.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path without a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().context("a path without a file name")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Reads a JSON file written by [`write_json`]; what was wrong if it
/// cannot be read.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(v)?;
    text.push(b'\n');
    write_atomically(path, &text)
}

impl JobSpec {
    /// Reads a job description, refusing one of another version.
    pub fn read(path: &Path) -> Result<JobSpec> {
        let spec: JobSpec = read_json(path)?;
        if spec.schema != SCHEMA {
            bail!(
                "{} is a job of schema {:?}; this culprit does {SCHEMA:?}",
                path.display(),
                spec.schema
            );
        }
        Ok(spec)
    }
}

/// Does the job and writes its outcome. An `Err` is the node's failure
/// (a tool missing, the repository or shared directory not visible): no
/// outcome is written, and the submitting side counts the job as lost.
pub fn perform(spec: &JobSpec, cancel: &Cancel, progress: Progress) -> Result<()> {
    match &spec.task {
        Task::Build { commit } => build(spec, commit, cancel, progress),
        Task::Run { commit, run } => run_once(spec, commit, *run, cancel, progress),
    }
}

fn build(spec: &JobSpec, commit: &str, cancel: &Cancel, progress: Progress) -> Result<()> {
    let repo = Repo::open(&spec.repo)
        .with_context(|| {
            format!(
                "opening the repository {} (does this node see it at that path?)",
                spec.repo.display()
            )
        })?
        .with_cancel(cancel);
    std::fs::create_dir_all(&spec.tree)
        .with_context(|| format!("creating the build tree {}", spec.tree.display()))?;
    progress(format!(
        "waiting for the build tree {}",
        spec.tree.display()
    ));
    let lock = TreeLock::wait(&spec.tree, cancel)?;
    let mut s = spec.settings.clone();
    // A job's CPUs are what Slurm gave it, not the whole node's.
    if s.jobs.is_none() {
        s.jobs = std::env::var("SLURM_CPUS_PER_TASK")
            .ok()
            .and_then(|n| n.parse().ok());
    }
    let mut b = KernelBackend::for_builds(
        &repo,
        commit,
        &spec.scratch,
        s,
        &spec.tree,
        cancel.clone(),
        progress,
    )?;
    let r = b.build(commit, progress)?;
    drop(b);
    let built = spec.scratch.join("kernels").join(commit);
    publish(&built, &kernel_dir(&spec.shared, commit))?;
    drop(lock);
    let _ = std::fs::remove_dir_all(&built);
    let outcome = BuildOutcome {
        schema: SCHEMA.into(),
        ok: r.ok,
        secs: r.secs,
        first_error: r.first_error,
        log: r
            .log
            .as_deref()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned()),
    };
    write_json(&spec.outcome, &outcome)
}

/// Copies the directory `from` to `to` (replacing it) so that `to`
/// appears complete or not at all.
fn publish(from: &Path, to: &Path) -> Result<()> {
    let parent = to.parent().context("no parent directory")?;
    let name = to.file_name().context("no directory name")?;
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let entries = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for e in entries {
        let e = e?;
        if e.file_type()?.is_file() {
            let dest = tmp.join(e.file_name());
            std::fs::copy(e.path(), &dest)
                .with_context(|| format!("copying {} to {}", e.path().display(), dest.display()))?;
        }
    }
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("replacing {}", to.display()))?;
    }
    std::fs::rename(&tmp, to).with_context(|| format!("renaming to {}", to.display()))
}

fn run_once(
    spec: &JobSpec,
    commit: &str,
    run: u32,
    cancel: &Cancel,
    progress: Progress,
) -> Result<()> {
    let s = &spec.settings;
    let kernel = kernel_dir(&spec.shared, commit).join("bzImage");
    let initrd = initramfs_path(&spec.shared);
    for f in [&kernel, &initrd] {
        if !f.is_file() {
            bail!(
                "{} is missing (does this node see the shared directory {}?)",
                f.display(),
                spec.shared.display()
            );
        }
    }
    culprit_kernel::require_tool(&s.qemu, "qemu-system-x86")?;
    // This node's CPU decides, as it does for a local run.
    let (accel, why) = accel::choose(&s.accel).map_err(anyhow::Error::msg)?;
    progress(why.clone());
    let console = console_path(&spec.shared, commit, run);
    let dir = console.parent().context("no console directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let job = RunJob {
        commit: commit.to_string(),
        run,
    };
    let r = run_vm(
        &machine_for(s, kernel, initrd, accel),
        &job,
        &console,
        cancel,
    )?;
    progress(format!("run #{run} of {commit}: {}", r.status));
    let outcome = RunOutcome {
        schema: SCHEMA.into(),
        status: r.status,
        secs: r.secs,
        accel: why,
    };
    write_json(&spec.outcome, &outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Untestable;

    fn spec(task: Task) -> JobSpec {
        JobSpec {
            schema: SCHEMA.into(),
            task,
            settings: KernelSettings {
                config: Some("/shared/kernel.config".into()),
                repro_repeat: 3,
                run_timeout: Some(90.0),
                ..KernelSettings::default()
            },
            repo: "/src/linux/.git".into(),
            tree: "/scratch/culprit-trees/linux-0123456789ab".into(),
            scratch: "/scratch/culprit-0123456789ab".into(),
            shared: "/home/u/share/culprit-0123456789ab".into(),
            outcome: "/home/u/share/culprit-0123456789ab/slurm/x.json".into(),
        }
    }

    /// What the submitting side writes is what the node reads, for both
    /// kinds of job; a file of another version is refused.
    #[test]
    fn job_descriptions_round_trip() {
        let d = tempfile::tempdir().unwrap();
        for task in [
            Task::Build {
                commit: "a".repeat(40),
            },
            Task::Run {
                commit: "b".repeat(40),
                run: 7,
            },
        ] {
            let s = spec(task);
            let p = d.path().join("job.json");
            write_json(&p, &s).unwrap();
            assert_eq!(JobSpec::read(&p).unwrap(), s);
        }
        let p = d.path().join("old.json");
        let old = JobSpec {
            schema: "culprit-kernel-job/0".into(),
            ..spec(Task::Build { commit: "c".into() })
        };
        write_json(&p, &old).unwrap();
        let e = format!("{:#}", JobSpec::read(&p).unwrap_err());
        assert!(e.contains("culprit-kernel-job/0"), "{e}");
        std::fs::write(&p, "{\"schema\": \"culprit-kernel-job/1\"").unwrap();
        assert!(JobSpec::read(&p).is_err());
        let e = format!(
            "{:#}",
            JobSpec::read(&d.path().join("none.json")).unwrap_err()
        );
        assert!(e.contains("none.json"), "{e}");
    }

    #[test]
    fn outcomes_round_trip_with_the_run_status() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.json");
        for status in [
            RunStatus::Ok,
            RunStatus::crashed("BUG: kernel NULL pointer dereference, address: 0000000000000000"),
            RunStatus::untestable(Untestable::Boot, "no console output"),
        ] {
            let o = RunOutcome {
                schema: SCHEMA.into(),
                status,
                secs: 12.5,
                accel: "TCG".into(),
            };
            write_json(&p, &o).unwrap();
            assert_eq!(read_json::<RunOutcome>(&p).unwrap(), o);
        }
        let b = BuildOutcome {
            schema: SCHEMA.into(),
            ok: false,
            secs: 3.0,
            first_error: Some("kernel/sys.c:1: error: expected expression".into()),
            log: Some("build.log".into()),
        };
        write_json(&p, &b).unwrap();
        assert_eq!(read_json::<BuildOutcome>(&p).unwrap(), b);
        // No temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["o.json"]);
    }

    #[test]
    fn a_published_kernel_replaces_the_old_one_whole() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("scratch/kernels/c");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("bzImage"), "new").unwrap();
        std::fs::write(from.join("build.txt"), "signature: 00\n").unwrap();
        let to = kernel_dir(&d.path().join("shared"), "c");
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("stale"), "old").unwrap();
        publish(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("bzImage")).unwrap(), "new");
        assert!(to.join("build.txt").exists() && !to.join("stale").exists());
        let left: Vec<_> = std::fs::read_dir(to.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["c"], "a temporary directory was left");
    }
}
