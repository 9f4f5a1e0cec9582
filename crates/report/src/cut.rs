//! Where a report ends: at the next report's header (unless that header
//! belongs to this one: an oops inside a lockdep report, a stall's dump of
//! other CPUs), at the end of a panic, or at the window's end. Also notes
//! another report's header printed in the middle of this one's stack.

use crate::header::{match_line, next_nonempty, prefilter};
use crate::lines::Line;

/// Number of lines of the report starting at `lines[0]`.
pub fn report_len(lines: &[Line], group: usize, lockdep: bool) -> (usize, bool) {
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
        // lib/list_debug.c prints its message, then BUG()s or WARN()s
        // (CHECK_DATA_CORRUPTION): one report.
        || (is_list_check(header) && (t.starts_with("kernel BUG at") || t.starts_with("WARNING:")))
}

/// lib/list_debug.c's messages.
fn is_list_check(header: &str) -> bool {
    header.contains("list_add corruption")
        || header.contains("list_del corruption")
        || header.contains("list_add double add")
}
