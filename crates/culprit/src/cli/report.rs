//! `culprit report`: crash reports in a console log, read as a stream (a
//! log of any size needs memory for a few report windows, not for the
//! log), optionally symbolised with the kernel image, with the `Code:`
//! bytes disassembled.

use anyhow::{Context, Result};
use clap::{Args, ValueHint};
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::print::escape;
use culprit_report::symbolize::Symbolizer;

/// Exit status when the log holds no crash report (not an error).
pub const NO_REPORT: i32 = 3;

/// The log is scanned in windows of this size...
const WINDOW: usize = 8 << 20;
/// ...and a report is final once this much log follows its start (a report
/// spans at most 1 MiB plus its panic window).
const MARGIN: usize = 2 << 20;
/// Log kept before the earliest unfinished position, for the context a
/// report shows before its header.
const CONTEXT: usize = 64 << 10;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Console log to read; standard input when omitted or `-`.
    #[arg(value_name = "FILE|-", value_hint = ValueHint::FilePath)]
    pub file: Option<PathBuf>,
    /// Print every report in the log, not only the first.
    #[arg(long)]
    pub all: bool,
    /// Print JSON (for the first report: the scorer's contract, with a null
    /// title when there is none; with --all: an array).
    #[arg(long)]
    pub json: bool,
    /// The kernel image (vmlinux with debug info) that printed the log:
    /// frames are symbolised to `function file:line`, with `[inline]`
    /// frames.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub vmlinux: Option<PathBuf>,
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let symbolizer = match &args.vmlinux {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                Symbolizer::new(&bytes)
                    .with_context(|| format!("symbolising with {}", p.display()))?,
            )
        }
        None => None,
    };
    let input: Box<dyn Read> = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?)
        }
        _ => Box::new(std::io::stdin()),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = 0usize;
    if args.json && args.all {
        write!(out, "[")?;
    }
    let first_only = !args.all;
    stream(input, |mut r| {
        if let Some(s) = &symbolizer {
            r.report = s.symbolize(&r.report);
        }
        found += 1;
        let res = if args.json {
            if args.all {
                let sep = if found > 1 { "," } else { "" };
                serde_json::to_string(&r)
                    .map_err(std::io::Error::other)
                    .and_then(|j| write!(out, "{sep}{j}"))
            } else {
                let v = culprit_report::score_json(Some(&r));
                writeln!(out, "{v}")
            }
        } else {
            print_text(&mut out, &r)
        };
        res.map(|_| !first_only)
    })?;
    if args.json && args.all {
        writeln!(out, "]")?;
    } else if args.json && found == 0 {
        writeln!(out, "{}", culprit_report::score_json(None))?;
    }
    if found == 0 && !args.json {
        writeln!(out, "no crash report found")?;
    }
    out.flush()?;
    // JSON says itself whether a report was found (the scorer's contract
    // wants status 0).
    Ok(if found == 0 && !args.json {
        NO_REPORT
    } else {
        0
    })
}

fn print_text(out: &mut impl Write, r: &culprit_report::Report) -> std::io::Result<()> {
    writeln!(out, "title: {}", escape(&r.title))?;
    writeln!(out, "type: {}", r.kind)?;
    for a in &r.alt_titles {
        writeln!(out, "alt title: {}", escape(a))?;
    }
    if let Some(f) = &r.frame {
        writeln!(out, "frame: {}", escape(f))?;
    }
    if let Some(g) = &r.guilty_file {
        writeln!(out, "guilty file: {}", escape(g))?;
    }
    if r.corrupted {
        writeln!(
            out,
            "corrupted: {}",
            r.corrupted_reason.as_deref().unwrap_or("yes")
        )?;
    }
    writeln!(out, "bytes: {}..{}", r.start, r.end)?;
    writeln!(out)?;
    for l in r.report.lines() {
        writeln!(out, "{}", escape(l))?;
    }
    if let Some(block) = culprit_report::disasm::report_block(&r.report) {
        writeln!(out, "----------------")?;
        write!(out, "{block}")?;
        if !block.ends_with('\n') {
            writeln!(out)?;
        }
    }
    writeln!(out)
}

/// Feeds every report of the log to `each`, in order, with offsets from the
/// start of the log; stops when `each` says false. Memory stays within a
/// window plus a margin, whatever the size of the log.
pub fn stream(
    mut input: impl Read,
    mut each: impl FnMut(culprit_report::Report) -> std::io::Result<bool>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(WINDOW + MARGIN);
    // Offset in the log of buf[0], and where the next report may start.
    let (mut base, mut next) = (0usize, 0usize);
    let mut eof = false;
    while !eof || !buf.is_empty() {
        while !eof && buf.len() < WINDOW + MARGIN {
            let mut chunk = [0u8; 64 << 10];
            let n = input.read(&mut chunk).context("reading the log")?;
            if n == 0 {
                eof = true;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        // Reports that start in the part of the window that has its margin
        // after it (everything, at the end of the log) are final.
        let settled = if eof { buf.len() } else { buf.len() - MARGIN };
        let mut resume = settled;
        for mut r in culprit_report::reports(&buf) {
            let start = base + r.start;
            if start < next {
                continue;
            }
            if r.start >= settled {
                resume = resume.min(r.start);
                break;
            }
            r.start += base;
            r.end += base;
            next = start + 1;
            if !each(r)? {
                return Ok(());
            }
        }
        if eof {
            break;
        }
        let cut = resume.saturating_sub(CONTEXT);
        buf.drain(..cut);
        base += cut;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes at a time, like a pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(b.len()).min(7919);
            b[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn streaming_finds_what_a_whole_scan_finds_across_windows() {
        let oops = "BUG: unable to handle page fault for address: 0000000000000008\nRIP: 0010:demo_crash+0x5/0x10\nCall Trace:\n demo_crash+0x5/0x10\n---[ end trace ]---\n";
        let mut log = Vec::new();
        let mut i = 0;
        // Reports scattered over ~20 MiB, some right at window edges.
        while log.len() < 20 << 20 {
            log.extend_from_slice(format!("[{i}] boring line of console output\n").as_bytes());
            if i % 9001 == 0 {
                log.extend_from_slice(oops.as_bytes());
            }
            i += 1;
        }
        let whole: Vec<(usize, String)> = culprit_report::reports(&log)
            .map(|r| (r.start, r.title))
            .collect();
        assert!(whole.len() > 20, "{}", whole.len());
        let mut streamed = Vec::new();
        stream(Trickle(&log), |r| {
            streamed.push((r.start, r.title));
            Ok(true)
        })
        .unwrap();
        assert_eq!(streamed, whole);
        // Stopping after the first.
        let mut one = Vec::new();
        stream(Trickle(&log), |r| {
            one.push(r.start);
            Ok(false)
        })
        .unwrap();
        assert_eq!(one, vec![whole[0].0]);
    }
}
