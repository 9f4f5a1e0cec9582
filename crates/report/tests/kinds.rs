//! One hand-written report per report kind or frame rule, written from the
//! kernel's printk formats (the file that prints each is named on the
//! test). Function names are made up where the rule does not care.

use culprit_report::{parse, Report};

fn rep(log: &str) -> Report {
    parse(log.as_bytes()).unwrap_or_else(|| panic!("no report in:\n{log}"))
}

/// Timestamps every line, as a console with printk.time=1 does.
fn stamp(body: &str) -> String {
    body.lines()
        .enumerate()
        .map(|(i, l)| format!("[  100.{:06}] {l}\n", i * 7))
        .collect()
}

const X86_REGS: &str = "RSP: 0018:ffffc90003a3fd50 EFLAGS: 00010246
RAX: 0000000000000000 RBX: ffff88801d2c8000 RCX: 0000000000000000
RDX: 0000000000000000 RSI: 0000000000000001 RDI: ffff88801d2c8000
RBP: 0000000000000000 R08: 0000000000000000 R09: 0000000000000000
R10: 0000000000000000 R11: 0000000000000000 R12: 0000000000000000
R13: 0000000000000000 R14: 0000000000000000 R15: 0000000000000000
FS:  0000555555a1e380(0000) GS:ffff8880b9800000(0000) knlGS:0000000000000000
CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033";

const SYSCALL_TAIL: &str = " do_syscall_x64 arch/x86/entry/common.c:50 [inline]
 do_syscall_64+0x35/0xb0 arch/x86/entry/common.c:80
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
RIP: 0033:0x7f4c8e48b0d9
 </TASK>";

/// arch/x86/kernel/traps.c do_error_trap("divide error") -> die(): since
/// 6.10 the die line carries an "Oops: " prefix.
#[test]
fn divide_error_is_named_after_the_faulting_function() {
    for prefix in ["", "Oops: "] {
        let log = stamp(&format!(
            "{prefix}divide error: 0000 [#1] PREEMPT SMP KASAN
CPU: 1 PID: 5021 Comm: syz-executor Not tainted 6.1.0-syzkaller #0
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009)
RIP: 0010:mydrv_rate_div+0x1b/0x60 drivers/misc/mydrv.c:88
Code: 48 89 fb e8 12 34 56 78 31 d2 48 89 d8 48 f7 f1
{X86_REGS}
Call Trace:
 <TASK>
 mydrv_set_rate drivers/misc/mydrv.c:120 [inline]
 mydrv_ioctl+0x1a2/0x300 drivers/misc/mydrv.c:201
 vfs_ioctl fs/ioctl.c:51 [inline]
 __do_sys_ioctl fs/ioctl.c:870 [inline]
 __se_sys_ioctl fs/ioctl.c:856 [inline]
 __x64_sys_ioctl+0x18f/0x210 fs/ioctl.c:856
{SYSCALL_TAIL}
Modules linked in:
---[ end trace 0000000000000000 ]---"
        ));
        let r = rep(&log);
        assert_eq!(r.title, "divide error in mydrv_rate_div", "{prefix}");
        assert_eq!(r.kind, "DoS");
        assert!(!r.corrupted, "{:?}", r.corrupted_reason);
    }
}

/// include/linux/syscalls.h: a fault in the body of SYSCALL_DEFINE is in
/// `__do_sys_X`; the title names the syscall.
#[test]
fn syscall_wrapper_frames_name_the_syscall() {
    let log = stamp(&format!(
        "general protection fault, probably for non-canonical address 0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN
KASAN: null-ptr-deref in range [0x0000000000000010-0x0000000000000017]
CPU: 0 PID: 3610 Comm: syz-executor Not tainted 6.1.0-syzkaller #0
RIP: 0010:__do_sys_frobnicate+0x2b1/0x1210 fs/frob.c:412
Code: 00 00 00 00 00 fc ff df 48 89 fa 48 c1 ea 03 80 3c 02 00
{X86_REGS}
Call Trace:
 <TASK>
 __se_sys_frobnicate fs/frob.c:390 [inline]
 __x64_sys_frobnicate+0xb0/0xf0 fs/frob.c:390
{SYSCALL_TAIL}"
    ));
    let r = rep(&log);
    assert_eq!(r.title, "general protection fault in frobnicate");
    // The frame stays the function the stack names (to look it up);
    // the scoring contract's frame is the title's.
    assert_eq!(r.frame.as_deref(), Some("__do_sys_frobnicate"));
    assert_eq!(culprit_report::score_json(Some(&r))["frame"], "frobnicate");
    assert_eq!(r.frames.first().map(String::as_str), Some("frobnicate"));
    // The unstripped frame stays findable for de-duplication.
    assert!(
        r.alt_titles
            .iter()
            .any(|a| a.ends_with("__do_sys_frobnicate")),
        "{:?}",
        r.alt_titles
    );
}

/// kernel/locking/lockdep.c print_held_locks_bug(): "WARNING: %s/%d still
/// has locks held!" (older kernels: "[ BUG: ... ]"), then the held locks.
#[test]
fn still_has_locks_held_names_the_lock_site() {
    for (pfx, title) in [
        ("WARNING", "WARNING: still has locks held in frob_lock_all"),
        ("[ BUG", "BUG: still has locks held in frob_lock_all"),
    ] {
        let tail = if pfx.starts_with('[') { " ]" } else { "" };
        let log = stamp(&format!(
            "====================================
{pfx}: syz-executor.0/4242 still has locks held!{tail}
6.1.0-syzkaller #0 Not tainted
------------------------------------
1 lock held by syz-executor.0/4242:
 #0: ffff88807a2c1234 (&frob->lock){{+.+.}}-{{3:3}}, at: frob_lock_all+0x4d/0x90 drivers/frob/core.c:77

stack backtrace:
CPU: 0 PID: 4242 Comm: syz-executor.0 Not tainted 6.1.0-syzkaller #0
Call Trace:
 <TASK>
 dump_stack_lvl+0xd1/0x138
 debug_check_no_locks_held+0x3f/0x50
 do_exit+0x9d2/0x2a30
 do_group_exit+0xd4/0x2a0
{SYSCALL_TAIL}"
        ));
        let r = rep(&log);
        assert_eq!(r.title, title);
        assert_eq!(r.kind, "LOCKDEP");
    }
}

/// mm/slub.c slab_bug(): "BUG %s (%s): %pV" with object_err(...,
/// "Object already free") on a double kfree.
#[test]
fn slub_object_already_free() {
    let log = stamp(
        "=============================================================================
BUG kmalloc-64 (Not tainted): Object already free
-----------------------------------------------------------------------------

INFO: Allocated in frob_new+0x3c/0x90 age=12 cpu=1 pid=3001
 __slab_alloc+0x5c/0x70
 kmem_cache_alloc_trace+0x1d1/0x240
 frob_new+0x3c/0x90
INFO: Freed in frob_put+0x20/0x40 age=3 cpu=1 pid=3001
 kfree+0x1a4/0x1c0
 frob_put+0x20/0x40
INFO: Slab 0xffffea0000a1b2c0 objects=32 used=30 fp=0xffff888012345678 flags=0x200
Call Trace:
 dump_stack+0x1d/0x20
 free_debug_processing+0x1cf/0x270
 kfree+0x1a4/0x1c0
 frob_put+0x20/0x40
",
    );
    assert_eq!(rep(&log).title, "BUG: Object already free");
}

/// The SLUB track lines alone (the BUG header was lost) are a corrupted
/// report named after the allocation site.
#[test]
fn lone_slub_allocation_track_is_corrupted() {
    let log = stamp(
        "** 2000 printk messages dropped **
INFO: Allocated in frob_new+0x3c/0x90 age=12 cpu=1 pid=3001
 kmem_cache_alloc_trace+0x1d1/0x240
",
    );
    let r = rep(&log);
    assert_eq!(
        r.title,
        "INFO: Allocated in frob_new age=NUM cpu=NUM pid=NUM"
    );
    assert!(r.corrupted);
}

/// fs/open.c filp_close() on older kernels.
#[test]
fn vfs_close_with_zero_count() {
    let r = rep(&stamp("VFS: Close: file count is 0\n"));
    assert_eq!(r.title, "VFS: Close: file count is zero (use-after-free)");
    assert_eq!(r.kind, "DoS");
}

/// kernel/hung_task.c: with hung_task_panic the hung-task report ends in
/// panic("hung_task: blocked tasks"); alone, the report was lost.
#[test]
fn hung_task_panic_alone_is_corrupted() {
    let log = stamp(
        "Kernel panic - not syncing: hung_task: blocked tasks
CPU: 1 PID: 28 Comm: khungtaskd Not tainted 6.1.0-syzkaller #0
Call Trace:
 <TASK>
 dump_stack_lvl+0xd1/0x138
 panic+0x2d0/0x6f0
 watchdog+0xc7b/0xe90
 kthread+0x2e8/0x3a0
 ret_from_fork+0x1f/0x30
 </TASK>
Kernel Offset: disabled
Rebooting in 86400 seconds..",
    );
    let r = rep(&log);
    assert_eq!(r.title, "kernel panic: hung_task: blocked tasks");
    assert!(r.corrupted);
}

/// kernel/panic.c panic(): any message.
#[test]
fn any_panic_message_is_the_title() {
    let r = rep(&stamp(
        "Kernel panic - not syncing: frob: bad state 3 in table\nCPU: 0 PID: 1 Comm: swapper/0\nCall Trace:\n dump_stack+0x1/0x2\n panic+0x1/0x2\n frob_init+0x1/0x2\n",
    ));
    assert_eq!(r.title, "kernel panic: frob: bad state NUM in table");
}

/// Go's runtime (runtime/panic.go) prints "panic: " / "fatal error: " at
/// the start of a line, then the goroutine dump.
#[test]
fn go_runtime_failures_of_userspace_helpers() {
    let log = "[   10.000000] random: crng init done\n\
panic: runtime error: index out of range [5] with length 3\n\
\n\
goroutine 1 [running]:\n\
main.main()\n\
\t/src/helper/main.go:12 +0x1d\n";
    let r = rep(log);
    assert_eq!(
        r.title,
        "panic: runtime error: index out of range [NUM] with length NUM"
    );
    let log = "fatal error: concurrent map writes\n\ngoroutine 7 [running]:\n";
    assert_eq!(rep(log).title, "go runtime error");
    // Kernel helpers that end in _panic are not Go panics.
    assert!(parse(b"[ 1.0] skbuff: skb_under_panic: text:ffff len:82\n").is_none());
}

/// Trusty (the TEE) logs its panics through the kernel console.
#[test]
fn trusty_panics() {
    let r = rep(&stamp(
        "trusty: panic (caller 0xffffffffe000abcd): ASSERT FAILED at (lib/frob.c:12): frob != NULL\ntrusty: HALT: (reason = 9)\n",
    ));
    assert_eq!(r.title, "trusty: ASSERT FAILED: frob != NULL");
    assert_eq!(r.kind, "DoS");
    let r = rep(&stamp(
        "trusty: panic (caller 0xffffffffe000abcd): frob table exhausted\ntrusty: HALT: (reason = 9)\n",
    ));
    assert_eq!(r.title, "trusty: panic: frob table exhausted");
}

/// arm64: arch/arm64/mm/fault.c die_kernel_fault() + traps.c __die();
/// frames of the exception entry (el1h_64_sync_handler, el1_abort) and of
/// the syscall entry (invoke_syscall, el0_svc) are plumbing.
#[test]
fn arm64_fault_names_the_faulting_function() {
    let log = stamp(
        "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010
Mem abort info:
  ESR = 0x0000000096000006
  EC = 0x25: DABT (current EL), IL = 32 bits
Internal error: Oops: 0000000096000006 [#1] PREEMPT SMP
Modules linked in:
CPU: 1 PID: 3123 Comm: syz-executor Not tainted 6.1.0-syzkaller #0
Hardware name: linux,dummy-virt (DT)
pstate: 80400005 (Nzcv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
pc : frob_release+0x2c/0x80 drivers/frob/frob.c:55
lr : frob_close+0x44/0x60 drivers/frob/frob.c:70
sp : ffff80000f5bbc80
x29: ffff80000f5bbc80 x28: ffff0000c4a1a340 x27: 0000000000000000
Call trace:
 frob_release+0x2c/0x80 drivers/frob/frob.c:55
 frob_close+0x44/0x60 drivers/frob/frob.c:70
 __fput+0x198/0x3e0 fs/file_table.c:320
 ____fput+0x20/0x30 fs/file_table.c:348
 task_work_run+0x100/0x148 kernel/task_work.c:179
 el0_svc_common.constprop.0+0x15c/0x170 arch/arm64/kernel/syscall.c:148
 do_el0_svc+0x48/0xc0 arch/arm64/kernel/syscall.c:206
 el0_svc+0x58/0x150 arch/arm64/kernel/entry-common.c:637
 el0t_64_sync_handler+0x84/0xf0 arch/arm64/kernel/entry-common.c:655
 el0t_64_sync+0x190/0x194 arch/arm64/kernel/entry.S:584
Code: f9400260 b4000080 f9400800 d63f0000 (f9400a61)
---[ end trace 0000000000000000 ]---",
    );
    let r = rep(&log);
    assert_eq!(
        r.title,
        "BUG: unable to handle kernel NULL pointer dereference in frob_release"
    );
    // A fault caught inside a string helper is named after its caller.
    let log = stamp(
        "Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP
Modules linked in:
CPU: 0 PID: 5 Comm: kworker/0:0 Not tainted 6.1.0 #0
pc : __memcpy+0x54/0x260
lr : frob_copy+0x30/0x70
Call trace:
 __memcpy+0x54/0x260
 frob_copy+0x30/0x70
 frob_ioctl+0x94/0x120
 __arm64_sys_ioctl+0xa8/0xf0
 invoke_syscall+0x48/0x114
 el0_svc_common.constprop.0+0x44/0xec
 do_el0_svc+0x38/0xa4
 el0_svc+0x2c/0xb0
 el0t_64_sync_handler+0xc0/0xc4
 el0t_64_sync+0x18c/0x190
Code: d503201f d503201f d503201f d503201f (a9401c26)",
    );
    assert_eq!(rep(&log).title, "Internal error in frob_copy");
}

/// arm64 el1 exception frames below the faulting function are plumbing.
#[test]
fn arm64_el1_exception_frames_are_plumbing() {
    let log = stamp(
        "kernel BUG at drivers/frob/frob.c:99!
Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP
CPU: 0 PID: 5 Comm: kworker/0:0 Not tainted 6.1.0 #0
pc : frob_check+0x54/0x60
lr : frob_check+0x54/0x60
Call trace:
 frob_check+0x54/0x60
 frob_work+0x30/0x70
 process_one_work+0x2d8/0x504
 worker_thread+0x1c8/0x38c
 kthread+0x110/0x114
 ret_from_fork+0x10/0x20
Code: d503201f d503201f d503201f d503201f (d4210000)",
    );
    assert_eq!(rep(&log).title, "kernel BUG in frob_check");
    let log = stamp(
        "Unable to handle kernel paging request at virtual address dead000000000108
Internal error: Oops: 0000000096000044 [#1] PREEMPT SMP
CPU: 0 PID: 5 Comm: kworker/0:0 Not tainted 6.1.0 #0
pc : __list_del_entry+0x10/0x40
lr : frob_unlink+0x30/0x70
Call trace:
 __list_del_entry+0x10/0x40
 el1h_64_sync_handler+0x60/0xac
 el1h_64_sync+0x64/0x68
 frob_unlink+0x30/0x70
 frob_work+0x30/0x70
Code: d503201f d503201f d503201f d503201f (d4210000)",
    );
    assert_eq!(
        rep(&log).title,
        "BUG: unable to handle kernel paging request in frob_unlink"
    );
}

/// mm/kmemleak.c: the backtrace starts in the allocator and its wrappers.
#[test]
fn memory_leak_names_the_first_caller_outside_the_allocators() {
    let log = "BUG: memory leak
unreferenced object 0xffff888109e1a000 (size 2048):
  comm \"syz-executor\", pid 3603, jiffies 4294944000 (age 12.340s)
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace:
    [<ffffffff8154a3c6>] kmalloc_trace+0x26/0x60 mm/slab_common.c:1062
    [<ffffffff83a1b2c4>] sk_prot_alloc+0x64/0x140 net/core/sock.c:2024
    [<ffffffff83a1c55d>] sk_alloc+0x3d/0x3b0 net/core/sock.c:2083
    [<ffffffff84123456>] frob_sock_create+0x96/0x2a0 net/frob/af_frob.c:301
    [<ffffffff83a10f0e>] __sock_create+0x19e/0x2d0 net/socket.c:1515
";
    let r = rep(log);
    assert_eq!(r.title, "memory leak in frob_sock_create");
    // Identity frames start at the title frame and go down the stack.
    assert_eq!(r.frames, vec!["frob_sock_create", "__sock_create"]);
}

/// kernel/locking/lockdep.c print_circular_bug(): when both lock sites
/// are workqueue plumbing, the dependency chain names the code.
#[test]
fn possible_deadlock_in_workqueue_plumbing_names_the_chain() {
    let log = stamp(
        "======================================================
WARNING: possible circular locking dependency detected
6.1.0-syzkaller #0 Not tainted
------------------------------------------------------
kworker/0:1/14 is trying to acquire lock:
ffff88801a2b3c48 ((wq_completion)frob_wq){+.+.}-{0:0}, at: process_one_work+0x7e0/0x1630 kernel/workqueue.c:2263

but task is already holding lock:
ffff88801a2b3d50 ((work_completion)(&frob->work)){+.+.}-{0:0}, at: process_one_work+0x81c/0x1630 kernel/workqueue.c:2264

which lock already depends on the new lock.


the existing dependency chain (in reverse order) is:

-> #1 ((work_completion)(&frob->work)){+.+.}-{0:0}:
       lock_acquire+0x1e3/0x630 kernel/locking/lockdep.c:5668
       __flush_work+0x105/0xae0 kernel/workqueue.c:3069
       frob_teardown+0x4c/0x90 drivers/frob/frob.c:210
       frob_work_fn+0x20/0x30 drivers/frob/frob.c:230
       process_one_work+0x991/0x1630 kernel/workqueue.c:2289

-> #0 ((wq_completion)frob_wq){+.+.}-{0:0}:
       lock_acquire+0x1e3/0x630 kernel/locking/lockdep.c:5668
       process_one_work+0x7f2/0x1630 kernel/workqueue.c:2265

other info that might help us debug this:

 Possible unsafe locking scenario:

stack backtrace:
CPU: 0 PID: 14 Comm: kworker/0:1 Not tainted 6.1.0-syzkaller #0
Call Trace:
 <TASK>
 dump_stack_lvl+0xd1/0x138
 check_noncircular+0x25f/0x2e0
 __lock_acquire+0x2a9f/0x5b50
 lock_acquire+0x1e3/0x630
 process_one_work+0x7f2/0x1630
 worker_thread+0x669/0x1090
 kthread+0x2e8/0x3a0
 ret_from_fork+0x1f/0x30
 </TASK>",
    );
    assert_eq!(rep(&log).title, "possible deadlock in frob_teardown");
}

/// kernel/rcu/tree_stall.h: the CPU that stalled is dumped by NMI; its
/// stack starts with the timer interrupt that noticed, then the code that
/// interrupt interrupted.
#[test]
fn stall_names_the_interrupted_code_not_the_timer() {
    let log = stamp(&format!(
        "rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t0-....: (10500 ticks this GP) idle=7fc/1/0x4000000000000000 softirq=9100/9100 fqs=5170
\t(t=10502 jiffies g=9181 q=512 ncpus=2)
NMI backtrace for cpu 0
CPU: 0 PID: 5180 Comm: syz-executor Not tainted 6.1.0-syzkaller #0
Call Trace:
 <IRQ>
 dump_stack_lvl+0xd1/0x138
 nmi_cpu_backtrace+0x46f/0x4f0
 rcu_dump_cpu_stacks+0x1a2/0x230
 rcu_sched_clock_irq+0x1b8b/0x2370
 update_process_times+0x14a/0x1c0
 tick_sched_timer+0xa5/0x1a0
 __hrtimer_run_queues+0x5ec/0xc90
 hrtimer_interrupt+0x32e/0x7d0
 __sysvec_apic_timer_interrupt+0x17c/0x640
 sysvec_apic_timer_interrupt+0x40/0xc0
 asm_sysvec_apic_timer_interrupt+0x16/0x20
RIP: 0010:frob_spin+0x2b/0x60 drivers/frob/frob.c:44
Code: 00 00 00 00 00 fc ff df 48 89 fa 48 c1 ea 03 80 3c 02 00
{X86_REGS}
 </IRQ>
 <TASK>
 frob_walk+0x8e/0x120 drivers/frob/frob.c:60
 frob_write+0x140/0x1a0 drivers/frob/frob.c:101
 vfs_write+0x2d2/0xdb0 fs/read_write.c:582
 ksys_write+0x12b/0x250 fs/read_write.c:637
{SYSCALL_TAIL}"
    ));
    assert_eq!(rep(&log).title, "INFO: rcu detected stall in frob_write");
}

/// mm/kasan/report.c: a use-after-free caught in a driver-core helper
/// while the driver disconnects is the driver's bug.
#[test]
fn use_after_free_in_core_helper_names_the_driver() {
    let log = stamp(
        "==================================================================
BUG: KASAN: use-after-free in device_remove_file+0x4b/0x60 drivers/base/core.c:2950
Read of size 8 at addr ffff88801e1a2b30 by task kworker/1:2/3345

CPU: 1 PID: 3345 Comm: kworker/1:2 Not tainted 6.1.0-syzkaller #0
Workqueue: usb_hub_wq hub_event
Call Trace:
 <TASK>
 dump_stack_lvl+0xd1/0x138
 print_report+0x15e/0x45d
 kasan_report+0xbf/0x1f0
 device_remove_file+0x4b/0x60 drivers/base/core.c:2950
 frobusb_disconnect+0x55/0x120 drivers/usb/misc/frobusb.c:410
 usb_unbind_interface+0x1dc/0x8e0 drivers/usb/core/driver.c:458
 device_remove drivers/base/dd.c:550 [inline]
 device_release_driver_internal+0x4a1/0x700 drivers/base/dd.c:1249
 bus_remove_device+0x2e3/0x590 drivers/base/bus.c:529
 device_del+0x4f3/0xc80 drivers/base/core.c:3704
 usb_disable_device+0x356/0x7a0 drivers/usb/core/message.c:1419
 hub_event+0x1f86/0x4610 drivers/usb/core/hub.c:5702
 process_one_work+0x991/0x1630 kernel/workqueue.c:2289
 </TASK>

Allocated by task 3345:
",
    );
    let r = rep(&log);
    assert_eq!(r.title, "KASAN: use-after-free Read in frobusb_disconnect");
}

/// kernel/panic.c check_panic_on_warn(): "%s: panic_on_warn set ..."
/// with the origin ("kernel", "KASAN") since 6.1; alone, the warning it
/// ends was lost.
#[test]
fn panic_on_warn_with_origin_is_corrupted() {
    for line in [
        "Kernel panic - not syncing: panic_on_warn set ...",
        "Kernel panic - not syncing: kernel: panic_on_warn set ...",
        "Kernel panic - not syncing: softlockup: hung tasks",
    ] {
        let r = rep(&stamp(&format!(
            "{line}\nCPU: 0 PID: 1 Comm: x\nCall Trace:\n dump_stack+0x1/0x2\n panic+0x1/0x2\n"
        )));
        assert!(r.title.starts_with("kernel panic: "), "{}", r.title);
        assert!(!r.title.contains("kernel: "), "{}", r.title);
        assert!(r.corrupted, "{line}");
    }
}

/// kernel/panic.c __warn() in newer kernels prints the site first:
/// "WARNING: lib/refcount.c:25 at refcount_warn_saturate+0x.., CPU#0: comm/pid";
/// the checker class still comes from the file.
#[test]
fn warning_class_from_the_site_in_either_layout() {
    for header in [
        "WARNING: CPU: 0 PID: 4100 at lib/refcount.c:25 refcount_warn_saturate+0x13a/0x1d0",
        "WARNING: lib/refcount.c:25 at refcount_warn_saturate+0x13a/0x1d0, CPU#0: syz/4100",
    ] {
        let log = stamp(&format!(
            "refcount_t: addition on 0; use-after-free.
{header}
Modules linked in:
CPU: 0 PID: 4100 Comm: syz Not tainted 6.1.0 #0
RIP: 0010:refcount_warn_saturate+0x13a/0x1d0
Call Trace:
 <TASK>
 __refcount_add include/linux/refcount.h:193 [inline]
 frob_get+0x9a/0xb0 drivers/frob/frob.c:31
 frob_open+0x31/0x90 drivers/frob/frob.c:77
{SYSCALL_TAIL}"
        ));
        let r = rep(&log);
        assert_eq!(r.title, "WARNING: refcount bug in frob_get", "{header}");
        assert_eq!(r.kind, "REFCOUNT_WARNING");
    }
}

/// kernel/panic.c __warn(): "WARNING: CPU: %d PID: %d at %s:%d %pS" may
/// be cut after the task by another CPU's output; the stack still names it.
#[test]
fn warning_with_a_cut_header_is_named_from_its_stack() {
    let log = stamp(&format!(
        "WARNING: CPU: 1 PID: 3321 at
Modules linked in:
CPU: 1 PID: 3321 Comm: syz-executor Not tainted 6.1.0 #0
RIP: 0010:frob_check+0x2f/0x40 drivers/frob/frob.c:12
Call Trace:
 <TASK>
 frob_check+0x2f/0x40 drivers/frob/frob.c:12
 frob_ioctl+0x9a/0xb0 drivers/frob/frob.c:31
{SYSCALL_TAIL}"
    ));
    let r = rep(&log);
    assert_eq!(r.title, "WARNING in frob_check");
}

/// mm/kasan/report.c prints "Allocated by task N:" and "Freed by task N:"
/// each followed by a stack (or "(stack is not available)"); a log that
/// ends right after such a title is a cut report.
#[test]
fn report_cut_after_a_stack_title_is_corrupted() {
    let head = "BUG: KASAN: use-after-free in frob_read+0x4b/0x60 drivers/frob/frob.c:50
Read of size 8 at addr ffff88801e1a2b30 by task syz/3345

CPU: 1 PID: 3345 Comm: syz Not tainted 6.1.0-syzkaller #0
Call Trace:
 <TASK>
 dump_stack_lvl+0xd1/0x138
 print_report+0x15e/0x45d
 kasan_report+0xbf/0x1f0
 frob_read+0x4b/0x60 drivers/frob/frob.c:50
 vfs_read+0x1e1/0x2c0 fs/read_write.c:468
 </TASK>

Allocated by task 3345:
 kasan_save_stack+0x22/0x40
 frob_open+0x40/0x90 drivers/frob/frob.c:20

Freed by task 3345:";
    let r = rep(&stamp(head));
    assert_eq!(r.title, "KASAN: use-after-free Read in frob_read");
    assert!(r.corrupted);
    let whole =
        format!("{head}\n kasan_save_stack+0x22/0x40\n kfree+0x1/0x2\n frob_release+0x40/0x90\n");
    let r = rep(&stamp(&whole));
    assert!(!r.corrupted, "{:?}", r.corrupted_reason);
    let unavailable = format!("{head}\n(stack is not available)\n");
    assert!(!rep(&stamp(&unavailable)).corrupted);
}

/// lib/list_debug.c: "list_add double add: new=%px, prev=%px, next=%px."
#[test]
fn list_double_add_is_a_corrupted_list() {
    let log = stamp(&format!(
        "list_add double add: new=ffff88801a2b3c00, prev=ffff88801a2b3c00, next=ffff88801a2b3d00.
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:33!
invalid opcode: 0000 [#1] PREEMPT SMP KASAN
CPU: 0 PID: 5100 Comm: syz Not tainted 6.1.0 #0
RIP: 0010:__list_add_valid.cold+0x3a/0x3c lib/list_debug.c:33
{X86_REGS}
Call Trace:
 <TASK>
 __list_add include/linux/list.h:69 [inline]
 list_add_tail include/linux/list.h:102 [inline]
 frob_queue+0x8e/0x120 drivers/frob/frob.c:60
 frob_write+0x140/0x1a0 drivers/frob/frob.c:101
{SYSCALL_TAIL}"
    ));
    let r = rep(&log);
    assert_eq!(r.title, "BUG: corrupted list in frob_queue");
    assert_eq!(r.kind, "MEMORY_SAFETY_BUG");
}

/// kernel/kcsan/report.c: "BUG: KCSAN: data-race in f / g" names both
/// racing functions; the frame is the first.
#[test]
fn kcsan_race_frame_is_the_first_function() {
    let log = stamp(
        "==================================================================
BUG: KCSAN: data-race in frob_read / frob_write

write to 0xffff888100a1b2c0 of 4 bytes by task 3100 on cpu 0:
 frob_write+0x3c/0x90 drivers/frob/frob.c:101

read to 0xffff888100a1b2c0 of 4 bytes by task 3101 on cpu 1:
 frob_read+0x2c/0x70 drivers/frob/frob.c:80
",
    );
    let r = rep(&log);
    assert_eq!(r.title, "KCSAN: data-race in frob_read / frob_write");
    assert_eq!(r.frame.as_deref(), Some("frob_read"));
}

/// A "BUG:"/"WARNING:" line no format knows is still a report, titled by
/// the whole line; the kernel's benign notices that say WARNING are not.
#[test]
fn unknown_bug_and_warning_lines_are_titled_by_the_line() {
    let r = rep(&stamp("BUG: looking up invalid subclass: 8\n"));
    assert_eq!(r.title, "BUG: looking up invalid subclass: NUM");
    let r = rep(&stamp(
        "WARNING: frob firmware 3 is too old, please update\n",
    ));
    assert_eq!(
        r.title,
        "WARNING: frob firmware NUM is too old, please update"
    );
    for benign in [
        "WARNING: workqueue cpumask: online intersect > possible intersect",
        "WARNING: fbcon: Driver 'vkmsdrmfb' missed to adjust virtual screen size (0x0 vs. 64x16)",
        "XFS (loop0): WARNING: Reset corrupted AGFL on AG 0.",
    ] {
        assert!(parse(stamp(benign).as_bytes()).is_none(), "{benign}");
    }
}

/// kernel/rcu/tree_stall.h with the stalled CPU in a softirq: interrupt
/// exit and NAPI dispatch to the code that loops; that code names it.
#[test]
fn stall_in_a_softirq_names_the_softirq_handler() {
    let log = stamp(&format!(
        "rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t0-....: (10500 ticks this GP) idle=7fc/1/0x4000000000000000 softirq=9100/9100 fqs=5170
NMI backtrace for cpu 0
CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0-syzkaller #0
Call Trace:
 <IRQ>
 dump_stack_lvl+0xd1/0x138
 nmi_cpu_backtrace+0x46f/0x4f0
 rcu_sched_clock_irq+0x1b8b/0x2370
 update_process_times+0x14a/0x1c0
 tick_sched_timer+0xa5/0x1a0
 __hrtimer_run_queues+0x5ec/0xc90
 hrtimer_interrupt+0x32e/0x7d0
 __sysvec_apic_timer_interrupt+0x17c/0x640
 sysvec_apic_timer_interrupt+0x40/0xc0
 asm_sysvec_apic_timer_interrupt+0x16/0x20
RIP: 0010:frob_rx_one+0x2b/0x60 drivers/net/frob.c:44
{X86_REGS}
 frob_poll+0x8e/0x120 drivers/net/frob.c:60
 __napi_poll+0xb3/0x6e0 net/core/dev.c:6511
 net_rx_action+0x9c1/0xd90 net/core/dev.c:6578
 __do_softirq+0x1d3/0x9c6 kernel/softirq.c:571
 irq_exit_rcu+0x11b/0x190 kernel/softirq.c:650
 common_interrupt+0xa9/0xc0 arch/x86/kernel/irq.c:240
 </IRQ>"
    ));
    assert_eq!(rep(&log).title, "INFO: rcu detected stall in frob_poll");
}

/// include/linux/skbuff.h and net/core/skbuff.c helpers BUG_ON() bad
/// arguments; the kernel BUG is named after the caller.
#[test]
fn kernel_bug_in_an_skb_helper_names_its_caller() {
    let log = stamp(&format!(
        "------------[ cut here ]------------
kernel BUG at net/core/dev.c:3312!
invalid opcode: 0000 [#1] PREEMPT SMP KASAN
CPU: 0 PID: 5100 Comm: syz Not tainted 6.1.0 #0
RIP: 0010:skb_checksum_help+0x5a1/0x6a0 net/core/dev.c:3312
{X86_REGS}
Call Trace:
 <TASK>
 frob_xmit+0x8e/0x120 drivers/net/frob.c:60
 dev_hard_start_xmit+0x1a0/0x5e0 net/core/dev.c:3590
{SYSCALL_TAIL}"
    ));
    assert_eq!(rep(&log).title, "kernel BUG in frob_xmit");
}
