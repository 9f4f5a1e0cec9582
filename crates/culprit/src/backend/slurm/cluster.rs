//! What every Slurm job of a campaign shares, whatever it builds or runs:
//! the campaign's part of the shared directory, its job name, the sbatch
//! options, submission and the job list. The generic executor
//! (`super::SlurmBackend`) and the kernel one (`super::kernel`) both
//! submit through it, so both have the same options, names, files and
//! cleanup of a dead run's jobs.

use anyhow::{Context, Result};
use culprit_proc::Cancel;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::client;
use super::poll::Live;
use super::script::Script;
use super::settings::SlurmSettings;
use crate::backend::Progress;

/// Time a job may run past its own Slurm limit before culprit cancels it
/// (Slurm kills late: docs/slurm.md measured up to about 30 s).
const LATE: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub slurm: SlurmSettings,
    pub cancel: Cancel,
    pub workdir: PathBuf,
    /// This campaign's part of the shared directory.
    pub share: PathBuf,
    /// The node-local directory (`--node-dir`, default /tmp).
    pub node_dir: PathBuf,
    /// Every job's name: how a later run finds this campaign's jobs.
    pub name: String,
    /// CPUs per run job (sbatch --cpus-per-task), when not the default.
    pub run_cpus: Option<u32>,
    submitted: u64,
}

pub fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

impl Cluster {
    /// The campaign's shared directory (created) and job name; cancels the
    /// jobs a dead run of this campaign left queued.
    pub fn new(
        workdir: &Path,
        slurm: SlurmSettings,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Cluster> {
        let workdir = absolute(workdir)?;
        let canon = workdir.canonicalize().unwrap_or_else(|_| workdir.clone());
        let tag = hex::encode(&Sha256::digest(canon.to_string_lossy().as_bytes())[..6]);
        let share = match &slurm.shared_dir {
            Some(d) => absolute(d)?.join(format!("culprit-{tag}")),
            None => workdir.clone(),
        };
        let node_dir = absolute(slurm.node_dir.as_deref().unwrap_or(Path::new("/tmp")))?;
        std::fs::create_dir_all(share.join("slurm")).with_context(|| {
            format!("creating {} (--shared-dir)", share.join("slurm").display())
        })?;
        let name = format!("culprit-{tag}");
        let left = client::named(&name, &cancel)?;
        if !left.is_empty() {
            progress(format!(
                "cancelling {} Slurm jobs an earlier run of this campaign left",
                left.len()
            ));
            client::scancel(&left);
        }
        Ok(Cluster {
            slurm,
            cancel,
            workdir,
            share,
            node_dir,
            name,
            run_cpus: None,
            submitted: 0,
        })
    }

    /// sbatch's options for one job; `limit` is its Slurm time limit.
    pub fn sbatch_args(
        &self,
        build: bool,
        stem: &str,
        node: Option<&str>,
        limit: Option<Duration>,
    ) -> Vec<String> {
        let s = &self.slurm;
        let dir = self.share.join("slurm");
        let mut a = vec![
            "--no-requeue".to_string(),
            format!("--job-name={}", self.name),
            format!("--output={}", dir.join(format!("{stem}.out")).display()),
            format!("--chdir={}", dir.display()),
        ];
        let partition = if build {
            s.partition.as_ref()
        } else {
            s.run_partition.as_ref().or(s.partition.as_ref())
        };
        let cpus = if build { s.build_cpus } else { self.run_cpus };
        let opts = [
            ("--partition", partition.cloned()),
            ("--account", s.account.clone()),
            ("--qos", s.qos.clone()),
            ("--constraint", s.constraint.clone().filter(|_| !build)),
            ("--cpus-per-task", cpus.map(|n| n.to_string())),
            ("--nodelist", node.map(str::to_string)),
        ];
        for (k, v) in opts {
            if let Some(v) = v {
                a.push(format!("{k}={v}"));
            }
        }
        if let Some(t) = limit {
            // Slurm's limits are whole minutes (docs/slurm.md).
            a.push(format!("--time={}", t.as_secs().div_ceil(60)));
        }
        a.extend(s.sbatch_args.iter().cloned());
        a
    }

    /// Writes the script and submits it; the job, tracked. `limit`: the
    /// job's Slurm time limit (culprit cancels it a minute past that).
    pub fn submit(
        &mut self,
        script: &Script<'_>,
        stem: &str,
        index: usize,
        node: Option<&str>,
        limit: Option<Duration>,
        progress: Progress,
    ) -> Result<Live> {
        let path = self.share.join("slurm").join(format!("{stem}.sh"));
        std::fs::write(&path, script.render())
            .with_context(|| format!("writing the job script {}", path.display()))?;
        let _ = std::fs::remove_file(script.result);
        let mut args = self.sbatch_args(script.build, stem, node, limit);
        args.push(path.to_string_lossy().into_owned());
        let id = client::submit(&args, &self.cancel)?;
        self.note(id, stem)?;
        progress(format!("Slurm job {id}: {}", script.title));
        Ok(Live {
            id,
            index,
            stem: stem.to_string(),
            submitted: Instant::now(),
            running_since: None,
            limit: limit.map(|t| t + LATE),
            ours: None,
            missing: 0,
            state: "PENDING".into(),
        })
    }

    /// Appends `ID STEM` to the job list in the shared directory: which
    /// Slurm job did what, for people (and tests) reading sacct.
    fn note(&self, id: u64, stem: &str) -> Result<()> {
        let p = self.share.join("slurm").join("jobs.txt");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .with_context(|| format!("writing {}", p.display()))?;
        writeln!(f, "{id} {stem}").with_context(|| format!("writing {}", p.display()))
    }

    /// A name for the next job's files, unique to this process.
    pub fn stem(&mut self, kind: &str, commit: &str, run: Option<u32>) -> String {
        self.submitted += 1;
        let short = &commit[..commit.len().min(12)];
        match run {
            Some(r) => format!(
                "{kind}-{short}-{r}-{}-{}",
                std::process::id(),
                self.submitted
            ),
            None => format!("{kind}-{short}-{}-{}", std::process::id(), self.submitted),
        }
    }

    pub fn result_path(&self, stem: &str) -> PathBuf {
        self.share.join("slurm").join(format!("{stem}.result"))
    }

    /// Copies a file from the shared directory to the same place in the
    /// workdir (where the local backend keeps it), when the two differ.
    pub fn bring_back(&self, shared: &Path) -> PathBuf {
        let Ok(rel) = shared.strip_prefix(&self.share) else {
            return shared.to_path_buf();
        };
        if self.share == self.workdir {
            return shared.to_path_buf();
        }
        let local = self.workdir.join(rel);
        let copied = local
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .and_then(|_| std::fs::copy(shared, &local));
        match copied {
            Ok(_) => local,
            Err(_) => shared.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(slurm: SlurmSettings) -> Cluster {
        Cluster {
            slurm,
            cancel: Cancel::new(),
            workdir: "/w".into(),
            share: "/s/culprit-0123".into(),
            node_dir: "/tmp".into(),
            name: "culprit-0123".into(),
            run_cpus: Some(2),
            submitted: 0,
        }
    }

    /// Builds and runs get their own partition, CPUs and features; the
    /// time limit is whole minutes, rounded up; the user's own options last.
    #[test]
    fn builds_and_runs_get_their_own_options() {
        let c = cluster(SlurmSettings {
            partition: Some("cpu".into()),
            run_partition: Some("kvm".into()),
            constraint: Some("kvm".into()),
            build_cpus: Some(8),
            sbatch_args: vec!["--mem=4G".into()],
            ..SlurmSettings::default()
        });
        let build = c.sbatch_args(true, "b", None, Some(Duration::from_secs(3661)));
        assert_eq!(
            build,
            [
                "--no-requeue",
                "--job-name=culprit-0123",
                "--output=/s/culprit-0123/slurm/b.out",
                "--chdir=/s/culprit-0123/slurm",
                "--partition=cpu",
                "--cpus-per-task=8",
                "--time=62",
                "--mem=4G",
            ]
        );
        let run = c.sbatch_args(false, "r", Some("n7"), None);
        for want in [
            "--partition=kvm",
            "--constraint=kvm",
            "--cpus-per-task=2",
            "--nodelist=n7",
        ] {
            assert!(run.iter().any(|a| a == want), "{want} not in {run:?}");
        }
        assert!(!run.iter().any(|a| a.starts_with("--time")), "{run:?}");
    }
}
