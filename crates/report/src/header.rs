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

/// Finds the header keys in text. A line holding a longer key holds
/// every shorter key it contains, so only keys that contain no other key
/// are searched for; that leaves few enough for a SIMD (Teddy) searcher,
/// with the general automaton where the CPU has none.
pub struct Prefilter {
    packed: Option<aho_corasick::packed::Searcher>,
    ac: AhoCorasick,
}

impl Prefilter {
    /// Where the first key in `text` starts.
    pub fn find(&self, text: &[u8]) -> Option<usize> {
        match &self.packed {
            Some(p) => p.find(text).map(|m| m.start()),
            None => self.ac.find(text).map(|m| m.start()),
        }
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.find(text.as_bytes()).is_some()
    }
}

pub fn prefilter() -> &'static Prefilter {
    static P: OnceLock<Prefilter> = OnceLock::new();
    P.get_or_init(|| {
        let all = keys();
        let minimal: Vec<&str> = all
            .iter()
            .filter(|k| !all.iter().any(|o| o != *k && k.contains(o)))
            .copied()
            .collect();
        Prefilter {
            packed: aho_corasick::packed::Config::new()
                .builder()
                .extend(&minimal)
                .build(),
            ac: AhoCorasick::new(&minimal).expect("prefilter"),
        }
    })
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

#[cfg(test)]
mod prefilter_tests {
    use super::prefilter;
    use crate::formats::keys;

    /// The first line holding any key, found the slow way.
    fn first_line_with_a_key(text: &str) -> Option<usize> {
        text.lines()
            .position(|l| keys().iter().any(|k| l.contains(k)))
    }

    #[test]
    fn the_prefilter_finds_the_first_line_holding_any_key() {
        let noise = [
            "[   12.3][ T12] audit: type=1400 avc: denied",
            "executing program 3:",
            "netlink: 8 bytes leftover",
            "",
        ];
        for (i, key) in keys().iter().enumerate() {
            // Every key, alone, behind noise, mid-line, at the end.
            for at in 0..3 {
                let mut lines: Vec<String> =
                    (0..5).map(|n| noise[(n + i) % 4].to_string()).collect();
                let line = match at {
                    0 => key.to_string(),
                    1 => format!("[  1.0][ C1] {key}xyz"),
                    _ => format!("prefix {key}"),
                };
                lines.insert(2 + at, line);
                let text = lines.join("\n");
                let want = first_line_with_a_key(&text);
                let got = prefilter()
                    .find(text.as_bytes())
                    .map(|at| text[..at].matches('\n').count());
                assert_eq!(got, want, "key {key:?} in {text:?}");
            }
        }
        assert_eq!(prefilter().find(noise.join("\n").as_bytes()), None);
    }
}
