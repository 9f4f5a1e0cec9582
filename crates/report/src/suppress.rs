//! Lines that look like crash headers but are not crashes, and reports
//! that should not be reported.

/// Header lines that never start a report.
pub fn ignored_header(text: &str) -> bool {
    const BENIGN: &[&str] = &[
        "WARNING: /etc/ssh/",
        "WARNING: Unsupported flag",
        "WARNING: the mand mount option",
        "WARNING: can't access",
        "WARNING: NMI watchdog",
        "INFO: lockdep is turned off",
        "INFO: task hung_task",
        "WARNING: ... at",
        // Boot and userspace messages that say WARNING without a bug:
        // workqueue's cpumask notice, fbcon's mode-size notice, Spectre
        // and SRSO mitigation notices, deprecated interface notices.
        "WARNING: workqueue cpumask: online intersect > possible intersect",
        "WARNING: fbcon: Driver",
        "WARNING: The mand mount option",
        "WARNING: Unprivileged eBPF is enabled",
        "WARNING: See https",
        "WARNING: kernel not compiled with CPU_SRSO",
        "uses deprecated v2 capabilities",
        "uses wireless extensions",
        "): WARNING",
        "BUG: no syscalls can create resource",
    ];
    BENIGN.iter().any(|b| text.contains(b))
}

/// Messages of the test machine's own userspace failing (glibc's stack
/// protector in the fuzzer's processes, the Go runtime running out of
/// memory, init crashing, the executor not starting). A log carrying them
/// comes from a broken machine: its kernel reports are noise.
const BROKEN_MACHINE: &[&str] = &[
    "*** stack smashing detected ***",
    "fatal error: runtime: out of memory",
    "fatal error: runtime: cannot allocate memory",
    "panic: failed to start executor binary",
    "INIT: PANIC: segmentation violation",
];

/// Bytes around a report searched for [`BROKEN_MACHINE`] messages: the
/// machine breaks around the time of the report, and a bounded window
/// keeps scanning linear in the log size however many reports it has.
pub const AROUND: usize = 64 << 10;

/// Whether a report whose surroundings are `near` must not be reported.
pub fn log_suppressed(near: &[u8]) -> bool {
    BROKEN_MACHINE
        .iter()
        .any(|m| memchr::memmem::find(near, m.as_bytes()).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_machine_logs_are_suppressed() {
        let log = b"[ 1.0] ok\n*** stack smashing detected ***: terminated\nWARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n";
        assert!(log_suppressed(log));
        assert!(!log_suppressed(
            b"[ 1.0] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n"
        ));
    }
}
