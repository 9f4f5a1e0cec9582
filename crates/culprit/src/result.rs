//! The result of a campaign: the closing lines of the log and the JSON file.

use anyhow::{bail, Context, Result};
use culprit_bisect::{Hypothesis, StopReason, Verdict};
use culprit_git::maintainers::Maintainers;
use culprit_git::trailers::{self, Recipients};
use culprit_git::Repo;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;

use crate::campaign::{Events, Finish, Plan};
use crate::log::duration;

fn hyp_name(plan: &Plan, h: Hypothesis) -> String {
    match h {
        Hypothesis::Commit(c) => plan.commits[c as usize].sha.clone(),
        Hypothesis::Older => "older-than-good".into(),
    }
}

fn reason_name(r: StopReason) -> &'static str {
    match r {
        StopReason::Confident => "confident",
        StopReason::MaxBuilds => "max_builds",
        StopReason::MaxRuns => "max_runs",
        StopReason::Exhausted => "exhausted",
        StopReason::NotReproduced => "not_reproduced",
    }
}

/// Flags that make a culprit less trustworthy or need a human's eye.
fn flags(repo: &Repo, plan: &Plan, f: &Finish, c: u32) -> Result<Vec<String>> {
    let sha = &plan.commits[c as usize].sha;
    let meta = repo.commit(sha)?;
    let mut v = Vec::new();
    if meta.is_merge() {
        v.push("merge".to_string());
    }
    let release = repo
        .tags_at(sha)?
        .iter()
        .any(|t| t.starts_with('v') && t[1..].starts_with(|ch: char| ch.is_ascii_digit()))
        || meta.subject.starts_with("Linux ");
    if release {
        v.push("release".to_string());
    }
    let own = f.signatures.get(&c);
    let parent_same = plan.commits[c as usize]
        .parents
        .iter()
        .any(|p| own.is_some() && f.signatures.get(p) == own);
    if parent_same {
        v.push("no-op".to_string());
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

pub fn report(
    repo: &Repo,
    plan: &Plan,
    f: &Finish,
    log: &mut dyn Events,
    json_path: Option<&Path>,
) -> Result<i32> {
    let status = &f.outcome.status;
    let target = status
        .target
        .and_then(|t| f.identities.get(t as usize))
        .cloned();
    let tested = (0..plan.commits.len() as u32)
        .filter(|&n| f.engine.evidence(n).built.is_some())
        .count();
    let bad_sha = &plan.commits[plan.bad as usize].sha;
    let mut flag_list = Vec::new();
    let mut code = 0;

    match f.outcome.verdict {
        Verdict::NotReproduced => {
            let e = f.engine.evidence(plan.bad);
            let msg = format!(
                "the bug did not reproduce on the bad commit {bad_sha}: {} runs, {} clean, {} untestable, {} with another failure; \
                 check the test command (or raise --verify-runs if the reproducer is very flaky)",
                e.clean + e.untestable + e.other + e.target,
                e.clean,
                e.untestable,
                e.other
            );
            let extra = Extra {
                flags: &[],
                target: target.as_deref(),
                tested,
                recipients: None,
            };
            write_json(json_path, plan, f, &extra)?;
            bail!(msg);
        }
        Verdict::Culprit(c) => {
            let sha = &plan.commits[c as usize].sha;
            log.line(&format!("{sha} is the first bad commit"));
            for l in repo.show_stat(sha)?.lines() {
                log.line(l);
            }
            let own = f.signatures.get(&c).map_or("(none)", String::as_str);
            log.line(&format!("culprit signature: {own}"));
            for p in &plan.commits[c as usize].parents {
                let ps = f.signatures.get(p).map_or("(not built)", String::as_str);
                log.line(&format!("parent  signature: {ps}"));
            }
            flag_list = flags(repo, plan, f, c)?;
        }
        Verdict::Older => {
            log.line(&format!(
                "the bug is older than every good commit: it shows on good commit(s) {}",
                plan.commits
                    .iter()
                    .filter(|c| c.good)
                    .map(|c| c.sha.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Verdict::Inconclusive => {
            log.line(&format!(
                "bisection is inconclusive ({}): the first bad commit could be any of:",
                reason_name(f.outcome.reason)
            ));
            for (h, m) in &status.credible {
                let subject = match h {
                    Hypothesis::Commit(c) => plan.commits[*c as usize].subject.as_str(),
                    Hypothesis::Older => "(older than every good commit)",
                };
                log.line(&format!("{} {:.4} {}", hyp_name(plan, *h), m, subject));
            }
            code = 3;
        }
    }
    log.line(&format!(
        "revisions tested: {tested}, total time: {} (build: {}, test: {})",
        duration(f.build_secs + f.test_secs),
        duration(f.build_secs),
        duration(f.test_secs)
    ));
    if let Some(c) = f.culprit {
        let cm = &plan.commits[c as usize];
        log.line(&format!("first bad commit: {} {}", cm.sha, cm.subject));
        for fl in &flag_list {
            let why = match fl.as_str() {
                "merge" => "the culprit is a merge commit: the bug may come from the interaction of its parents",
                "release" => "the culprit is a release commit: the result is likely wrong",
                _ => "the culprit's build is identical to its parent's (no-op): the result is unreliable",
            };
            log.line(&format!("warning: {why}"));
        }
    }
    log.line(&format!(
        "posterior probability of the answer: {:.4} (asked for {})",
        f.confidence, plan.config.confidence
    ));
    log.line(&format!(
        "estimated reproduction rate: {:.2}; builds: {}, runs: {}, test rounds: {}",
        status.q_estimate, f.builds, f.runs, f.rounds
    ));
    let recips = match f.culprit {
        Some(c) => recipients(repo, &plan.commits[c as usize].sha)?,
        None => None,
    };
    if let Some(r) = &recips {
        for l in trailers::format_lines(r).lines() {
            log.line(l);
        }
    }
    if let Some(t) = &target {
        log.line(&format!("crash: {t}"));
    }
    let extra = Extra {
        flags: &flag_list,
        target: target.as_deref(),
        tested,
        recipients: recips.as_ref(),
    };
    write_json(json_path, plan, f, &extra)?;
    Ok(code)
}

/// What the JSON holds beyond the campaign's own numbers.
pub struct Extra<'a> {
    pub flags: &'a [String],
    pub target: Option<&'a str>,
    pub tested: usize,
    pub recipients: Option<&'a Recipients>,
}

fn write_json(path: Option<&Path>, plan: &Plan, f: &Finish, extra: &Extra) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let text = serde_json::to_string_pretty(&to_json(plan, f, extra))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The JSON result; its schema is documented in the README.
pub fn to_json(plan: &Plan, f: &Finish, extra: &Extra) -> Value {
    let st = &f.outcome.status;
    let verdict = match f.outcome.verdict {
        Verdict::Culprit(_) => "culprit",
        Verdict::Older => "older",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NotReproduced => "not_reproduced",
    };
    let commits: Vec<Value> = (0..plan.commits.len() as u32)
        .filter_map(|n| {
            let e = f.engine.evidence(n);
            if e.built.is_none() && e.target + e.clean + e.other + e.untestable == 0 {
                return None;
            }
            let c = &plan.commits[n as usize];
            Some(json!({
                "commit": c.sha,
                "subject": c.subject,
                "good_end": c.good,
                "build": match e.built { Some(true) => "ok", Some(false) => "failed", None => "not_built" },
                "build_error": f.build_errors.get(&n),
                "signature": f.signatures.get(&n),
                "same_as": e.same_as.map(|m| plan.commits[m as usize].sha.clone()),
                "runs": {"target": e.target, "other": e.other, "clean": e.clean, "untestable": e.untestable},
            }))
        })
        .collect();
    json!({
        "schema": "culprit-bisect/1",
        "verdict": verdict,
        "reason": reason_name(f.outcome.reason),
        "culprit": f.culprit.map(|c| plan.commits[c as usize].sha.clone()),
        "confidence": f.confidence,
        "range": st.credible.iter().map(|(h, m)| json!({"commit": hyp_name(plan, *h), "mass": m})).collect::<Vec<_>>(),
        "target": extra.target,
        "q_estimate": st.q_estimate,
        "flags": extra.flags,
        "recipients": extra.recipients,
        "bad": plan.commits[plan.bad as usize].sha,
        "goods": plan.commits.iter().filter(|c| c.good).map(|c| c.sha.clone()).collect::<Vec<_>>(),
        "counts": {
            "candidates": plan.commits.iter().filter(|c| !c.good).count(),
            "revisions_tested": extra.tested,
            "builds": f.builds,
            "runs": f.runs,
            "rounds": f.rounds,
        },
        "timings": {
            "build_secs": f.build_secs,
            "test_secs": f.test_secs,
            "total_secs": f.build_secs + f.test_secs,
        },
        "identities": f.identities,
        "hint": f.hint.as_ref().map(|h| json!({
            "text": h.text,
            "commits": h.commits.iter().map(|&c| plan.commits[c as usize].sha.clone()).collect::<Vec<_>>(),
        })),
        "commits": commits,
    })
}
