//! `culprit bisect`: the options, and how they become a [`CampaignSpec`].

use anyhow::{bail, Result};
use clap::{ArgMatches, Args, ValueHint};
use std::path::PathBuf;

use crate::backend::kernel::KernelSettings;
use crate::backend::slurm::{Executor, SlurmSettings};
use crate::spec::{CampaignSpec, Generic, Mode, Output, Search};

/// The options of `culprit bisect`. A campaign file (TOML) gives the same
/// options by name (`vms = 4`, `good = [...]`, a `[kernel]` section for the
/// kernel options); options on the command line win.
#[derive(Debug, Clone, Args)]
pub struct BisectArgs {
    /// A campaign file (TOML) whose keys are the long options' names
    /// (repo, bad, good = [...], build, test, vms, ..., and a [kernel]
    /// section); options given on the command line win.
    #[arg(value_name = "CAMPAIGN.toml", value_hint = ValueHint::FilePath)]
    pub campaign: Option<PathBuf>,

    #[command(flatten)]
    pub range: RangeArgs,

    #[command(flatten)]
    pub generic: GenericArgs,

    /// Bisect a Linux kernel: build each commit reproducibly and boot it in
    /// QEMU with the reproducer (no --build/--test). In a campaign file, a
    /// [kernel] section implies it and takes the options below by their
    /// names (`config` for --kernel-config, `reproducer` for --repro,
    /// `memory`, `repro_repeat`, ...).
    #[arg(long, help_heading = "Kernel mode")]
    pub kernel: bool,

    #[command(flatten)]
    pub kernel_settings: KernelSettings,

    #[command(flatten)]
    pub search: SearchArgs,

    #[command(flatten)]
    pub executor: ExecutorArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where builds and runs execute.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Executor (--executor slurm; docs/slurm.md)")]
pub struct ExecutorArgs {
    /// Where builds and runs execute: `local` (child processes of culprit)
    /// or `slurm` (each build and each run is one batch job on a Slurm
    /// cluster: generic mode in a checkout on its node, kernel mode in a
    /// build tree on its node and QEMU on a run node; --vms jobs at once;
    /// jobs the cluster loses count as untestable runs, never as evidence;
    /// one build at a time: --builders is for `local`).
    #[arg(long, value_name = "WHERE", default_value = "local", value_parser = ["local", "slurm"])]
    pub executor: String,

    #[command(flatten)]
    pub slurm: SlurmSettings,
}

impl ExecutorArgs {
    /// The executor these options name; Slurm options without
    /// `--executor slurm` are refused instead of ignored.
    pub fn to_executor(&self, given: &dyn Fn(&str) -> bool) -> Result<Executor> {
        if self.executor == "slurm" {
            return Ok(Executor::Slurm(self.slurm.clone()));
        }
        if let Some((_, flag)) = SlurmSettings::FLAGS.iter().find(|(id, _)| given(id)) {
            bail!("{flag} is an option of the Slurm executor: add --executor slurm");
        }
        Ok(Executor::Local)
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Range")]
pub struct RangeArgs {
    /// The repository to bisect (a git checkout; it is never modified:
    /// culprit checks out commits in its own worktree).
    #[arg(long, value_name = "PATH", default_value = ".", value_hint = ValueHint::DirPath)]
    pub repo: PathBuf,

    /// A commit where the bug shows (the newest end of the range).
    #[arg(long, value_name = "REV")]
    pub bad: Option<String>,

    /// A commit where the bug does not show; repeat for several. A good
    /// commit that is not an ancestor of bad is replaced by the merge base.
    /// Without --good, culprit walks back over the release tags (vX.Y)
    /// that bad contains, newest first, testing each as carefully as a
    /// bisection step, until one is good; in a history without such tags,
    /// back along the first-parent line with doubling steps.
    #[arg(long, value_name = "REV")]
    pub good: Vec<String>,

    /// Find the commit that fixed the bug instead of the one that
    /// introduced it: --bad is then the new end, where the crash no longer
    /// shows, and --good the old end, where it does (git bisect's
    /// new/old). The answer is the first commit without the crash.
    #[arg(long)]
    pub fix: bool,

    /// Without --good: test at most this many releases (or first-parent
    /// steps) walking back.
    #[arg(long, value_name = "N", default_value_t = Search::default().max_releases)]
    pub max_releases: u32,

    /// Without --good: walk back no further than this revision (releases
    /// older than it are not tested).
    #[arg(long, value_name = "REV")]
    pub oldest: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Your build and test commands (generic mode)")]
pub struct GenericArgs {
    /// Shell command that builds the checked-out commit (cwd: the worktree;
    /// env CULPRIT_COMMIT). Exit 0 = built, anything else = untestable
    /// commit.
    #[arg(long, value_name = "CMD")]
    pub build: Option<String>,

    /// Shell command for one run (env CULPRIT_COMMIT, CULPRIT_RUN,
    /// CULPRIT_ARTIFACT). Exit 0 = clean, 125 = untestable, 1-127 =
    /// failure, >= 128 or a signal stops the campaign.
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,

    /// The build product, relative to the checkout. It is kept per commit
    /// so later runs need no rebuild, and its signature dedupes identical
    /// builds (SHA-256, or for ELF files the hash of the loaded sections).
    #[arg(long, value_name = "PATH", value_hint = ValueHint::Other)]
    pub artifact: Option<PathBuf>,

    /// Kill a run (and everything it started) after this many seconds and
    /// count it untestable [default: none; kernel mode: 300].
    #[arg(long, value_name = "SECS")]
    pub run_timeout: Option<f64>,

    /// Kill a build after this many seconds (the commit is then untestable)
    /// [default: none; kernel mode: 3600].
    #[arg(long, value_name = "SECS")]
    pub build_timeout: Option<f64>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Search")]
pub struct SearchArgs {
    /// Runs executed in parallel (one test round; VMs in kernel mode).
    #[arg(long, value_name = "K", default_value_t = Search::default().vms)]
    pub vms: u32,

    /// Builds at once, each in its own checkout of the workdir (`tree`,
    /// `tree-2`, ... kept for resuming), while test runs go on: the engine
    /// then picks several commits together, and builds speculatively while
    /// tests run. Each build gets its share of the cores:
    /// CULPRIT_BUILD_JOBS=N and, unless you set MAKEFLAGS yourself,
    /// MAKEFLAGS=-jN (N = cores / B); CULPRIT_BUILDER is its number. A
    /// commit's runs execute in the checkout it was built in, which takes
    /// no other build until they end (with --artifact, runs of a commit
    /// whose checkout was rebuilt since execute in WORKDIR/runs/COMMIT).
    /// Kernel mode: builder K builds in builder-K/tree and builder-K/build
    /// of the build tree, --jobs is per builder (default cores / B), every
    /// kernel goes to WORKDIR/kernels and any VM boots any of them. Not
    /// with --executor slurm (one build at a time).
    #[arg(long, value_name = "B", default_value_t = Search::default().builders)]
    pub builders: u32,

    /// With one builder, build the commits the engine will want next while
    /// VMs (or tests) run, instead of one action at a time: the driver
    /// --builders above 1 uses, with one build tree. Pays off where builds
    /// and runs do not share the same few cores (KVM run machines, a
    /// builder with its own cores); with --builders above 1 it is implied.
    /// Generic mode wants --artifact with it, so that a commit's runs need
    /// not hold the checkout. Local executor only.
    #[arg(long)]
    pub overlap: bool,

    /// Stop when one commit holds this posterior probability.
    #[arg(long, value_name = "P", default_value_t = Search::default().confidence)]
    pub confidence: f64,

    /// Stop after this many builds and report the credible range.
    #[arg(long, value_name = "N")]
    pub max_builds: Option<u32>,

    /// Stop after this many runs and report the credible range.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u32>,

    /// Runs on the bad commit without the bug showing before giving up.
    #[arg(long, value_name = "N", default_value_t = Search::default().verify_runs)]
    pub verify_runs: u32,

    /// The crash title that is the bug. Default: the most frequent failure
    /// on the bad commit.
    #[arg(long, value_name = "TITLE")]
    pub target: Option<String>,

    /// Do not favour the commits that touch the code in the crash's stack.
    /// By default, once the target crash is known, the files defining its
    /// top stack functions are looked up at the bad commit and the commits
    /// touching them get half of the prior, so they are tested first.
    #[arg(long)]
    pub no_hint: bool,

    /// Do not verify a culprit by reverting it. By default the culprit is
    /// reverted on top of the bad commit (a commit object in the
    /// repository, no ref moved, the working tree untouched), built, and run
    /// until a bug still there would have shown at the asked confidence
    /// (at most --verify-runs runs): the log, the JSON result
    /// (`verification`) and the exit status say whether the crash went away.
    /// The revert's runs are evidence for the search: a revert that still
    /// crashes sends it on, and when it cannot decide, a leading commit is
    /// reverted too (at most 3 reverts).
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Where culprit keeps its worktree, builds, run outputs, journal and
    /// log. Default: ~/.cache/culprit/<id of this campaign>. Rerunning the
    /// same command resumes from the journal there.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub workdir: Option<PathBuf>,

    /// Also write the result as JSON to FILE (schema in the README).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub json: Option<PathBuf>,

    /// Also write the e-mail a maintainer receives to FILE: RFC 5322
    /// headers (To/Cc from MAINTAINERS and the commit's trailers), the
    /// culprit, the verification, the crash.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub report: Option<PathBuf>,

    /// Write every event as a JSON line to FILE as it happens (schema in
    /// docs/events.md): for services and dashboards.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub events: Option<PathBuf>,

    /// Print only the result block, not the bisection log (which still
    /// goes to WORKDIR/bisect.log).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options that only mean something in kernel mode, by id, as a user
/// spells them.
const KERNEL_ONLY: &[(&str, &str)] = &[
    ("config", "--kernel-config"),
    ("reproducer", "--repro"),
    ("compiler", "--compiler"),
    ("ccache", "--ccache"),
    ("memory", "--memory"),
    ("cpus", "--cpus"),
    ("boot_timeout", "--boot-timeout"),
    ("repro_time", "--repro-time"),
    ("repro_repeat", "--repro-repeat"),
    ("cmdline", "--cmdline"),
    ("accel", "--accel"),
    ("qemu", "--qemu"),
    ("busybox", "--busybox"),
    ("jobs", "--jobs"),
    ("build_tree", "--build-tree"),
    ("private_tree", "--private-tree"),
];

impl BisectArgs {
    /// The campaign these options describe. `given` says whether an option
    /// (by id) was set by the user rather than defaulted, to refuse options
    /// of the other mode instead of ignoring them.
    pub fn to_spec(&self, given: &dyn Fn(&str) -> bool) -> Result<CampaignSpec> {
        let Some(bad) = self.range.bad.clone() else {
            bail!("give --bad REV (a commit where the bug shows)");
        };
        let mode = self
            .generic
            .mode(self.kernel, &self.kernel_settings, given)?;
        let executor = self.executor.to_executor(given)?;
        let s = &self.search;
        Ok(CampaignSpec {
            repo: self.range.repo.clone(),
            bad,
            good: self.range.good.clone(),
            fix: self.range.fix,
            target: s.target.clone(),
            mode,
            search: Search {
                vms: s.vms,
                confidence: s.confidence,
                max_builds: s.max_builds,
                max_runs: s.max_runs,
                verify_runs: s.verify_runs,
                hints: !s.no_hint,
                verify: !s.no_verify,
                max_releases: self.range.max_releases,
                oldest: self.range.oldest.clone(),
                builders: s.builders,
                overlap: s.overlap,
            },
            output: Output {
                workdir: self.output.workdir.clone(),
                json: self.output.json.clone(),
                report: self.output.report.clone(),
                events: self.output.events.clone(),
                quiet: self.output.quiet,
            },
            executor,
        })
    }
}

impl GenericArgs {
    /// How commits are built and tested: kernel mode (`kernel`, with
    /// `settings` and the shared timeouts) or the user's commands. `given`
    /// says whether an option (by id) was set by the user, to refuse
    /// options of the other mode instead of ignoring them. `culprit bisect`
    /// and `culprit test` share it.
    pub fn mode(
        &self,
        kernel: bool,
        settings: &KernelSettings,
        given: &dyn Fn(&str) -> bool,
    ) -> Result<Mode> {
        let g = self;
        let mode = if kernel {
            for (opt, set) in [
                ("--build", g.build.is_some()),
                ("--test", g.test.is_some()),
                ("--artifact", g.artifact.is_some()),
            ] {
                if set {
                    bail!("{opt} is for your own commands; kernel mode (--kernel) builds and boots each commit itself");
                }
            }
            let mut k = settings.clone();
            k.run_timeout = g.run_timeout;
            k.build_timeout = g.build_timeout;
            Mode::Kernel(k)
        } else {
            if let Some((_, flag)) = KERNEL_ONLY.iter().find(|(id, _)| given(id)) {
                bail!("{flag} is a kernel-mode option: add --kernel (or a [kernel] section in the campaign file)");
            }
            let build = g
                .build
                .clone()
                .ok_or_else(|| anyhow::anyhow!("give --build 'CMD' (how to build a commit), or --kernel to bisect a Linux kernel"))?;
            let test = g
                .test
                .clone()
                .ok_or_else(|| anyhow::anyhow!("give --test 'CMD' (how to run the test once)"))?;
            Mode::Generic(Generic {
                build,
                test,
                artifact: g.artifact.clone(),
                run_timeout: g.run_timeout,
                build_timeout: g.build_timeout,
            })
        };
        Ok(mode)
    }
}

/// Whether the option `id` was given by the user in `m`.
pub fn given_in(m: &ArgMatches) -> impl Fn(&str) -> bool + '_ {
    move |id| {
        m.try_contains_id(id).unwrap_or(false)
            && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    }
}
