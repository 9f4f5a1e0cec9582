//! Recognising report headers: a literal prefilter (Aho-Corasick over
//! the raw bytes) so that benign lines cost almost nothing, then the
//! `formats` table's regexes on the few candidate lines; plus the helpers
//! that read the lines right after a header (the KASAN access line, the
//! repetitions of a header for inlined frames).
//!
//! It only looks at lines; it never decides where a report ends.

use crate::formats::{formats, keys, Format};
use crate::lines::{clean, line_end, Line};
use crate::suppress;
use aho_corasick::AhoCorasick;
use regex::Captures;
use std::sync::OnceLock;

pub fn prefilter() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| AhoCorasick::new(keys()).expect("prefilter"))
}

/// The format matching a decoration-free line, with its captures.
/// `next` is the following line (for formats that need it).
pub fn match_line<'t>(
    text: &'t str,
    next: Option<&str>,
    primary_only: bool,
) -> Option<(&'static Format, Captures<'t>)> {
    if !prefilter().is_match(text) {
        return None;
    }
    for f in formats() {
        if primary_only && f.secondary {
            continue;
        }
        if !text.contains(f.key) {
            continue;
        }
        let Some(c) = f.header.captures(text) else {
            continue;
        };
        if f.needs_access && access_in(next.unwrap_or("")).is_none() {
            continue;
        }
        if f.needs_blocked
            && !next.is_some_and(|n| {
                n.lines()
                    .next()
                    .is_some_and(|l| l.contains("blocked for more than"))
            })
        {
            continue;
        }
        if suppress::ignored_header(text) {
            return None;
        }
        return Some((f, c));
    }
    None
}

/// Up to three following non-empty lines (from index `from`), joined.
pub fn next_nonempty(lines: &[Line], from: usize) -> Option<String> {
    let v: Vec<&str> = lines
        .iter()
        .skip(from)
        .take(8)
        .map(|l| l.text.as_str())
        .filter(|t| !t.trim().is_empty())
        .take(3)
        .collect();
    (!v.is_empty()).then(|| v.join("\n"))
}

/// " Read" / " Write" from a KASAN access line among `next` lines,
/// looking past foreign lines but not past another crash header.
pub fn access_in(next: &str) -> Option<&'static str> {
    for t in next.lines() {
        let t = t.trim_start();
        if t.starts_with("Read of size") || t.starts_with("Read at addr") {
            return Some(" Read");
        }
        if t.starts_with("Write of size") || t.starts_with("Write at addr") {
            return Some(" Write");
        }
        if is_header(t) {
            return None;
        }
    }
    None
}

/// Does the line start some crash report?
pub fn is_header(t: &str) -> bool {
    prefilter().is_match(t)
        && formats()
            .iter()
            .any(|f| t.contains(f.key) && f.header.is_match(t) && !suppress::ignored_header(t))
}

/// Like [`next_nonempty`] on raw bytes starting at `pos`, skipping
/// repetitions of the header (symbolized inline frames).
pub fn next_nonempty_raw(log: &[u8], mut pos: usize, header: &str) -> Option<String> {
    let st = stem(header);
    let mut out: Vec<String> = Vec::new();
    for _ in 0..12 {
        if pos >= log.len() || out.len() == 3 {
            break;
        }
        let end = line_end(log, pos);
        let t = clean(&log[pos..end]);
        let repeat = out.is_empty() && st.is_some_and(|st| t.starts_with(st));
        if !t.trim().is_empty() && !repeat {
            out.push(t.into_owned());
        }
        pos = end;
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// The part of a header line that symbolized reports repeat for every
/// inlined frame ("BUG: KASAN: use-after-free in ").
fn stem(header: &str) -> Option<&str> {
    let i = [" in ", " at "]
        .iter()
        .filter_map(|p| header.find(p).map(|i| i + p.len()))
        .min()?;
    (i >= 10).then(|| &header[..i])
}

/// Number of lines forming the header: the header plus its repetitions.
pub fn header_group(lines: &[Line]) -> usize {
    let Some(st) = lines.first().and_then(|l| stem(&l.text)) else {
        return 1;
    };
    let mut n = 1;
    while n < 8 && lines.get(n).is_some_and(|l| l.text.starts_with(st)) {
        n += 1;
    }
    n
}
