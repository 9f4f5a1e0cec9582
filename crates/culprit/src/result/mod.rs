//! The result of a campaign as typed values: [`BisectResult`] (the JSON
//! result, schema `culprit-bisect/1`, documented in the README and checked
//! by a test) and [`Summary`] (the same plus what only the text block
//! shows). Assembling it reads the repository (the culprit's header and
//! diffstat, tags, MAINTAINERS); printing it is `crate::print`'s job.

use anyhow::{Context, Result};
use culprit_bisect::{Hypothesis, StopReason, Verdict};
use culprit_git::maintainers::Maintainers;
use culprit_git::trailers::{self, Recipients};
use culprit_git::Repo;
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;

use crate::campaign::{hyp_name, reason_name, Counts, Finish, Plan, Verification};

mod crash;
mod evidence;
pub use crash::{crash_of, CrashDoc, FrameDoc};
pub use evidence::EvidenceDoc;

/// Exit status of `culprit bisect`, by outcome (documented in the README).
pub mod exit {
    /// A culprit was named at the asked confidence.
    pub const CULPRIT: i32 = 0;
    /// An error: bad input, or a failure that stopped the campaign.
    pub const ERROR: i32 = 1;
    /// A usage error (unknown option, missing value): clap's status.
    pub const USAGE: i32 = 2;
    /// No hypothesis reached the confidence: see the credible set.
    pub const INCONCLUSIVE: i32 = 3;
    /// The bug shows on the good end too: it is older than the range.
    pub const OLDER: i32 = 4;
    /// The bug did not reproduce on the bad commit.
    pub const NOT_REPRODUCED: i32 = 5;
    /// A culprit was named, but the crash persists with it reverted on the
    /// bad commit: the answer is suspect.
    pub const REVERT_PERSISTS: i32 = 6;
    /// Most runs tested nothing (boot failures, timeouts, infrastructure):
    /// stopped without an answer.
    pub const INFRASTRUCTURE: i32 = 7;
    /// Interrupted (Ctrl-C, SIGTERM); the journal is intact.
    pub const INTERRUPTED: i32 = 130;
}

/// The JSON result.
#[derive(Debug, Clone, Serialize)]
pub struct BisectResult {
    pub schema: &'static str,
    /// `cause` (the commit that introduced the bug) or `fix` (the first
    /// commit without it, `--fix`).
    pub direction: &'static str,
    /// `culprit`, `older` (`not_fixed` for a fix), `inconclusive`,
    /// `not_reproduced`, `infrastructure_error`.
    pub verdict: &'static str,
    pub reason: &'static str,
    pub exit_code: i32,
    pub culprit: Option<String>,
    pub confidence: f64,
    pub range: Vec<Mass>,
    pub target: Option<String>,
    pub q_estimate: f64,
    /// Where the answer's evidence is weak (see `evidence`).
    pub evidence: EvidenceDoc,
    pub flags: Vec<&'static str>,
    pub recipients: Option<Recipients>,
    pub bad: String,
    pub goods: Vec<String>,
    pub counts: Totals,
    pub timings: Timings,
    pub identities: Vec<String>,
    /// Failure titles seen on the bad commit, most frequent first.
    pub seen_on_bad: Vec<TitleCount>,
    pub hint: Option<HintDoc>,
    /// Where to look: a console of the target crash (on the culprit, else
    /// the bad commit), and the culprit's build log and config.
    pub files: Files,
    /// The target crash's report from that console, symbolised when the
    /// kernel image has debug info, with its code disassembled.
    pub crash: Option<CrashDoc>,
    /// The culprit reverted on the bad commit and tested; null when no
    /// culprit was named or `--no-verify`.
    pub verification: Option<Verification>,
    /// The walk back that found the good end (no `--good` given); null
    /// when the good end was given.
    pub walk: Option<WalkDoc>,
    pub commits: Vec<CommitDoc>,
}

/// A walk back over releases (or first-parent steps) for a good end.
#[derive(Debug, Clone, Serialize)]
pub struct WalkDoc {
    /// `releases` (release tags) or `first_parent` (doubling steps back).
    pub by: &'static str,
    /// The steps it could test, newest first, with their runs.
    pub steps: Vec<WalkStepDoc>,
    /// The step found good (its tag or `bad~N`) and its commit.
    pub good: Option<String>,
    pub good_commit: Option<String>,
    /// The oldest step already had the bug.
    pub oldest_has_bug: bool,
    /// Posterior probability of the walk's answer.
    pub confidence: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WalkStepDoc {
    pub label: String,
    pub commit: String,
    pub runs: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mass {
    pub commit: String,
    pub mass: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub candidates: usize,
    pub revisions_tested: usize,
    pub builds: u32,
    pub runs: u32,
    pub rounds: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub build_secs: f64,
    pub test_secs: f64,
    pub total_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TitleCount {
    pub title: String,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HintDoc {
    pub text: String,
    pub commits: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Files {
    pub console: Option<PathBuf>,
    pub build_log: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitDoc {
    pub commit: String,
    pub subject: String,
    pub good_end: bool,
    /// `ok`, `failed`, `not_built`.
    pub build: &'static str,
    pub build_error: Option<String>,
    pub signature: Option<String>,
    pub same_as: Option<String>,
    pub runs: Counts,
}

/// The result and what only the text block shows.
#[derive(Debug, Clone)]
pub struct Summary {
    pub result: BisectResult,
    /// `git show --stat` of the culprit, line by line.
    pub culprit_stat: Vec<String>,
    pub culprit_subject: Option<String>,
    pub culprit_signature: Option<String>,
    /// Signatures of the culprit's parents (`None`: not built).
    pub parent_signatures: Vec<Option<String>>,
    /// The credible set with subjects, for an inconclusive answer.
    pub credible: Vec<(String, f64, String)>,
    pub asked_confidence: f64,
    pub product: String,
    /// Why the bug did not reproduce, for that verdict.
    pub not_reproduced: Option<String>,
    /// Why the campaign stopped without an answer when its runs mostly
    /// tested nothing (verdict `infrastructure_error`).
    pub infrastructure: Option<String>,
}

/// Flags that make a culprit less trustworthy or need a human's eye.
fn flags(repo: &Repo, plan: &Plan, f: &Finish, c: u32) -> Result<Vec<&'static str>> {
    let sha = &plan.commits[c as usize].sha;
    let meta = repo.commit(sha)?;
    let mut v = Vec::new();
    if meta.is_merge() {
        v.push("merge");
    }
    // syzbot's guard for fix bisections: a commit on a branch that forked
    // before the old end never had the bug to fix; it only looks fixed.
    if plan.config.fix {
        let mut on_path = false;
        for g in plan.commits.iter().filter(|g| g.good) {
            on_path |= repo.is_ancestor(&g.sha, sha)?;
        }
        if !on_path {
            v.push("off-path");
        }
    }
    let release = repo
        .tags_at(sha)?
        .iter()
        .any(|t| t.starts_with('v') && t[1..].starts_with(|ch: char| ch.is_ascii_digit()))
        || meta.subject.starts_with("Linux ");
    if release {
        v.push("release");
    }
    let own = f.signatures.get(&c);
    let parent_same = plan.commits[c as usize]
        .parents
        .iter()
        .any(|p| own.is_some() && f.signatures.get(p) == own);
    if parent_same {
        v.push("no-op");
    }
    Ok(v)
}

/// Who the result goes to: the culprit's trailers plus the MAINTAINERS
/// entries of its patch, from the MAINTAINERS file at the culprit itself.
/// `None` when the repository has no MAINTAINERS file there.
fn recipients(repo: &Repo, sha: &str) -> Result<Option<Recipients>> {
    let Some(text) = repo.file_at(sha, "MAINTAINERS")? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&text);
    let mailmap = repo
        .file_at(sha, ".mailmap")?
        .map(|m| String::from_utf8_lossy(&m).into_owned());
    let dirs: HashSet<String> = repo.dirs_at(sha)?.into_iter().collect();
    let is_dir = |p: &str| dirs.contains(p.trim_end_matches('/'));
    let m = Maintainers::parse_with(&text, mailmap.as_deref(), &is_dir)
        .context("parsing MAINTAINERS at the culprit")?;
    let meta = repo.commit(sha)?;
    let patch = repo.format_patch(sha)?;
    let files = repo.changed_files(sha)?;
    let r = trailers::commit_recipients(
        Some(&m),
        &meta.author_email,
        &meta.message,
        &files,
        Some(patch.as_bytes()),
    )
    .context("looking up the culprit's maintainers")?;
    Ok(Some(r))
}

fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Culprit(_) => exit::CULPRIT,
        Verdict::Inconclusive => exit::INCONCLUSIVE,
        Verdict::Older => exit::OLDER,
        Verdict::NotReproduced => exit::NOT_REPRODUCED,
    }
}

/// Assembles the result of a finished campaign.
pub fn summarize(repo: &Repo, plan: &Plan, f: &Finish) -> Result<Summary> {
    let status = &f.outcome.status;
    let target = status
        .target
        .and_then(|t| f.identities.get(t as usize))
        .cloned();
    let mut s = Summary {
        result: to_result(plan, f, target),
        culprit_stat: Vec::new(),
        culprit_subject: None,
        culprit_signature: None,
        parent_signatures: Vec::new(),
        credible: Vec::new(),
        asked_confidence: plan.config.confidence,
        product: plan.product.clone(),
        not_reproduced: None,
        infrastructure: f.untestable.as_ref().filter(|_| f.outcome.reason == StopReason::Untestable).map(|(why, n, all)| {
            format!(
                "stopped without an answer: {all} of {} runs tested nothing (most often, {n} times: {why}); the test machines, not the commits, look broken: fix them and rerun the same command to resume",
                f.runs
            )
        }),
    };
    match f.outcome.verdict {
        Verdict::Culprit(c) => {
            let cm = &plan.commits[c as usize];
            s.culprit_stat = repo
                .show_stat(&cm.sha)?
                .lines()
                .map(str::to_string)
                .collect();
            s.culprit_subject = Some(cm.subject.clone());
            s.culprit_signature = f.signatures.get(&c).cloned();
            s.parent_signatures = cm
                .parents
                .iter()
                .map(|p| f.signatures.get(p).cloned())
                .collect();
            s.result.flags = flags(repo, plan, f, c)?;
            s.result.recipients = recipients(repo, &cm.sha)?;
        }
        Verdict::Inconclusive => {
            s.credible = status
                .credible
                .iter()
                .map(|(h, m)| {
                    let subject = match h {
                        Hypothesis::Commit(c) => plan.commits[*c as usize].subject.clone(),
                        Hypothesis::Older => "(older than every good commit)".into(),
                    };
                    (hyp_name(plan, *h), *m, subject)
                })
                .collect();
        }
        Verdict::NotReproduced => s.not_reproduced = Some(not_reproduced(plan, f)),
        Verdict::Older => {}
    }
    Ok(s)
}

/// Why the bug did not show on the bad commit, and what was seen instead.
fn not_reproduced(plan: &Plan, f: &Finish) -> String {
    let shows = f.engine.shows();
    let e = f.engine.evidence(shows);
    let sha = &plan.commits[shows as usize].sha;
    let end = if plan.config.fix {
        "old end"
    } else {
        "bad commit"
    };
    let total = e.clean + e.untestable + e.other + e.target;
    let mut msg = match &plan.target_title {
        Some(t) => format!("the target crash {t:?} did not show on the {end} {sha}"),
        None => format!("the bug did not reproduce on the {end} {sha}"),
    };
    msg.push_str(&format!(
        ": {total} {}, {} clean, {} untestable, {} with another failure",
        plural(total, "run", "runs"),
        e.clean,
        e.untestable,
        e.other
    ));
    if !f.bad_titles.is_empty() {
        let seen: Vec<String> = f
            .bad_titles
            .iter()
            .map(|(t, c)| format!("{t:?} ({c})"))
            .collect();
        msg.push_str(&format!("; seen instead: {}", seen.join(", ")));
    }
    msg.push_str(if plan.target_title.is_some() {
        "; check --target (culprit report FILE shows how a console is titled)"
    } else {
        "; check the test command (or raise --verify-runs if the reproducer is very flaky)"
    });
    msg
}

/// "1 run", "2 runs".
pub fn plural<'a>(n: impl Into<u64>, one: &'a str, many: &'a str) -> &'a str {
    if n.into() == 1 {
        one
    } else {
        many
    }
}

fn to_result(plan: &Plan, f: &Finish, target: Option<String>) -> BisectResult {
    let st = &f.outcome.status;
    let tested = (0..plan.commits.len() as u32)
        .filter(|&n| f.engine.evidence(n).built.is_some())
        .count();
    let commits = (0..plan.commits.len() as u32)
        .filter_map(|n| {
            let e = f.engine.evidence(n);
            if e.built.is_none() && e.target + e.clean + e.other + e.untestable == 0 {
                return None;
            }
            let c = &plan.commits[n as usize];
            Some(CommitDoc {
                commit: c.sha.clone(),
                subject: c.subject.clone(),
                good_end: c.good,
                build: match e.built {
                    Some(true) => "ok",
                    Some(false) => "failed",
                    None => "not_built",
                },
                build_error: f.build_errors.get(&n).cloned(),
                signature: f.signatures.get(&n).cloned(),
                same_as: e.same_as.map(|m| plan.commits[m as usize].sha.clone()),
                runs: Counts {
                    target: e.target,
                    other: e.other,
                    clean: e.clean,
                    untestable: e.untestable,
                },
            })
        })
        .collect();
    let shown = f.culprit.unwrap_or(plan.bad);
    // The console of a target crash on the culprit, else on the bad commit.
    let console = [shown, plan.bad, f.engine.shows()]
        .into_iter()
        .find_map(|n| f.target_output(n).map(|p| (n, p.clone())));
    let files = Files {
        console: console.as_ref().map(|c| c.1.clone()),
        build_log: f.build_logs.get(&shown).cloned(),
        config: f.configs.get(&shown).cloned(),
    };
    let crash = match (&console, &target) {
        (Some((n, p)), Some(t)) => crash_of(p, t, f.symbols.get(n).map(PathBuf::as_path)),
        _ => None,
    };
    BisectResult {
        schema: "culprit-bisect/1",
        direction: if plan.config.fix { "fix" } else { "cause" },
        verdict: f.verdict_name(),
        reason: reason_name(f.outcome.reason),
        exit_code: match &f.verification {
            _ if f.outcome.reason == StopReason::Untestable => exit::INFRASTRUCTURE,
            Some(v) if v.confirms == Some(false) => exit::REVERT_PERSISTS,
            _ => exit_code(f.outcome.verdict),
        },
        verification: f.verification.clone(),
        walk: None,
        culprit: f.culprit.map(|c| plan.commits[c as usize].sha.clone()),
        confidence: f.confidence,
        range: st
            .credible
            .iter()
            .map(|(h, m)| Mass {
                commit: hyp_name(plan, *h),
                mass: *m,
            })
            .collect(),
        target,
        q_estimate: st.q_estimate,
        evidence: EvidenceDoc::new(plan, st),
        flags: Vec::new(),
        recipients: None,
        bad: plan.commits[plan.bad as usize].sha.clone(),
        goods: plan
            .commits
            .iter()
            .filter(|c| c.good)
            .map(|c| c.sha.clone())
            .collect(),
        counts: Totals {
            candidates: plan.commits.iter().filter(|c| !c.good).count(),
            revisions_tested: tested,
            builds: f.builds,
            runs: f.runs,
            rounds: f.rounds,
        },
        timings: Timings {
            build_secs: f.build_secs,
            test_secs: f.test_secs,
            total_secs: f.build_secs + f.test_secs,
        },
        identities: f.identities.clone(),
        seen_on_bad: f
            .bad_titles
            .iter()
            .map(|(t, c)| TitleCount {
                title: t.clone(),
                count: *c,
            })
            .collect(),
        hint: f.hint.as_ref().map(|h| HintDoc {
            text: h.text.clone(),
            commits: h
                .commits
                .iter()
                .map(|&c| plan.commits[c as usize].sha.clone())
                .collect(),
        }),
        files,
        crash,
        commits,
    }
}
