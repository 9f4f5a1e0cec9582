//! Walking a log report by report: find the next header (`header`), cut
//! the report out of the lines after it (`cut`), hand it to `analyze`.
//!
//! Memory use is bounded by the size of one report window, never by the
//! size of the log.

use crate::analyze;
use crate::cut::report_len;
use crate::formats::Format;
use crate::header::{header_group, match_line, next_nonempty, next_nonempty_raw, prefilter};
use crate::lines::{clean, line_end, line_start, lines_from};
use crate::suppress;
use crate::Report;

/// Most lines a single report may span.
pub const MAX_REPORT_LINES: usize = 1500;
/// How far after a report start a kernel panic still counts as its end.
const PANIC_WINDOW: usize = 256 << 10;

/// Most bytes a single report may span.
pub const MAX_REPORT_BYTES: usize = 1 << 20;

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
            let hit = self.pos + prefilter().find(&log[self.pos..])?;
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
