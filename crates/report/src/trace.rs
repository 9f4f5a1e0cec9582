//! Reading the stack sections of a report: frame lines in text order,
//! instruction-pointer lines (`RIP:`, `pc :`), and where a stack ends
//! (the next section of the report, or too many foreign lines).
//!
//! It never chooses a frame; `frames` does.

use crate::lines::Line;
use crate::stack::{parse_frame, Frame};
use regex::Regex;
use std::sync::OnceLock;

struct Pats {
    ip: Regex,
    neutral: Regex,
    end: Regex,
}

fn pats() -> &'static Pats {
    static P: OnceLock<Pats> = OnceLock::new();
    P.get_or_init(|| Pats {
        ip: Regex::new(r"^\s*(?:RIP: [0-9a-f]{4}:|pc\s*: |PC is at |epc\s*: |NIP \[[0-9a-f]+\] |IP: |EIP: (?:[0-9a-f]{4}:)?)(.*)$").unwrap(),
        neutral: Regex::new(concat!(
            r"^\s*(?:$|(?:[0-9a-f]{8,16}\s*)+$|[A-Z0-9]{2,3}: |[a-z0-9]{2,3}\s*: |(?:R|E)?FLAGS|Call [Tt]race:|<(?:/?IRQ|/?NMI|/?TASK|EOI|/?SOFTIRQ)>|Code: |Modules linked in|",
            r"Kernel panic|CPU: |Hardware name|Workqueue: |Comm: |Stack:|Exception stack|Backtrace:|Process |PC is at|LR is at|pc :|lr :|sp :|",
            r"x\d+ *: |psr|Flags:|Control:|Table:|DAC:|---\[ end Kernel panic|Dumping ftrace|Kernel Offset|Rebooting in|ORIG_|CR2: |",
            r"irq event stamp|hardirqs |softirqs |Showing|NMI backtrace|Sending NMI|INFO: NMI handler|\(ftrace buffer empty\)|",
            r"[A-Z]S:  ?[0-9a-f]+|DR[0-7]: |PKRU: |Tainted|BUG: |WARNING: |general protection|Oops|ODEBUG|.*\] [a-z]+: )"
        ))
        .unwrap(),
        end: Regex::new(r"^\s*(?:Allocated by task|Freed by task|The buggy address|Memory state around|Last potentially related|other info that might help|Uninit was (?:created|stored)|Local variable|Bytes \d+-\d+ of \d+|Byte \d+ of \d+|The buggy|Showing all locks|\d+ locks? held by|---\[ end trace|Reported by Kernel Concurrency|value changed:|read to|write to|Object |kfence-#|Dumping ftrace|Kernel Offset|Rebooting in|NMI backtrace for cpu|Sending NMI from)").unwrap(),
    })
}

/// Consecutive foreign lines tolerated inside a stack trace.
const MAX_JUNK: usize = 8;

/// Frame of an instruction-pointer line (`RIP: 0010:func+0x1/0x2`, `pc : ...`).
pub fn ip_frame(text: &str) -> Option<Frame> {
    let c = pats().ip.captures(text)?;
    parse_frame(&c[1])
}

/// Frames of the first stack of the report, starting at `from`, in text
/// order, until the stack section ends.
pub fn stack_from(lines: &[Line], from: usize) -> Vec<Frame> {
    let p = pats();
    let mut out = Vec::new();
    let mut in_trace = false;
    let mut junk = 0;
    let mut prev = "";
    for l in lines.iter().skip(from) {
        let t = l.text.as_str();
        let last = prev;
        prev = t;
        if let Some(f) = parse_frame(t) {
            if side_note(t, last) {
                continue;
            }
            in_trace = true;
            junk = 0;
            out.push(f);
            continue;
        }
        if let Some(mut f) = ip_frame(t) {
            f.from_ip = true;
            out.push(f);
            continue;
        }
        if p.end.is_match(t) {
            if in_trace {
                break;
            }
            continue;
        }
        if in_trace && !p.neutral.is_match(t) {
            // Tolerate a few lines interleaved from other CPUs or programs.
            junk += 1;
            if junk > MAX_JUNK {
                break;
            }
            continue;
        }
        junk = 0;
    }
    out
}

/// Frames quoted in side notes ("Preemption disabled at:", "hardirqs last
/// enabled at (N): func", lockdep "at: func") are not part of the stack.
pub fn side_note(t: &str, prev: &str) -> bool {
    prev.trim_end().ends_with(" at:")
        || t.contains(" at (")
        || t.contains(", at: ")
        || t.contains("last function:")
}
