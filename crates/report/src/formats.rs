//! The table of crash formats: which console line starts a report and how
//! its title is built. Written from the kernel's printk formats
//! (mm/kasan/report.c, kernel/panic.c, kernel/locking/lockdep.c,
//! arch/x86/kernel/dumpstack.c, kernel/hung_task.c, kernel/rcu/tree_stall.h,
//! kernel/watchdog.c, lib/ubsan.c, mm/kfence/report.c, mm/kmemleak.c, ...).

use regex::Regex;
use std::sync::OnceLock;

/// Where the frame of a title comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRule {
    /// The title has no frame.
    None,
    /// The `func` capture of the header (if any), then the frames of the
    /// first stack in the report (RIP/pc lines included) in text order.
    Stack,
    /// Like `Stack` but the header function is ignored.
    StackOnly,
    /// The first `, at: func` line (lockdep), then the stack.
    LockAt,
    /// Lock-order inversions: the stack where the lock became irq-safe.
    IrqSafe,
    /// The `last function: func` line (workqueue).
    LastFunction,
    /// Stall reports: the interrupted code (RIP/stack), skipping more.
    Stall,
    /// The blocked task's stack (hung tasks).
    Hung,
    /// Memory leaks: the allocation backtrace.
    Leak,
}

/// One crash format.
pub struct Format {
    /// Literal that must be in the line (prefilter key).
    pub key: &'static str,
    /// Regex matched against the decoration-free line.
    pub header: Regex,
    /// Title template: `$name` captures, `{access}` (" Read"/" Write" from
    /// the next line), `{frame}`.
    pub title: &'static str,
    pub frame: FrameRule,
    /// The title needs the access line right after the header.
    pub needs_access: bool,
    /// The header is split: the next line carries "blocked for more than".
    pub needs_blocked: bool,
    /// Only a report when it does not follow another report (panics).
    pub secondary: bool,
    /// A trap line that follows the real header of the same oops
    /// (e.g. "invalid opcode" after "kernel BUG at").
    pub trap: bool,
    /// Expected to carry a stack trace; its absence means corruption.
    pub needs_stack: bool,
    /// A one-line message that may appear inside other reports.
    pub weak: bool,
    /// A fallback format: matching it means the report is damaged.
    pub always_corrupted: bool,
    /// Corrupted reports of this format carry no frame in the title.
    pub frameless_if_corrupted: bool,
}

struct Spec(
    &'static str,
    &'static str,
    &'static str,
    FrameRule,
    u8, // flags: 1 needs_frame, 2 needs_access, 4 secondary, 8 needs_stack
);

const F: u8 = 1; // the title names a frame (documentation only)
const A: u8 = 2; // needs access line
const S: u8 = 4; // secondary
const T: u8 = 8; // needs stack
const N: u8 = 64; // the next line must say "blocked for more than"
const C: u8 = 16; // always corrupted
const W: u8 = 128; // a one-line message that does not end other reports
const D: u8 = 32; // no frame in the title when corrupted
const FT: u8 = F | T;

use FrameRule::*;

const FN: &str = r"(?P<func>[A-Za-z_<][^\s+()]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?";

#[rustfmt::skip]
fn specs() -> Vec<Spec> {
    vec![
        // KASAN
        Spec("KASAN:", r"BUG: KASAN: (?P<bug>double-free or invalid-free|double-free|invalid-free) in FN", "KASAN: invalid-free in {frame}", Stack, FT),
        Spec("KASAN:", r"BUG: KASAN: (?P<bug>[a-z-]+) in FN", "KASAN: $bug{access} in {frame}", Stack, FT | A),
        Spec("KASAN:", r"BUG: KASAN: (?P<bug>[a-z-]+) on address", "KASAN: $bug{access}", None, A | T),
        Spec("KASAN:", r"BUG: KASAN: (?P<bug>double-free or invalid-free|[a-z-]+) in FN\s*$", "KASAN: $bug in {frame}", Stack, FT | C),
        Spec("KASAN:", r"BUG: KASAN: (?P<all>.*)", "KASAN: $all", None, C),
        // other sanitizers
        Spec("KMSAN:", r"BUG: KMSAN: (?P<bug>[a-z -]+) in FN", "KMSAN: $bug in {frame}", Stack, FT),
        Spec("KMSAN:", r"BUG: KMSAN: (?P<all>.*)", "KMSAN: $all", None, 0),
        Spec("KCSAN:", r"BUG: KCSAN: (?P<all>[a-z-]+(?:: race)? in \S+(?: / \S+)?)", "KCSAN: $all", None, 0),
        Spec("KCSAN:", r"BUG: KCSAN: (?P<all>.*)", "KCSAN: $all", None, 0),
        Spec("KFENCE:", r"BUG: KFENCE: (?P<bug>[a-z -]+?) in FN", "KFENCE: $bug in {frame}", Stack, FT),
        Spec("UBSAN:", r"UBSAN: Undefined behaviour in", "UBSAN: undefined-behaviour in {frame}", StackOnly, FT),
        Spec("UBSAN:", r"UBSAN: (?P<bug>[a-z-]+) in", "UBSAN: $bug in {frame}", StackOnly, FT),
        // faults
        Spec("general protection fault", r"general protection fault(?:[:,]| for )", "general protection fault in {frame}", StackOnly, FT),
        Spec("BUG: unable to handle", r"BUG: unable to handle (?:kernel )?page fault for address", "BUG: unable to handle kernel paging request in {frame}", StackOnly, FT),
        Spec("BUG: unable to handle", r"BUG: unable to handle kernel (?P<what>paging request|NULL pointer dereference)", "BUG: unable to handle kernel $what in {frame}", StackOnly, FT),
        Spec("BUG: unable to handle", r"BUG: unable to handle kernel", "BUG: unable to handle kernel", None, T | C),
        Spec("BUG: kernel NULL pointer", r"BUG: kernel NULL pointer dereference", "BUG: unable to handle kernel NULL pointer dereference in {frame}", StackOnly, FT),
        Spec("Unable to handle kernel", r"Unable to handle kernel (?P<what>paging request|NULL pointer dereference|access to user memory)", "BUG: unable to handle kernel $what in {frame}", StackOnly, FT),
        // arm64 die_kernel_fault() with another fault kind (write to
        // read-only memory, execute from non-executable memory, ...).
        Spec("Unable to handle kernel", r"^Unable to handle kernel (?P<all>.*)", "Unable to handle kernel $all", None, 0),
        Spec("kernel BUG", r"kernel BUG at", "kernel BUG in {frame}", StackOnly, FT),
        Spec("kernel BUG", r"^kernel BUG$", "kernel BUG in {frame}", StackOnly, FT),
        Spec("divide error:", r"divide error: ", "divide error in {frame}", StackOnly, FT),
        Spec("invalid opcode:", r"invalid opcode: ", "invalid opcode in {frame}", StackOnly, FT),
        Spec("int3:", r"(?:^|Oops: )int3: ", "int3 in {frame}", StackOnly, FT),
        Spec("stack segment:", r"stack segment: ", "stack segment fault in {frame}", StackOnly, FT),
        Spec("double fault", r"PANIC: double fault", "PANIC: double fault in {frame}", StackOnly, FT),
        Spec("stack guard page was hit", r"BUG: (?:\w+ )?stack guard page was hit", "BUG: stack guard page was hit in {frame}", Stall, FT),
        Spec("kernel stack overflow", r"kernel stack overflow", "kernel stack overflow in {frame}", StackOnly, FT),
        Spec("Internal error:", r"Internal error: ", "Internal error in {frame}", StackOnly, FT),
        Spec("Unhandled fault:", r"Unhandled fault: ", "Unhandled fault in {frame}", StackOnly, FT),
        // WARNING family
        Spec("WARNING:", r"WARNING: (?:CPU: \d+ PID: \d+.*? )?at \S+ FN", "WARNING in {frame}", Stack, FT),
        Spec("WARNING:", r"WARNING: \S+:\d+ at FN, CPU#", "WARNING in {frame}", Stack, FT),
        Spec("WARNING:", r"WARNING: \S+:\d+ at ", "WARNING in {frame}", StackOnly, FT),
        Spec("WARNING:", r"WARNING: (?:CPU: \d+ PID: \d+.*? )?at \S+", "WARNING in {frame}", StackOnly, FT),
        // The header cut after its task (the rest of the line went to
        // another CPU's output): still a WARNING named from its stack.
        Spec("WARNING:", r"WARNING: CPU: \d+ PID: \d+", "WARNING in {frame}", StackOnly, FT),
        Spec("WARNING:", r"WARNING: possible (?:circular|recursive|irq lock inversion) ", "possible deadlock in {frame}", LockAt, FT),
        Spec("WARNING:", r"WARNING: [A-Z]+-(?:safe|irq-safe) -> [A-Z]+-(?:unsafe|irq-unsafe) lock order detected", "possible deadlock in {frame}", IrqSafe, FT),
        Spec("WARNING:", r"WARNING: inconsistent lock state", "inconsistent lock state in {frame}", LockAt, FT),
        Spec("WARNING:", r"WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {frame}", LockAt, FT | D),
        Spec("WARNING:", r"WARNING: [Nn]ested lock was not taken", "WARNING: nested lock was not taken in {frame}", LockAt, FT),
        Spec("WARNING:", r"WARNING: (?P<what>lock held when returning to user space)", "WARNING: $what in {frame}", LockAt, F),
        Spec("WARNING:", r"WARNING: (?P<what>bad unlock balance|held lock freed|nested lock was not taken)", "WARNING: $what in {frame}", LockAt, FT),
        // lockdep's print_held_locks_bug(): "%s/%d still has locks held!".
        Spec("still has locks held", r"(?P<pfx>BUG|WARNING): .*still has locks held!", "$pfx: still has locks held in {frame}", LockAt, F),
        Spec("WARNING:", r"WARNING: kernel stack regs .* has bad 'bp' value", "WARNING: kernel stack regs has bad 'bp' value", None, 0),
        Spec("WARNING:", r"WARNING: kernel stack frame pointer .* has bad value", "WARNING: kernel stack frame pointer has bad value", None, 0),
        Spec("WARNING:", r"^(?:[\w.-]+ [\w.:-]+: )?WARNING: (?P<all>[^:]+!)$", "WARNING: $all", None, 0),
        // lockdep, old style and BUG: variants
        Spec("INFO: possible", r"INFO: possible (?:circular|recursive|irq lock inversion) ", "possible deadlock in {frame}", LockAt, FT),
        Spec("INFO: ", r"INFO: [A-Z]+-(?:safe|irq-safe) -> [A-Z]+-(?:unsafe|irq-unsafe) lock order detected", "possible deadlock in {frame}", IrqSafe, FT),
        Spec("INFO: inconsistent lock state", r"INFO: inconsistent lock state", "inconsistent lock state in {frame}", LockAt, FT),
        Spec("INFO: suspicious RCU usage", r"INFO: suspicious RCU usage", "INFO: suspicious RCU usage in {frame}", LockAt, FT | D),
        Spec("BUG: ", r"BUG: (?P<what>bad unlock balance|held lock freed|lock held when returning to user space)", "BUG: $what in {frame}", LockAt, FT),
        Spec("INFO: trying to register non-static key", r"INFO: trying to register non-static key", "INFO: trying to register non-static key in {frame}", StackOnly, F),
        Spec("BUG: spinlock", r"BUG: spinlock (?P<what>[a-z ]+?) on CPU", "BUG: spinlock $what in {frame}", StackOnly, F),
        Spec("BUG: rwlock", r"BUG: rwlock (?P<what>[a-z ]+?) on CPU", "BUG: rwlock $what in {frame}", StackOnly, F),
        Spec("BUG: using ", r"BUG: using (?P<what>\S+) in preemptible", "BUG: using $what in preemptible code in {frame}", StackOnly, F),
        Spec("BUG: sleeping function", r"BUG: sleeping function called from invalid context", "BUG: sleeping function called from invalid context in {frame}", StackOnly, F),
        Spec("BUG: scheduling while atomic", r"BUG: scheduling while atomic", "BUG: scheduling while atomic in {frame}", StackOnly, F),
        Spec("BUG: workqueue leaked lock", r"BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in {frame}", LastFunction, F),
        Spec("BUG: Invalid wait context", r"BUG: Invalid wait context", "WARNING: locking bug in {frame}", LockAt, F),
        Spec("BUG: Unable to handle kernel", r"BUG: Unable to handle kernel (?:data access|instruction fetch)", "BUG: unable to handle kernel paging request in {frame}", StackOnly, FT),
        Spec("BUG: MAX_", r"BUG: (?P<what>MAX_[A-Z_]+ too low!)", "BUG: $what", None, 0),
        // hangs
        Spec("INFO: task ", r"INFO: task .* blocked for more than", "INFO: task hung in {frame}", Hung, F),
        Spec("INFO: task ", r"^INFO: task [^:]*$", "INFO: task hung in {frame}", Hung, F | N),
        Spec("INFO: task ", r"INFO: task .* can't die for more than", "INFO: task can't die in {frame}", Hung, F),
        Spec("detected stall", r"INFO: rcu_(?:sched|preempt|bh) (?:self-)?detected stall", "INFO: rcu detected stall in {frame}", Stall, FT),
        Spec("detected stall", r"rcu: INFO: rcu_(?:sched|preempt|bh) (?:self-)?detected stall", "INFO: rcu detected stall in {frame}", Stall, FT),
        Spec("detected stalls", r"INFO: rcu_(?:sched|preempt|bh) detected stalls", "INFO: rcu detected stall in {frame}", Stall, FT),
        Spec("detected expedited stalls", r"INFO: rcu_(?:sched|preempt|bh) detected expedited stalls", "INFO: rcu detected stall in {frame}", Stall, FT),
        Spec("soft lockup", r"BUG: soft lockup", "BUG: soft lockup in {frame}", Stall, F),
        Spec("workqueue lockup", r"BUG: workqueue lockup", "BUG: workqueue lockup", None, 0),
        Spec("hard LOCKUP", r"(?:Watchdog detected|watchdog: Watchdog detected) hard LOCKUP", "BUG: hard lockup in {frame}", Stall, F),
        // memory
        Spec("BUG: memory leak", r"BUG: memory leak", "memory leak in {frame}", Leak, F),
        Spec("BUG: Bad page state", r"BUG: Bad page state", "BUG: Bad page state in {frame}", StackOnly, F),
        Spec("BUG: Bad page map", r"BUG: Bad page map", "BUG: Bad page map in {frame}", StackOnly, FT | D),
        Spec("BUG: Bad rss-counter", r"BUG: Bad rss-counter state", "BUG: Bad rss-counter state", None, 0),
        Spec("BUG: Dentry", r"BUG: Dentry .* still in use .*\[unmount of", "BUG: Dentry still in use in unmount", None, 0),
        Spec("BUG: bad usercopy", r"BUG: bad usercopy", "BUG: bad usercopy in {frame}", StackOnly, F),
        // lib/list_debug.c __list_add_valid()/__list_del_entry_valid().
        Spec("list_add corruption", r"list_(?:add|del) corruption", "BUG: corrupted list in {frame}", StackOnly, F),
        Spec("list_add double add", r"list_add double add", "BUG: corrupted list in {frame}", StackOnly, F),
        Spec("Object already free", r"BUG [\w.:-]+ \([^)]*\): Object already free", "BUG: Object already free", None, 0),
        // mm/slub.c print_track(): "%s in %pS age=%lu cpu=%u pid=%d" with
        // "Allocated"/"Freed"; alone, the header it belongs to was lost.
        Spec("INFO: Freed in", r"INFO: Freed in FN(?P<rest> age=.*)?", "INFO: Freed in $func$rest", None, C),
        Spec("INFO: Allocated in", r"INFO: Allocated in FN(?P<rest> age=.*)?", "INFO: Allocated in $func$rest", None, C),
        Spec("VFS: Busy inodes", r"VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)", None, 0),
        // filp_close() on a file whose count already dropped to zero.
        Spec("VFS: Close: file count is 0", r"VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)", None, 0),
        Spec("unregister_netdevice: waiting for", r"unregister_netdevice: waiting for \S+ to become free", "unregister_netdevice: waiting for DEV to become free", None, W),
        // panics (reported only when not part of another report)
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: FN", "kernel panic: stack is corrupted in {frame}", Stack, S | F),
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ", "kernel panic: stack is corrupted in {frame}", StackOnly, S | F),
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: corrupted stack end detected inside scheduler", "kernel panic: corrupted stack end in {frame}", Stall, S | F),
        // The panics that end another report: alone, that report was lost.
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in {frame}", Stall, S | F),
        // A panic that ends another report (panic_on_warn, oops_end(),
        // hung_task_panic): alone, that report was lost.
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: (?:\w+: )?(?P<msg>panic_on_warn set|Fatal exception|hung_task: blocked tasks|softlockup: hung tasks)", "kernel panic: $msg", None, S | T | C),
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: (?P<msg>Attempted to kill init!|Couldn't open N_TTY ldisc|VFS: Unable to mount root fs on [^ ]+)", "kernel panic: $msg", None, S | T),
        Spec("Kernel panic - not syncing", r"Kernel panic - not syncing: (?P<msg>.*?)(?: \.\.\.|\.\.\.)?$", "kernel panic: $msg", None, S | T),
        // other platforms and tools
        // Trusty (the TEE firmware) logs its own panics through the kernel
        // console: "panic (caller 0x...): [DEBUG ]ASSERT FAILED at (file:line): expr".
        Spec("ASSERT FAILED", r"trusty: (?:panic .*)?ASSERT FAILED at \([^)]*\): (?P<expr>.*)", "trusty: ASSERT FAILED: $expr", None, 0),
        Spec("trusty: panic", r"trusty: panic \(caller [^)]*\):\s*(?P<msg>.*)", "trusty: panic: $msg", None, 0),
        // Go runtime failures of userspace helpers on the console
        // (runtime/panic.go prints "panic: " and "fatal error: " at the
        // start of a line).
        Spec("panic: ", r"^panic: (?P<msg>.+)", "panic: $msg", None, 0),
        Spec("fatal error: ", r"^fatal error: (?P<msg>.+)", "go runtime error", None, 0),
        Spec("with overflow", r"^attempt to (?P<op>add|subtract|multiply|shift left|shift right|negate|divide) with overflow", "attempt to $op with overflow in {frame}", StackOnly, F),
        Spec("SYZFAIL:", r"SYZFAIL: (?P<msg>.*)", "SYZFAIL: $msg", None, 0),
        Spec("SYZFATAL:", r"SYZFATAL: (?P<msg>.*)", "SYZFATAL: $msg", None, 0),
        Spec("Booting the kernel", r"^Booting the kernel", "unexpected kernel reboot", None, 0),
        // A report header cut right after its prefix (the console lost
        // the rest of the line).
        Spec("INFO:", r"^INFO:\s*$", "INFO: corrupted", None, C),
        // Any other "BUG: message": the message up to its first detail.
        // Any other "BUG: message" or "WARNING: message" line: the line
        // is the title (numbers and addresses normalised away).
        Spec("BUG: ", r"^BUG: (?P<all>.*\S)", "BUG: $all", None, 0),
        Spec("WARNING: ", r"^WARNING: (?P<all>.*\S)", "WARNING: $all", None, 0),
    ]
}

const TRAPS: &[&str] = &[
    "general protection fault",
    "divide error",
    "invalid opcode",
    "int3",
    "stack segment",
    "PANIC: double fault",
    "kernel stack overflow",
    "Internal error",
    "Unhandled fault",
];

/// All formats in match order.
pub fn formats() -> &'static [Format] {
    static ALL: OnceLock<Vec<Format>> = OnceLock::new();
    ALL.get_or_init(|| {
        specs()
            .into_iter()
            .map(|Spec(key, header, title, frame, flags)| Format {
                key,
                header: Regex::new(&header.replace("FN", FN)).expect("format regex"),
                title,
                frame,
                needs_access: flags & A != 0,
                needs_blocked: flags & N != 0,
                secondary: flags & S != 0,
                trap: TRAPS.iter().any(|t| title.starts_with(t)),
                needs_stack: flags & T != 0,
                always_corrupted: flags & C != 0,
                weak: flags & W != 0,
                frameless_if_corrupted: flags & D != 0,
            })
            .collect()
    })
}

/// Distinct prefilter keys.
pub fn keys() -> Vec<&'static str> {
    let mut k: Vec<&'static str> = formats().iter().map(|f| f.key).collect();
    k.sort_unstable();
    k.dedup();
    k
}
