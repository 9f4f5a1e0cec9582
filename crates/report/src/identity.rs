//! Crash identity: does a run's report show the crash being bisected?
//!
//! The same bug does not print the same title on every commit: a function
//! gets renamed or inlined, a KASAN build prints "KASAN: null-ptr-deref"
//! where another prints "general protection fault", a title can carry the
//! frame one level up or down. A run matches the target when
//!
//! 1. its title equals the target's ([`Match::ExactTitle`]), else
//! 2. one of its titles (title or alternative titles) equals one of the
//!    target's ([`Match::AltTitle`]: the alternative titles name the bug
//!    class and frame, e.g. `bad-access in foo` for both a GPF and a
//!    KASAN null-ptr-deref in `foo`), else
//! 3. the crash family agrees (memory-safety, warning, locking, hang,
//!    leak, ...; from the crash type) and the top frames agree
//!    ([`Match::TypeAndFrames`]): one report's top frame is the other's
//!    top or next frame (a function inlined into, or split out of, its
//!    caller), or both top frames' two callers are the same (the top
//!    function renamed). Generic dispatch frames (workqueue, syscall and
//!    VFS plumbing) are left out of that comparison: two unrelated bugs
//!    reached through `process_one_work` do not share a cause.
//!
//! The answer says which rule matched so that a caller can log why a run
//! counted as the target when the titles differ. This module never looks
//! at logs; it compares parsed reports.

use crate::{analyze, syscall, title, Report};
use serde::Serialize;

/// The crash a bisection looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Normalised title.
    pub title: String,
    /// Alternative titles (as [`Report::alt_titles`]).
    pub alt_titles: Vec<String>,
    /// Crash type (as [`Report::kind`]).
    pub kind: String,
    /// Top frames (as [`Report::frames`]); only the title's frame when the
    /// target was given as a title.
    pub frames: Vec<String>,
}

/// Why a report matched a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Match {
    /// The titles are equal.
    ExactTitle,
    /// This title is shared by the report and the target (one of them
    /// carries it as an alternative title).
    AltTitle(String),
    /// Same crash family and agreeing top frames.
    TypeAndFrames {
        /// The family both crash types belong to.
        family: &'static str,
        /// The frame both stacks share.
        frame: String,
        /// The report's title, for the log.
        title: String,
    },
}

impl Target {
    /// The target learned from a full report (e.g. on the bad commit).
    pub fn from_report(r: &Report) -> Target {
        Target {
            title: r.title.clone(),
            alt_titles: r.alt_titles.clone(),
            kind: r.kind.clone(),
            frames: r.frames.clone(),
        }
    }

    /// The target from a title alone (syzbot's title given by the user):
    /// normalised as the parser would, its type from the title, its frame
    /// the text after the last " in " (when that is a function name), and
    /// the alternative titles the parser gives such a title.
    pub fn from_title(t: &str) -> Target {
        let title = title::normalize(t);
        let frame = title_frame(&title);
        let mut alt_titles = analyze::alt_titles(&title, frame.as_deref());
        alt_titles.retain(|a| *a != title);
        Target {
            kind: title::kind_of(&title),
            alt_titles,
            frames: frame.into_iter().collect(),
            title,
        }
    }
}

/// The function named by a title ("... in foo"), if it names one.
fn title_frame(title: &str) -> Option<String> {
    let (_, f) = title.rsplit_once(" in ")?;
    let f = f.trim();
    let ident = !f.is_empty()
        && f != analyze::CORRUPTED
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':'));
    ident.then(|| syscall::strip_wrappers(f))
}

/// Does `report` show the `target` crash, and by which rule?
pub fn identity_match(target: &Target, report: &Report) -> Option<Match> {
    identity_match_target(target, &Target::from_report(report), report.corrupted)
}

/// [`identity_match`] for a crash known by its identity only (title,
/// alternative titles, type and frames, as kept in a journal): `corrupted`
/// says whether its report was corrupted.
pub fn identity_match_target(target: &Target, crash: &Target, corrupted: bool) -> Option<Match> {
    if crash.title == target.title {
        return Some(Match::ExactTitle);
    }
    let theirs: Vec<&String> = std::iter::once(&target.title)
        .chain(&target.alt_titles)
        .collect();
    let shared = std::iter::once(&crash.title)
        .chain(&crash.alt_titles)
        .find(|t| theirs.contains(t));
    if let Some(t) = shared {
        return Some(Match::AltTitle(t.clone()));
    }
    if corrupted || target.title.ends_with(" in corrupted") {
        // A corrupted report's frames are not trustworthy enough to
        // equate two different titles.
        return None;
    }
    let fam = family(&crash.kind)?;
    if family(&target.kind) != Some(fam) {
        return None;
    }
    let frame = frames_agree(&target.frames, &crash.frames)?;
    Some(Match::TypeAndFrames {
        family: fam,
        frame,
        title: crash.title.clone(),
    })
}

/// Crash families: types that one bug can show as on different kernels
/// or configurations.
fn family(kind: &str) -> Option<&'static str> {
    let f = match kind {
        k if k.starts_with("KASAN")
            || k.starts_with("KFENCE")
            || k.starts_with("MEMORY_SAFETY")
            || k == "NULL-POINTER-DEREFERENCE"
            || k == "DoS"
            || k == "BUG" =>
        {
            "memory-safety or oops"
        }
        "WARNING" | "REFCOUNT_WARNING" => "warning",
        "LOCKDEP" | "ATOMIC_SLEEP" => "locking",
        "HANG" => "hang",
        "LEAK" => "leak",
        k if k.starts_with("KMSAN") => "uninit",
        k if k.starts_with("KCSAN") => "data-race",
        k if k.starts_with("UBSAN") => "undefined-behaviour",
        // UNKNOWN, SYZ_FAILURE, REBOOT, ...: no frames worth comparing.
        _ => return None,
    };
    Some(f)
}

/// Dispatch frames shared by unrelated bugs.
fn is_dispatch(f: &str) -> bool {
    const DISPATCH: &[&str] = &[
        "process_one_work",
        "worker_thread",
        "kthread",
        "ret_from_fork",
        "do_syscall_64",
        "do_syscall_x64",
        "__fput",
        "____fput",
        "task_work_run",
        "exit_to_user_mode_prepare",
        "syscall_exit_to_user_mode",
        "call_timer_fn",
        "__run_timers",
        "run_timer_softirq",
        "__do_softirq",
        "handle_softirqs",
        "rcu_core",
        "rcu_do_batch",
        "hub_event",
        "ioctl",
        "read",
        "write",
        "sendmsg",
        "recvmsg",
        "do_exit",
        "do_group_exit",
        "get_signal",
    ];
    DISPATCH.contains(&f) || f.starts_with("vfs_") || f.starts_with("sock_")
}

/// How many top frames a top frame is looked for in (itself and one
/// caller: one level of inlining or wrapping).
const INLINE_DEPTH: usize = 2;

/// The frame that makes two stacks agree, if they do.
fn frames_agree(a: &[String], b: &[String]) -> Option<String> {
    let a: Vec<&String> = a.iter().filter(|f| !is_dispatch(f)).collect();
    let b: Vec<&String> = b.iter().filter(|f| !is_dispatch(f)).collect();
    let (a0, b0) = (a.first()?, b.first()?);
    if b.iter().take(INLINE_DEPTH).any(|f| f == a0) {
        return Some((*a0).clone());
    }
    if a.iter().take(INLINE_DEPTH).any(|f| f == b0) {
        return Some((*b0).clone());
    }
    // The top function renamed: its two callers are the same.
    if a.len() >= 3 && b.len() >= 3 && a[1..3] == b[1..3] {
        return Some(a[1].clone());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(title: &str, kind: &str, frames: &[&str]) -> Report {
        let frame = title.rsplit_once(" in ").map(|(_, f)| f.to_string());
        Report {
            title: title.to_string(),
            alt_titles: analyze::alt_titles(title, frame.as_deref())
                .into_iter()
                .filter(|a| a != title)
                .collect(),
            kind: kind.to_string(),
            frame,
            corrupted: false,
            corrupted_reason: None,
            suppressed: false,
            panicked: false,
            start: 0,
            end: 0,
            report: String::new(),
            guilty_file: None,
            frames: frames.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn same_title_is_exact() {
        let r = report("WARNING in frob_put", "WARNING", &["frob_put"]);
        let t = Target::from_title("WARNING in frob_put");
        assert_eq!(identity_match(&t, &r), Some(Match::ExactTitle));
    }

    #[test]
    fn gpf_and_kasan_null_deref_of_one_function_share_an_alt_title() {
        let t = Target::from_title("general protection fault in frob_read");
        let r = report(
            "KASAN: null-ptr-deref Read in frob_read",
            "KASAN-NULL-POINTER-DEREFERENCE-READ",
            &["frob_read", "frob_ioctl"],
        );
        assert_eq!(
            identity_match(&t, &r),
            Some(Match::AltTitle("bad-access in frob_read".into()))
        );
    }

    #[test]
    fn inlined_function_matches_by_frames() {
        // On the bad commit frob_check() warned; later it was inlined into
        // frob_ioctl() and the WARNING names the caller.
        let bad = report(
            "WARNING in frob_check",
            "WARNING",
            &["frob_check", "frob_ioctl", "vfs_ioctl"],
        );
        let t = Target::from_report(&bad);
        let r = report("WARNING in frob_ioctl", "WARNING", &["frob_ioctl"]);
        assert_eq!(
            identity_match(&t, &r),
            Some(Match::TypeAndFrames {
                family: "warning",
                frame: "frob_ioctl".into(),
                title: "WARNING in frob_ioctl".into()
            })
        );
    }

    #[test]
    fn renamed_function_matches_by_its_callers() {
        let bad = report(
            "KASAN: use-after-free Read in frob_lookup",
            "KASAN-USE-AFTER-FREE-READ",
            &["frob_lookup", "frob_open", "chrdev_open"],
        );
        let r = report(
            "KASAN: slab-use-after-free Read in frob_find",
            "KASAN-USE-AFTER-FREE-READ",
            &["frob_find", "frob_open", "chrdev_open"],
        );
        let m = identity_match(&Target::from_report(&bad), &r);
        assert!(
            matches!(&m, Some(Match::TypeAndFrames { frame, .. }) if frame == "frob_open"),
            "{m:?}"
        );
    }

    #[test]
    fn unrelated_warning_does_not_match() {
        let bad = report(
            "WARNING in frob_work",
            "WARNING",
            &["frob_work", "process_one_work", "worker_thread"],
        );
        let t = Target::from_report(&bad);
        let r = report(
            "WARNING in blob_work",
            "WARNING",
            &["blob_work", "process_one_work", "worker_thread"],
        );
        assert_eq!(identity_match(&t, &r), None);
        // Same frames, different family: a hang is not the warning.
        let r = report("INFO: task hung in frob_work", "HANG", &["frob_work"]);
        assert_eq!(identity_match(&t, &r), None);
    }

    #[test]
    fn titles_parse_into_type_and_frame() {
        let t = Target::from_title("general protection fault in __do_sys_frobnicate");
        assert_eq!(t.kind, "DoS");
        assert_eq!(t.frames, vec!["frobnicate".to_string()]);
        let t = Target::from_title("KASAN: use-after-free Read in frob_put");
        assert_eq!(t.kind, "KASAN-USE-AFTER-FREE-READ");
        assert_eq!(t.alt_titles, vec!["bad-access in frob_put".to_string()]);
        let t = Target::from_title("BUG: workqueue lockup");
        assert!(t.frames.is_empty());
        let t = Target::from_title("INFO: task hung in corrupted");
        assert!(t.frames.is_empty());
    }

    #[test]
    fn corrupted_reports_only_match_by_title() {
        let t = Target::from_title("WARNING in frob_put");
        let mut r = report("WARNING in frob_put2", "WARNING", &["frob_put"]);
        r.corrupted = true;
        assert_eq!(identity_match(&t, &r), None);
    }
}
