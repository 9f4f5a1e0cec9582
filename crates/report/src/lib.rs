//! Linux crash reports out of console output.
//!
//! Given raw console bytes (binary junk, CR/LF mixes, interleaved CPUs,
//! caller ids, timestamps, truncation), find every crash report and describe
//! it: normalised title, alternative titles, type, guilty frame, corrupted
//! flag with its reason, the report text and the guilty source file.
//!
//! It never does I/O beyond the bytes it is given, and never panics on any
//! input.
//!
//! PLACEHOLDER: a minimal matcher until the real parser lands.

use serde::Serialize;

/// One crash report found in a console log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Normalised title, e.g. "general protection fault in io_uring_register".
    pub title: String,
    pub alt_titles: Vec<String>,
    /// Crash type in the corpus's names (e.g. "KASAN-USE-AFTER-FREE-READ").
    #[serde(rename = "type")]
    pub kind: String,
    /// The guilty function (after the last " in " of the title), if any.
    pub frame: Option<String>,
    pub corrupted: bool,
    /// Why the report is considered corrupted.
    pub corrupted_reason: Option<String>,
    pub suppressed: bool,
    pub panicked: bool,
    /// Byte offsets of the report in the log.
    pub start: usize,
    pub end: usize,
    /// The report text cut out of the log.
    pub report: String,
    /// First non-infrastructure source file in the stack, if the report has file:line.
    pub guilty_file: Option<String>,
}

/// Every crash report in the log, in order.
pub fn reports(log: &[u8]) -> impl Iterator<Item = Report> + '_ {
    let text = String::from_utf8_lossy(log).into_owned();
    let mut found = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end();
        for pat in ["BUG: ", "WARNING: ", "general protection fault", "Kernel panic"] {
            if let Some(i) = l.find(pat) {
                let t = l[i..].to_string();
                found.push(Report {
                    title: t.clone(),
                    alt_titles: vec![],
                    kind: "UNKNOWN".into(),
                    frame: None,
                    corrupted: false,
                    corrupted_reason: None,
                    suppressed: false,
                    panicked: false,
                    start: pos,
                    end: pos + line.len(),
                    report: line.to_string(),
                    guilty_file: None,
                });
                break;
            }
        }
        pos += line.len();
    }
    found.into_iter()
}

/// The first crash report in the log.
pub fn parse(log: &[u8]) -> Option<Report> {
    reports(log).next()
}
