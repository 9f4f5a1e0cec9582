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
    ];
    BENIGN.iter().any(|b| text.contains(b))
}

/// Reports that must not be reported.
pub fn suppressed(lines: &[crate::lines::Line]) -> bool {
    let _ = lines;
    false
}
