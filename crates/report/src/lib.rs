//! Linux crash reports out of console output.
//!
//! Given raw console bytes (binary junk, CR/LF mixes, interleaved CPUs,
//! caller ids, timestamps, truncation), find every crash report and describe
//! it: normalised title, alternative titles, type, guilty frame, corrupted
//! flag with its reason, the report text and the guilty source file.
//!
//! It never does I/O beyond the bytes it is given, and never panics on any
//! input. Scanning is streaming: memory is bounded by one report window,
//! not by the size of the log.
//!
//! Code map, in the order a log is read:
//!
//! 1. Find the report: `scan` walks the log; `header` recognises report
//!    headers (Aho-Corasick prefilter over the raw bytes, then the
//!    `formats` table of header regexes written from the kernel's printk
//!    formats); [`lines`] strips console decorations and caller ids;
//!    `suppress` knows header-like lines that are not crashes.
//! 2. Cut it: `cut` decides where the report ends (next header, panic
//!    end, window end) and notes headers interleaved into its stack.
//! 3. Pick the frame: `trace` reads the stack sections; `frames` applies
//!    the format's frame rule with [`stack`]'s infrastructure lists
//!    (`skiplist`), `hang` for stalls and hung tasks, `leak` for memory
//!    leaks, `classes` for checker WARNINGs, `syscall` for syscall entry
//!    wrappers, `demangle` for Rust/C++ symbols.
//! 4. Make the title: `analyze` puts the report together; [`title`]
//!    normalises titles and maps them to crash types; `corrupt` decides
//!    corruption; `guilty` finds the guilty source file.
//!
//! Beside the pipeline, `identity` ([`identity_match`]) decides whether a
//! parsed report shows the crash a bisection is looking for; [`symbolize`]
//! turns a report's frames into `function file:line` (with `[inline]`
//! frames) given the bytes of a vmlinux with DWARF; [`disasm`] decodes the
//! `Code:` bytes with the trapping instruction marked (x86-64, arm64, arm).

mod analyze;
mod classes;
mod corrupt;
pub mod crash_stack;
mod cut;
mod demangle;
pub mod disasm;
mod formats;
mod frames;
mod guilty;
mod hang;
mod header;
mod identity;
mod leak;
pub mod lines;
mod scan;
mod skiplist;
pub mod stack;
mod suppress;
pub mod symbolize;
mod syscall;
pub mod title;
mod trace;

use serde::Serialize;

pub use identity::{identity_match, identity_match_target, Match, Target};

/// One crash report found in a console log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Normalised title, e.g. "general protection fault in io_uring_register".
    pub title: String,
    pub alt_titles: Vec<String>,
    /// Crash type in the corpus's names (e.g. "KASAN-USE-AFTER-FREE-READ").
    #[serde(rename = "type")]
    pub kind: String,
    /// The guilty function as the stack names it, if any. The title names
    /// it after its last " in ", without a syscall wrapper prefix
    /// (`__do_sys_foo` here, `foo` in the title).
    pub frame: Option<String>,
    pub corrupted: bool,
    /// Why the report is considered corrupted.
    pub corrupted_reason: Option<String>,
    pub suppressed: bool,
    pub panicked: bool,
    /// Byte offsets of the report in the log.
    pub start: usize,
    pub end: usize,
    /// The report text cut out of the log, preceded by up to five kernel
    /// console lines printed right before the header (context; `start`
    /// still points at the header).
    pub report: String,
    /// First non-infrastructure source file in the stack, if the report has file:line.
    pub guilty_file: Option<String>,
    /// Top frames for crash identity ([`identity_match`]): the title frame
    /// first, then the non-infrastructure frames below it, as function
    /// names in title form (no `.isra.N` suffixes, syscall wrappers
    /// stripped), at most eight.
    pub frames: Vec<String>,
}

/// Every crash report in the log, in order.
pub fn reports(log: &[u8]) -> impl Iterator<Item = Report> + '_ {
    scan::Reports::new(log)
}

/// The first crash report in the log.
pub fn parse(log: &[u8]) -> Option<Report> {
    reports(log).next()
}

/// The JSON object of the corpus scoring contract for one (or no) report:
/// title (null when none), type, corrupted, alt_titles, frame (the
/// title's: without syscall wrapper prefixes), suppressed,
/// panicked, report, guilty_file.
pub fn score_json(report: Option<&Report>) -> serde_json::Value {
    match report {
        Some(r) => serde_json::json!({
            "title": r.title,
            "type": r.kind,
            "corrupted": r.corrupted,
            "corrupted_reason": r.corrupted_reason,
            "alt_titles": r.alt_titles,
            "frame": r.frame.as_deref().map(syscall::strip_wrappers),
            "suppressed": r.suppressed,
            "panicked": r.panicked,
            "report": r.report,
            "guilty_file": r.guilty_file,
        }),
        None => serde_json::json!({
            "title": null,
            "type": null,
            "corrupted": false,
            "alt_titles": [],
            "frame": null,
            "suppressed": false,
            "panicked": false,
            "report": null,
            "guilty_file": null,
        }),
    }
}
