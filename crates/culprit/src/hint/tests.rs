//! Tests of the crash-stack hint on real console text and a real git
//! repository built in a temporary directory.

use super::*;
use culprit_git::Repo;
use culprit_kernel::symbols::defining_files;

/// The demo kernel's oops (culprit demo, 6.1 with an injected prctl bug):
/// no frame pointers, so the call trace is all `?` entry frames.
const DEMO_OOPS: &str = r#"repro: calling prctl(0x43554c50)
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
PGD 768067 P4D 768067 PUD 767067 PMD 0 
Oops: 0002 [#1]
CPU: 0 PID: 20 Comm: repro Not tainted 6.1.192 #1 
RIP: 0010:__x64_sys_prctl+0x8e/0x4a9
RSP: 0018:ffff888000777f00 EFLAGS: 00000246
CR2: 0000000000000000 CR3: 0000000000765000 CR4: 00000000000006b0
Call Trace:
 <TASK>
 ? do_syscall_64+0x39/0x46
 ? entry_SYSCALL_64_after_hwframe+0x4b/0xb5
 </TASK>
CR2: 0000000000000000
---[ end trace 0000000000000000 ]---
RIP: 0010:__x64_sys_prctl+0x8e/0x4a9
RSP: 0018:ffff888000777f00 EFLAGS: 00000246
CR2: 0000000000000000 CR3: 0000000000765000 CR4: 00000000000006b0
Kernel panic - not syncing: Fatal exception
Kernel Offset: disabled
"#;

/// syzkaller corpus (linux-reports/686): a WARNING with inline frames and
/// file:line annotations.
const SYZ_WARNING: &str = r#"------------[ cut here ]------------
WARNING: CPU: 1 PID: 15973 at mm/vmalloc.c:3108 __vmalloc_node_range+0x1036/0x1300 mm/vmalloc.c:3108
Modules linked in:
CPU: 1 PID: 15973 Comm: syz-executor.3 Not tainted 6.2.0-rc6-next-20230202-syzkaller #0
Hardware name: Google Google Compute Engine/Google Compute Engine, BIOS Google 01/12/2023
RIP: 0010:__vmalloc_node_range+0x1036/0x1300 mm/vmalloc.c:3108
Call Trace:
 <TASK>
 __vmalloc_node mm/vmalloc.c:3246 [inline]
 vzalloc+0x6b/0x80 mm/vmalloc.c:3319
 bpf_check+0x1b8/0xae50 kernel/bpf/verifier.c:17253
 bpf_prog_load+0x16d9/0x21d0 kernel/bpf/syscall.c:2617
 __sys_bpf+0x1435/0x5100 kernel/bpf/syscall.c:4977
 __do_sys_bpf kernel/bpf/syscall.c:5081 [inline]
 __se_sys_bpf kernel/bpf/syscall.c:5079 [inline]
 __x64_sys_bpf+0x79/0xc0 kernel/bpf/syscall.c:5079
 do_syscall_x64 arch/x86/entry/common.c:50 [inline]
 do_syscall_64+0x39/0xb0 arch/x86/entry/common.c:80
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
RIP: 0033:0x7f934c08c0c9
"#;

/// syzkaller corpus (linux-reports/423): KASAN report with caller ids,
/// locking and sanitizer frames, and allocation/free stacks after it.
const SYZ_KASAN: &str = r#"[  723.789406][  T102] ==================================================================
[  723.790974][  T102] BUG: KASAN: use-after-free in __lock_acquire+0x3377/0x3eb0
[  723.792263][  T102] Read of size 8 at addr ffff88803b8d8f48 by task kworker/0:2/102
[  723.793777][  T102]
[  723.794247][  T102] CPU: 0 PID: 102 Comm: kworker/0:2 Not tainted 5.3.0+ #296
[  723.795572][  T102] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.12.0-1 04/01/2014
[  723.797369][  T102] Workqueue: usb_hub_wq hub_event
[  723.798502][  T102] Call Trace:
[  723.799161][  T102]  dump_stack+0xca/0x13e
[  723.800048][  T102]  ? __lock_acquire+0x3377/0x3eb0
[  723.801210][  T102]  ? __lock_acquire+0x3377/0x3eb0
[  723.802097][  T102]  print_address_description+0x6a/0x32c
[  723.803112][  T102]  ? __lock_acquire+0x3377/0x3eb0
[  723.804061][  T102]  ? __lock_acquire+0x3377/0x3eb0
[  723.805027][  T102]  __kasan_report.cold+0x1a/0x33
[  723.805958][  T102]  ? __lock_acquire+0x3377/0x3eb0
[  723.806908][  T102]  kasan_report+0xe/0x12
[  723.807638][  T102]  __lock_acquire+0x3377/0x3eb0
[  723.808527][  T102]  ? mark_held_locks+0x9f/0xe0
[  723.809449][  T102]  ? lockdep_hardirqs_on+0x379/0x580
[  723.810520][  T102]  ? quarantine_put+0xb2/0x150
[  723.811487][  T102]  ? mark_held_locks+0xe0/0xe0
[  723.812419][  T102]  lock_acquire+0x127/0x320
[  723.813276][  T102]  ? usb_kill_anchored_urbs+0x1e/0x110
[  723.814303][  T102]  ? kobject_put+0x18c/0x280
[  723.815153][  T102]  _raw_spin_lock_irq+0x2d/0x40
[  723.816075][  T102]  ? usb_kill_anchored_urbs+0x1e/0x110
[  723.817142][  T102]  usb_kill_anchored_urbs+0x1e/0x110
[  723.818155][  T102]  mcba_usb_disconnect+0xd6/0xe4
[  723.819116][  T102]  usb_unbind_interface+0x1bd/0x8a0
[  723.820138][  T102]  ? usb_autoresume_device+0x60/0x60
[  723.821222][  T102]  device_release_driver_internal+0x42f/0x500
[  723.822362][  T102]  bus_remove_device+0x2dc/0x4a0
[  723.823285][  T102]  device_del+0x420/0xb10
[  723.824082][  T102]  ? __device_links_no_driver+0x240/0x240
[  723.825190][  T102]  ? usb_remove_ep_devs+0x3e/0x80
[  723.826128][  T102]  ? remove_intf_ep_devs+0x13f/0x1d0
[  723.827128][  T102]  usb_disable_device+0x211/0x690
[  723.828095][  T102]  usb_disconnect+0x284/0x8d0
[  723.829025][  T102]  hub_event+0x1454/0x3640
[  723.829820][  T102]  ? find_held_lock+0x2d/0x110
[  723.830985][  T102]  ? mark_held_locks+0xe0/0xe0
[  723.832271][  T102]  ? hub_port_debounce+0x260/0x260
[  723.833628][  T102]  ? rcu_read_lock_sched_held+0x9c/0xd0
[  723.835108][  T102]  ? rcu_read_lock_bh_held+0xb0/0xb0
[  723.836502][  T102]  process_one_work+0x92b/0x1530
[  723.837830][  T102]  ? pwq_dec_nr_in_flight+0x310/0x310
[  723.839199][  T102]  ? do_raw_spin_lock+0x11a/0x280
[  723.840346][  T102]  worker_thread+0x96/0xe20
[  723.841423][  T102]  ? process_one_work+0x1530/0x1530
[  723.842603][  T102]  kthread+0x318/0x420
[  723.843538][  T102]  ? kthread_create_on_node+0xf0/0xf0
[  723.844787][  T102]  ret_from_fork+0x24/0x30
[  723.845813][  T102]
[  723.846365][  T102] Allocated by task 15859:
[  723.847393][  T102]  save_stack+0x1b/0x80
[  723.848366][  T102]  __kasan_kmalloc.constprop.0+0xbf/0xd0
[  723.849722][  T102]  kmem_cache_alloc+0xd6/0x2d0
[  723.850953][  T102]  getname_flags+0xd2/0x5b0
[  723.851992][  T102]  user_path_at_empty+0x2a/0x50
[  723.853144][  T102]  vfs_statx+0x113/0x1e0
[  723.854137][  T102]  __do_sys_newstat+0x96/0x120
[  723.855225][  T102]  do_syscall_64+0xb7/0x580
"#;

fn report_of(text: &str) -> Report {
    culprit_report::parse(text.as_bytes()).expect("the excerpt is a crash report")
}

#[test]
fn demo_oops_gives_the_syscall_from_the_ip_line() {
    let r = report_of(DEMO_OOPS);
    // The `?` frames are unreliable entry code; only the RIP function is left.
    assert_eq!(stack_functions(&r, 8), vec!["__x64_sys_prctl"]);
}

#[test]
fn syzkaller_warning_skips_allocator_and_entry_frames() {
    let r = report_of(SYZ_WARNING);
    assert_eq!(r.frame.as_deref(), Some("bpf_check"));
    assert_eq!(
        stack_functions(&r, 10),
        vec![
            "bpf_check",
            "bpf_prog_load",
            "__sys_bpf",
            "__do_sys_bpf",
            "__se_sys_bpf",
            "__x64_sys_bpf",
        ]
    );
    assert_eq!(stack_functions(&r, 2), vec!["bpf_check", "bpf_prog_load"]);
    assert!(stack_functions(&r, 0).is_empty());
    // The report's own file:line annotations give the files without git.
    let wanted: Vec<String> = ["bpf_check", "__do_sys_bpf", "nowhere"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        report_files(&r, &wanted),
        vec![
            ("bpf_check".to_string(), "kernel/bpf/verifier.c".to_string()),
            (
                "__do_sys_bpf".to_string(),
                "kernel/bpf/syscall.c".to_string()
            ),
        ]
    );
    // The demo oops has no file:line at all.
    let demo = report_of(DEMO_OOPS);
    assert!(report_files(&demo, &stack_functions(&demo, 8)).is_empty());
}

#[test]
fn syzkaller_kasan_stops_before_the_allocation_stack() {
    let r = report_of(SYZ_KASAN);
    assert_eq!(r.frame.as_deref(), Some("mcba_usb_disconnect"));
    let all = stack_functions(&r, 100);
    assert_eq!(
        all,
        vec![
            "mcba_usb_disconnect",
            "usb_unbind_interface",
            "device_release_driver_internal",
            "bus_remove_device",
            "usb_disable_device",
            "usb_disconnect",
            "hub_event",
        ]
    );
    assert!(!all.iter().any(|f| f == "getname_flags"));
}

#[test]
fn describe_names_files_and_functions() {
    let pairs = vec![
        ("__x64_sys_prctl".to_string(), "kernel/sys.c".to_string()),
        ("__do_sys_prctl".to_string(), "kernel/sys.c".to_string()),
        (
            "ovl_fill_super".to_string(),
            "fs/overlayfs/super.c".to_string(),
        ),
    ];
    assert_eq!(
        describe(&pairs[..1], 7),
        "crash stack hint: 7 commits touch kernel/sys.c (__x64_sys_prctl)"
    );
    assert_eq!(
        describe(&pairs, 1),
        "crash stack hint: 1 commit touches kernel/sys.c (__x64_sys_prctl, __do_sys_prctl), \
         fs/overlayfs/super.c (ovl_fill_super)"
    );
    assert!(describe(&[], 0).contains("no defining source files"));
}

/// The whole lookup on a real kernel tree, with timings. Needs the culprit
/// demo (or any kernel) checkout, so it only runs when asked:
/// `CULPRIT_HINT_REPO=/tmp/culprit-demo-v3/linux CULPRIT_HINT_RANGE=c8fbbddb61bd..619de85e42c8
///  cargo test -p culprit --lib hint::tests::kernel_repo -- --ignored --nocapture`
#[test]
#[ignore]
fn kernel_repo() {
    let (Ok(path), Ok(range)) = (
        std::env::var("CULPRIT_HINT_REPO"),
        std::env::var("CULPRIT_HINT_RANGE"),
    ) else {
        panic!("set CULPRIT_HINT_REPO and CULPRIT_HINT_RANGE");
    };
    let repo = Repo::open(&path).unwrap();
    let (_, bad) = range.split_once("..").unwrap();
    let t = std::time::Instant::now();
    let funcs = stack_functions(&report_of(DEMO_OOPS), 8);
    println!("stack_functions: {funcs:?} in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let pairs = defining_files(&repo, bad, &funcs).unwrap();
    println!("defining_files: {pairs:?} in {:?}", t.elapsed());
    assert!(pairs.contains(&("__x64_sys_prctl".into(), "kernel/sys.c".into())));
    let shas: Vec<String> = repo
        .git(&["rev-list", &range])
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let files: Vec<String> = pairs.iter().map(|(_, f)| f.clone()).collect();
    let t = std::time::Instant::now();
    let hinted = repo.commits_touching(&shas, &files).unwrap();
    println!(
        "commits_touching: {} of {} commits in {:?}",
        hinted.len(),
        shas.len(),
        t.elapsed()
    );
    println!("{}", describe(&pairs, hinted.len()));
    for text in [SYZ_WARNING, SYZ_KASAN] {
        let funcs = stack_functions(&report_of(text), 8);
        let t = std::time::Instant::now();
        let pairs = defining_files(&repo, bad, &funcs).unwrap();
        println!("defining_files: {pairs:?} in {:?}", t.elapsed());
    }
}
