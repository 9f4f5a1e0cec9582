//! The Slurm executor's settings, defined once: they are options of
//! `culprit bisect` (clap), keys of a campaign file (which become those
//! options) and part of a `CampaignSpec` (serde). None of them changes what
//! a run shows, so none is part of the campaign identity: a campaign
//! started locally can be resumed on a cluster and back.

use clap::ValueHint;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where builds and runs execute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Executor {
    /// On this machine, as child processes (the default).
    #[default]
    Local,
    /// Each build and each run is one job on a Slurm cluster.
    Slurm(SlurmSettings),
}

/// How jobs are submitted to Slurm. Every option is passed to `sbatch`
/// as is; Slurm checks it at submission and culprit stops with sbatch's
/// message if it refuses one.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[command(next_help_heading = "Executor (--executor slurm; docs/slurm.md)")]
pub struct SlurmSettings {
    /// Partition for build and run jobs (sbatch --partition). Default: the
    /// cluster's default partition.
    #[arg(long = "slurm-partition", id = "slurm_partition", value_name = "P")]
    pub partition: Option<String>,
    /// Partition for run jobs only, e.g. the one with KVM nodes. Default:
    /// --slurm-partition.
    #[arg(
        long = "slurm-run-partition",
        id = "slurm_run_partition",
        value_name = "P"
    )]
    pub run_partition: Option<String>,
    /// Account the jobs are charged to (sbatch --account).
    #[arg(long = "slurm-account", id = "slurm_account", value_name = "A")]
    pub account: Option<String>,
    /// Quality of service of the jobs (sbatch --qos).
    #[arg(long = "slurm-qos", id = "slurm_qos", value_name = "Q")]
    pub qos: Option<String>,
    /// Node features run jobs need (sbatch --constraint), e.g. `kvm`.
    #[arg(
        long = "slurm-constraint",
        id = "slurm_constraint",
        value_name = "FEATURES"
    )]
    pub constraint: Option<String>,
    /// CPUs per build job (sbatch --cpus-per-task; the build command sees
    /// it as $SLURM_CPUS_PER_TASK). Default: the cluster's default.
    #[arg(long = "slurm-build-cpus", id = "slurm_build_cpus", value_name = "N")]
    pub build_cpus: Option<u32>,
    /// A directory every node sees at the same path: job scripts, build and
    /// run logs, result files and artifacts go there. Default: the workdir,
    /// which the nodes must then see.
    #[arg(long = "shared-dir", id = "shared_dir", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub shared_dir: Option<PathBuf>,
    /// A node-local directory for each node's checkout of the repository
    /// (one per campaign, reused by every job on that node; keep it off
    /// network file systems). The repository itself must be readable at
    /// the same path on the nodes: the checkout borrows its objects.
    /// Default: /tmp.
    #[arg(long = "node-dir", id = "node_dir", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub node_dir: Option<PathBuf>,
    /// One more sbatch option for every job (repeat for several), e.g.
    /// --sbatch-arg=--mem=4G or --sbatch-arg=--time=30 when no timeout is
    /// given (with --build-timeout/--run-timeout, culprit sets --time
    /// itself: the timeout plus a margin, in whole minutes).
    #[arg(
        long = "sbatch-arg",
        id = "sbatch_args",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    pub sbatch_args: Vec<String>,
}

impl SlurmSettings {
    /// The option ids of these settings with the flags as a user spells
    /// them, to refuse them without `--executor slurm`.
    pub const FLAGS: &'static [(&'static str, &'static str)] = &[
        ("slurm_partition", "--slurm-partition"),
        ("slurm_run_partition", "--slurm-run-partition"),
        ("slurm_account", "--slurm-account"),
        ("slurm_qos", "--slurm-qos"),
        ("slurm_constraint", "--slurm-constraint"),
        ("slurm_build_cpus", "--slurm-build-cpus"),
        ("shared_dir", "--shared-dir"),
        ("node_dir", "--node-dir"),
        ("sbatch_args", "--sbatch-arg"),
    ];
}
