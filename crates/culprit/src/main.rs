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

#[derive(Subcommand)]
enum Cmd {
    /// Bisect a range of commits: build, test, and find the first bad commit.
    ///
    /// Example:
    ///   culprit bisect --repo . --bad HEAD --good v1.0 \
    ///       --build 'make' --artifact prog --test './test.sh "$CULPRIT_ARTIFACT"'
    Bisect(Box<bisect_cmd::BisectArgs>),
    /// Find crash reports in a console log and describe them.
    Report(report_cmd::ReportArgs),
    /// Who to mail about files or a commit: MAINTAINERS (as
    /// scripts/get_maintainer.pl --nogit --nogit-fallback) plus, for a
    /// commit, its trailers.
    Maintainers(maintainers_cmd::MaintainersArgs),
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
