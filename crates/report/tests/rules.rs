//! Small hand-written logs for the general title rules: each checks one
//! kernel printing behaviour the parser relies on.

fn title(log: &str) -> Option<(String, bool)> {
    culprit_report::parse(log.as_bytes()).map(|r| (r.title, r.corrupted))
}

#[test]
fn bare_info_prefix_is_a_cut_report() {
    assert_eq!(
        title("[ 5.0] booting\nINFO:\n"),
        Some(("INFO: corrupted".to_string(), true))
    );
    // "INFO:" followed by a message that is not a report stays ignored.
    assert_eq!(title("INFO: lockdep is turned off.\n"), None);
}

const STALL_HEAD: &str = "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n\
rcu: \tTasks blocked on level-0 rcu_node (CPUs 0-1): P9/1:b..l\n\
rcu: \t(detected by 1, t=10002 jiffies, g=1, q=1 ncpus=2)\n\
task:syz-executor    state:R  running task     stack:0 pid:9\n\
Call Trace:\n <TASK>\n";

#[test]
fn stall_with_only_a_preempted_reader_has_no_frame() {
    let log = format!(
        "{STALL_HEAD} __schedule+0x1/0x2\n preempt_schedule+0x1/0x2\n \
         copy_page_range+0x1/0x2\n __x64_sys_clone+0x1/0x2\n \
         do_syscall_64+0x1/0x2\n entry_SYSCALL_64_after_hwframe+0x1/0x2\n </TASK>\n"
    );
    assert_eq!(
        title(&log),
        Some(("INFO: rcu detected stall in corrupted".to_string(), true))
    );
}

#[test]
fn stall_caught_running_is_named_after_its_syscall() {
    let log = format!(
        "{STALL_HEAD} copy_page_range+0x1/0x2\n __x64_sys_clone+0x1/0x2\n \
         do_syscall_64+0x1/0x2\n entry_SYSCALL_64_after_hwframe+0x1/0x2\n </TASK>\n"
    );
    let (t, corrupted) = title(&log).expect("a report");
    assert!(t.ends_with("sys_clone"), "{t}");
    assert!(!corrupted);
}

#[test]
fn two_stall_headers_in_a_row_are_interleaved() {
    let log = "INFO: rcu_sched self-detected stall on CPU\n\
INFO: rcu_sched detected stalls on CPUs/tasks:\n\
\t1-...: (65000 ticks this GP)\n\
NMI backtrace for cpu 1\n\
RIP: 0010:io_serial_in+0x6b/0x90\n\
Call Trace:\n wait_for_xmitr+0x89/0x1c0\n do_syscall_64+0x1/0x2\n";
    assert_eq!(
        title(log),
        Some(("INFO: rcu detected stall in corrupted".to_string(), true))
    );
}
