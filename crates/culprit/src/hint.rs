//! Crash-stack hints for the bisection prior: which commits of a range touch
//! the files that define the functions at the top of the crash's stack.
//!
//! Kernel developers know that the culprit very often changes code that
//! shows up in the crash stack, so the campaign gives those commits a larger
//! share of the engine's prior. This module is only the lookup: report text
//! -> function names -> defining files (`culprit_kernel::symbols`, which
//! knows how Linux defines a symbol) -> indices of commits touching them
//! (`culprit_git::Repo::commits_touching`).
//!
//! It never writes to the repository (no checkout, no index refresh) and
//! never decides weights: that is the machine's business.

pub use culprit_report::crash_stack::{report_files, stack_functions};

/// One line for the log, e.g.
/// "crash stack hint: 7 commits touch kernel/sys.c (__x64_sys_prctl)".
pub fn describe(pairs: &[(String, String)], hinted: usize) -> String {
    if pairs.is_empty() {
        return "crash stack hint: no defining source files found for the stack".to_string();
    }
    let mut by_file: Vec<(&str, Vec<&str>)> = Vec::new();
    for (func, file) in pairs {
        match by_file.iter_mut().find(|(f, _)| f == file) {
            Some((_, funcs)) => funcs.push(func),
            None => by_file.push((file, vec![func])),
        }
    }
    const SHOWN: usize = 4;
    let mut parts: Vec<String> = by_file
        .iter()
        .take(SHOWN)
        .map(|(file, funcs)| format!("{file} ({})", funcs.join(", ")))
        .collect();
    if by_file.len() > SHOWN {
        parts.push(format!("{} more files", by_file.len() - SHOWN));
    }
    let (noun, verb) = if hinted == 1 {
        ("commit", "touches")
    } else {
        ("commits", "touch")
    };
    format!(
        "crash stack hint: {hinted} {noun} {verb} {}",
        parts.join(", ")
    )
}

mod hinter;
pub use hinter::{Hinter, NoHints, StackHinter};

#[cfg(test)]
mod tests;
