//! The crash's own stack, for looking its code up in the source: the
//! reliable frames of the report's first stack (the instruction-pointer
//! line and the call trace, in text order) without infrastructure and
//! entry boilerplate, and the `file:line` the report states for them.
//!
//! Unlike the title's frame (one function, chosen by the report kind's
//! rule), this keeps every frame worth a look, syscall wrappers included:
//! a caller maps them to their definitions.

use crate::{lines, stack, Report};

/// A C identifier: the only names worth (and safe) to look up.
pub fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Entry, interrupt and thread-start frames that sit at the bottom of every
/// stack; `stack::is_infra` does not cover them all.
const BOILERPLATE: &str = "\
    do_syscall_64 do_syscall_x64 x64_sys_call do_syscall_32_irqs_on do_fast_syscall_32 \
    __do_fast_syscall_32 do_int80_syscall_32 __do_sys_ni_syscall \
    syscall_enter_from_user_mode syscall_exit_to_user_mode exit_to_user_mode_prepare \
    exit_to_user_mode_loop kthread worker_thread process_one_work \
    process_scheduled_works smpboot_thread_fn common_interrupt __do_softirq \
    handle_softirqs do_softirq invoke_softirq run_ksoftirqd irq_exit_rcu __irq_exit_rcu \
    invoke_syscall __invoke_syscall el0_svc_common do_el0_svc start_kernel rest_init \
    kernel_init cpu_startup_entry do_idle secondary_startup_64";

/// Prefixes of the same kind of frames.
const BOILERPLATE_PREFIXES: &str = "\
    entry_SYSCALL entry_SYSENTER entry_INT80 ret_from_fork asm_ sysvec_ __sysvec_ exc_ \
    irqentry_ el0t_ el1h_ el0_ el1_ secondary_startup x86_64_start_";

/// Lines after which the text is no longer the crash stack (allocation
/// stacks of KASAN, the tail of an oops, lock dumps).
const STACK_END: &[&str] = &[
    "Allocated by task",
    "Freed by task",
    "Last potentially related",
    "The buggy address",
    "Memory state around",
    "---[ end trace",
    "Kernel panic",
    "Showing all locks",
    "other info that might help",
    "Uninit was created",
    "Uninit was stored",
    "Local variable",
];

fn is_boilerplate(f: &str) -> bool {
    BOILERPLATE.split_whitespace().any(|b| b == f)
        || BOILERPLATE_PREFIXES
            .split_whitespace()
            .any(|p| f.starts_with(p))
}

/// The function of an instruction-pointer line (`RIP: 0010:f+0x1/0x2`,
/// `pc : f+0x1/0x2`, `IP: f+0x1/0x2`), if the line is one.
fn ip_function(text: &str) -> Option<stack::Frame> {
    let t = text.trim_start();
    let rest = if let Some(r) = t.strip_prefix("RIP: ").or_else(|| t.strip_prefix("EIP: ")) {
        // `0010:` code segment.
        r.split_once(':')?.1
    } else {
        ["pc : ", "IP: ", "PC is at ", "epc : "]
            .iter()
            .find_map(|p| t.strip_prefix(p))?
    };
    stack::parse_frame(rest)
}

/// The reliable, non-infrastructure frames of the report's first stack
/// (the instruction-pointer line and the call trace, in text order).
fn crash_frames(report: &Report) -> Vec<stack::Frame> {
    let mut out = Vec::new();
    let mut in_stack = false;
    for raw in report.report.lines() {
        let text = lines::clean(raw.as_bytes());
        let t = text.trim_start();
        if in_stack && STACK_END.iter().any(|m| t.starts_with(m)) {
            break;
        }
        let Some(frame) = ip_function(&text).or_else(|| stack::parse_frame(&text)) else {
            continue;
        };
        in_stack = true;
        let f = frame.func();
        if !(frame.unreliable || stack::is_infra(f) || is_boilerplate(f)) && is_ident(f) {
            out.push(frame);
        }
    }
    out
}

/// The functions of a crash report worth looking up: the report's own
/// `frame` first, then the reliable frames of its first stack (the
/// instruction-pointer line and the call trace, in order), skipping
/// infrastructure and entry boilerplate; de-duplicated, at most `max` in all.
pub fn stack_functions(report: &Report, max: usize) -> Vec<String> {
    let frames = crash_frames(report);
    let title = report.frame.as_deref().map(stack::func_name);
    let mut out: Vec<String> = Vec::new();
    for f in title.into_iter().chain(frames.iter().map(|f| f.func())) {
        if out.len() < max && is_ident(f) && !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    }
    out
}

/// The (function, file) pairs the report states itself: frames of
/// `functions` annotated with a `*.c` `file:line` (syzkaller-style
/// reports). Those need no `git grep`; pass only the rest to
/// `culprit_kernel::symbols::defining_files`.
pub fn report_files(report: &Report, functions: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for frame in crash_frames(report) {
        let Some(file) = frame.file.as_ref().filter(|f| f.ends_with(".c")) else {
            continue;
        };
        let func = frame.func();
        if functions.iter().any(|f| f == func) {
            let pair = (func.to_string(), file.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}
