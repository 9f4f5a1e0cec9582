//! The `culprit` command line: options in, a subcommand run, an exit status
//! out. Each subcommand's options live in its own module; `bisect` turns
//! its options (and a campaign file's) into a `CampaignSpec` and hands it
//! to `crate::execute`.

pub mod bisect;
pub mod file;
pub mod kernel_job;
pub mod maintainers;
pub mod paths;
pub mod report;
pub mod test;
pub mod test_backend;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

use crate::result::exit;

/// Find the commit that introduced a crash, from evidence.
///
/// culprit builds candidate commits, runs the reproducer on them (in
/// parallel, as often as the evidence demands), reads crashes from the
/// output, and keeps a posterior over which commit is the culprit until one
/// holds the asked confidence. A killed campaign resumes from its journal.
#[derive(Parser)]
#[command(name = "culprit", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// More diagnostics on standard error (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

const BISECT_EXAMPLES: &str = "Examples:
  # Any project: a build command, a test command (exit codes as git bisect run).
  culprit bisect --repo . --bad HEAD --good v1.0 \\
      --build 'make prog' --artifact prog --test './prog --selftest'

  # A Linux kernel, booted in QEMU with a reproducer (runs only inside the VM).
  culprit bisect --kernel --repo ~/linux --bad v6.2 --good v6.1 \\
      --kernel-config my.config --repro repro.c --vms 4

  # No good commit known: walk back over the release tags to find one.
  culprit bisect --kernel --repo ~/linux --bad HEAD \
      --kernel-config my.config --repro repro.c

  # Which commit fixed it? The old end crashes, the new end does not.
  culprit bisect --kernel --fix --repo ~/linux --good v6.1 --bad HEAD \
      --kernel-config my.config --repro repro.c

  # The same from a campaign file (options on the command line win).
  culprit bisect campaign.toml

Rerunning the same command resumes from the journal in the workdir.

Exit status: 0 a culprit was named; 3 inconclusive (see the credible set);
4 the bug is older than the good end (or the oldest release walked to;
with --fix: not fixed at the new end); 5 the bug did not reproduce on the
bad commit (--fix: the old end); 6 a culprit was named but its
verification contradicts it (suspect); 7 most runs tested nothing
(infrastructure error, no answer); 1 an error; 2 a usage error;
130 interrupted (the journal is intact: rerun to resume).";

const TEST_EXAMPLES: &str = "Examples:
  # Does the fix stop the crash? The patch is applied in git's object
  # database; the repository and its checkout are never modified.
  culprit test --kernel --repo ~/linux --commit v6.2 --patch fix.patch \\
      --kernel-config my.config --repro repro.c --runs 20

  # Any project, with your own build and test commands.
  culprit test --commit HEAD --patch 0001-fix.patch \\
      --build 'make prog' --artifact prog --test './prog --selftest'

Exit status: 0 no run crashed (at least one ran clean); 6 at least one run
crashed; 7 nothing was tested (the build failed or every run was
untestable); 1 an error (a patch that does not apply names the file and
hunk); 2 a usage error; 130 interrupted.";

#[derive(Subcommand)]
enum Cmd {
    /// Bisect a range of commits: build, test, and find the first bad commit.
    #[command(after_long_help = BISECT_EXAMPLES)]
    Bisect(Box<bisect::BisectArgs>),
    /// Test one commit, with patches applied, N times: how many runs crash
    /// with which title (syzbot's `#syz test`).
    #[command(after_long_help = TEST_EXAMPLES)]
    Test(Box<test::TestArgs>),
    /// Find crash reports in a console log and describe them.
    Report(report::ReportArgs),
    /// Who to mail about files or a commit: MAINTAINERS (as
    /// scripts/get_maintainer.pl --nogit --nogit-fallback) plus, for a
    /// commit, its trailers.
    Maintainers(maintainers::MaintainersArgs),
    /// Compare culprit's engine with syzbot's rules and git bisect on
    /// simulated campaigns over real and synthetic histories.
    Bench(crate::bench::BenchArgs),
    /// Run the built-in example end to end: make a small git history with a
    /// flaky bug, bisect it, and print the log.
    Demo(crate::demo::DemoArgs),
    /// One kernel build or VM run on a Slurm node (`--kernel --executor
    /// slurm` submits jobs that call it; not for people).
    #[command(hide = true)]
    KernelJob(kernel_job::KernelJobArgs),
}

/// The program: parses the command line, runs the subcommand, and returns
/// the exit status.
pub fn main() -> i32 {
    // A closed standard output (`culprit report FILE | head -1`) ends the
    // program quietly, as it does any Unix filter, instead of a panic.
    // SAFETY: restoring the default disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .init();
    crate::procs::install_interrupt_handler();
    let res: Result<i32> = match &cli.cmd {
        Cmd::Bisect(a) => {
            let sub = matches.subcommand_matches("bisect");
            bisect_main(a, sub)
        }
        Cmd::Test(a) => test::run(a, matches.subcommand_matches("test")),
        Cmd::Report(a) => report::run(a),
        Cmd::Demo(a) => crate::demo::run(a),
        Cmd::Bench(a) => crate::bench::run(a).map(|_| 0),
        Cmd::Maintainers(a) => maintainers::run(a).map(|()| 0),
        Cmd::KernelJob(a) => kernel_job::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if crate::procs::interrupted() {
                exit::INTERRUPTED
            } else {
                exit::ERROR
            }
        }
    }
}

/// `culprit bisect`, with a campaign file's options put before the command
/// line's.
fn bisect_main(a: &bisect::BisectArgs, sub: Option<&clap::ArgMatches>) -> Result<i32> {
    let empty = clap::ArgMatches::default();
    let sub = sub.unwrap_or(&empty);
    let args = match &a.campaign {
        None => a.clone(),
        Some(path) => {
            let (merged, file_given) = with_campaign_file(path, sub)?;
            let spec = merged
                .to_spec(&|id| file_given.iter().any(|g| g == id) || bisect::given_in(sub)(id))?;
            return crate::execute::run(&spec);
        }
    };
    let spec = args.to_spec(&bisect::given_in(sub))?;
    crate::execute::run(&spec)
}

/// Re-reads the command line with the campaign file's arguments first.
/// Returns the merged options and the ids the file set.
fn with_campaign_file(
    path: &std::path::Path,
    sub: &clap::ArgMatches,
) -> Result<(bisect::BisectArgs, Vec<String>)> {
    use clap::Args;
    let text = file::read(path)?;
    let cmd = bisect::BisectArgs::augment_args(clap::Command::new("bisect"));
    let kernel_ids: Vec<String> =
        crate::backend::kernel::KernelSettings::augment_args(clap::Command::new("kernel"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
    let from_file = file::args(path, &text, &cmd, &kernel_ids, &bisect::given_in(sub))?;
    let parse = |extra: &[OsString]| {
        let argv = ["culprit".into(), "bisect".into()]
            .into_iter()
            .chain(extra.iter().cloned());
        Cli::command().try_get_matches_from(argv)
    };
    // The file's options alone first, so that their errors name the file.
    let fm = parse(&from_file)
        .map_err(|e| anyhow::anyhow!("campaign file {}: {}", path.display(), e.render()))?;
    let fsub = fm
        .subcommand_matches("bisect")
        .context("no bisect options")?;
    let file_given: Vec<String> = fsub
        .ids()
        .map(|id| id.to_string())
        .filter(|id| bisect::given_in(fsub)(id))
        .collect();
    let cli_args: Vec<OsString> = std::env::args_os()
        .skip(1)
        .skip_while(|a| a != "bisect")
        .skip(1)
        .collect();
    let all: Vec<OsString> = from_file.into_iter().chain(cli_args).collect();
    let m = parse(&all).unwrap_or_else(|e| e.exit());
    let msub = m
        .subcommand_matches("bisect")
        .context("no bisect options")?;
    let merged = bisect::BisectArgs::from_arg_matches(msub)?;
    Ok((merged, file_given))
}
