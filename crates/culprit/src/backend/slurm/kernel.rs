//! Kernel mode on Slurm (`--kernel --executor slurm`): every kernel build
//! and every VM run is one Slurm job whose script calls `culprit
//! kernel-job` (a copy of this very program in the shared directory) with
//! a job description; `backend::kernel::job` does the work on the node
//! with the kernel backend's own code and writes its outcome last.
//!
//! - Builds run in a build tree on the node (`NODE_DIR/culprit-trees/
//!   <repository>-<id>`: checkout and build directory, kept across jobs
//!   and campaigns, one build at a time under its lock, ccache on the
//!   node), and publish `kernels/<sha>/` in the shared directory.
//! - The initramfs is built once, here, into the shared directory: every
//!   run of a campaign boots the same reproducer binary, and the nodes
//!   need no compiler for it.
//! - Runs boot the shared kernel on any node (`--slurm-constraint`,
//!   `--slurm-run-partition` for KVM nodes); the node classifies the
//!   console with `kernel::run_vm`, the local backend's own rules.
//!
//! Submission, polling, cancellation and what a Slurm state means are the
//! generic executor's (`cluster`, `poll`, `state`): a job the cluster
//! loses, or a `culprit kernel-job` that fails on its node, is an
//! untestable run or a build attempt to retry, never evidence.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_proc::Cancel;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::client::Seen;
use super::cluster::{absolute, Cluster};
use super::poll::{self, Flight, Live};
use super::script::{quote, Script};
use super::settings::SlurmSettings;
use super::state::{self, JobResult};
use super::{lost_build, BUILD_ATTEMPTS, BUILD_MARGIN, INTERRUPTED, RUN_MARGIN};
use crate::backend::kernel::job::{
    self, console_path, kernel_dir, BuildOutcome, JobSpec, RunOutcome, Task,
};
use crate::backend::kernel::{
    base_of, kept, make_initramfs, tree_name, KernelSettings, VM_ATTEMPTS,
};
use crate::backend::{Backend, BuildResult, Done, Progress, RunJob, RunResult, RunStatus};

/// A build job's time beyond the build's own timeout: a first checkout of
/// the whole tree on a new node, the configuration, publishing the kernel.
const BUILD_EXTRA: Duration = Duration::from_secs(600);

pub struct SlurmKernelBackend {
    /// The settings the jobs get (the config is the shared copy).
    s: KernelSettings,
    cluster: Cluster,
    /// The repository's git directory.
    repo: PathBuf,
    /// culprit's own program, in the shared directory.
    exe: PathBuf,
    /// Each build node's build tree, and this campaign's scratch there.
    tree: PathBuf,
    scratch: PathBuf,
    vms: u32,
    /// Said once, with the first build.
    notes: Vec<String>,
    /// The accelerator a run node chose, said when it changes.
    accel: Option<String>,
}

impl SlurmKernelBackend {
    /// Checks the settings, builds the initramfs into the shared directory
    /// and puts culprit and the kernel config there.
    pub fn new(
        repo: &Repo,
        workdir: &Path,
        s: KernelSettings,
        slurm: SlurmSettings,
        vms: u32,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        s.validate()?;
        if vms == 0 {
            bail!("vms must be at least 1");
        }
        if !s.busybox.is_file() {
            bail!(
                "{} not found: the initramfs is built on this machine; install the Debian package `busybox-static` or give --busybox",
                s.busybox.display()
            );
        }
        // Checked here, before any job, as the local backend does.
        let config = base_of(&s)?;
        let repo_dir = absolute(
            &repo
                .common_dir()
                .context("finding the repository's git directory")?,
        )?;
        let mut cluster = Cluster::new(workdir, slurm, cancel.clone(), progress)?;
        let share = cluster.share.clone();
        make_initramfs(&s, &share, &cancel)?;
        let mut jobs = s.clone();
        if let Some(text) = config {
            let shared = share.join("kernel.config");
            job::write_atomically(&shared, text.as_bytes())?;
            jobs.config = Some(shared);
        }
        jobs.reproducer = None;
        let exe = install_exe(&share).context("putting culprit in the shared directory")?;
        if s.cpus > 1 {
            cluster.run_cpus = Some(s.cpus);
        }
        let tree = cluster
            .node_dir
            .join("culprit-trees")
            .join(tree_name(&repo_dir));
        let scratch = cluster.node_dir.join(&cluster.name);
        let notes = vec![format!(
            "Slurm: kernels are built in {} on the build nodes, runs boot them from {}",
            tree.display(),
            share.display()
        )];
        Ok(SlurmKernelBackend {
            s: jobs,
            cluster,
            repo: repo_dir,
            exe,
            tree,
            scratch,
            vms,
            notes,
            accel: None,
        })
    }

    /// The node's time limit for a job (culprit kernel-job under
    /// `timeout`), beyond which it is untestable or a lost attempt.
    fn timeout(&self, build: bool) -> Duration {
        if build {
            Duration::from_secs_f64(self.s.build_timeout()) + BUILD_EXTRA
        } else {
            // As many boots as run_vm may try, each to its deadlines.
            let vm = self.s.boot_timeout + self.s.run_timeout().max(self.s.repro_time + 30.0);
            Duration::from_secs_f64(vm * f64::from(VM_ATTEMPTS)) + Duration::from_secs(60)
        }
    }

    /// Writes the job description and submits its job.
    fn submit(&mut self, task: Task, index: usize, progress: Progress) -> Result<Live> {
        let (kind, commit, run, build) = match &task {
            Task::Build { commit } => ("build", commit.clone(), None, true),
            Task::Run { commit, run } => ("run", commit.clone(), Some(*run), false),
        };
        let stem = self.cluster.stem(kind, &commit, run);
        let dir = self.cluster.share.join("slurm");
        let spec_path = dir.join(format!("{stem}.json"));
        let outcome = outcome_path(&self.cluster, &stem);
        let _ = std::fs::remove_file(&outcome);
        let spec = JobSpec {
            schema: job::SCHEMA.into(),
            task,
            settings: self.s.clone(),
            repo: self.repo.clone(),
            tree: self.tree.clone(),
            scratch: self.scratch.clone(),
            shared: self.cluster.share.clone(),
            outcome,
        };
        job::write_json(&spec_path, &spec)?;
        let command = format!(
            "{} kernel-job {}",
            quote(&self.exe.to_string_lossy()),
            quote(&spec_path.to_string_lossy())
        );
        let title = match run {
            Some(r) => format!("kernel run #{r} of {commit}"),
            None => format!("kernel build of {commit}"),
        };
        let log = job_log(&self.cluster, &stem);
        let result = self.cluster.result_path(&stem);
        let timeout = self.timeout(build);
        let script = Script {
            title: &title,
            checkout: None,
            commit: &commit,
            build,
            command: &command,
            env: &[],
            log: &log,
            result: &result,
            timeout: Some(timeout),
            artifact: None,
        };
        let margin = if build { BUILD_MARGIN } else { RUN_MARGIN };
        self.cluster.submit(
            &script,
            &stem,
            index,
            None,
            Some(timeout + margin),
            progress,
        )
    }

    /// How a finished job ended: its node and outcome when it did its
    /// work, else the untestable reason.
    fn judge<T: serde::de::DeserializeOwned>(
        &self,
        live: &Live,
        seen: &Seen,
    ) -> std::result::Result<(String, T), (crate::backend::Untestable, String)> {
        let ending = poll::ending(live, seen);
        let result = std::fs::read_to_string(self.cluster.result_path(&live.stem))
            .ok()
            .and_then(|t| JobResult::parse(&t));
        let log = std::fs::read_to_string(job_log(&self.cluster, &live.stem)).unwrap_or_default();
        let tail = log.lines().rev().find(|l| !l.trim().is_empty());
        state::kernel_job_end(live.id, ending, result.as_ref(), tail.unwrap_or(""))?;
        let node = result.map(|r| r.node).unwrap_or_default();
        match job::read_json::<T>(&outcome_path(&self.cluster, &live.stem)) {
            Ok(o) => Ok((node, o)),
            Err(e) => Err((
                crate::backend::Untestable::Infra,
                format!(
                    "Slurm job {} on {node} wrote no usable outcome: {e:#}",
                    live.id
                ),
            )),
        }
    }

    /// A kept kernel as a build result, its log and config in the workdir.
    fn kept_here(&self, commit: &str) -> Option<BuildResult> {
        let mut r = kept(&kernel_dir(&self.cluster.share, commit))?;
        r.log = r.log.map(|p| self.cluster.bring_back(&p));
        r.config = r.config.map(|p| self.cluster.bring_back(&p));
        Some(r)
    }
}

fn outcome_path(c: &Cluster, stem: &str) -> PathBuf {
    c.share.join("slurm").join(format!("{stem}.outcome.json"))
}

/// The output of `culprit kernel-job` (its progress and errors).
fn job_log(c: &Cluster, stem: &str) -> PathBuf {
    c.share.join("slurm").join(format!("{stem}.log"))
}

/// Copies this program to `SHARED/bin/culprit-<hash>` (once: the hash of
/// its content names it, so a job never runs a half-copied or other
/// version); its path there.
fn install_exe(share: &Path) -> Result<PathBuf> {
    let me = std::env::current_exe().context("finding culprit's own program")?;
    let mut f = std::fs::File::open(&me).with_context(|| format!("reading {}", me.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", me.display()))?;
    let id = hex::encode(&h.finalize()[..8]);
    let bin = share.join("bin");
    let dest = bin.join(format!("culprit-{id}"));
    if dest.is_file() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    let tmp = bin.join(format!(".culprit-{id}.{}.tmp", std::process::id()));
    std::fs::copy(&me, &tmp)
        .with_context(|| format!("copying {} to {}", me.display(), tmp.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
    Ok(dest)
}

impl Backend for SlurmKernelBackend {
    fn build(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        if let Some(mut r) = self.kept_here(commit) {
            r.info.append(&mut self.notes);
            return Ok(r);
        }
        let start = Instant::now();
        let mut lost = Vec::new();
        for attempt in 1..=BUILD_ATTEMPTS {
            if self.cluster.cancel.is_cancelled() {
                bail!(INTERRUPTED);
            }
            let live = self.submit(
                Task::Build {
                    commit: commit.to_string(),
                },
                0,
                progress,
            )?;
            let mut flight = Flight::default();
            flight.0.push(live);
            let (live, seen) = poll::wait_some(&mut flight, &self.cluster.cancel, progress)?
                .pop()
                .context("no build job ended")?;
            let (node, o) = match self.judge::<BuildOutcome>(&live, &seen) {
                Ok(x) => x,
                Err((_, reason)) => {
                    progress(format!("{reason}: building again (attempt {attempt})"));
                    lost.push(reason);
                    continue;
                }
            };
            let where_ = format!("built on {node} (Slurm job {})", live.id);
            if !o.ok {
                let dir = kernel_dir(&self.cluster.share, commit);
                return Ok(BuildResult {
                    ok: false,
                    secs: start.elapsed().as_secs_f64(),
                    first_error: o.first_error.or_else(|| Some("the build failed".into())),
                    // A file name in the kernel's directory, nothing else.
                    log: o
                        .log
                        .as_deref()
                        .and_then(|n| Path::new(n).file_name())
                        .map(|n| self.cluster.bring_back(&dir.join(n))),
                    info: vec![where_],
                    ..BuildResult::default()
                });
            }
            let Some(mut r) = self.kept_here(commit) else {
                lost.push(format!(
                    "Slurm job {} on {node} reported a kernel, but {} is incomplete",
                    live.id,
                    kernel_dir(&self.cluster.share, commit).display()
                ));
                continue;
            };
            r.secs = start.elapsed().as_secs_f64();
            r.info.push(where_);
            r.info.append(&mut self.notes);
            return Ok(r);
        }
        Ok(lost_build(start.elapsed().as_secs_f64(), &lost))
    }

    fn run(&mut self, jobs: &[RunJob], progress: Progress, done: Done) -> Result<()> {
        for j in jobs {
            if !self.is_available(&j.commit) {
                bail!("commit {} has no kernel built", j.commit);
            }
        }
        if self.cluster.cancel.is_cancelled() {
            bail!(INTERRUPTED);
        }
        let vms = self.vms.max(1) as usize;
        let mut flight = Flight::default();
        let mut next = 0;
        loop {
            while flight.0.len() < vms && next < jobs.len() {
                let j = &jobs[next];
                let task = Task::Run {
                    commit: j.commit.clone(),
                    run: j.run,
                };
                let live = self.submit(task, next, progress)?;
                flight.0.push(live);
                next += 1;
            }
            if flight.0.is_empty() {
                return Ok(());
            }
            for (live, seen) in poll::wait_some(&mut flight, &self.cluster.cancel, progress)? {
                let j = &jobs[live.index];
                let console = console_path(&self.cluster.share, &j.commit, j.run);
                let output = console.exists().then(|| self.cluster.bring_back(&console));
                let result = match self.judge::<RunOutcome>(&live, &seen) {
                    Ok((_, o)) => {
                        if self.accel.as_ref() != Some(&o.accel) {
                            progress(o.accel.clone());
                            self.accel = Some(o.accel);
                        }
                        RunResult {
                            status: o.status,
                            secs: o.secs,
                            output,
                        }
                    }
                    Err((why, reason)) => RunResult {
                        status: RunStatus::Untestable { why, reason },
                        secs: live.submitted.elapsed().as_secs_f64(),
                        output,
                    },
                };
                done(live.index, result);
            }
        }
    }

    fn is_available(&self, commit: &str) -> bool {
        let dir = kernel_dir(&self.cluster.share, commit);
        dir.join("bzImage").is_file() && dir.join("build.txt").is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel job's script runs culprit in the shared directory, with no
    /// checkout of its own and under the node's timeout, and still writes
    /// its result file last.
    #[test]
    fn kernel_job_scripts_have_no_checkout() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("slurm/k.log");
        let result = d.path().join("slurm/k.result");
        let script = Script {
            title: "kernel run #0 of c",
            checkout: None,
            commit: "c",
            build: false,
            command: "echo kernel-job ran in \"$(pwd)\"",
            env: &[],
            log: &log,
            result: &result,
            timeout: Some(Duration::from_secs(30)),
            artifact: None,
        };
        let text = script.render();
        for absent in ["git clone", "flock", "tree=", "checkout"] {
            assert!(!text.contains(absent), "{absent} in:\n{text}");
        }
        assert!(text.contains("timeout -k 10 30.000"), "{text}");
        let mut job = culprit_proc::Job::shell(text);
        job.cwd(d.path());
        let o = job.output(&Cancel::new()).unwrap();
        assert!(o.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = JobResult::parse(&std::fs::read_to_string(&result).unwrap()).unwrap();
        assert_eq!((r.exit, r.timed_out), (0, false));
        let out = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            out.trim(),
            format!("kernel-job ran in {}", d.path().display())
        );
    }

    #[test]
    fn the_program_is_copied_once_under_its_hash() {
        let d = tempfile::tempdir().unwrap();
        let a = install_exe(d.path()).unwrap();
        let b = install_exe(d.path()).unwrap();
        assert_eq!(a, b);
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), me);
        let names: Vec<_> = std::fs::read_dir(d.path().join("bin"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(a.metadata().unwrap().permissions().mode() & 0o111, 0o111);
    }
}
