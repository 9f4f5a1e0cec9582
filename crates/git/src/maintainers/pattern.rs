//! `F:` / `X:` file patterns.
//!
//! get_maintainer.pl turns a pattern into a regular expression (`.` is
//! literal, `*` is `.*`, `?` is `.`, anything else keeps its regex meaning),
//! anchors it only at the start, and then accepts a match when the pattern
//! ends in `/` (a directory: everything below it) or when the file has as
//! many `/` as the pattern (so `drivers/foo*` does not reach into
//! sub-directories). Compiling ~7000 regexes would cost far more than the
//! 50 ms parse budget, so the usual glob shapes are matched by hand and only
//! patterns using other regex syntax fall back to a real regex.

use regex::Regex;

/// One compiled `F:`/`X:` value.
#[derive(Debug, Clone)]
pub(crate) struct FilePattern {
    matcher: Matcher,
    /// Number of `/` in the converted pattern.
    slashes: usize,
    /// Whether the converted pattern ends in `/`.
    dir: bool,
    /// Specificity used to order sections (get_maintainer.pl's `value_pd`).
    pub(crate) depth: i32,
}

#[derive(Debug, Clone)]
enum Matcher {
    Glob(Vec<Tok>),
    Regex(Regex),
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(u8),
    /// `?`: any one character except a newline.
    One,
    /// `*`: any run of characters (slashes included).
    Star,
    Class {
        negated: bool,
        items: Vec<(u8, u8)>,
    },
}

/// The regex text get_maintainer.pl derives from a pattern value.
pub(crate) fn perl_regex_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '.' => out.push_str("\\."),
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push(c),
        }
    }
    out
}

/// Whether `-d converted` could be true: a converted value holding an
/// escape or a wildcard names no real directory, so skip the `stat`.
pub(crate) fn may_be_directory(converted: &str) -> bool {
    !converted.ends_with('/') && !converted.contains('\\') && !converted.contains('*')
}

impl FilePattern {
    /// Compiles a converted pattern (see [`perl_regex_text`]), after the
    /// trailing slash for directories has been added.
    pub(crate) fn new(converted: &str, original: &str) -> Result<Self, regex::Error> {
        let slashes = converted.bytes().filter(|&b| b == b'/').count();
        let dir = converted.ends_with('/');
        let mut depth = slashes as i32 + i32::from(!dir);
        if converted.starts_with(".*") {
            depth = -1;
        }
        let matcher = match glob_tokens(original, dir && !original.ends_with('/')) {
            Some(toks) => Matcher::Glob(toks),
            None => Matcher::Regex(Regex::new(&format!("^{converted}"))?),
        };
        Ok(FilePattern {
            matcher,
            slashes,
            dir,
            depth,
        })
    }

    /// A string every matching file starts with (empty if unknown).
    pub(crate) fn literal_prefix(&self) -> String {
        match &self.matcher {
            Matcher::Glob(toks) => toks
                .iter()
                .map_while(|t| match t {
                    Tok::Lit(c) => Some(*c as char),
                    _ => None,
                })
                .collect(),
            Matcher::Regex(_) => String::new(),
        }
    }

    /// get_maintainer.pl's `file_match_pattern`.
    pub(crate) fn matches(&self, file: &str) -> bool {
        let prefix = match &self.matcher {
            Matcher::Glob(toks) => prefix_match(toks, file.as_bytes()),
            Matcher::Regex(re) => re.is_match(file),
        };
        prefix && (self.dir || file.bytes().filter(|&b| b == b'/').count() == self.slashes)
    }
}

/// Tokenizes the original value; `None` when it uses regex syntax that the
/// hand matcher does not cover.
fn glob_tokens(original: &str, add_slash: bool) -> Option<Vec<Tok>> {
    let b = original.as_bytes();
    let mut toks = Vec::with_capacity(b.len() + 1);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => toks.push(Tok::Star),
            b'?' => toks.push(Tok::One),
            b'[' => {
                let (tok, next) = class(b, i + 1)?;
                toks.push(tok);
                i = next;
                continue;
            }
            b'\\' | b'+' | b'(' | b')' | b'|' | b'{' | b'}' | b'^' | b'$' | b']' => return None,
            c if c.is_ascii() => toks.push(Tok::Lit(c)),
            _ => return None,
        }
        i += 1;
    }
    if add_slash {
        toks.push(Tok::Lit(b'/'));
    }
    Some(toks)
}

fn class(b: &[u8], mut i: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if b.get(i) == Some(&b'^') {
        negated = true;
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let c = *b.get(i)?;
        if c == b']' && !first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        if c == b'\\' || c == b'[' || !c.is_ascii() {
            return None;
        }
        first = false;
        if b.get(i + 1) == Some(&b'-') && b.get(i + 2).is_some_and(|&e| e != b']') {
            let end = b[i + 2];
            if end == b'\\' || end < c {
                return None;
            }
            items.push((c, end));
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
}

fn tok_matches_byte(tok: &Tok, c: u8) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => c != b'\n',
        Tok::Star => unreachable!("star is handled by the matcher"),
        Tok::Class { negated, items } => {
            let inside = items.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            inside != *negated
        }
    }
}

/// Whether the tokens match some prefix of `text` (regex `^pattern`).
fn prefix_match(toks: &[Tok], text: &[u8]) -> bool {
    // Classic iterative wildcard matching with one backtrack point: on a
    // mismatch, the latest `*` absorbs one more byte. Reaching the end of
    // the pattern is success whatever text is left.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == toks.len() {
            return true;
        }
        if let Tok::Star = toks[p] {
            star = Some((p, t));
            p += 1;
            continue;
        }
        if t < text.len() && tok_matches_byte(&toks[p], text[t]) {
            p += 1;
            t += 1;
            continue;
        }
        match star {
            // `.*` does not cross a newline; paths hold none, but be exact.
            Some((sp, st)) if st < text.len() && text[st] != b'\n' => {
                star = Some((sp, st + 1));
                p = sp + 1;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(v: &str, is_dir: bool) -> FilePattern {
        let mut conv = perl_regex_text(v);
        if is_dir && !conv.ends_with('/') {
            conv.push('/');
        }
        FilePattern::new(&conv, v).unwrap()
    }

    #[test]
    fn directory_pattern_matches_everything_below() {
        let p = pat("drivers/net/", false);
        assert!(p.matches("drivers/net/a/b/c.c"));
        assert!(!p.matches("drivers/netfoo/a.c"));
        assert_eq!(p.depth, 2);
    }

    #[test]
    fn plain_pattern_needs_same_depth_but_is_a_prefix() {
        let p = pat("fs/io_uring", false);
        assert!(p.matches("fs/io_uring.c"));
        assert!(!p.matches("fs/io_uring/x.c"));
        assert_eq!(p.depth, 2);
        let d = pat("fs/io_uring", true);
        assert!(d.matches("fs/io_uring/x.c"));
        assert!(!d.matches("fs/io_uring.c"));
    }

    #[test]
    fn globs_classes_and_rest() {
        let p = pat("drivers/regulator/da9???-regulator.[ch]", false);
        assert!(p.matches("drivers/regulator/da9121-regulator.c"));
        assert!(!p.matches("drivers/regulator/da9121-regulator.o"));
        let rest = pat("*/", false);
        assert!(rest.matches("a/b/c"));
        assert!(!rest.matches("Makefile"));
        assert_eq!(rest.depth, -1);
        let top = pat("*", false);
        assert!(top.matches("Makefile"));
        assert!(!top.matches("a/b"));
    }

    #[test]
    fn regex_fallback_agrees_with_glob() {
        let conv = perl_regex_text("include/sound/da[79]*.h");
        let glob = FilePattern::new(&conv, "include/sound/da[79]*.h").unwrap();
        let re = FilePattern {
            matcher: Matcher::Regex(Regex::new(&format!("^{conv}")).unwrap()),
            ..glob.clone()
        };
        for f in [
            "include/sound/da7213.h",
            "include/sound/da8.h",
            "include/sound/da9.hx",
        ] {
            assert_eq!(glob.matches(f), re.matches(f), "{f}");
        }
    }
}
