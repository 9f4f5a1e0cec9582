//! Reading a patch (git format-patch or plain diff) the way
//! get_maintainer.pl does: the file names it touches, and the lines that
//! `K:` keywords are matched against (every line of the preamble, and the
//! `+`/`-` lines of the diff).

use std::sync::OnceLock;

use regex::bytes::Regex;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// What a patch contributes to a lookup.
#[derive(Debug, Default)]
pub(crate) struct PatchScan<'a> {
    pub(crate) files: Vec<String>,
    /// Lines matched against keywords as they are (the preamble).
    pub(crate) intro_lines: Vec<&'a [u8]>,
    /// Lines matched with the `^[+-].*` prefix (after the first file
    /// header).
    pub(crate) diff_lines: Vec<&'a [u8]>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn scan(patch: &[u8]) -> PatchScan<'_> {
    static MODE: OnceLock<Regex> = OnceLock::new();
    static RENAME: OnceLock<Regex> = OnceLock::new();
    static DIFF: OnceLock<Regex> = OnceLock::new();
    static FIXES: OnceLock<Regex> = OnceLock::new();
    static PLUS: OnceLock<Regex> = OnceLock::new();
    static MINUS: OnceLock<Regex> = OnceLock::new();
    static STRIP: OnceLock<Regex> = OnceLock::new();
    let mut out = PatchScan::default();
    let mut in_diff = false;
    let mut rest = patch;
    while !rest.is_empty() {
        // Lines keep their newline, as Perl's `<$fh>` does.
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        if let Some(c) = re(&MODE, r"(?-u)^ mode change [0-7]+ => [0-7]+ (\S+)\s*$").captures(line)
        {
            out.files.push(text(&c[1]));
        } else if let Some(c) = re(&RENAME, r"(?-u)^rename (?:from|to) (\S+)\s*$").captures(line) {
            out.files.push(text(&c[1]));
        } else if let Some(c) = re(&DIFF, r"(?-u)^diff --git a/(\S+) b/(\S+)\s*$").captures(line) {
            out.files.push(text(&c[1]));
            out.files.push(text(&c[2]));
        } else if re(&FIXES, r"(?-u)^Fixes:\s+[0-9a-fA-F]{6,40}").is_match(line) {
            // get_maintainer.pl asks git about the fixed commit; without
            // history that adds nobody, and the line is not keyword-scanned.
        } else if let Some(c) = re(&PLUS, r"(?-u)^\+\+\+\s+(\S+)")
            .captures(line)
            .or_else(|| re(&MINUS, r"(?-u)^---\s+(\S+)").captures(line))
        {
            let name = re(&STRIP, r"(?-u)^[^/]*/").replace(&c[1], &b""[..]);
            out.files.push(text(&name));
            in_diff = true;
        } else if line.starts_with(b"@@ -") && hunk_header(line) {
            // Hunk headers only matter for git blame.
        } else if in_diff {
            out.diff_lines.push(line);
        } else {
            out.intro_lines.push(line);
        }
    }
    out
}

/// `^\@\@ -(\d+),(\d+)`.
fn hunk_header(line: &[u8]) -> bool {
    static HUNK: OnceLock<Regex> = OnceLock::new();
    re(&HUNK, r"(?-u)^@@ -\d+,\d+").is_match(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_keyword_lines() {
        let p = b"Subject: [PATCH] riscv: x\n\nbody\n---\n a | 1 +\n\
diff --git a/arch/riscv/a.c b/arch/riscv/a.c\n--- a/arch/riscv/a.c\n+++ b/arch/riscv/a.c\n\
@@ -1,2 +1,2 @@\n context\n-old\n+new\n";
        let s = scan(p);
        assert_eq!(s.files, vec!["arch/riscv/a.c"; 4]);
        assert_eq!(s.intro_lines.len(), 5);
        assert_eq!(s.diff_lines, vec![&b" context\n"[..], b"-old\n", b"+new\n"]);
    }

    #[test]
    fn dev_null_is_kept_like_get_maintainer() {
        let s = scan(b"--- /dev/null\n+++ b/new.c\n");
        assert_eq!(s.files, vec!["dev/null", "new.c"]);
    }
}
