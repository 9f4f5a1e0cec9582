//! Frames of hang-like reports (RCU stalls, soft lockups, hung tasks),
//! where the top of the stack is a waiting primitive or the interrupt
//! that noticed the hang rather than the bug.
//!
//! A stall is named after a representative function: the callee of the
//! first generic dispatcher below the looping code (the file operation,
//! netlink handler, timer or work function) or the syscall itself.

use crate::lines::Line;
use crate::stack::{func_name, is_infra, Frame};
use crate::trace::{ip_frame, stack_from};
use regex::Regex;
use std::sync::OnceLock;

fn re(pats: &[&str]) -> Regex {
    Regex::new(&format!("^(?:{})$", pats.join("|"))).expect("hang regex")
}

fn sched_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(&[
            r"(?:__)?schedule(?:_timeout.*|_preempt_disabled|_hrtimeout.*|_idle)?",
            r"io_schedule.*",
            r"preempt_schedule.*",
            r"(?:__)?wait_for_completion.*",
            r"(?:__|do_)?wait_for_common.*",
            r"__wait_rcu_gp",
            r"wait_rcu_gp",
            r"(?:__)?(?:wait_on|out_of_line_wait_on)_(?:bit|page|buffer|inode).*",
            r"bit_wait.*",
            r"(?:folio|__folio|page)_wait.*",
            r"(?:__)?lock_(?:page|buffer|sock)(?:_nested)?",
            r"wait_woken",
            r"(?:prepare_to|finish)_wait.*",
            r"(?:__)?flush_work.*",
            r"rwsem_down.*",
            r"percpu_down_(?:read|write).*",
            r"__percpu_down.*",
            r"rt_mutex.*",
            r"__rt_mutex.*",
            r"wait_on_.*",
            r"do_nanosleep",
            r"hrtimer_nanosleep",
            r"freezer_.*",
            r"__refrigerator",
            r"try_to_freeze.*",
            r"(?:__)?down_.*",
            r"context_switch",
            r"call_rwsem_.*",
            // Waiting for writeback, including per-bdev callbacks of sync.
            r"\w*fdatawait\w*",
            r"_*filemap_fdatawrite.*",
            r"filemap_write_and_wait.*",
            r"rcu_barrier.*",
            r"console_(?:lock|trylock)",
            r"__switch_to.*",
            r"switch_to.*",
            r"ret_from_fork",
            r"__kthread_.*",
        ])
    })
}

/// Canonical name of a hang/stall frame: RCU grace-period waiters are
/// all "synchronize_rcu", cross-CPU calls "smp_call_function" (syscall
/// wrappers are normalised for every kind, in `syscall`).
pub fn canonical(f: &str) -> String {
    if f.starts_with("synchronize_rcu")
        || f.starts_with("synchronize_srcu")
        || f == "__synchronize_srcu"
        || f == "synchronize_sched"
    {
        return "synchronize_rcu".to_string();
    }
    if f.starts_with("smp_call_function") {
        return "smp_call_function".to_string();
    }
    f.to_string()
}

/// Waiting primitives at the top of a blocked task's stack.
pub fn is_sched_infra(f: &str) -> bool {
    sched_re().is_match(f)
}

fn stall_skip_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(&[
            r"rcu_.*",
            r"__rcu_.*",
            r"print_cpu_stall.*",
            r"print_other_cpu_stall.*",
            r"check_cpu_stall.*",
            r"nmi_.*",
            r"arch_trigger_.*",
            r"trigger_.*backtrace.*",
            r"(?:__)?hrtimer_.*",
            r"tick_.*",
            r"update_process_times",
            r"\w*apic_timer_interrupt\w*",
            r"(?:__)?do_softirq_own_stack",
            r"asm_call_.*",
            r"run_on_irqstack.*",
            r"call_on_stack",
            r"__sanitizer_cov_trace_.*",
            r"watchdog_timer_fn",
            r"csd_lock_wait",
            r"dump_cpu_task",
            r"sched_show_task.*",
            r"native_safe_halt",
            r"arch_cpu_idle",
            r"default_idle.*",
            r"cpu_relax",
            r"cpu_idle_poll",
            r"do_idle",
            r"lock_is_held_type_REMOVED",
        ])
    })
}

fn is_stall_skip(f: &str) -> bool {
    is_infra(f) && !KEEP_IN_STALL.contains(&f) || stall_skip_re().is_match(f)
}

/// Infrastructure functions that still name a stall when they loop.
const KEEP_IN_STALL: &[&str] = &["lock_is_held_type", "smp_call_function"];

/// Dispatchers: the stall is named after their callee.
fn dispatch_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(&[
            r"(?:__)?vfs_(?:write|read|writev|readv|ioctl|iter_write|iter_read)",
            r"do_vfs_ioctl",
            r"ksys_ioctl",
            r"(?:__x64_|__ia32_|__arm64_|__se_|__do_)?(?:compat_)?sys_(?:ioctl|read|write|writev|readv|pwrite64|pread64|sendmsg|sendto|recvmsg|recvfrom|connect|bind|setsockopt|getsockopt|mmap|close)",
            r"(?:SyS|sys|compat_SyS|compat_sys)_(?:ioctl|read|write|writev|readv|sendmsg|sendto|connect|setsockopt|getsockopt|mmap|close)",
            r"new_sync_(?:write|read)",
            r"do_iter_(?:readv_writev|write|read)",
            r"(?:__)?sock_(?:sendmsg|recvmsg)(?:_nosec)?",
            r"____sys_sendmsg",
            r"__sys_(?:connect|bind|setsockopt|getsockopt)",
            r"sock_common_(?:setsockopt|getsockopt|recvmsg)",
            r"rtnetlink_rcv_msg",
            r"nfnetlink_rcv_msg",
            r"nfnetlink_rcv_batch",
            r"call_timer_fn",
            r"expire_timers",
            r"__run_hrtimer",
            r"process_one_work",
            r"tasklet_action_common.*",
            r"__netif_receive_skb_(?:core|one_core|list_core)",
            r"__fput",
            r"task_work_run",
            r"\w+_compat_ioctl",
            r"__hrtimer_run_queues",
            r"vm_mmap_pgoff",
            r"mmap_region",
            r"do_mmap",
            r"proc_reg_write",
            r"full_proxy_write",
            r"do_dentry_open",
            r"(?:__)?handle_irq_event.*",
            r"smp_call_function_single",
            // Interrupt exit runs pending softirqs: what ran below it is
            // the softirq that stalled.
            r"(?:__)?irq_exit.*",
            // NAPI runs drivers' poll functions.
            r"(?:__)?napi_poll",
            r"net_rx_action",
        ])
    })
}

/// Syscall entry points: `__x64_sys_rmdir`, `SyS_rmdir`, ...
fn syscall_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?:(?:__x64_|__ia32_|__arm64_|__riscv_|__s390x_|__se_|__do_)+(?:compat_)?(sys_\w+)|(?:compat_)?(?:SyS|sys)_(\w+))$")
            .unwrap()
    })
}

/// Lines after the first register dump searched for the timer interrupt's entry.
const STALL_IRQ_SEARCH: usize = 60;

/// A reliable frame line of a timer interrupt's entry point (x86
/// `[asm_][sysvec_|smp_]apic_timer_interrupt`, arm64 `el1h_64_irq`) or
/// the arm `Exception stack` marker.
fn is_irq_entry(text: &str) -> bool {
    if text.trim_start().starts_with("Exception stack") {
        return true;
    }
    crate::stack::parse_frame(text).is_some_and(|f| {
        !f.unreliable
            && (f.func().contains("apic_timer_interrupt") || f.func().starts_with("el1h_64_irq"))
    })
}

/// The representative frame of a stall report.
pub fn stall_frame(all: &[Line]) -> Option<String> {
    let kept = without_gp_kthread_dumps(all);
    let lines = kept.as_slice();
    let boundary = lines
        .iter()
        .position(|l| ip_frame(&l.text).is_some())
        .or_else(|| {
            lines
                .iter()
                .position(|l| matches!(l.text.trim(), "</IRQ>" | "<EOI>"))
        });
    let from = boundary.unwrap_or(1);
    // The timer interrupt that ran the stall detector (or the timer
    // handler it was running when the NMI came) is not the stall: the
    // stalled code is what that interrupt interrupted, printed after the
    // interrupt entry frame.
    let from = lines
        .iter()
        .enumerate()
        .skip(1)
        .take(from + STALL_IRQ_SEARCH)
        .find(|(_, l)| is_irq_entry(&l.text))
        .map_or(from, |(i, _)| i + 1);
    let frames: Vec<Frame> = stack_from(lines, from)
        .into_iter()
        .filter(|f| !f.unreliable)
        .collect();
    let in_irq = lines.iter().any(|l| l.text.contains("<IRQ>"))
        || frames.iter().any(|f| f.func().contains("interrupt"));
    if boundary.is_none()
        && !in_irq
        && frames.first().is_some_and(|f| {
            let name = f.func();
            name.starts_with("sched_show_task") || name == "__schedule"
        })
    {
        // Without registers or an interrupt the stack is a task dump, not
        // a CPU caught running. sched_show_task() at its top means the
        // detector dumped itself (expedited GP waiter); __schedule() means
        // a preempted reader blocking the GP. Either way the stalled
        // code's stack is not in the report.
        return None;
    }
    // A CPU spinning on an IPI to the others is the stall wherever it is.
    if let Some(f) = frames
        .iter()
        .find(|f| f.func().starts_with("smp_call_function"))
    {
        return Some(f.func().to_string());
    }
    let mut prev: Option<String> = None;
    for f in &frames {
        let name = f.func();
        if dispatch_re().is_match(name) {
            if prev.is_some() {
                return prev;
            }
            continue;
        }
        if syscall_re().is_match(name) {
            return Some(name.to_string());
        }
        if name.starts_with("entry_SYSCALL") || name.starts_with("ret_from_fork") {
            break;
        }
        if !is_stall_skip(name) {
            prev = Some(func_name(name).to_string());
        }
    }
    frames
        .iter()
        .map(|f| f.func())
        .find(|f| !is_stall_skip(f))
        .map(str::to_string)
}

/// The report's lines minus the grace-period kthread diagnostics
/// (kernel/rcu/tree_stall.h prints them when the kthread is starved):
/// "RCU grace-period kthread stack dump:" and "Stack dump where RCU GP
/// kthread last ran:" show the kthread and its CPU, not the stalled code.
fn without_gp_kthread_dumps(lines: &[Line]) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    let mut skipping = false;
    for l in lines {
        let t = l.text.trim();
        if t.ends_with("RCU grace-period kthread stack dump:")
            || t.ends_with("Stack dump where RCU GP kthread last ran:")
        {
            skipping = true;
            continue;
        }
        if skipping {
            if t.starts_with("NMI backtrace for cpu") || t.starts_with("Sending NMI") {
                skipping = false;
            } else {
                let last = t == "</TASK>"
                    || crate::stack::parse_frame(t)
                        .is_some_and(|f| !f.unreliable && f.func().starts_with("ret_from_fork"));
                if last {
                    skipping = false;
                }
                continue;
            }
        }
        out.push(l.clone());
    }
    out
}
