//! The kernel's MAINTAINERS file: parsing every entry and field, and
//! answering "who looks after these files / this patch" exactly as
//! `scripts/get_maintainer.pl --nogit --nogit-fallback` answers it (default
//! options otherwise: roles shown, reviewers and lists included,
//! subscriber-only lists left out, `.mailmap` applied).
//!
//! Semantics reproduced from the file's header and the script: `F:`/`X:`
//! patterns (directories, `*`/`?` globs, same-depth rule), `N:` regexes on
//! paths, `K:` regexes on patch content (and on file content for file
//! arguments), ordering by pattern specificity, "THE REST" fallback.
//! One deliberate difference: entries matching a file with equal
//! specificity come out in MAINTAINERS order; the script uses Perl hash
//! order there, which changes from run to run.
//!
//! This module never consults git history and never writes anything.

mod email;
mod file;
mod file_emails;
mod lookup;
mod patch;
mod pattern;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::bytes::RegexSet;

pub use file::{Entry, Field};

/// Errors reading or parsing MAINTAINERS.
#[derive(Debug, thiserror::Error)]
pub enum MaintainersError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("MAINTAINERS line {line}: bad pattern: {message}")]
    Pattern { line: usize, message: String },
}

/// What a recipient is to the entry that named them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientKind {
    /// An `M:` line (whatever the entry's status).
    Maintainer,
    /// An `R:` line.
    Reviewer,
    /// An `L:` line (open or moderated).
    List,
    /// An address written in a devicetree binding (`*.yaml`) that is
    /// touched.
    InFile,
}

/// One line of get_maintainer.pl's output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recipient {
    /// "Name <addr>" (name quoted when needed), or the bare address.
    pub email: String,
    /// The address alone.
    pub address: String,
    /// e.g. `maintainer:IO_URING`, `reviewer:BPF`, `open list:IO_URING`,
    /// `open list` (THE REST).
    pub role: String,
    pub kind: RecipientKind,
    /// The entry the recipient came from (shortened like in `role`).
    pub entry: String,
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.email, self.role)
    }
}

/// One argument of a lookup, like get_maintainer.pl's command line.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A path relative to the tree top (`-f`); `content` is the file's
    /// bytes if it is a regular file (searched for `K:` keywords).
    File {
        path: &'a str,
        content: Option<&'a [u8]>,
    },
    /// A patch or diff.
    Patch(&'a [u8]),
}

/// A parsed and indexed MAINTAINERS file.
pub struct Maintainers {
    parsed: file::Parsed,
    mailmap: email::Mailmap,
    /// The tree MAINTAINERS came from, to read files named by patches.
    tree: Option<PathBuf>,
    keyword_sets: OnceLock<Result<(RegexSet, RegexSet), String>>,
}

impl std::fmt::Debug for Maintainers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintainers")
            .field("entries", &self.parsed.entries.len())
            .finish()
    }
}

impl Maintainers {
    /// Loads `<tree>/MAINTAINERS` (and `<tree>/.mailmap`). `Ok(None)` when
    /// the tree has no MAINTAINERS file.
    pub fn load(tree: &Path) -> Result<Option<Maintainers>, MaintainersError> {
        let path = tree.join("MAINTAINERS");
        let text = match std::fs::read(&path) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(MaintainersError::Io { path, source }),
        };
        let mailmap = match std::fs::read(tree.join(".mailmap")) {
            Ok(t) => Some(String::from_utf8_lossy(&t).into_owned()),
            Err(_) => None,
        };
        let is_dir = |p: &str| tree.join(p).is_dir();
        let mut m = Self::parse_with(&text, mailmap.as_deref(), &is_dir)?;
        m.tree = Some(tree.to_path_buf());
        Ok(Some(m))
    }

    /// Parses MAINTAINERS text without a tree: no pattern is known to be a
    /// directory unless it ends in `/`.
    pub fn parse(text: &str) -> Result<Maintainers, MaintainersError> {
        Self::parse_with(text, None, &|_| false)
    }

    /// Parses MAINTAINERS text with a `.mailmap` and a directory oracle
    /// (given the converted pattern, relative to the tree top).
    pub fn parse_with(
        text: &str,
        mailmap: Option<&str>,
        is_dir: &dyn Fn(&str) -> bool,
    ) -> Result<Maintainers, MaintainersError> {
        Ok(Maintainers {
            parsed: file::parse(text, is_dir)?,
            mailmap: mailmap.map(email::Mailmap::parse).unwrap_or_default(),
            tree: None,
            keyword_sets: OnceLock::new(),
        })
    }

    /// All entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.parsed.entries
    }

    /// Entries matching one file by `F:`/`N:` (after `X:`), most specific
    /// first, with the specificity get_maintainer.pl sorts by.
    pub fn matching_entries(&self, file: &str) -> Vec<(&Entry, i32)> {
        lookup::matches_for_file(self, file)
            .into_iter()
            .map(|(i, d)| (&self.parsed.entries[i], d))
            .collect()
    }

    /// Compiled keyword sets: plain (file text, patch preamble) and with
    /// the `^[+-].*` prefix the script puts in front for diff lines. Built
    /// on first use so that lookups without content cost nothing.
    fn keyword_sets(&self) -> Result<&(RegexSet, RegexSet), MaintainersError> {
        let sets = self.keyword_sets.get_or_init(|| {
            let kws = &self.parsed.keywords;
            let plain = RegexSet::new(kws.iter().map(|k| format!("(?x-u){}", k.pattern)));
            let diff = RegexSet::new(kws.iter().map(|k| format!("(?x-u)^[+-].*{}", k.pattern)));
            match (plain, diff) {
                (Ok(p), Ok(d)) => Ok((p, d)),
                (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
            }
        });
        sets.as_ref().map_err(|message| MaintainersError::Pattern {
            line: 0,
            message: format!("K: rules: {message}"),
        })
    }

    /// Runs a lookup over get_maintainer.pl-style arguments.
    pub fn lookup(&self, inputs: &[Input<'_>]) -> Result<Vec<Recipient>, MaintainersError> {
        let mut files: Vec<String> = Vec::new();
        let mut hit = vec![false; self.parsed.keywords.len()];
        let mut any_hit = false;
        let mut given: std::collections::HashMap<&str, &[u8]> = std::collections::HashMap::new();
        for input in inputs {
            match *input {
                Input::File { path, content } => {
                    files.push(path.to_string());
                    if let Some(c) = content {
                        given.insert(path, c);
                    }
                    if let (Some(text), false) = (content, path == "MAINTAINERS") {
                        let (plain, _) = self.keyword_sets()?;
                        for i in plain.matches(text).iter() {
                            hit[i] = true;
                            any_hit = true;
                        }
                    }
                }
                Input::Patch(bytes) => {
                    let scan = patch::scan(bytes);
                    let need = !scan.intro_lines.is_empty() || !scan.diff_lines.is_empty();
                    if need && !self.parsed.keywords.is_empty() {
                        let (plain, diff) = self.keyword_sets()?;
                        for (set, lines) in [(plain, &scan.intro_lines), (diff, &scan.diff_lines)] {
                            for line in lines {
                                for i in set.matches(line).iter() {
                                    hit[i] = true;
                                    any_hit = true;
                                }
                            }
                        }
                    }
                    files.extend(scan.files);
                    files.sort();
                    files.dedup();
                }
            }
        }
        let mut out = lookup::Collector::default();
        let mut in_files: Vec<String> = Vec::new();
        for f in &files {
            for (idx, _) in lookup::matches_for_file(self, f) {
                out.add_entry(&self.parsed.entries[idx]);
            }
            if file_emails::scanned(f) {
                let read;
                let text = match (given.get(f.as_str()), &self.tree) {
                    (Some(t), _) => Some(*t),
                    (None, Some(tree)) => {
                        read = std::fs::read(tree.join(f)).ok();
                        read.as_deref()
                    }
                    (None, None) => None,
                };
                for e in text.map(file_emails::addresses).unwrap_or_default() {
                    if !in_files.contains(&e) {
                        in_files.push(e);
                    }
                }
            }
        }
        if any_hit {
            for (k, _) in self.parsed.keywords.iter().zip(&hit).filter(|(_, h)| **h) {
                out.add_entry(&self.parsed.entries[k.entry]);
            }
        }
        Ok(out.finish(&self.mailmap, &in_files))
    }

    /// `get_maintainer.pl -f PATH...` from the top of `tree`: paths are
    /// made relative to the tree, directories get a trailing `/`, regular
    /// files are read for keywords. Paths that do not exist are still
    /// looked up by name (the script refuses them).
    pub fn lookup_paths(
        &self,
        tree: &Path,
        paths: &[PathBuf],
    ) -> Result<Vec<Recipient>, MaintainersError> {
        let mut names = Vec::with_capacity(paths.len());
        let mut contents = Vec::with_capacity(paths.len());
        for p in paths {
            let full = if p.is_absolute() {
                p.clone()
            } else {
                tree.join(p)
            };
            let mut name = relative_name(tree, p);
            let meta = std::fs::metadata(&full).ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) && !name.ends_with('/') && !name.is_empty()
            {
                name.push('/');
            }
            let content = match meta {
                Some(m) if m.is_file() => {
                    Some(std::fs::read(&full).map_err(|source| MaintainersError::Io {
                        path: full.clone(),
                        source,
                    })?)
                }
                _ => None,
            };
            names.push(name);
            contents.push(content);
        }
        let inputs: Vec<Input<'_>> = names
            .iter()
            .zip(&contents)
            .map(|(path, c)| Input::File {
                path,
                content: c.as_deref(),
            })
            .collect();
        self.lookup(&inputs)
    }
}

/// The files a patch touches, as get_maintainer.pl reads them (sorted,
/// unique; `--- /dev/null` shows up as `dev/null`, like in the script).
pub fn patch_files(patch: &[u8]) -> Vec<String> {
    let mut files = patch::scan(patch).files;
    files.sort();
    files.dedup();
    files
}

/// Cleans a path like `File::Spec::canonpath` and makes it relative to the
/// tree top.
fn relative_name(tree: &Path, p: &Path) -> String {
    let rel = if p.is_absolute() {
        p.strip_prefix(tree).unwrap_or(p)
    } else {
        p
    };
    let parts: Vec<String> = rel
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let joined = parts.join("/");
    if rel.is_absolute() {
        format!("/{}", joined.trim_start_matches('/'))
    } else {
        joined
    }
}

#[cfg(test)]
mod tests;
