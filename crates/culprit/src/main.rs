//! The `culprit` command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use culprit::{bisect_cmd, demo, maintainers_cmd, report_cmd};

/// Find the commit that introduced a crash, from evidence.
///
/// culprit builds candidate commits, runs the reproducer on them (in
/// parallel, as often as the evidence demands), reads crashes from the
/// output, and keeps a posterior over which commit is the culprit until one
/// holds the asked confidence. A killed campaign resumes from its journal.
#[derive(Parser)]
#[command(name = "culprit", version, about, long_about)]
struct Cli {
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

  # The same from a campaign file (options on the command line win).
  culprit bisect campaign.toml

Rerunning the same command resumes from the journal in the workdir.";

#[derive(Subcommand)]
enum Cmd {
    /// Bisect a range of commits: build, test, and find the first bad commit.
    #[command(after_long_help = BISECT_EXAMPLES)]
    Bisect(Box<bisect_cmd::BisectArgs>),
    /// Find crash reports in a console log and describe them.
    Report(report_cmd::ReportArgs),
    /// Who to mail about files or a commit: MAINTAINERS (as
    /// scripts/get_maintainer.pl --nogit --nogit-fallback) plus, for a
    /// commit, its trailers.
    Maintainers(maintainers_cmd::MaintainersArgs),
    /// Compare culprit's engine with syzbot's rules and git bisect on
    /// simulated campaigns over real and synthetic histories.
    Bench(culprit::bench::BenchArgs),
    /// Run the built-in example end to end: make a small git history with a
    /// flaky bug, bisect it, and print the log.
    Demo(demo::DemoArgs),
}

fn main() {
    let cli = Cli::parse();
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
    culprit::procs::install_interrupt_handler();
    let res: Result<i32> = match &cli.cmd {
        Cmd::Bisect(a) => bisect_cmd::run(a),
        Cmd::Report(a) => report_cmd::run(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Bench(a) => culprit::bench::run(a).map(|_| 0),
        Cmd::Maintainers(a) => maintainers_cmd::run(a).map(|()| 0),
    };
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(if culprit::procs::interrupted() {
                130
            } else {
                1
            });
        }
    }
}
