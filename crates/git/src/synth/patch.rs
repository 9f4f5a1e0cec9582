//! Patched commits: `git apply --cached` to a temporary index on top of a
//! base, and git's failures turned into errors that name the hunk.

use std::path::{Path, PathBuf};

use super::TempIndex;
use crate::repo::{run, GitError, Repo};

/// Why patches could not be applied. Each names the patch file.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot read the patch {}: {source}", patch.display())]
    Read {
        patch: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a patch: {message} (give a diff or a `git format-patch` mail)", patch.display())]
    NotAPatch { patch: PathBuf, message: String },
    #[error("{}", does_not_apply(.patch, .file.as_deref(), *.line, .hunk.as_ref(), .message))]
    DoesNotApply {
        patch: PathBuf,
        /// The file git could not patch, as the patch names it.
        file: Option<String>,
        /// Where the failing hunk starts in that file (old side).
        line: Option<u32>,
        /// The failing hunk, found in the patch text.
        hunk: Option<Hunk>,
        /// git's own message lines.
        message: String,
    },
}

/// One hunk of a patch file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based number of the hunk among those of its file in the patch.
    pub number: u32,
    /// Its `@@ -a,b +c,d @@` line (without the function context after it).
    pub header: String,
    /// 1-based line of that header in the patch file.
    pub patch_line: u32,
}

fn does_not_apply(
    patch: &Path,
    file: Option<&str>,
    line: Option<u32>,
    hunk: Option<&Hunk>,
    message: &str,
) -> String {
    let mut s = format!("the patch {} does not apply", patch.display());
    match (file, hunk, line) {
        (Some(f), Some(h), _) => s.push_str(&format!(
            ": hunk #{} of {f} ({}, line {} of the patch)",
            h.number, h.header, h.patch_line
        )),
        (Some(f), None, Some(l)) => s.push_str(&format!(": {f}, at line {l}")),
        (Some(f), None, None) => s.push_str(&format!(": {f}")),
        _ => {}
    }
    s.push_str(&format!(
        "; git apply said: {message} (rebase the patch onto the commit under test)"
    ));
    s
}

impl Repo {
    /// A commit on `base` with the patches applied in order, as `git apply`
    /// applies them (a plain diff, or mails from `git format-patch`, one or
    /// several per file). No patch: `base` itself (resolved).
    pub fn apply_patches(&self, base: &str, patches: &[PathBuf]) -> Result<String, PatchError> {
        let base = self.resolve(base)?;
        if patches.is_empty() {
            return Ok(base);
        }
        let mut texts = Vec::new();
        for p in patches {
            let bytes = std::fs::read(p).map_err(|source| PatchError::Read {
                patch: p.clone(),
                source,
            })?;
            // git runs in the repository, so a relative name would be
            // looked up there rather than where the user gave it.
            let abs = std::path::absolute(p).map_err(|source| PatchError::Read {
                patch: p.clone(),
                source,
            })?;
            texts.push((p, abs, String::from_utf8_lossy(&bytes).into_owned()));
        }
        let git_dir = self.absolute_git_dir()?;
        let index = TempIndex::new()?;
        self.odb(&git_dir, Some(&index), &["read-tree", &base])?;
        for (given, abs, text) in &texts {
            let abs = abs.to_string_lossy();
            let args = ["apply", "--cached", "--whitespace=nowarn", "--", &abs];
            let out = run(&self.odb_job(&git_dir, Some(&index), &args), self.cancel())?;
            if !out.success() {
                return Err(apply_error(given, text, &out.stderr));
            }
        }
        let tree = self.odb(&git_dir, Some(&index), &["write-tree"])?;
        let stamp = self.stamp_of(&base)?;
        let message = patches_message(
            &base,
            &texts
                .iter()
                .map(|(p, _, t)| (p.as_path(), t.as_str()))
                .collect::<Vec<_>>(),
        );
        Ok(self.commit_tree(tree.trim(), &[&base], &message, &stamp)?)
    }
}

/// The message of a patched commit: what it is based on and which patches,
/// with their subjects when they are mails.
fn patches_message(base: &str, patches: &[(&Path, &str)]) -> String {
    let short = &base[..base.len().min(12)];
    let mut m =
        format!("culprit: test patches on top of {short}\n\nApplied in order with git apply:\n");
    for (i, (p, text)) in patches.iter().enumerate() {
        let name = p.file_name().unwrap_or(p.as_os_str()).to_string_lossy();
        match mail_subject(text) {
            Some(s) => m.push_str(&format!("  {}. {name}: {s}\n", i + 1)),
            None => m.push_str(&format!("  {}. {name}\n", i + 1)),
        }
    }
    m
}

/// The `Subject:` of the first mail in a patch file, unfolded.
fn mail_subject(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.is_empty() {
            return None;
        }
        if let Some(s) = l.strip_prefix("Subject:") {
            let mut subject = s.trim().to_string();
            for cont in lines.by_ref() {
                if !cont.starts_with([' ', '\t']) {
                    break;
                }
                subject.push(' ');
                subject.push_str(cont.trim());
            }
            return Some(subject);
        }
    }
    None
}

/// Turns `git apply`'s failure into a typed error, finding the failing
/// hunk in the patch text from the file and line git names
/// ("error: patch failed: FILE:LINE", LINE being the hunk's old start).
pub(crate) fn apply_error(patch: &Path, text: &str, stderr: &[u8]) -> PatchError {
    let err = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("error:") || l.starts_with("fatal:"))
        .collect();
    let message = if lines.is_empty() {
        err.trim().to_string()
    } else {
        lines.join("; ")
    };
    let patch = patch.to_path_buf();
    if lines
        .iter()
        .any(|l| l.contains("No valid patches in input") || l.contains("unrecognized input"))
    {
        return PatchError::NotAPatch { patch, message };
    }
    let failed = lines.iter().find_map(|l| {
        let rest = l.strip_prefix("error: patch failed: ")?;
        let (file, line) = rest.rsplit_once(':')?;
        Some((file.to_string(), line.trim().parse::<u32>().ok()?))
    });
    let (file, line) = match failed {
        Some((f, l)) => (Some(f), Some(l)),
        None => (
            lines.iter().find_map(|l| {
                let rest = l.strip_prefix("error: ")?;
                let (file, why) = rest.split_once(": ")?;
                (why.contains("does not exist")
                    || why.contains("already exists")
                    || why.contains("does not apply")
                    || why.contains("wrong type"))
                .then(|| file.to_string())
            }),
            None,
        ),
    };
    let hunk = match (&file, line) {
        (Some(f), Some(l)) => find_hunk(text, f, l),
        _ => None,
    };
    PatchError::DoesNotApply {
        patch,
        file,
        line,
        hunk,
        message,
    }
}

/// The hunk of `file` whose old side starts at `old_start`, in a patch
/// text (several diffs and mails may follow one another). Hunk bodies are
/// skipped by their line counts, so a removed line reading "-- x" is not
/// taken for a file header.
fn find_hunk(text: &str, file: &str, old_start: u32) -> Option<Hunk> {
    let mut current: Option<String> = None;
    let mut number = 0;
    // Old and new lines still to come in the hunk being read.
    let (mut old_left, mut new_left) = (0u32, 0u32);
    for (i, l) in text.lines().enumerate() {
        if old_left > 0 || new_left > 0 {
            match l.as_bytes().first() {
                Some(b'-') => old_left = old_left.saturating_sub(1),
                Some(b'+') => new_left = new_left.saturating_sub(1),
                Some(b'\\') => {}
                _ => {
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
            }
            continue;
        }
        if let Some(rest) = l.strip_prefix("diff --git ") {
            current = rest
                .split_once(" b/")
                .map(|(a, _)| a.trim_start_matches("a/").to_string());
            number = 0;
        } else if let Some(rest) = l.strip_prefix("--- ") {
            let name = rest.split('\t').next().unwrap_or("").trim();
            if name != "/dev/null" {
                current = Some(strip_one(name).to_string());
            }
            number = 0;
        } else if let Some(rest) = l.strip_prefix("+++ ") {
            if current.is_none() {
                current = Some(strip_one(rest.split('\t').next().unwrap_or("").trim()).to_string());
            }
        } else if let Some((header, old, olen, nlen)) = hunk_header(l) {
            number += 1;
            (old_left, new_left) = (olen, nlen);
            if current.as_deref() == Some(file) && old == old_start {
                return Some(Hunk {
                    number,
                    header: header.to_string(),
                    patch_line: i as u32 + 1,
                });
            }
        }
    }
    None
}

/// `@@ -a[,b] +c[,d] @@`: the header itself, a, b and d (a missing count
/// is 1).
fn hunk_header(l: &str) -> Option<(&str, u32, u32, u32)> {
    let rest = l.strip_prefix("@@ -")?;
    let end = rest.find(" @@")?;
    let (old, new) = rest[..end].split_once(" +")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (a, b) = range(old)?;
    let (_, d) = range(new)?;
    Some((&l[..end + 7], a, b, d))
}

/// A diff path without its first component (`a/x.c` -> `x.c`), as
/// `git apply -p1` reads it.
fn strip_one(name: &str) -> &str {
    name.split_once('/').map_or(name, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_FILES: &str = "From 1234 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Subject: [PATCH] foo: fix the
 thing

Body.
---
diff --git a/x.c b/x.c
index 1..2 100644
--- a/x.c
+++ b/x.c
@@ -1,3 +1,3 @@ int f(void)
 a
--- b
+c
 d
@@ -10,3 +10,3 @@
 e
-f
+g
 h
diff --git a/y.c b/y.c
--- a/y.c
+++ b/y.c
@@ -10,2 +10,2 @@
-p
+q
 r
";

    #[test]
    fn the_failing_hunk_is_found_by_file_and_line() {
        let h = find_hunk(TWO_FILES, "x.c", 10).unwrap();
        assert_eq!(h.number, 2);
        assert_eq!(h.header, "@@ -10,3 +10,3 @@");
        assert_eq!(h.patch_line, 17);
        let h = find_hunk(TWO_FILES, "y.c", 10).unwrap();
        assert_eq!((h.number, h.patch_line), (1, 25));
        assert!(find_hunk(TWO_FILES, "x.c", 11).is_none());
        assert!(find_hunk(TWO_FILES, "z.c", 1).is_none());
        assert_eq!(
            mail_subject(TWO_FILES).as_deref(),
            Some("[PATCH] foo: fix the thing")
        );
        assert_eq!(mail_subject("--- a/x\n+++ b/x\n"), None);
    }

    #[test]
    fn git_apply_messages_become_typed_errors() {
        let p = Path::new("fix.patch");
        let e = apply_error(
            p,
            TWO_FILES,
            b"error: patch failed: x.c:10\nerror: x.c: patch does not apply\n",
        );
        match &e {
            PatchError::DoesNotApply {
                file, line, hunk, ..
            } => {
                assert_eq!(file.as_deref(), Some("x.c"));
                assert_eq!(*line, Some(10));
                assert_eq!(hunk.as_ref().map(|h| h.number), Some(2));
            }
            e => panic!("{e:?}"),
        }
        let text = e.to_string();
        assert!(text.contains("fix.patch"), "{text}");
        assert!(
            text.contains("hunk #2 of x.c (@@ -10,3 +10,3 @@, line 17 of the patch)"),
            "{text}"
        );
        let e = apply_error(p, "", b"error: y.c: does not exist in index\n");
        assert!(
            matches!(&e, PatchError::DoesNotApply { file: Some(f), line: None, .. } if f == "y.c"),
            "{e:?}"
        );
        let e = apply_error(
            p,
            "hello",
            b"error: No valid patches in input (allow with \"--allow-empty\")\n",
        );
        assert!(matches!(e, PatchError::NotAPatch { .. }), "{e:?}");
    }
}
