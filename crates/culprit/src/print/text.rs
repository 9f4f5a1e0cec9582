//! The text log in the format of syzbot's bisection log, from events, and
//! the closing result block, from a [`Summary`].
//!
//! Lines go to a file (always) and to standard output (unless quiet: then
//! only the result block does). On a terminal a spinner shows the current
//! step; long steps also get a log line at least every minute.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::progress::Spinner;
use super::{duration, escape};
use crate::campaign::{Event, RunStatus, Sink};
use crate::result::{plural, Summary};

/// A long step writes a progress line when the log was silent this long.
const QUIET_LIMIT: Duration = Duration::from_secs(60);

/// The syzbot-format log.
pub struct TextLog {
    file: Option<File>,
    stdout: bool,
    spinner: Spinner,
    /// The commit the last "testing commit" line named.
    last_shown: Option<String>,
    /// The campaign continues a walk: its journal starts with the walk's
    /// evidence on the range.
    continued: bool,
    /// A fix bisection: the crash is learned on the old end.
    fix: bool,
    last_line: Instant,
}

impl TextLog {
    /// A log appended to `path` (if any) and, unless `quiet`, printed.
    pub fn new(path: Option<&Path>, quiet: bool) -> std::io::Result<TextLog> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(TextLog::with(file, !quiet, Spinner::new()))
    }

    /// A log written only to `path` (created or truncated), never to the
    /// terminal: for logs of many campaigns at once.
    pub fn file_only(path: &Path) -> std::io::Result<TextLog> {
        Ok(TextLog::with(
            Some(File::create(path)?),
            false,
            Spinner::hidden(),
        ))
    }

    fn with(file: Option<File>, stdout: bool, spinner: Spinner) -> TextLog {
        TextLog {
            file,
            stdout,
            spinner,
            last_shown: None,
            continued: false,
            fix: false,
            last_line: Instant::now(),
        }
    }

    /// A line of the caller's own (the bench's verdict on a simulated
    /// campaign).
    pub fn note(&mut self, text: &str) {
        self.line(text);
    }

    /// Ends the spinner (before the result block).
    pub fn finish(&mut self) {
        self.spinner.finish();
    }

    fn line(&mut self, text: &str) {
        self.write(text, self.stdout);
    }

    fn write(&mut self, text: &str, stdout: bool) {
        // Subjects, names and titles come from repositories and consoles.
        let text = &*escape(text);
        self.last_line = Instant::now();
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(f, "{text}");
        }
        if stdout {
            self.spinner.suspend(|| println!("{text}"));
        }
    }

    /// The result block: on standard output even when quiet.
    pub fn result(&mut self, s: &Summary) {
        self.finish();
        for l in result_lines(s) {
            self.write(&l, true);
        }
    }
}

impl Sink for TextLog {
    fn event(&mut self, e: &Event) {
        self.spinner.event(e);
        for l in self.lines(e) {
            self.line(&l);
        }
    }
}

impl TextLog {
    fn lines(&mut self, e: &Event) -> Vec<String> {
        let mut out = Vec::new();
        match e {
            Event::Started {
                direction,
                bad,
                goods,
                candidates,
                workdir,
                notes,
                walk,
                continued,
                ..
            } => {
                self.continued = *continued;
                self.fix = *direction == "fix";
                if *continued {
                    out.push(format!("# bisect start {bad} {}", goods.join(" ")));
                } else if *direction == "fix" {
                    out.push(format!("bisecting fixing commit since {bad}"));
                } else {
                    out.push(format!("bisecting cause commit starting from {bad}"));
                }
                out.extend(notes.iter().cloned());
                let mut l = if walk.is_empty() {
                    format!(
                        "good: {}; {candidates} candidate {}",
                        goods.join(", "),
                        plural(*candidates as u64, "commit", "commits")
                    )
                } else {
                    format!(
                        "no good commit given: walking back to find one (at most {} {}: {})",
                        walk.len(),
                        plural(walk.len() as u64, "step", "steps"),
                        walk.join(", ")
                    )
                };
                if let Some(w) = workdir {
                    l.push_str(&format!("; workdir: {}", w.display()));
                }
                out.push(l);
            }
            Event::Resumed { builds, runs } => out.push(format!(
                "{}: {builds} {}, {runs} {} already done",
                if self.continued {
                    "evidence on this range from the walk and the journal"
                } else {
                    "resuming from the journal"
                },
                plural(*builds, "build", "builds"),
                plural(*runs, "run", "runs")
            )),
            Event::TargetLocked { title, given } => out.push(format!(
                "target crash: {title} ({})",
                if *given {
                    "given with --target"
                } else if self.fix {
                    "the most frequent failure on the old end"
                } else {
                    "the most frequent failure on the bad commit"
                }
            )),
            Event::SameCrash {
                title,
                same_as,
                why,
            } => out.push(format!("crash {title:?} counts as {same_as:?}: {why}")),
            Event::Hint { text, used, .. } => {
                if *used {
                    out.push(text.clone());
                } else {
                    out.push(format!("{text} (too broad: not used)"));
                }
            }
            Event::CommitChosen {
                commit,
                subject,
                credible,
                mass,
            } => {
                out.push(format!(
                    "Bisecting: {credible} {} {:.1}% of the probability (the credible set)",
                    plural(*credible as u64, "candidate holds", "candidates hold"),
                    mass * 100.0
                ));
                out.push(format!("[{commit}] {subject}"));
                out.push(String::new());
            }
            Event::BuildStarted {
                commit, release, ..
            } => {
                if let Some(r) = release {
                    out.push(format!("testing release {r}"));
                }
                out.push(format!("testing commit {commit}"));
                self.last_shown = Some(commit.clone());
            }
            Event::BuilderStarted { builder, commit } => {
                out.push(format!("[builder {builder}] building {commit}"));
            }
            Event::BuilderFinished {
                builder,
                commit,
                ok,
                secs,
            } => {
                let how = if *ok { "built" } else { "failed to build" };
                out.push(format!(
                    "[builder {builder}] {how} {commit} in {}",
                    duration(*secs)
                ));
                // The build's own lines follow; they are about this commit.
                self.last_shown = Some(commit.clone());
            }
            Event::Progress { text, .. } => {
                if self.last_line.elapsed() >= QUIET_LIMIT {
                    out.push(text.clone());
                }
            }
            Event::BuildFinished {
                ok,
                product,
                signature,
                error,
                info,
                same_as,
                ..
            } => {
                out.extend(info.iter().cloned());
                if let (true, Some(s)) = (ok, signature) {
                    out.push(format!("{product} signature: {s}"));
                }
                if let Some(err) = error {
                    out.push(format!("build failed: {err}"));
                }
                if let Some(m) = same_as {
                    out.push(format!(
                        "same {product} as {m}: its runs count for this commit too"
                    ));
                }
            }
            Event::CommitTested {
                commit,
                runs,
                earlier,
                ..
            } => {
                if self.last_shown.as_deref() != Some(commit) {
                    out.push(format!("testing commit {commit} (built before)"));
                    self.last_shown = Some(commit.clone());
                }
                out.extend(run_block(runs.iter().map(|r| (r.run, &r.status)), *earlier));
            }
            Event::VerifyStarted { culprit, onto } => {
                out.push(String::new());
                out.push(format!(
                    "verifying {culprit}: reverting it on top of {onto}"
                ));
            }
            Event::WalkEnded {
                good,
                oldest,
                root,
                releases,
                confidence,
                ..
            } => {
                let p = confidence * 100.0;
                let what = if *releases { "release" } else { "commit" };
                match (good, oldest) {
                    (Some(g), _) => out.push(format!(
                        "{what} {g} is good ({p:.1}% probable): it is the good end"
                    )),
                    (None, Some(o)) if *root => out.push(format!(
                        "the first commit of history, {o}, already has the bug ({p:.1}% probable): there is no good commit to bisect from"
                    )),
                    (None, Some(o)) => out.push(format!(
                        "the oldest tested {what} {o} already has the bug ({p:.1}% probable)"
                    )),
                    (None, None) => {}
                }
            }
            Event::Verified { text, reason, .. } => {
                out.push(format!("{text}: {reason}"));
                out.push(String::new());
            }
            Event::SearchResumed {
                culprit,
                confidence,
            } => {
                out.push(format!(
                    "the revert's runs leave {} at posterior {confidence:.3}: the search goes on",
                    crate::print::short(culprit)
                ));
                out.push(String::new());
            }
            Event::Status { .. }
            | Event::RoundStarted { .. }
            | Event::RunFinished { .. }
            | Event::Finished { .. } => {}
        }
        out
    }
}

/// The runs of one visit: "all runs: X" when there are several, all alike,
/// and no earlier ones; else one "run #N: X" line each.
fn run_block<'a>(runs: impl Iterator<Item = (u32, &'a RunStatus)>, earlier: u32) -> Vec<String> {
    let runs: Vec<(u32, &RunStatus)> = runs.collect();
    let alike = runs.windows(2).all(|w| w[0].1 == w[1].1);
    if earlier == 0 && runs.len() > 1 && alike {
        return vec![format!("all runs: {}", runs[0].1)];
    }
    runs.iter().map(|(n, s)| format!("run #{n}: {s}")).collect()
}

/// The closing lines, as in the reference log plus our additions.
pub fn result_lines(s: &Summary) -> Vec<String> {
    let r = &s.result;
    let mut out = Vec::new();
    let first = if r.direction == "fix" {
        "first good commit"
    } else {
        "first bad commit"
    };
    match r.verdict {
        "culprit" => {
            let sha = r.culprit.as_deref().unwrap_or_default();
            out.push(format!("{sha} is the {first}"));
            out.extend(s.culprit_stat.iter().cloned());
            out.push(format!(
                "culprit signature: {}",
                s.culprit_signature.as_deref().unwrap_or("(none)")
            ));
            for p in &s.parent_signatures {
                out.push(format!(
                    "parent  signature: {}",
                    p.as_deref().unwrap_or("(not built)")
                ));
            }
        }
        "older" => out.push(format!(
            "the bug is older than every good commit: it shows on good commit(s) {}",
            r.goods.join(", ")
        )),
        "not_fixed" => out.push(format!(
            "crash still not fixed: it shows on the new end {} too",
            r.bad
        )),
        "inconclusive" => {
            out.push(format!(
                "bisection is inconclusive ({}): the {first} could be any of:",
                r.reason
            ));
            for (h, m, subject) in &s.credible {
                out.push(format!("{h} {m:.4} {subject}"));
            }
        }
        _ => {
            if let Some(m) = s.not_reproduced.as_ref().or(s.infrastructure.as_ref()) {
                out.push(m.clone());
            }
        }
    }
    out.push(format!(
        "revisions tested: {}, total time: {} (build: {}, test: {})",
        r.counts.revisions_tested,
        duration(r.timings.total_secs),
        duration(r.timings.build_secs),
        duration(r.timings.test_secs)
    ));
    if let (Some(c), Some(subject)) = (&r.culprit, &s.culprit_subject) {
        out.push(format!("{first}: {c} {subject}"));
        for fl in &r.flags {
            let why = match *fl {
                "merge" => "the culprit is a merge commit: the bug may come from the interaction of its parents",
                "release" => "the culprit is a release commit: the result is likely wrong",
                "off-path" => "the fixing commit's history does not contain the old end: it is on a branch that forked before the crash was seen, where the bug may never have existed; the fix is more likely the merge that brought this branch in",
                _ => "the culprit's build is identical to its parent's (no-op): the result is unreliable",
            };
            out.push(format!("warning: {why}"));
        }
    }
    out.push(format!(
        "posterior probability of the answer: {:.4} (asked for {})",
        r.confidence, s.asked_confidence
    ));
    out.push(format!(
        "estimated reproduction rate: {:.2}; builds: {}, runs: {}, test rounds: {}",
        r.q_estimate, r.counts.builds, r.counts.runs, r.counts.rounds
    ));
    out.extend(r.evidence.lines(r.q_estimate));
    if let Some(rc) = &r.recipients {
        out.extend(
            culprit_git::trailers::format_lines(rc)
                .lines()
                .map(str::to_string),
        );
    }
    if let Some(t) = &r.target {
        out.push(format!("crash: {t}"));
    }
    if let Some(c) = &r.crash {
        out.extend(c.report.lines().map(str::to_string));
        if let Some(why) = &c.not_symbolized {
            out.push(format!("(frames not symbolised: {why})"));
        }
        if let Some(d) = &c.disassembly {
            out.push("----------------".into());
            out.extend(d.lines().map(str::to_string));
        }
    }
    let files = [
        ("crash console", &r.files.console),
        ("build log", &r.files.build_log),
        (
            if s.product == "kernel" {
                "kernel config"
            } else {
                "build config"
            },
            &r.files.config,
        ),
    ];
    for (what, p) in files {
        if let Some(p) = p {
            out.push(format!("{what}: {}", p.display()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Untestable;

    #[test]
    fn a_visit_is_one_block() {
        let ok = RunStatus::Ok;
        let boot = RunStatus::untestable(Untestable::Boot, "no init");
        let v = run_block([(0, &ok), (1, &ok), (2, &ok)].into_iter(), 0);
        assert_eq!(v, vec!["all runs: OK"]);
        // Earlier runs of the commit: "all runs" would hide them.
        let v = run_block([(3, &ok), (4, &ok)].into_iter(), 3);
        assert_eq!(v, vec!["run #3: OK", "run #4: OK"]);
        let v = run_block([(0, &ok), (1, &boot)].into_iter(), 0);
        assert_eq!(v, vec!["run #0: OK", "run #1: boot failed: no init"]);
        assert_eq!(run_block([(0, &ok)].into_iter(), 0), vec!["run #0: OK"]);
    }
}
