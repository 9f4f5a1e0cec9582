//! The e-mail a maintainer receives about a result (`--report FILE`): a
//! ready message, RFC 5322 headers and a plain-text body, modelled on
//! syzbot's bisection e-mails. The body names the commit (header and
//! subject, and a `Fixes:` line for a cause), the start commit and tree,
//! the result class and its probability, the verification, the crash and
//! its report, where the log, console, config and reproducer are, and how
//! the result was reached. Variants: inconclusive (the credible set), bug
//! older than the oldest commit tested, crash not fixed (fix bisection),
//! culprit unverified (and why).
//!
//! The input is typed ([`Mail`]); the caller fills it from the campaign's
//! result. This module decides nothing and reads nothing: no clock (the
//! `Date:` field is the caller's, or left to the mail transfer agent), no
//! files. Lines end in `\n` (as `git send-email` and sendmail take them).

mod header;
mod input;
#[cfg(test)]
mod tests;

pub use header::Address;
pub use input::{
    Candidate, CommitRef, CrashInfo, Direction, Effort, Files, Flag, Mail, Outcome, Verification,
};

use crate::print::short;
use culprit_git::CommitMeta;

use super::duration;
use crate::result::plural;

/// Prose is wrapped at this width; lines that cannot be broken (paths,
/// commit subjects, the crash report) are left whole.
const WIDTH: usize = 72;

/// "fa84693b3c89 (\"subject\")", the form of a `Fixes:` line.
pub fn cite(sha: &str, subject: &str) -> String {
    format!("{} (\"{subject}\")", short(sha))
}

fn crash_name(m: &Mail) -> &str {
    m.crash.title.as_deref().unwrap_or("the crash")
}

/// Whether the found commit counts as verified.
fn verified(m: &Mail) -> bool {
    matches!(m.verification, Verification::Confirmed { .. })
}

/// The subject made from the result.
pub fn subject(m: &Mail) -> String {
    let title = crash_name(m);
    let s = match (&m.outcome, m.direction) {
        (Outcome::Found { commit, .. }, dir) => {
            let what = match dir {
                Direction::Cause => "caused by",
                Direction::Fix => "fixed by",
            };
            let mut s = format!("{title}: {what} {}", cite(&commit.hash, &commit.subject));
            if !verified(m) {
                s.push_str(" (unverified)");
            }
            s
        }
        (Outcome::Inconclusive { .. }, Direction::Cause) => {
            format!("{title}: cause bisection inconclusive")
        }
        (Outcome::Inconclusive { .. }, Direction::Fix) => {
            format!("{title}: fix bisection inconclusive")
        }
        (Outcome::Older { oldest, .. }, _) => format!(
            "{title}: already present in {}",
            oldest.tag.as_deref().unwrap_or(short(&oldest.sha))
        ),
        (Outcome::NotFixed { newest, .. }, _) => format!(
            "{title}: still crashes at {}",
            newest.tag.as_deref().unwrap_or(short(&newest.sha))
        ),
        (Outcome::NotReproduced { .. }, _) => format!("{title}: did not reproduce"),
    };
    match &m.subject_prefix {
        Some(p) if !p.is_empty() => format!("{p} {s}"),
        _ => s,
    }
}

/// The whole message: headers, an empty line, the body.
pub fn render(m: &Mail) -> String {
    let mut out = String::new();
    if let Some(f) = &m.from {
        out.push_str(&header::address_field("From", std::slice::from_ref(f)));
    }
    if !m.to.is_empty() {
        out.push_str(&header::address_field("To", &m.to));
    }
    if !m.cc.is_empty() {
        out.push_str(&header::address_field("Cc", &m.cc));
    }
    let subject = m.subject.clone().unwrap_or_else(|| subject(m));
    out.push_str(&header::text_field("Subject", &subject));
    if let Some(d) = &m.date {
        out.push_str(&header::token_field("Date", d));
    }
    if let Some(id) = &m.message_id {
        out.push_str(&header::token_field("Message-ID", id));
    }
    if let Some(id) = &m.in_reply_to {
        out.push_str(&header::token_field("In-Reply-To", id));
        out.push_str(&header::token_field("References", id));
    }
    out.push_str("MIME-Version: 1.0\n");
    out.push_str("Content-Type: text/plain; charset=UTF-8\n");
    out.push_str("Content-Transfer-Encoding: 8bit\n");
    out.push('\n');
    out.push_str(&body(m));
    out
}

/// Greedy wrapping of one paragraph at [`WIDTH`].
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + w.len() > WIDTH {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The message body.
pub fn body(m: &Mail) -> String {
    let mut b = Body::default();
    match &m.outcome {
        Outcome::Found { commit, .. } => {
            b.para(match m.direction {
                Direction::Cause => "culprit bisected the crash below to this commit:",
                Direction::Fix => "culprit found the commit that fixed the crash below:",
            });
            b.blank();
            b.commit_header(commit);
        }
        Outcome::Inconclusive { candidates, why } => {
            let what = match m.direction {
                Direction::Cause => "the first bad commit",
                Direction::Fix => "the fixing commit",
            };
            let mass: f64 = candidates.iter().map(|c| c.mass).sum();
            b.para(&format!(
                "culprit could not single out one commit: {what} is one of these {}, which together hold {:.1}% of the probability (one commit was asked to hold {}%):",
                candidates.len(),
                mass * 100.0,
                percent(m.probability_asked)
            ));
            b.blank();
            for c in candidates {
                let name = match (&c.commit, m.direction) {
                    (Some(r), _) => format!("{} {}", short(&r.sha), r.subject),
                    (None, Direction::Cause) => "(older than every commit tested)".into(),
                    (None, Direction::Fix) => "(not fixed in the range tested)".into(),
                };
                b.line(&format!("  {:>5.1}%  {name}", c.mass * 100.0));
            }
            if let Some(w) = why {
                b.blank();
                b.para(&format!("The search stopped because {w}."));
            }
        }
        Outcome::Older {
            oldest,
            crashed,
            runs,
        } => {
            b.para(&format!(
                "culprit could not find the cause: the crash below already shows on the oldest commit tested, {}, in {crashed} of {runs} {}. The bug is older than every commit tested.",
                describe(oldest),
                plural(*runs, "run", "runs")
            ));
        }
        Outcome::NotFixed {
            newest,
            crashed,
            runs,
        } => {
            b.para(&format!(
                "culprit could not find a fix: the crash below still shows on the newest commit tested, {}, in {crashed} of {runs} {}.",
                describe(newest),
                plural(*runs, "run", "runs")
            ));
        }
        Outcome::NotReproduced { why } => {
            b.para(&format!(
                "culprit could not bisect the crash below: it did not reproduce on the start commit. {why}"
            ));
        }
    }
    b.blank();
    b.facts(m);
    if let Outcome::Found { flags, .. } = &m.outcome {
        for f in flags {
            b.blank();
            b.para(flag_note(*f));
        }
    }
    if let Some(note) = verification_note(m) {
        b.blank();
        b.para(&note);
    }
    b.blank();
    b.trailers(m);
    b.oops(m);
    b.blank();
    b.how(m);
    b.text
}

fn percent(p: f64) -> String {
    let s = format!("{:.2}", p * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "v6.1 (fa84693b3c89 \"Linux 6.1\")" or "fa84693b3c89 (\"subject\")".
fn describe(c: &CommitRef) -> String {
    match &c.tag {
        Some(t) => format!("{t} ({} \"{}\")", short(&c.sha), c.subject),
        None => cite(&c.sha, &c.subject),
    }
}

fn flag_note(f: Flag) -> &'static str {
    match f {
        Flag::Merge => "Note: this is a merge commit. The change may come from how its parents' changes interact rather than from either of them alone.",
        Flag::OffPath => "Note: this commit's history does not contain the old commit where the crash was seen: it is on a branch that forked earlier, where the bug may never have existed. The fix is more likely the merge that brought this branch in.",
        Flag::Release => "Note: this is a release commit, which changes little besides the version number: the result is likely wrong.",
        Flag::NoOp => "Note: this commit builds into the same binary as its parent, so it cannot change what the reproducer does: the result is unreliable.",
    }
}

/// The verification line of the facts block.
fn verification_line(m: &Mail) -> String {
    let act = match m.direction {
        Direction::Cause => ("stops the crash", "did not stop the crash"),
        Direction::Fix => ("brings the crash back", "did not bring the crash back"),
    };
    match &m.verification {
        Verification::NotDone { why } => format!("not done ({why})"),
        Verification::Confirmed { runs, crashed } => format!(
            "reverting it on the start commit {} ({crashed} of {runs} {} crashed)",
            act.0,
            plural(*runs, "run", "runs")
        ),
        Verification::Refuted { runs, crashed } => format!(
            "reverting it on the start commit {} ({crashed} of {runs} {} crashed)",
            act.1,
            plural(*runs, "run", "runs")
        ),
        Verification::Conflict { files } => format!(
            "not possible: the revert does not apply on the start commit (conflicts in {})",
            files.join(", ")
        ),
        Verification::Untestable { why } => format!("not possible: {why}"),
    }
}

/// For a found commit that is not verified: what that means.
fn verification_note(m: &Mail) -> Option<String> {
    if !matches!(m.outcome, Outcome::Found { .. }) {
        return None;
    }
    let text = match (&m.verification, m.direction) {
        (Verification::Confirmed { .. }, _) => return None,
        (Verification::Refuted { .. }, Direction::Cause) => "The result is unverified: with this commit reverted, the crash still shows. The bug may have more than one cause, the commit may only have exposed it, or a later commit may depend on it.",
        (Verification::Refuted { .. }, Direction::Fix) => "The result is unverified: with this commit reverted, the crash still does not show. The commit may hide the bug rather than fix it, or a later commit may fix it too.",
        _ => "The result is unverified: the revert test that would confirm it could not be run (see verification above).",
    };
    Some(text.to_string())
}

/// A body under construction.
#[derive(Default)]
struct Body {
    text: String,
}

impl Body {
    fn line(&mut self, l: &str) {
        self.text.push_str(l.trim_end());
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn para(&mut self, p: &str) {
        for l in wrap(p) {
            self.line(&l);
        }
    }

    /// As `git show` writes a commit's header, without the diff.
    fn commit_header(&mut self, c: &CommitMeta) {
        self.line(&format!("commit {}", c.hash));
        self.line(&format!("Author: {} <{}>", c.author_name, c.author_email));
        self.line(&format!("Date:   {}", c.date));
        self.blank();
        self.line(&format!("    {}", c.subject));
    }

    /// "key: value" lines, aligned.
    fn facts(&mut self, m: &Mail) {
        let mut kv: Vec<(&str, String)> = vec![("crash", crash_name(m).to_string())];
        kv.push((
            "start commit",
            format!("{} {}", short(&m.start.sha), m.start.subject),
        ));
        if let Some(t) = &m.tree {
            kv.push(("git tree", t.clone()));
        }
        if let Outcome::Found { probability, .. } = &m.outcome {
            let what = match m.direction {
                Direction::Cause => "first bad commit",
                Direction::Fix => "fixing commit",
            };
            kv.push((
                "result",
                format!(
                    "{what}, probability {probability:.4} (asked for {})",
                    m.probability_asked
                ),
            ));
            kv.push(("verification", verification_line(m)));
        }
        let f = &m.files;
        let (config, test) = if m.kernel {
            ("kernel config", "reproducer")
        } else {
            ("build config", "test")
        };
        for (k, v) in [
            ("bisection log", &f.log),
            ("console output", &f.console),
            (config, &f.config),
            (test, &f.reproducer),
        ] {
            if let Some(v) = v {
                kv.push((k, v.clone()));
            }
        }
        let width = kv.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
        for (k, v) in kv {
            let key = format!("{k}:");
            self.line(&format!("{key:<width$}{v}"));
        }
    }

    fn trailers(&mut self, m: &Mail) {
        let mut any = false;
        for t in &m.trailers {
            self.line(&header::clean(t));
            any = true;
        }
        if let Outcome::Found { commit, .. } = &m.outcome {
            let key = match m.direction {
                Direction::Cause => "Fixes",
                Direction::Fix => "Fixed-by",
            };
            self.line(&format!("{key}: {}", cite(&commit.hash, &commit.subject)));
            any = true;
        }
        if any {
            self.blank();
        }
    }

    /// The final oops, or where to find it.
    fn oops(&mut self, m: &Mail) {
        match &m.crash.report {
            Some(r) if !r.trim().is_empty() => {
                self.line("Final oops:");
                self.blank();
                for l in r.trim_end().lines() {
                    self.line(l);
                }
            }
            _ => {
                let mut p = format!("The crash: {}.", crash_name(m));
                if let Some(c) = &m.files.console {
                    p.push_str(&format!(" Its full report is in the console output, {c}."));
                }
                self.para(&p);
            }
        }
    }

    fn how(&mut self, m: &Mail) {
        let e = &m.effort;
        let target = match m.direction {
            Direction::Cause => "first bad commit",
            Direction::Fix => "first commit without the crash",
        };
        let mut p = format!(
            "How this was found: {} tested {} {} ({} {}, {} {}; {} in total: {} building, {} testing). For every commit it keeps the probability that it is the {target}, updated by every run, whether the run crashed, ran clean or could not test anything",
            m.tool,
            e.revisions,
            plural(e.revisions, "revision", "revisions"),
            e.builds,
            plural(e.builds, "build", "builds"),
            e.runs,
            plural(e.runs, "run", "runs"),
            duration(e.build_secs + e.test_secs),
            duration(e.build_secs),
            duration(e.test_secs),
        );
        if let Some(q) = e.q_estimate {
            p.push_str(&format!(
                ", and learns how reliably the reproducer triggers the crash (here in about {:.0}% of runs)",
                q * 100.0
            ));
        }
        p.push_str(". Only runs showing this crash's title count as evidence of it. The result was produced automatically; please reply if it looks wrong.");
        self.para(&p);
    }
}
