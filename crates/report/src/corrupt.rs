//! Corruption detection: reports that are truncated, interleaved with
//! other output or missing the parts their format always has.

use crate::formats::{Format, FrameRule};
use crate::lines::Line;
use crate::stack::Frame;

/// A stack dump printed between a lockdep header and its backtrace.
pub const DUMP_INSIDE_LOCKDEP: &str = "another stack dump inside the lockdep report";

/// Why the report looks corrupted, if it does.
pub fn check(lines: &[Line], fmt: &Format, frames: &[Frame]) -> Option<String> {
    if fmt.always_corrupted {
        return Some("the report lacks lines its kind always has".to_string());
    }
    if fmt.needs_stack && matches!(fmt.frame, FrameRule::LockAt | FrameRule::IrqSafe) {
        // lockdep always ends with "stack backtrace:" and the task's stack.
        let Some(bt) = lines
            .iter()
            .position(|l| l.text.trim_start().starts_with("stack backtrace:"))
        else {
            let trace = lines
                .iter()
                .position(|l| l.text.trim_start().eq_ignore_ascii_case("call trace:"));
            // A bare call trace is the lockdep stack unless another oops
            // printed inside the report owns it.
            if let Some(tr) = trace {
                // With caller ids every kept line is the same task's.
                let same_task = lines[0].ctx.is_some();
                if same_task
                    || !lines
                        .get(1..tr)
                        .unwrap_or_default()
                        .iter()
                        .any(|l| crate::header::is_header(&l.text))
                {
                    return None;
                }
            }
            return Some("lockdep report without its stack backtrace".to_string());
        };
        if lines
            .get(1..bt)
            .unwrap_or_default()
            .iter()
            .any(|l| l.text.trim_start().starts_with("Call Trace:"))
        {
            return Some(DUMP_INSIDE_LOCKDEP.to_string());
        }
    }
    if fmt.needs_stack && !frames.iter().any(|f| !f.unreliable && !f.from_ip) {
        return Some("no stack trace in the report".to_string());
    }
    if fmt.needs_stack {
        if let Some(section) = empty_stack_section(lines) {
            return Some(format!("no frames after \"{section}\""));
        }
    }
    None
}

/// Lines after a stack section's title within which its first frame must
/// appear (room for `<IRQ>`/`<TASK>` markers and a register dump).
const SECTION_FRAMES_WITHIN: usize = 15;

/// A stack section title ("Call Trace:", KASAN's "Allocated by task N:"
/// and "Freed by task N:", kmemleak's "backtrace:") that no frame follows:
/// the report was cut there.
fn empty_stack_section(lines: &[Line]) -> Option<String> {
    for (i, l) in lines.iter().enumerate() {
        let t = l.text.trim();
        let section = t.eq_ignore_ascii_case("call trace:")
            || t == "backtrace:"
            || (t.starts_with("Allocated by task ") || t.starts_with("Freed by task "))
                && t.ends_with(':');
        if !section {
            continue;
        }
        let has_frame = lines
            .iter()
            .skip(i + 1)
            .take(SECTION_FRAMES_WITHIN)
            .any(|n| {
                // "? " frames count: the section was printed, only its
                // unwinding was unsure.
                crate::stack::parse_frame(&n.text).is_some()
                    || crate::trace::ip_frame(&n.text).is_some()
                    || n.text.contains("(stack is not available)")
            });
        if !has_frame {
            return Some(t.to_string());
        }
    }
    None
}

/// For `WARNING: CPU: n PID: m` reports: is the stack someone else's?
/// The task's own stack follows its `CPU: n PID: m Comm:` line; a
/// different PID there means interleaved output.
pub fn warning_stack_foreign(lines: &[Line]) -> Option<&'static str> {
    let header = &lines.first()?.text;
    let pid = header
        .split_once(" PID: ")
        .map(|(_, r)| r.split(' ').next().unwrap_or(""))
        .filter(|p| !p.is_empty())?;
    for l in &lines[1..] {
        let t = l.text.trim_start();
        if let Some(rest) = t.strip_prefix("CPU: ") {
            if let Some((_, r)) = rest.split_once(" PID: ") {
                if r.split(' ').next() != Some(pid) {
                    return Some("the stack belongs to another task");
                }
                return None;
            }
        }
    }
    None
}

/// For RCU stalls: a second stall header right after the first. One CPU
/// prints either a self-detected or an other-CPU stall per grace period,
/// so two headers in a row are two CPUs printing at once and the stack
/// that follows cannot be attributed.
pub fn stall_headers_interleaved(lines: &[Line]) -> bool {
    lines
        .iter()
        .skip(1)
        .filter(|l| !l.text.trim().is_empty())
        .take(2)
        .any(|l| l.text.contains("detected stall"))
}
