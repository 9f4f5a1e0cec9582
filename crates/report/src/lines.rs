//! Console lines: splitting raw bytes into lines and stripping the
//! per-line decorations the kernel and the test harness add (syslog level,
//! `[  12.345678]` timestamps, `[ T123]` / `[ C1]` caller ids).
//!
//! Works on borrowed slices only; it never copies the whole log.

use std::borrow::Cow;

/// One console line with its position in the original log.
#[derive(Debug, Clone)]
pub struct Line {
    /// Byte offset of the first byte of the line.
    pub start: usize,
    /// Byte offset just past the line terminator (or the end of the log).
    pub end: usize,
    /// Line text without decorations, CR and trailing whitespace.
    pub text: String,
    /// Caller id (`T123` task or `C1` CPU) printed by the console, if any.
    pub ctx: Option<String>,
    /// The line carries a kernel timestamp (`[  12.345678]`).
    pub stamped: bool,
}

/// Start of the line containing `pos`.
pub fn line_start(log: &[u8], pos: usize) -> usize {
    let pos = pos.min(log.len());
    match memchr::memrchr(b'\n', &log[..pos]) {
        Some(i) => i + 1,
        None => 0,
    }
}

/// End of the line starting at or containing `pos` (just past the `\n`).
pub fn line_end(log: &[u8], pos: usize) -> usize {
    let pos = pos.min(log.len());
    match memchr::memchr(b'\n', &log[pos..]) {
        Some(i) => pos + i + 1,
        None => log.len(),
    }
}

/// Builds a [`Line`] for the raw line `log[start..end]`.
pub fn make_line(log: &[u8], start: usize, end: usize) -> Line {
    Line {
        start,
        end,
        text: clean(&log[start..end]).into_owned(),
        ctx: caller_id(&log[start..end]).map(|c| String::from_utf8_lossy(c).into_owned()),
        stamped: stamped(&log[start..end]),
    }
}

/// Lines from `start` onwards, at most `max` of them.
pub fn lines_from(log: &[u8], start: usize, max: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < log.len() && out.len() < max {
        let end = line_end(log, pos);
        out.push(make_line(log, pos, end));
        pos = end;
    }
    out
}

/// Decoded text of one raw line with decorations removed.
pub fn clean(raw: &[u8]) -> Cow<'_, str> {
    let mut s = raw;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = s {
        s = rest;
    }
    let stripped = strip_prefix(s);
    // Only a line that does not start with its own timestamp can have
    // foreign output glued in front of one.
    let s = if stripped.len() == s.len() {
        skip_junk_before_timestamp(s)
    } else {
        stripped
    };
    let text = String::from_utf8_lossy(s);
    if text.contains('\r') {
        // A CR inside a line: the console rewound, keep what came last.
        let last = text
            .rsplit('\r')
            .find(|p| !p.trim().is_empty())
            .unwrap_or("");
        return Cow::Owned(strip_prefix_str(last).to_string());
    }
    text
}

fn strip_prefix_str(s: &str) -> &str {
    let b = strip_prefix(s.as_bytes());
    // strip_prefix only removes ASCII, so the cut is on a char boundary.
    &s[s.len() - b.len()..]
}

/// Removes `<N>`, `[ 12.345]`, `[ T123]`, `[ C1]` style prefixes and one
/// following space.
pub fn strip_prefix(mut s: &[u8]) -> &[u8] {
    // syslog level
    if s.len() >= 3 && s[0] == b'<' {
        if let Some(close) = s.iter().take(5).position(|&c| c == b'>') {
            if close > 1 && s[1..close].iter().all(u8::is_ascii_digit) {
                s = &s[close + 1..];
            }
        }
    }
    let mut stripped = false;
    while let Some(rest) = bracket(s) {
        s = rest;
        stripped = true;
    }
    if stripped && s.first() == Some(&b' ') {
        s = &s[1..];
    }
    s
}

/// `syzkaller login: [ 36.85][ T3615] text` -> `text`: console output
/// glued in front of a kernel line.
fn skip_junk_before_timestamp(s: &[u8]) -> &[u8] {
    let limit = s.len().min(120);
    let mut from = 1;
    while from < limit {
        let Some(i) = memchr::memchr(b'[', &s[from..limit]) else {
            break;
        };
        let at = from + i;
        if let Some(rest) = bracket(&s[at..]) {
            let inner = &s[at + 1..s.len() - rest.len() - 1];
            if inner.contains(&b'.') {
                return strip_prefix(&s[at..]);
            }
        }
        from = at + 1;
    }
    s
}

/// Does the raw line start with a kernel timestamp?
pub fn stamped(raw: &[u8]) -> bool {
    let mut s = raw;
    if s.first() == Some(&b'<') {
        if let Some(close) = s.iter().take(5).position(|&c| c == b'>') {
            s = &s[close + 1..];
        }
    }
    bracket(s).is_some_and(|rest| s[1..s.len() - rest.len() - 1].contains(&b'.'))
}

/// The `T123` / `C1` caller id of a raw line, if it has one.
pub fn caller_id(raw: &[u8]) -> Option<&[u8]> {
    let mut s = raw;
    if s.first() == Some(&b'<') {
        let close = s.iter().take(5).position(|&c| c == b'>')?;
        s = &s[close + 1..];
    }
    for _ in 0..2 {
        let rest = bracket(s)?;
        let inner = trim_spaces(&s[1..s.len() - rest.len() - 1]);
        if matches!(inner.first(), Some(b'T' | b'C')) {
            return Some(inner);
        }
        s = rest;
    }
    None
}

/// If `s` starts with a timestamp or caller-id bracket, returns the rest.
fn bracket(s: &[u8]) -> Option<&[u8]> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let close = s.iter().take(24).position(|&c| c == b']')?;
    let inner = &s[1..close];
    let t = trim_spaces(inner);
    if t.is_empty() {
        return None;
    }
    let ok = if t[0] == b'T' || t[0] == b'C' {
        t.len() > 1 && t[1..].iter().all(u8::is_ascii_digit)
    } else {
        let mut dots = 0;
        t.iter().all(|&c| {
            if c == b'.' {
                dots += 1;
                true
            } else {
                c.is_ascii_digit()
            }
        }) && dots == 1
    };
    ok.then(|| &s[close + 1..])
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_decorations() {
        assert_eq!(clean(b"[   19.121820] BUG: x\n"), "BUG: x");
        assert_eq!(clean(b"[  560.71][ T1194] WARNING: y\r\n"), "WARNING: y");
        assert_eq!(
            clean(b"[  560.71][    C1]  dump_stack+0x1/0x2"),
            " dump_stack+0x1/0x2"
        );
        assert_eq!(clean(b"<4>[ 1.0] hello"), "hello");
        assert_eq!(clean(b"[mem 0x0-0x9] usable"), "[mem 0x0-0x9] usable");
        assert_eq!(clean(b"plain"), "plain");
        assert_eq!(clean(b"login: [ 36.8][ T1] WARNING: x"), "WARNING: x");
    }

    #[test]
    fn caller_ids() {
        assert_eq!(caller_id(b"[  1.0][ T1194] x"), Some(&b"T1194"[..]));
        assert_eq!(caller_id(b"[  1.0][    C1] x"), Some(&b"C1"[..]));
        assert_eq!(caller_id(b"[  1.0] x"), None);
    }

    #[test]
    fn line_bounds() {
        let log = b"ab\ncd\nef";
        assert_eq!(line_start(log, 4), 3);
        assert_eq!(line_end(log, 3), 6);
        assert_eq!(line_end(log, 7), 8);
        assert_eq!(lines_from(log, 0, 10).len(), 3);
    }
}
