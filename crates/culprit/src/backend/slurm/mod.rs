//! The Slurm executor for the generic backend: every build and every run
//! of the user's `--build`/`--test` commands is one batch job on a Slurm
//! cluster, in a node-local checkout of the repository, with logs, result
//! files and artifacts exchanged through a directory all nodes see.
//!
//! Jobs are submitted with `sbatch --parsable --no-requeue` and watched by
//! polling `squeue -t all` for all of them at once (docs/slurm.md measured
//! `sbatch --wait` losing up to 32 s per job and `srun` exiting 0 after
//! its node failed; polling costs one squeue call per second for the whole
//! round). How a finished job counts is decided in [`state`] only: a job
//! lost to the infrastructure is an untestable run, or a build attempt to
//! retry, never evidence. Ctrl-C, errors and runs stuck past their timeout
//! scancel the campaign's jobs; a resumed campaign first cancels the jobs
//! a dead run of it left queued (they carry the campaign's job name).
//!
//! This module must never change what a run means: the local backend's
//! rules (`command::classify`) judge the command's exit and output.

pub mod client;
pub mod cluster;
pub mod kernel;
pub mod poll;
pub mod script;
pub mod settings;
pub mod state;

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_proc::Cancel;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::command::{first_error, CommandSettings};
use super::{Backend, BuildResult, Done, Progress, RunJob, RunResult};
use cluster::{absolute, Cluster};
use poll::Flight;
use script::{Checkout, Script};
pub use settings::{Executor, SlurmSettings};
use state::{Ending, JobResult};

const INTERRUPTED: &str = "interrupted by a signal (Ctrl-C)";

/// Attempts at a build whose jobs the infrastructure keeps losing.
pub(crate) const BUILD_ATTEMPTS: u32 = 3;
/// Slurm time limit beyond the command's timeout: the checkout (a build's
/// is long), the copy of the artifact, and Slurm's late kill (docs/slurm.md:
/// up to about 30 s past the limit).
pub(crate) const BUILD_MARGIN: Duration = Duration::from_secs(300);
pub(crate) const RUN_MARGIN: Duration = Duration::from_secs(120);

/// The build of a commit after the cluster lost all [`BUILD_ATTEMPTS`]
/// of its jobs (`lost`: why each was lost), in `secs`. The commit is not
/// to blame; it counts as a failed build (untestable), with the reasons.
fn lost_build(secs: f64, lost: &[String]) -> BuildResult {
    BuildResult {
        ok: false,
        secs,
        first_error: Some(format!(
            "the cluster lost all {BUILD_ATTEMPTS} build jobs: {}",
            lost.join("; ")
        )),
        ..BuildResult::default()
    }
}

pub struct SlurmBackend {
    generic: CommandSettings,
    cluster: Cluster,
    /// The repository's git directory, which node checkouts borrow from.
    repo: PathBuf,
    /// The checkout on each node.
    tree: PathBuf,
    kept: HashSet<String>,
    /// Without an artifact, runs go where the last build happened.
    last_build: Option<(String, String)>,
}

impl SlurmBackend {
    pub fn new(
        repo: &Repo,
        workdir: &Path,
        generic: CommandSettings,
        slurm: SlurmSettings,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        let repo_dir = absolute(
            &repo
                .common_dir()
                .context("finding the repository's git directory")?,
        )?;
        if generic.artifact.is_some()
            && generic
                .artifact
                .as_ref()
                .and_then(|a| a.file_name())
                .is_none()
        {
            bail!("--artifact must name a file");
        }
        let cluster = Cluster::new(workdir, slurm, cancel, progress)?;
        let mut kept = HashSet::new();
        if let Some(name) = generic.artifact.as_ref().and_then(|a| a.file_name()) {
            if let Ok(rd) = std::fs::read_dir(cluster.share.join("artifacts")) {
                for e in rd.flatten() {
                    if e.path().join(name).exists() {
                        kept.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        Ok(SlurmBackend {
            generic,
            repo: repo_dir,
            tree: cluster.node_dir.join(&cluster.name).join("tree"),
            cluster,
            kept,
            last_build: None,
        })
    }

    fn artifact_path(&self, commit: &str) -> Option<PathBuf> {
        let a = self.generic.artifact.as_ref()?;
        Some(
            self.cluster
                .share
                .join("artifacts")
                .join(commit)
                .join(a.file_name()?),
        )
    }
}

impl Backend for SlurmBackend {
    fn build(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        let start = Instant::now();
        let log = self
            .cluster
            .share
            .join("builds")
            .join(format!("{commit}.log"));
        let env = vec![("CULPRIT_COMMIT".to_string(), commit.to_string())];
        let art = self.artifact_path(commit);
        let mut lost = Vec::new();
        for attempt in 1..=BUILD_ATTEMPTS {
            if self.cluster.cancel.is_cancelled() {
                bail!(INTERRUPTED);
            }
            let stem = self.cluster.stem("build", commit, None);
            let result = self.cluster.result_path(&stem);
            let rel = self.generic.artifact.clone();
            let title = format!("build of {commit} (attempt {attempt})");
            let build_cmd = self.generic.build.clone();
            let (repo, tree) = (self.repo.clone(), self.tree.clone());
            let script = Script {
                title: &title,
                checkout: Some(Checkout {
                    repo: &repo,
                    tree: &tree,
                }),
                commit,
                build: true,
                command: &build_cmd,
                env: &env,
                log: &log,
                result: &result,
                timeout: self.generic.build_timeout,
                artifact: rel.as_deref().zip(art.as_deref()),
            };
            let limit = self.generic.build_timeout.map(|t| t + BUILD_MARGIN);
            let mut flight = Flight::default();
            flight.0.push(
                self.cluster
                    .submit(&script, &stem, 0, None, limit, progress)?,
            );
            let (live, seen) = poll::wait_some(&mut flight, &self.cluster.cancel, progress)?
                .pop()
                .context("no build job ended")?;
            let ending = poll::ending(&live, &seen);
            let res = std::fs::read_to_string(&result)
                .ok()
                .and_then(|t| JobResult::parse(&t));
            let r = match (ending, res) {
                (Ending::Completed, Some(r)) => r,
                (Ending::Completed, None) => {
                    lost.push(format!("Slurm job {} completed without writing its result file (does the node see {}?)", live.id, self.cluster.share.display()));
                    continue;
                }
                (Ending::Lost { reason, .. }, _) => {
                    progress(format!("{reason}: building again"));
                    lost.push(reason);
                    continue;
                }
            };
            let log_kept = self.cluster.bring_back(&log);
            let text = std::fs::read_to_string(&log_kept).unwrap_or_default();
            let exit = r.exit();
            let mut out = BuildResult {
                ok: exit == super::command::Exit::Code(0),
                secs: start.elapsed().as_secs_f64(),
                log: Some(log_kept),
                info: vec![format!("built on {} (Slurm job {})", r.node, live.id)],
                ..BuildResult::default()
            };
            if !out.ok {
                out.first_error = match exit {
                    super::command::Exit::Code(c @ (126 | 127)) => Some(format!(
                        "the build command `{}` could not be started (exit status {c}): {}",
                        self.generic.build,
                        first_error(&text).unwrap_or_default()
                    )),
                    super::command::Exit::Timeout => Some("build timed out".into()),
                    _ => first_error(&text).or_else(|| Some(format!("{exit}"))),
                };
                return Ok(out);
            }
            if let Some(copy) = &art {
                if r.artifact != Some(true) {
                    bail!(
                        "the build of {commit} succeeded but produced no artifact at {} on {} (check --artifact)",
                        self.generic.artifact.as_deref().unwrap_or(Path::new("")).display(),
                        r.node
                    );
                }
                let bytes = std::fs::read(copy)
                    .with_context(|| format!("reading the artifact {}", copy.display()))?;
                out.signature = Some(crate::signature::of_file(&bytes));
                self.kept.insert(commit.to_string());
            } else {
                self.kept.clear();
                self.kept.insert(commit.to_string());
            }
            self.last_build = Some((commit.to_string(), r.node.clone()));
            return Ok(out);
        }
        Ok(lost_build(start.elapsed().as_secs_f64(), &lost))
    }

    fn run(&mut self, jobs: &[RunJob], progress: Progress, done: Done) -> Result<()> {
        if self.cluster.cancel.is_cancelled() {
            bail!(INTERRUPTED);
        }
        let vms = self.generic.vms.max(1) as usize;
        let mut flight = Flight::default();
        let mut next = 0;
        let mut logs: Vec<PathBuf> = Vec::with_capacity(jobs.len());
        for j in jobs {
            logs.push(
                self.cluster
                    .share
                    .join("runs")
                    .join(&j.commit)
                    .join(format!("{}.log", j.run)),
            );
        }
        loop {
            while flight.0.len() < vms && next < jobs.len() {
                let j = &jobs[next];
                let mut env = vec![
                    ("CULPRIT_COMMIT".to_string(), j.commit.clone()),
                    ("CULPRIT_RUN".to_string(), j.run.to_string()),
                ];
                let node = match self.artifact_path(&j.commit) {
                    Some(a) => {
                        env.push(("CULPRIT_ARTIFACT".into(), a.to_string_lossy().into_owned()));
                        None
                    }
                    // The build products are in that node's checkout only.
                    None => self
                        .last_build
                        .as_ref()
                        .filter(|(c, _)| *c == j.commit)
                        .map(|(_, n)| n.clone()),
                };
                let stem = self.cluster.stem("run", &j.commit, Some(j.run));
                let result = self.cluster.result_path(&stem);
                let title = format!("run #{} of {}", j.run, j.commit);
                let (repo, tree, test) = (
                    self.repo.clone(),
                    self.tree.clone(),
                    self.generic.test.clone(),
                );
                let script = Script {
                    title: &title,
                    checkout: Some(Checkout {
                        repo: &repo,
                        tree: &tree,
                    }),
                    commit: &j.commit,
                    build: false,
                    command: &test,
                    env: &env,
                    log: &logs[next],
                    result: &result,
                    timeout: self.generic.run_timeout,
                    artifact: None,
                };
                let limit = self.generic.run_timeout.map(|t| t + RUN_MARGIN);
                let live =
                    self.cluster
                        .submit(&script, &stem, next, node.as_deref(), limit, progress)?;
                flight.0.push(live);
                next += 1;
            }
            if flight.0.is_empty() {
                return Ok(());
            }
            for (live, seen) in poll::wait_some(&mut flight, &self.cluster.cancel, progress)? {
                let ending = poll::ending(&live, &seen);
                let res = std::fs::read_to_string(self.cluster.result_path(&live.stem))
                    .ok()
                    .and_then(|t| JobResult::parse(&t));
                let shared_log = &logs[live.index];
                let output = std::fs::read(shared_log).unwrap_or_default();
                let status = state::run_status(live.id, ending, res.as_ref(), &output)
                    .with_context(|| {
                        format!(
                            "the test command stopped the campaign (Slurm job {}); its output: {}",
                            live.id,
                            shared_log.display()
                        )
                    })?;
                let secs = match &res {
                    Some(r) if r.secs > 0.0 => r.secs,
                    _ => live.submitted.elapsed().as_secs_f64(),
                };
                let kept = shared_log
                    .exists()
                    .then(|| self.cluster.bring_back(shared_log));
                done(
                    live.index,
                    RunResult {
                        status,
                        secs,
                        output: kept,
                    },
                );
            }
        }
    }

    fn is_available(&self, commit: &str) -> bool {
        self.kept.contains(commit)
    }
}
