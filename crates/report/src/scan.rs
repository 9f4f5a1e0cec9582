//! Finding report starts in a log: a literal prefilter (Aho-Corasick over
//! the raw bytes) so that benign lines cost almost nothing, then the
//! format regexes on the few candidate lines.
//!
//! Memory use is bounded by the size of one report window, never by the
//! size of the log.

use crate::analyze;
use crate::formats::{formats, keys, Format};
use crate::lines::{clean, line_end, line_start, lines_from, Line};
use crate::suppress;
use crate::Report;
use aho_corasick::AhoCorasick;
use regex::Captures;
use std::sync::OnceLock;

/// Most lines a single report may span.
pub const MAX_REPORT_LINES: usize = 1500;
/// How far after a report start a kernel panic still counts as its end.
const PANIC_WINDOW: usize = 256 << 10;

/// Most bytes a single report may span.
pub const MAX_REPORT_BYTES: usize = 1 << 20;

fn prefilter() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| AhoCorasick::new(keys()).expect("prefilter"))
}

/// The format matching a decoration-free line, with its captures.
/// `next` is the following line (for formats that need it).
pub fn match_line<'t>(
    text: &'t str,
    next: Option<&str>,
    primary_only: bool,
) -> Option<(&'static Format, Captures<'t>)> {
    if !prefilter().is_match(text) {
        return None;
    }
    for f in formats() {
        if primary_only && f.secondary {
            continue;
        }
        if !text.contains(f.key) {
            continue;
        }
        let Some(c) = f.header.captures(text) else {
            continue;
        };
        if f.needs_access && access_in(next.unwrap_or("")).is_none() {
            continue;
        }
        if f.needs_blocked
            && !next.is_some_and(|n| {
                n.lines()
                    .next()
                    .is_some_and(|l| l.contains("blocked for more than"))
            })
        {
            continue;
        }
        if suppress::ignored_header(text) {
            return None;
        }
        return Some((f, c));
    }
    None
}

/// Iterator over the reports of a log.
pub struct Reports<'a> {
    log: &'a [u8],
    pos: usize,
    found: usize,
}

impl<'a> Reports<'a> {
    pub fn new(log: &'a [u8]) -> Self {
        Reports {
            log,
            pos: 0,
            found: 0,
        }
    }

    /// Next report start at or after `self.pos`: (line start, format).
    fn next_start(&mut self) -> Option<(usize, usize, &'static Format)> {
        let log = self.log;
        while self.pos < log.len() {
            let m = prefilter().find(&log[self.pos..])?;
            let hit = self.pos + m.start();
            let ls = line_start(log, hit);
            let le = line_end(log, hit);
            let text = clean(&log[ls..le]);
            let next = next_nonempty_raw(log, le, &text);
            if let Some((f, _)) = match_line(&text, next.as_deref(), false) {
                let ok = (!f.secondary || self.found == 0)
                    && (f.title != "unexpected kernel reboot" || prior_activity(log, ls));
                if ok {
                    return Some((ls, le, f));
                }
            }
            self.pos = le.max(hit + 1);
        }
        None
    }
}

/// Is there kernel or program output before the boot banner at `pos`?
fn prior_activity(log: &[u8], pos: usize) -> bool {
    let from = pos.saturating_sub(64 << 10);
    let before = &log[from..pos];
    before
        .split(|&b| b == b'\n')
        .any(|l| l.starts_with(b"[") && clean(l).len() + 4 < l.len() || is_program_line(l))
}

fn is_program_line(l: &[u8]) -> bool {
    let name_len = l
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$')
        .count();
    name_len > 1 && l.get(name_len) == Some(&b'(') && l.ends_with(b")")
}

impl Iterator for Reports<'_> {
    type Item = Report;

    fn next(&mut self) -> Option<Report> {
        loop {
            let (ls, le, _) = self.next_start()?;
            if let Some(mut rep) = self.build_at(ls) {
                let log = self.log;
                let near = rep.start.saturating_sub(suppress::AROUND)
                    ..rep.end.saturating_add(suppress::AROUND).min(log.len());
                rep.suppressed = suppress::log_suppressed(&log[near]);
                self.found += 1;
                self.pos = rep.end.max(le);
                return Some(rep);
            }
            self.pos = le;
        }
    }
}

impl Reports<'_> {
    /// The report whose header line starts at `ls`, reading only as many
    /// lines as it needs (a few dozen for a header followed by another).
    fn build_at(&self, ls: usize) -> Option<Report> {
        let log = self.log;
        let window = &log[..(ls + MAX_REPORT_BYTES).min(log.len())];
        let mut want = 24;
        loop {
            let raw = lines_from(window, ls, want);
            let complete = raw.len() < want || want >= MAX_REPORT_LINES;
            let text0 = raw.first()?.text.clone();
            let group = header_group(&raw);
            let header_next = next_nonempty(&raw, group);
            let (fmt, caps) = match_line(&text0, header_next.as_deref(), false)?;
            // Read the head separately so the answer does not depend on
            // how many lines this pass happened to read. Hung-task and
            // lockdep titles come from deep in the stack, so for them a
            // dump anywhere in a long stack counts ("? " frames are not
            // counted); other titles come from its top.
            let deep = matches!(
                fmt.frame,
                crate::formats::FrameRule::Hung | crate::formats::FrameRule::LockAt
            );
            let raw_head: Vec<String> = lines_from(window, ls, FOREIGN_AFTER * 4)
                .into_iter()
                .map(|l| l.text)
                .filter(|t| !deep || !t.trim_start().starts_with("? "))
                .take(FOREIGN_AFTER)
                .collect();
            let mut lines = raw;
            if fmt.frame != crate::formats::FrameRule::Stall {
                if let Some(ctx) = lines[0].ctx.clone() {
                    // Interleaved output of other tasks/CPUs is not part of
                    // it. Lines without a caller id in such a log are not
                    // kernel console output (program output, other logs).
                    lines.retain(|l| l.ctx.as_deref() == Some(ctx.as_str()));
                }
            }
            if lines[0].stamped {
                // Untimestamped lines in a timestamped console are other
                // programs' output interleaved with the kernel's.
                lines.retain(|l| l.stamped || l.text.trim().is_empty());
            }
            let lockdep = matches!(
                fmt.frame,
                crate::formats::FrameRule::LockAt
                    | crate::formats::FrameRule::IrqSafe
                    | crate::formats::FrameRule::Stall
            );
            let (cut, interleaved) = report_len(&lines, group, lockdep);
            let cut = cut.max(1);
            // The end must be followed by a few lines of lookahead, else
            // read more (a header split over lines needs them).
            if !complete && cut + 4 > lines.len() {
                want = (want * 4).min(MAX_REPORT_LINES);
                continue;
            }
            let panic_window = &log[ls..(ls + PANIC_WINDOW).min(log.len())];
            let panicked = memchr::memmem::find(panic_window, b"Kernel panic - not syncing")
                .is_some()
                || memchr::memmem::find(panic_window, b"---[ end Kernel panic").is_some();
            lines.truncate(cut);
            let foreign = foreign_dump_nearby(log, ls, &raw_head);
            let mut rep = analyze::build(log, &lines, fmt, &caps, panicked, foreign);
            if interleaved && !rep.corrupted {
                rep.corrupted = true;
                rep.corrupted_reason = Some("another report's header inside the stack".into());
            }
            return Some(rep);
        }
    }
}

/// Lines after / before a header searched for a foreign stack dump.
const FOREIGN_AFTER: usize = 40;
const FOREIGN_BEFORE: usize = 10;

/// A fault-injection stack dump printed right around the header: its
/// stack interleaves with the report's own (another task prints it).
fn foreign_dump_nearby(log: &[u8], ls: usize, head: &[String]) -> bool {
    const MARK: &str = "FAULT_INJECTION: forcing a failure";
    if head.iter().skip(1).any(|t| t.contains(MARK)) {
        return true;
    }
    let mut pos = ls;
    for _ in 0..FOREIGN_BEFORE {
        if pos == 0 {
            break;
        }
        let start = line_start(log, pos - 1);
        if clean(&log[start..pos]).contains(MARK) {
            return true;
        }
        pos = start;
    }
    false
}

/// Number of lines of the report starting at `lines[0]`.
fn report_len(lines: &[Line], group: usize, lockdep: bool) -> (usize, bool) {
    let mut seen_frames = false;
    let mut interleaved = false;
    for (i, l) in lines.iter().enumerate().skip(group.max(1)) {
        let t = l.text.trim_start();
        if t.starts_with("Rebooting in") || t.starts_with("---[ end Kernel panic") {
            return (i + 1, interleaved);
        }
        if t.is_empty() {
            continue;
        }
        let candidate = prefilter().is_match(&l.text);
        let next = if candidate {
            next_nonempty(lines, i + 1)
        } else {
            None
        };
        if let Some((f, _)) = candidate
            .then(|| match_line(&l.text, next.as_deref(), true))
            .flatten()
        {
            // An oops inside a lockdep report before its stack belongs to it.
            let early = !seen_frames && (f.trap || lockdep);
            // A header printed in the middle of our call trace (the stack
            // goes on right after it) is another CPU's output.
            let inside_stack = seen_frames
                && lines
                    .get(i + 1)
                    .is_some_and(|n| crate::stack::parse_frame(&n.text).is_some());
            if f.weak {
                continue;
            }
            if inside_stack {
                interleaved = true;
                continue;
            }
            if !continues(&lines[0].text, t) && !early && !f.weak {
                return (i, interleaved);
            }
        }
        if !seen_frames && crate::stack::parse_frame(t).is_some() {
            seen_frames = true;
        }
    }
    (lines.len(), interleaved)
}

/// Lines that look like a new report but belong to the current one.
fn continues(header: &str, t: &str) -> bool {
    // A stall report dumps other CPUs' state, including their own stall
    // lines; lockdep prints "BUG:"-free sub-headers.
    (header.contains("detected stall") && t.contains("detected stall"))
        // A Rust panic message is followed by the BUG() it ends in.
        || (header.starts_with("attempt to ") && t.starts_with("kernel BUG at"))
}

/// Up to three following non-empty lines (from index `from`), joined.
pub fn next_nonempty(lines: &[Line], from: usize) -> Option<String> {
    let v: Vec<&str> = lines
        .iter()
        .skip(from)
        .take(8)
        .map(|l| l.text.as_str())
        .filter(|t| !t.trim().is_empty())
        .take(3)
        .collect();
    (!v.is_empty()).then(|| v.join("\n"))
}

/// " Read" / " Write" from a KASAN access line among `next` lines,
/// looking past foreign lines but not past another crash header.
pub fn access_in(next: &str) -> Option<&'static str> {
    for t in next.lines() {
        let t = t.trim_start();
        if t.starts_with("Read of size") || t.starts_with("Read at addr") {
            return Some(" Read");
        }
        if t.starts_with("Write of size") || t.starts_with("Write at addr") {
            return Some(" Write");
        }
        if is_header(t) {
            return None;
        }
    }
    None
}

/// Does the line start some crash report?
pub fn is_header(t: &str) -> bool {
    prefilter().is_match(t)
        && formats()
            .iter()
            .any(|f| t.contains(f.key) && f.header.is_match(t) && !suppress::ignored_header(t))
}

/// Like [`next_nonempty`] on raw bytes starting at `pos`, skipping
/// repetitions of the header (symbolized inline frames).
fn next_nonempty_raw(log: &[u8], mut pos: usize, header: &str) -> Option<String> {
    let st = stem(header);
    let mut out: Vec<String> = Vec::new();
    for _ in 0..12 {
        if pos >= log.len() || out.len() == 3 {
            break;
        }
        let end = line_end(log, pos);
        let t = clean(&log[pos..end]);
        let repeat = out.is_empty() && st.is_some_and(|st| t.starts_with(st));
        if !t.trim().is_empty() && !repeat {
            out.push(t.into_owned());
        }
        pos = end;
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// The part of a header line that symbolized reports repeat for every
/// inlined frame ("BUG: KASAN: use-after-free in ").
fn stem(header: &str) -> Option<&str> {
    let i = [" in ", " at "]
        .iter()
        .filter_map(|p| header.find(p).map(|i| i + p.len()))
        .min()?;
    (i >= 10).then(|| &header[..i])
}

/// Number of lines forming the header: the header plus its repetitions.
pub fn header_group(lines: &[Line]) -> usize {
    let Some(st) = lines.first().and_then(|l| stem(&l.text)) else {
        return 1;
    };
    let mut n = 1;
    while n < 8 && lines.get(n).is_some_and(|l| l.text.starts_with(st)) {
        n += 1;
    }
    n
}
