//! Picking the stack of a report and the frame that names the bug.

use crate::classes::Class;
use crate::formats::{Format, FrameRule};
use crate::lines::Line;
use crate::stack::{self, func_name, parse_frame, Frame};
use crate::trace::stack_from;
use regex::{Captures, Regex};
use std::sync::OnceLock;

struct Pats {
    lock_at: Regex,
    last_fn: Regex,
}

fn pats() -> &'static Pats {
    static P: OnceLock<Pats> = OnceLock::new();
    P.get_or_init(|| Pats {
        lock_at: Regex::new(r"(?:, at:|\) at:)(.*)$").unwrap(),
        last_fn: Regex::new(r"last function: ([^\s+]+)").unwrap(),
    })
}

/// Index of the first line at or after `from` matching `pred`.
fn find(lines: &[Line], from: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| pred(&l.text))
        .map(|(i, _)| i)
}

/// The frames relevant to the format's rule.
pub fn collect(lines: &[Line], fmt: &Format, _caps: &Captures) -> Vec<Frame> {
    match fmt.frame {
        FrameRule::LockAt => {
            let from =
                find(lines, 1, |t| t.trim_start().starts_with("stack backtrace:")).unwrap_or(1);
            stack_from(lines, from)
        }
        FrameRule::IrqSafe => {
            let from = find(lines, 1, |t| t.trim_end().ends_with("-irq-safe at:"))
                .or_else(|| find(lines, 1, |t| t.trim_start().starts_with("stack backtrace:")))
                .unwrap_or(1);
            stack_from(lines, from)
        }
        FrameRule::Hung => {
            let from =
                find(lines, 1, |t| t.trim().eq_ignore_ascii_case("call trace:")).unwrap_or(1);
            stack_from(lines, from)
        }
        FrameRule::Leak => {
            let from = find(lines, 1, |t| t.trim() == "backtrace:").unwrap_or(1);
            stack_from(lines, from)
        }
        _ if fmt.title.starts_with("WARNING in") => {
            stack_from(lines, own_cpu_line(lines).unwrap_or(1))
        }
        _ => stack_from(lines, after_page_owner(lines).unwrap_or(1)),
    }
}

/// dump_page() may print the page_owner allocation/free stacks before the
/// reporting task's own `Call Trace:`; those stacks are history, the
/// reporting task's stack names the bug.
fn after_page_owner(lines: &[Line]) -> Option<usize> {
    let owner = find(lines, 1, |t| {
        let t = t.trim_start();
        t.starts_with("page_owner tracks the page") || t.starts_with("page last allocated via")
    })?;
    let trace = find(lines, 1, |t| t.trim().eq_ignore_ascii_case("call trace:"))?;
    (trace > owner).then_some(trace)
}

/// Index of the `CPU: n PID: m` line of the WARNING header's task: its
/// stack follows; frames printed before it belong to someone else.
fn own_cpu_line(lines: &[Line]) -> Option<usize> {
    let (_, rest) = lines.first()?.text.split_once(" PID: ")?;
    let pid = rest.split(' ').next()?;
    lines.iter().enumerate().skip(1).find_map(|(i, l)| {
        let t = l.text.trim_start().strip_prefix("CPU: ")?;
        let (_, r) = t.split_once(" PID: ")?;
        (r.split(' ').next() == Some(pid)).then_some(i)
    })
}

/// Reliable frames only.
fn reliable(frames: &[Frame]) -> impl Iterator<Item = &Frame> {
    frames.iter().filter(|f| !f.unreliable)
}

/// The frame (function name) for the title, if any.
pub fn title_frame(
    lines: &[Line],
    fmt: &Format,
    caps: &Captures,
    frames: &[Frame],
    class: Option<Class>,
) -> Option<String> {
    // skbuff.h/skbuff.c helpers BUG_ON() their arguments: a kernel BUG
    // in them is the caller's misuse.
    let skb_helper = |f: &str| {
        fmt.title.starts_with("kernel BUG") && (f.starts_with("skb_") || f.starts_with("__skb_"))
    };
    let skip = |f: &str| stack::is_infra(f) || class.is_some_and(|c| c.skips(f)) || skb_helper(f);
    let header = caps
        .name("func")
        .map(|m| func_name(m.as_str()).to_string())
        .filter(|f| !f.is_empty() && !f.bytes().all(|b| b.is_ascii_hexdigit()));
    match fmt.frame {
        FrameRule::None => None,
        FrameRule::Stack => header
            .filter(|f| !skip(f) && !CALLER_HELPERS.contains(&f.as_str()))
            .or_else(|| first_good(frames, skip)),
        FrameRule::StackOnly | FrameRule::IrqSafe => first_good(frames, skip),
        FrameRule::LockAt => {
            let mut generic = None;
            for (i, l) in lines.iter().enumerate().skip(1).take(60) {
                let t = l.text.trim_start();
                if (t.starts_with('#') && !held_locks_listing(&lines[0].text))
                    || t.starts_with("other info that might help")
                    || t.starts_with("stack backtrace:")
                    || t.ends_with("state was registered at:")
                {
                    break;
                }
                if let Some(c) = pats().lock_at.captures(&l.text) {
                    let on_line = c[1].trim().to_string();
                    let text = if on_line.is_empty() {
                        lines.get(i + 1).map_or(String::new(), |n| n.text.clone())
                    } else {
                        on_line
                    };
                    if let Some(f) = parse_frame(&text) {
                        let name = f.func().to_string();
                        if !skip(&name) && !LOCK_AT_GENERIC.contains(&name.as_str()) {
                            return Some(name);
                        }
                        generic.get_or_insert(name);
                    }
                }
            }
            // Both lock sites are plumbing: the dependency chain's first
            // entry shows who took the lock, then the reporting stack; a
            // generic or infrastructure lock site still beats no frame.
            chain_frame(lines, |f| skip(f) || LOCK_AT_GENERIC.contains(&f))
                .or_else(|| first_good(frames, skip))
                .or(generic)
        }
        FrameRule::LastFunction => lines
            .iter()
            .take(5)
            .find_map(|l| pats().last_fn.captures(&l.text))
            .map(|c| func_name(&c[1]).to_string()),
        FrameRule::Hung => first_good(frames, |f| skip(f) || crate::hang::is_sched_infra(f)),
        FrameRule::Leak => first_good(frames, |f| skip(f) || crate::leak::is_alloc_infra(f)),
        FrameRule::Stall => crate::hang::stall_frame(lines),
    }
}

/// First reliable frame not rejected by `rejected`, with the usb-style
/// "caller/helper" titles for helpers that only warn about their callers.
pub fn first_good(frames: &[Frame], rejected: impl Fn(&str) -> bool) -> Option<String> {
    let mut it = reliable(frames).filter(|f| !rejected(f.func()));
    let first = it.next()?.func().to_string();
    if CALLER_HELPERS.contains(&first.as_str()) {
        if let Some(caller) = it.next() {
            return Some(format!("{}/{}", caller.func(), first));
        }
    }
    Some(first)
}

/// Lock sites that are generic plumbing (workqueue flush maps, console
/// semaphore, printk): the lockdep report is named after the other lock.
/// Workqueue functions take the lockdep maps of every work item they run
/// or flush, so deadlocks reported there are about the work item.
const LOCK_AT_GENERIC: &[&str] = &[
    "process_one_work",
    "flush_workqueue",
    "__flush_workqueue",
    "drain_workqueue",
    "destroy_workqueue",
    "flush_work",
    "__flush_work",
    "start_flush_work",
    "down_trylock",
    "vprintk_emit",
    "console_lock",
    "console_unlock",
];

/// Helpers whose warnings are about the caller, titled "caller/helper".
const CALLER_HELPERS: &[&str] = &["usb_submit_urb"];

/// Reports whose lock sites are in the `#N:` list of held locks (there is
/// no dependency chain to stop at).
fn held_locks_listing(header: &str) -> bool {
    header.contains("returning to user space") || header.contains("still has locks held")
}

/// First frame not `rejected` in the first entry of lockdep's dependency
/// chain ("-> #N (lock){...}:" followed by the stack that took the lock).
fn chain_frame(lines: &[Line], rejected: impl Fn(&str) -> bool) -> Option<String> {
    let from = find(lines, 1, |t| t.trim_start().starts_with("-> #"))?;
    let end = find(lines, from + 1, |t| {
        let t = t.trim_start();
        t.starts_with("-> #") || t.starts_with("other info that might help")
    })
    .unwrap_or(lines.len());
    first_good(&stack_from(&lines[..end], from + 1), rejected)
}

/// Most frames kept in [`crate::Report::frames`].
pub const TOP_FRAMES: usize = 8;

/// The report's top frames for crash identity: the title frame first,
/// then the reliable, non-infrastructure frames of the report's stack
/// below it (from the stack's top when the title frame is not in it),
/// in title form with syscall wrappers stripped, without repeats.
pub fn top_frames(
    frames: &[Frame],
    title: Option<&str>,
    raw_title: Option<&str>,
    class_skip: impl Fn(&str) -> bool,
) -> Vec<String> {
    let at = raw_title.and_then(|t| frames.iter().position(|f| !f.unreliable && f.func() == t));
    let mut out: Vec<String> = title.map(str::to_string).into_iter().collect();
    let below = frames
        .iter()
        .skip(at.map_or(0, |i| i + 1))
        .filter(|f| !f.unreliable && !stack::is_infra(f.func()) && !class_skip(f.func()))
        .map(|f| crate::syscall::strip_wrappers(f.func()));
    for f in below {
        if out.len() >= TOP_FRAMES {
            break;
        }
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}
