//! The crash's own stack (`culprit_report::crash_stack`) on real reports:
//! the demo kernel's oops and two excerpts of syzkaller's corpus.

use culprit_report::crash_stack::{report_files, stack_functions};
use culprit_report::Report;

/// The demo kernel's oops (culprit demo, 6.1 with an injected prctl bug):
/// no frame pointers, so the call trace is all `?` entry frames.
const DEMO_OOPS: &str = include_str!("data/demo-oops.txt");
/// syzkaller corpus (linux-reports/686): a WARNING with inline frames and
/// file:line annotations.
const SYZ_WARNING: &str = include_str!("data/syz-warning.txt");
/// syzkaller corpus (linux-reports/423): KASAN report with caller ids,
/// locking and sanitizer frames, and allocation/free stacks after it.
const SYZ_KASAN: &str = include_str!("data/syz-kasan.txt");

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
