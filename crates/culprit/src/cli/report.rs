//! `culprit report`: crash reports in a console log.

use anyhow::{Context, Result};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Console log to read; standard input when omitted or `-`.
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,
    /// Print every report in the log, not only the first.
    #[arg(long)]
    pub all: bool,
    /// Print JSON (for the first report: the scorer's contract; with --all:
    /// an array).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let mut data = Vec::new();
    match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut data)
                .context("reading standard input")?;
        }
    }
    let reports: Vec<culprit_report::Report> = if args.all {
        culprit_report::reports(&data).collect()
    } else {
        culprit_report::parse(&data).into_iter().collect()
    };
    if args.json {
        let v = if args.all {
            serde_json::to_value(&reports)?
        } else {
            culprit_report::score_json(reports.first())
        };
        println!("{}", serde_json::to_string(&v)?);
        return Ok(0);
    }
    if reports.is_empty() {
        println!("no crash report found");
        return Ok(1);
    }
    for r in &reports {
        println!("title: {}", r.title);
        println!("type: {}", r.kind);
        for a in &r.alt_titles {
            println!("alt title: {a}");
        }
        if let Some(f) = &r.frame {
            println!("frame: {f}");
        }
        if let Some(g) = &r.guilty_file {
            println!("guilty file: {g}");
        }
        if r.corrupted {
            println!(
                "corrupted: {}",
                r.corrupted_reason.as_deref().unwrap_or("yes")
            );
        }
        println!("bytes: {}..{}", r.start, r.end);
        println!();
        print!("{}", r.report);
        if !r.report.ends_with('\n') {
            println!();
        }
        println!();
    }
    Ok(0)
}
