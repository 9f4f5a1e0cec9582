//! The crash as a maintainer reads it: the target's report cut out of a
//! console, its frames symbolised to `function file:line` (with `[inline]`
//! frames) when the kernel image has debug info, and the `Code:` bytes
//! disassembled with the trapping instruction marked.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Consoles larger than this are not read for the report (a console is
/// kept bounded by crates/proc, 5 MiB by default).
const MAX_CONSOLE: u64 = 64 << 20;

/// The target crash's report.
#[derive(Debug, Clone, Serialize)]
pub struct CrashDoc {
    pub title: String,
    /// The console it was cut from.
    pub console: PathBuf,
    /// The report text, symbolised when `symbolized`.
    pub report: String,
    pub symbolized: bool,
    /// Why the frames are not symbolised, when they are not.
    pub not_symbolized: Option<String>,
    /// Every frame of the report that resolved, in report order, inlined
    /// functions first.
    pub frames: Vec<FrameDoc>,
    /// The "Code disassembly (best guess)" block, when the report has
    /// code worth showing.
    pub disassembly: Option<String>,
}

/// One symbolised frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameDoc {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inline: bool,
}

/// The report of the crash `title` (or one that is the same crash) in
/// `console`, symbolised with `vmlinux` when given.
pub fn crash_of(console: &Path, title: &str, vmlinux: Option<&Path>) -> Option<CrashDoc> {
    let bytes = read_bounded(console)?;
    let target = culprit_report::Target::from_title(title);
    let report = culprit_report::reports(&bytes)
        .find(|r| r.title == title || culprit_report::identity_match(&target, r).is_some())?;
    let text = report.report.clone();
    let disassembly = culprit_report::disasm::report_block(&text);
    let mut doc = CrashDoc {
        title: report.title.clone(),
        console: console.to_path_buf(),
        report: text.clone(),
        symbolized: false,
        not_symbolized: None,
        frames: Vec::new(),
        disassembly,
    };
    match symbolizer(vmlinux) {
        Ok(s) => {
            doc.report = s.symbolize(&text);
            doc.symbolized = true;
            doc.frames = s
                .lines(&text)
                .into_iter()
                .flat_map(|l| l.frames)
                .map(|f| FrameDoc {
                    function: f.function,
                    file: f.file,
                    line: f.line,
                    inline: f.inline,
                })
                .collect();
        }
        Err(why) => doc.not_symbolized = Some(why),
    }
    Some(doc)
}

fn symbolizer(vmlinux: Option<&Path>) -> Result<culprit_report::symbolize::Symbolizer, String> {
    let p = vmlinux.ok_or("no kernel image with symbols was kept for this commit")?;
    let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    culprit_report::symbolize::Symbolizer::new(&bytes).map_err(|e| e.to_string())
}

fn read_bounded(p: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(p).ok()?;
    let mut bytes = Vec::new();
    f.take(MAX_CONSOLE).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_and_its_code_come_out_of_the_console() {
        let d = tempfile::tempdir().unwrap();
        let console = d.path().join("0.log");
        let log = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/reference/syzbot-cause-bisection.log"),
        );
        let Ok(log) = log else {
            eprintln!("SKIPPED: the reference log is not in ../shared");
            return;
        };
        // The reference log's final oops, as a console would hold it.
        let start = log
            .find("general protection fault, probably for non-canonical")
            .unwrap();
        std::fs::write(&console, &log[start..]).unwrap();
        let title = culprit_report::parse(&log.as_bytes()[start..])
            .unwrap()
            .title;
        let c = crash_of(&console, &title, None).unwrap();
        assert!(c.report.contains("RIP: 0010:"), "{}", c.report);
        assert!(!c.symbolized);
        assert!(c.not_symbolized.unwrap().contains("no kernel image"));
        let code = c.disassembly.expect("a code block");
        assert!(code.contains("<-- trapping instruction"), "{code}");
        // Another crash's title finds nothing.
        assert!(crash_of(&console, "WARNING in something_else", None).is_none());
    }
}
