//! The text of `culprit test`: what is tested, the build and each run (in
//! the words of the bisection log), and the result: how many runs crashed
//! with which title, ran clean, or were untestable, and what the exit
//! status means.

use std::path::PathBuf;

use crate::result::plural;
use crate::trial::TestOutcome;

/// What the result block needs besides the outcome.
pub struct TestSummary<'a> {
    pub outcome: &'a TestOutcome,
    /// "kernel" or "build".
    pub product: &'a str,
    pub exit_code: i32,
}

/// The first lines: the commit under test and how it was made.
pub fn header(commit: &str, base: &str, patches: &[PathBuf]) -> Vec<String> {
    if patches.is_empty() {
        return vec![format!("testing commit {commit}")];
    }
    let mut out = vec![format!(
        "testing commit {commit}: {base} with {} {}",
        patches.len(),
        plural(patches.len() as u64, "patch", "patches")
    )];
    out.extend(patches.iter().map(|p| format!("patch: {}", p.display())));
    out
}

/// The build and the runs, one line each.
pub fn runs(t: &TestOutcome, product: &str) -> Vec<String> {
    let mut out = Vec::new();
    match &t.build {
        None => out.push(format!("{product} of {} kept from before", t.commit)),
        Some(b) => {
            out.extend(b.info.iter().cloned());
            if let (true, Some(s)) = (b.ok, b.signature) {
                out.push(format!("{product} signature: {}", hex::encode(s)));
            }
            if !b.ok {
                out.push(format!(
                    "build failed: {}",
                    b.first_error.as_deref().unwrap_or("(no error line)")
                ));
            }
        }
    }
    out.extend(
        t.runs
            .iter()
            .map(|(j, r)| format!("run #{}: {}", j.run, r.status)),
    );
    out
}

/// The result block.
pub fn result(s: &TestSummary<'_>) -> Vec<String> {
    let t = s.outcome;
    let mut out = Vec::new();
    if !t.built() {
        let b = t.build.as_ref();
        out.push(format!(
            "the {} of {} failed: nothing was tested",
            s.product, t.commit
        ));
        if let Some(log) = b.and_then(|b| b.log.as_ref()) {
            out.push(format!("build log: {}", log.display()));
        }
        out.push(format!("exit status {}: not tested", s.exit_code));
        return out;
    }
    let n = t.runs.len() as u64;
    out.push(format!(
        "{n} {}: {} crashed, {} clean, {} untestable",
        plural(n, "run", "runs"),
        t.crashed(),
        t.clean,
        t.untestable
    ));
    for c in &t.crashes {
        out.push(format!(
            "crashed {} {}: {}",
            c.count,
            plural(c.count, "time", "times"),
            c.title
        ));
        if let Some(p) = c.consoles.first() {
            out.push(format!("  console: {}", p.display()));
        }
    }
    for r in &t.untestable_reasons {
        out.push(format!(
            "untestable {} {}: {}",
            r.count,
            plural(r.count, "time", "times"),
            r.reason
        ));
    }
    let meaning = if t.crashed() > 0 {
        "crashed"
    } else if t.clean > 0 {
        "no run crashed"
    } else {
        "not tested: every run was untestable"
    };
    out.push(format!("exit status {}: {meaning}", s.exit_code));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BuildResult, RunJob, RunResult, RunStatus};
    use crate::campaign::Untestable;
    use crate::trial::tally;

    fn run(i: u32, s: RunStatus) -> (RunJob, RunResult) {
        (
            RunJob {
                commit: "c0ffee".into(),
                run: i,
            },
            RunResult {
                status: s,
                secs: 1.0,
                output: Some(PathBuf::from(format!("/w/runs/c0ffee/{i}.log"))),
            },
        )
    }

    #[test]
    fn the_result_names_titles_counts_and_a_console() {
        let crash = |t: &str| RunStatus::crashed(t);
        let t = tally(
            "c0ffee",
            Some(BuildResult {
                ok: true,
                signature: Some([1; 32]),
                info: vec!["compiler: gcc 12".into()],
                ..BuildResult::default()
            }),
            vec![
                run(0, RunStatus::Ok),
                run(1, crash("BUG: foo")),
                run(2, RunStatus::untestable(Untestable::Boot, "no init")),
                run(3, crash("BUG: foo")),
            ],
        );
        let s = TestSummary {
            outcome: &t,
            product: "kernel",
            exit_code: 6,
        };
        assert_eq!(
            result(&s),
            [
                "4 runs: 2 crashed, 1 clean, 1 untestable",
                "crashed 2 times: BUG: foo",
                "  console: /w/runs/c0ffee/1.log",
                "untestable 1 time: boot failed: no init",
                "exit status 6: crashed",
            ]
        );
        let r = runs(&t, "kernel");
        assert_eq!(r[0], "compiler: gcc 12");
        assert_eq!(
            r[1],
            format!("kernel signature: {}", hex::encode([1u8; 32]))
        );
        assert_eq!(r[3], "run #1: crashed: BUG: foo");
        assert_eq!(
            header("c0ffee", "base", &[PathBuf::from("a.patch")]),
            ["testing commit c0ffee: base with 1 patch", "patch: a.patch"]
        );
    }

    #[test]
    fn a_failed_build_says_nothing_was_tested() {
        let t = tally(
            "c0ffee",
            Some(BuildResult {
                ok: false,
                first_error: Some("x.c:1: error: y".into()),
                log: Some("/w/builds/c0ffee.log".into()),
                ..BuildResult::default()
            }),
            Vec::new(),
        );
        let s = TestSummary {
            outcome: &t,
            product: "build",
            exit_code: 7,
        };
        let r = result(&s);
        assert_eq!(r[0], "the build of c0ffee failed: nothing was tested");
        assert_eq!(r[1], "build log: /w/builds/c0ffee.log");
        assert!(runs(&t, "build").contains(&"build failed: x.c:1: error: y".to_string()));
    }
}
