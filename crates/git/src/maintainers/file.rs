//! Parsing MAINTAINERS into entries and compiling their rules.
//!
//! The file is read the way get_maintainer.pl reads it: every `X:` line
//! (an upper-case letter and a colon at column 0) is a field, every other
//! non-blank, non-`#` line is text, and an entry is the last text line
//! before a run of fields (its name) plus those fields. Line positions in
//! that sequence ("tv index") are kept because get_maintainer.pl orders
//! keyword matches by them.

use std::collections::HashMap;

use regex::bytes::RegexSet;

use super::pattern::{may_be_directory, perl_regex_text, FilePattern};
use super::MaintainersError;

/// One field line of an entry, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    /// The field letter: `M`, `R`, `L`, `S`, `F`, `X`, `N`, `K`, `T`, `W`,
    /// `Q`, `B`, `C`, `P`, ...
    pub kind: char,
    /// The value after the colon and leading whitespace.
    pub value: String,
}

/// One MAINTAINERS entry (a subsystem).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// The entry's title line, e.g. `IO_URING`.
    pub name: String,
    /// All fields in file order.
    pub fields: Vec<Field>,
    /// 1-based line number of the title in MAINTAINERS.
    pub line: usize,
    #[serde(skip)]
    pub(crate) rules: Vec<Rule>,
    #[serde(skip)]
    pub(crate) excludes: Vec<FilePattern>,
}

/// A rule that can attach a file to an entry, in file order.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    File(FilePattern),
    /// Index into the N: regex set.
    Name(usize),
}

/// A `K:` line: where it sits and which entry it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Keyword {
    pub(crate) tv_index: usize,
    pub(crate) entry: usize,
    pub(crate) pattern: String,
}

pub(crate) struct Parsed {
    pub(crate) entries: Vec<Entry>,
    pub(crate) name_rules: RegexSet,
    /// Entry owning each N: rule.
    pub(crate) name_rule_entry: Vec<usize>,
    /// Entries with an F: pattern whose fixed prefix ends in this
    /// directory (`drivers/net/`); a file can only match entries filed
    /// under one of its parent directories, or under "" (wildcard start).
    pub(crate) by_dir: HashMap<String, Vec<usize>>,
    /// Keywords ordered the way get_maintainer.pl walks matches: by the
    /// decimal text of their tv index (Perl's default string sort).
    pub(crate) keywords: Vec<Keyword>,
}

/// Splits `^([A-Z]):\s*(.*)`.
fn field_of(line: &str) -> Option<(char, &str)> {
    let b = line.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_uppercase() && b[1] == b':' {
        let rest = line[2..].trim_start_matches([' ', '\t', '\r', '\x0b', '\x0c']);
        Some((b[0] as char, rest))
    } else {
        None
    }
}

fn is_skipped(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t', '\r', '\x0b', '\x0c']);
    t.is_empty() || t.starts_with('#')
}

/// Parses MAINTAINERS text. `is_dir` answers whether a converted `F:`/`X:`
/// value names a directory of the tree (get_maintainer.pl appends a `/`
/// then); pass `|_| false` without a tree.
pub(crate) fn parse(text: &str, is_dir: &dyn Fn(&str) -> bool) -> Result<Parsed, MaintainersError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut name_patterns: Vec<String> = Vec::new();
    let mut name_rule_entry: Vec<usize> = Vec::new();
    let mut by_dir: HashMap<String, Vec<usize>> = HashMap::new();
    let mut keywords = Vec::new();
    let mut last_text: Option<(String, usize)> = None;
    let mut in_fields = false;
    let mut tv = 0usize;
    for (lineno, line) in text.split('\n').enumerate() {
        let lineno = lineno + 1;
        let Some((kind, value)) = field_of(line) else {
            if !is_skipped(line) {
                last_text = Some((line.to_string(), lineno));
                in_fields = false;
                tv += 1;
            }
            continue;
        };
        if !in_fields {
            let (name, at) = last_text.take().unwrap_or_default();
            entries.push(Entry {
                name,
                fields: Vec::new(),
                line: at,
                rules: Vec::new(),
                excludes: Vec::new(),
            });
            in_fields = true;
        }
        let idx = entries.len() - 1;
        let entry = &mut entries[idx];
        entry.fields.push(Field {
            kind,
            value: value.to_string(),
        });
        match kind {
            'F' | 'X' => {
                let mut conv = perl_regex_text(value);
                if may_be_directory(&conv) && !conv.is_empty() && is_dir(&conv) {
                    conv.push('/');
                }
                let pat =
                    FilePattern::new(&conv, value).map_err(|e| MaintainersError::Pattern {
                        line: lineno,
                        message: e.to_string(),
                    })?;
                if kind == 'F' {
                    let prefix = pat.literal_prefix();
                    let dir = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
                    let list = by_dir.entry(dir.to_string()).or_default();
                    if list.last() != Some(&idx) {
                        list.push(idx);
                    }
                    entry.rules.push(Rule::File(pat));
                } else {
                    entry.excludes.push(pat);
                }
            }
            'N' => {
                entry.rules.push(Rule::Name(name_patterns.len()));
                name_rule_entry.push(idx);
                name_patterns.push(format!("(?x){value}"));
            }
            'K' => keywords.push(Keyword {
                tv_index: tv,
                entry: idx,
                pattern: value.to_string(),
            }),
            _ => {}
        }
        tv += 1;
    }
    let name_rules = RegexSet::new(&name_patterns).map_err(|e| MaintainersError::Pattern {
        line: 0,
        message: format!("N: rules: {e}"),
    })?;
    keywords.sort_by_key(|k| k.tv_index.to_string());
    Ok(Parsed {
        entries,
        name_rules,
        name_rule_entry,
        by_dir,
        keywords,
    })
}
