//! The "compiler: ..." line: the real compiler and linker that built the
//! kernel (not the ccache wrapper), as the kernel itself records them.

use culprit_proc::{Cancel, Job};
use std::path::Path;

/// The identity recorded by the build (include/generated/compile.h,
/// LINUX_COMPILER), else asked from the tools (under `cancel`; a cancelled
/// or failed probe gives "unknown version").
pub fn identity(build_dir: &Path, cc: &str, cancel: &Cancel) -> String {
    if let Ok(h) = std::fs::read_to_string(build_dir.join("include/generated/compile.h")) {
        if let Some(v) = from_compile_h(&h) {
            return v;
        }
    }
    let first = |tool: &str| -> Option<String> {
        let mut j = Job::new(tool);
        j.arg("--version");
        let out = j.output(cancel).ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(|l| l.trim().to_string())
    };
    match (first(cc), first("ld")) {
        (Some(c), Some(l)) => format!("{c}, {l}"),
        (Some(c), None) => c,
        _ => format!("{cc} (unknown version)"),
    }
}

fn from_compile_h(h: &str) -> Option<String> {
    let line = h.lines().find(|l| l.contains("LINUX_COMPILER"))?;
    let start = line.find('"')?;
    let end = line.rfind('"')?;
    (end > start + 1).then(|| line[start + 1..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compile_h() {
        let h = "#define UTS_MACHINE \"x86_64\"\n#define LINUX_COMPILER \"gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40\"\n";
        assert_eq!(
            from_compile_h(h).unwrap(),
            "gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40"
        );
        assert_eq!(from_compile_h("#define X 1\n"), None);
    }

    #[test]
    fn asks_the_tools_without_a_build() {
        let d = tempfile::tempdir().unwrap();
        let id = identity(d.path(), "gcc", &Cancel::new());
        assert!(id.starts_with("gcc"), "{id}");
        assert!(id.contains("ld"), "{id}");
    }
}
