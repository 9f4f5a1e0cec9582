//! A campaign: the loop that asks the engine what to do, has a backend do it,
//! journals what happened and tells the engine.
//!
//! The same code runs a real bisection and a simulated one (the bench): all
//! durations come from the backend, so nothing here reads a clock, and all
//! output goes through [`Events`].

use anyhow::{bail, Context, Result};
use culprit_bisect::{
    BuildOutcome, Config, Dag, Engine, Hypothesis, NodeId, Outcome, RunOutcome, Status, Step,
    Verdict,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod hints;
pub use hints::{Hint, Hinter, NoHints, HINT_SHARE};

use crate::backend::{Backend, BuildResult, RunJob, RunResult, RunStatus};
use crate::journal::{Journal, Record, RunStatusRecord};

/// One commit of the campaign's range.
#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    /// Indices of parents (topological order: parents first).
    pub parents: Vec<u32>,
    /// A good endpoint, not a candidate.
    pub good: bool,
    pub subject: String,
}

/// What to bisect and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub commits: Vec<Commit>,
    pub bad: u32,
    pub config: Config,
    /// Fixed target title (`--target`); otherwise learned on the bad commit.
    pub target_title: Option<String>,
    /// Identifies the experiment in the journal; a resumed campaign must match.
    pub key: String,
    /// What the signature line calls the build product ("kernel", "build").
    pub product: String,
}

/// Where the campaign reports progress. Text lines follow the format of
/// syzbot's bisection log.
pub trait Events {
    fn line(&mut self, _text: &str) {}
    fn progress(&mut self, _builds: u32, _runs: u32, _best: f64) {}
}

/// Reports nothing (simulations, tests).
pub struct NullEvents;
impl Events for NullEvents {}

/// How a campaign ended.
#[derive(Debug, Clone)]
pub struct Finish {
    pub outcome: Outcome,
    /// Index of the culprit commit, when the verdict names one.
    pub culprit: Option<u32>,
    /// Posterior mass of the leading hypothesis.
    pub confidence: f64,
    pub builds: u32,
    pub runs: u32,
    pub rounds: u32,
    pub build_secs: f64,
    /// Sum over test rounds of the round's longest run.
    pub test_secs: f64,
    /// Failure identities in order of first appearance (index = identity).
    pub identities: Vec<String>,
    /// Signatures of built commits (hex), by commit index.
    pub signatures: HashMap<u32, String>,
    /// First error line of failed builds, by commit index.
    pub build_errors: HashMap<u32, String>,
    /// The crash-stack hint the prior used, if any.
    pub hint: Option<Hint>,
    /// The engine as it ended, for per-commit evidence.
    pub engine: Engine,
}

struct State<'a> {
    plan: &'a Plan,
    engine: Engine,
    index: HashMap<&'a str, u32>,
    identities: Vec<String>,
    identity_of: HashMap<String, u32>,
    runs_on: Vec<u32>,
    rounds: u32,
    build_secs: f64,
    test_secs: f64,
    signatures: HashMap<u32, String>,
    build_errors: HashMap<u32, String>,
    last_shown: Option<u32>,
    /// Console output of the first crashed run of each identity.
    first_output: HashMap<u32, PathBuf>,
    /// A hint was looked for (or replayed): look only once.
    hinted: bool,
    /// The hint in use.
    hint: Option<Hint>,
}

impl<'a> State<'a> {
    fn identity(&mut self, title: &str) -> u32 {
        if let Some(&id) = self.identity_of.get(title) {
            return id;
        }
        let id = self.identities.len() as u32;
        self.identities.push(title.to_string());
        self.identity_of.insert(title.to_string(), id);
        id
    }

    fn node(&self, sha: &str) -> Result<u32> {
        self.index
            .get(sha)
            .copied()
            .with_context(|| format!("the journal names commit {sha}, which is not in this range"))
    }

    fn apply_build(&mut self, n: u32, ok: bool, sig: Option<&str>, err: Option<&str>, secs: f64) {
        let signature = sig.and_then(parse_sig);
        if let Some(s) = sig {
            self.signatures.insert(n, s.to_string());
        }
        if let Some(e) = err {
            self.build_errors.insert(n, e.to_string());
        }
        let outcome = if ok {
            BuildOutcome::Ok { signature }
        } else {
            BuildOutcome::Failed
        };
        self.engine.record_build(n, outcome, secs);
        self.build_secs += secs;
    }

    fn apply_run(&mut self, n: u32, status: &RunStatusRecord, secs: f64, output: Option<&Path>) {
        let outcome = match status {
            RunStatusRecord::Ok => RunOutcome::Clean,
            RunStatusRecord::Crashed { title } => {
                let id = self.identity(title);
                if let Some(p) = output {
                    self.first_output
                        .entry(id)
                        .or_insert_with(|| p.to_path_buf());
                }
                RunOutcome::Failure(id)
            }
            RunStatusRecord::Untestable { .. } => RunOutcome::Untestable,
        };
        self.engine.record_run(n, outcome, secs);
        self.runs_on[n as usize] += 1;
    }
}

fn parse_sig(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok().and_then(|v| v.try_into().ok())
}

fn status_record(s: &RunStatus) -> RunStatusRecord {
    match s {
        RunStatus::Ok => RunStatusRecord::Ok,
        RunStatus::Crashed { title } => RunStatusRecord::Crashed {
            title: title.clone(),
        },
        RunStatus::Untestable { why, reason } => RunStatusRecord::Untestable {
            why: *why,
            reason: reason.clone(),
        },
    }
}

/// How a run reads in the log: "crashed: TITLE", "OK", "boot failed: ...".
pub fn describe_run(s: &RunStatusRecord) -> String {
    use crate::backend::Untestable as U;
    match s {
        RunStatusRecord::Ok => "OK".into(),
        RunStatusRecord::Crashed { title } => format!("crashed: {title}"),
        RunStatusRecord::Untestable { why, reason } => match why {
            U::Boot => format!("boot failed: {reason}"),
            U::SmokeTest => format!("basic kernel testing failed: {reason}"),
            U::Timeout => format!("timed out: {reason}"),
            U::Infra => format!("untestable: {reason}"),
        },
    }
}

/// Builds the engine's DAG from the plan's commits.
pub fn dag_of(plan: &Plan) -> Result<Dag> {
    let parents = plan.commits.iter().map(|c| c.parents.clone()).collect();
    let good: Vec<NodeId> = (0..plan.commits.len() as u32)
        .filter(|&i| plan.commits[i as usize].good)
        .collect();
    Dag::new(parents, &good).context("the commit graph is not in topological order")
}

/// Runs the campaign to its end, resuming from the journal's records.
pub fn run(
    plan: &Plan,
    backend: &mut dyn Backend,
    journal: &mut Journal,
    past: &[Record],
    events: &mut dyn Events,
    hints: &mut dyn Hinter,
) -> Result<Finish> {
    // A fixed target is the first identity, so the engine knows it from the
    // start and replayed runs are classified against it.
    let mut config = plan.config.clone();
    let identities: Vec<String> = plan.target_title.iter().cloned().collect();
    if !identities.is_empty() {
        config.target = Some(0);
    }
    let mut st = State {
        plan,
        engine: Engine::new(dag_of(plan)?, plan.bad, config),
        index: plan
            .commits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.sha.as_str(), i as u32))
            .collect(),
        identity_of: identities
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect(),
        identities,
        runs_on: vec![0; plan.commits.len()],
        rounds: 0,
        build_secs: 0.0,
        test_secs: 0.0,
        signatures: HashMap::new(),
        build_errors: HashMap::new(),
        last_shown: None,
        first_output: HashMap::new(),
        hinted: false,
        hint: None,
    };

    replay(&mut st, backend, journal, past, events, hints)?;

    loop {
        if !st.hinted && hints.enabled() {
            st.look_for_hint(hints, journal, events)?;
        }
        let status = st.engine.status();
        events.progress(
            st.engine.builds(),
            st.engine.runs(),
            status.credible.first().map_or(0.0, |h| h.1),
        );
        match st.engine.next() {
            Step::Build(n) => build(&mut st, backend, journal, events, n, &status)?,
            Step::Run(jobs) => {
                let stale: Vec<u32> = jobs
                    .iter()
                    .map(|j| j.0)
                    .filter(|&n| !backend.is_available(&plan.commits[n as usize].sha))
                    .collect();
                if !stale.is_empty() {
                    for n in stale {
                        st.engine.forget_build(n);
                    }
                    continue;
                }
                run_round(&mut st, backend, journal, events, &jobs)?;
            }
            Step::Done(outcome) => return Ok(finish(st, outcome)),
        }
    }
}

fn replay(
    st: &mut State,
    backend: &mut dyn Backend,
    journal: &mut Journal,
    past: &[Record],
    events: &mut dyn Events,
    hints: &mut dyn Hinter,
) -> Result<()> {
    let plan = st.plan;
    let mut rounds: HashMap<u32, f64> = HashMap::new();
    match past.first() {
        None => {
            return journal.append(&Record::Start {
                bad: plan.commits[plan.bad as usize].sha.clone(),
                goods: plan
                    .commits
                    .iter()
                    .filter(|c| c.good)
                    .map(|c| c.sha.clone())
                    .collect(),
                key: plan.key.clone(),
            })
        }
        Some(Record::Start { key, bad, .. }) => {
            if *key != plan.key || *bad != plan.commits[plan.bad as usize].sha {
                bail!(
                    "the workdir holds the journal of a different campaign (bad {bad}); \
                     give another --workdir, or delete it to start afresh"
                );
            }
        }
        Some(_) => bail!("the journal does not start with a start record; move it away"),
    }
    for r in &past[1..] {
        match r {
            Record::Start { .. } => bail!("the journal has two start records; move it away"),
            Record::Build {
                commit,
                ok,
                signature,
                secs,
                first_error,
                ..
            } => {
                let n = st.node(commit)?;
                st.apply_build(n, *ok, signature.as_deref(), first_error.as_deref(), *secs);
                if *ok && !backend.is_available(commit) {
                    st.engine.forget_build(n);
                }
            }
            Record::Run {
                commit,
                status,
                secs,
                round,
                output,
                ..
            } => {
                let n = st.node(commit)?;
                st.apply_run(n, status, *secs, output.as_deref());
                let m = rounds.entry(*round).or_insert(0.0);
                *m = m.max(*secs);
            }
            Record::Hint { commits, text } => {
                let nodes = commits
                    .iter()
                    .map(|c| st.node(c))
                    .collect::<Result<Vec<u32>>>()?;
                st.hinted = true;
                let hint = Hint {
                    commits: nodes,
                    text: text.clone(),
                };
                if hints.enabled() && st.use_hint(hint) {
                    events.line(text);
                }
            }
        }
    }
    st.rounds = rounds.keys().max().map_or(0, |m| m + 1);
    st.test_secs = rounds.values().sum();
    if past.len() > 1 {
        events.line(&format!(
            "resuming from the journal: {} builds, {} runs already done",
            st.engine.builds(),
            st.engine.runs()
        ));
    }
    Ok(())
}

fn build(
    st: &mut State,
    backend: &mut dyn Backend,
    journal: &mut Journal,
    events: &mut dyn Events,
    n: u32,
    status: &Status,
) -> Result<()> {
    let c = &st.plan.commits[n as usize];
    if st.engine.builds() > 0 && n != st.plan.bad {
        let left = status.credible.len().saturating_sub(1);
        let steps = (left as f64 + 1.0).log2().ceil() as usize;
        events.line(&format!(
            "Bisecting: {left} revisions left to test after this (roughly {steps} steps)"
        ));
        events.line(&format!("[{}] {}", c.sha, c.subject));
        events.line("");
    }
    events.line(&format!("testing commit {}", c.sha));
    st.last_shown = Some(n);
    let r: BuildResult = backend
        .build(&c.sha)
        .with_context(|| format!("building {}", c.sha))?;
    let sig = r.signature.map(hex::encode);
    journal.append(&Record::Build {
        commit: c.sha.clone(),
        ok: r.ok,
        signature: sig.clone(),
        secs: r.secs,
        first_error: r.first_error.clone(),
        info: r.info.clone(),
    })?;
    for l in &r.info {
        events.line(l);
    }
    match &sig {
        Some(s) if r.ok => events.line(&format!("{} signature: {s}", st.plan.product)),
        _ => {}
    }
    if !r.ok {
        let err = r
            .first_error
            .clone()
            .unwrap_or_else(|| "unknown error".into());
        events.line(&format!("build failed: {err}"));
    }
    st.apply_build(n, r.ok, sig.as_deref(), r.first_error.as_deref(), r.secs);
    if let Some(m) = st.engine.evidence(n).same_as {
        events.line(&format!(
            "same {} as {}: its runs count for this commit too",
            st.plan.product, st.plan.commits[m as usize].sha
        ));
    }
    if !r.ok && n == st.plan.bad {
        let log = r
            .log
            .map(|p| format!(" (full output: {})", p.display()))
            .unwrap_or_default();
        bail!(
            "the bad commit {} does not build: {}{log}; fix the build command or pick a bad commit that builds",
            c.sha,
            r.first_error.unwrap_or_else(|| "no error line found".into())
        );
    }
    Ok(())
}

fn run_round(
    st: &mut State,
    backend: &mut dyn Backend,
    journal: &mut Journal,
    events: &mut dyn Events,
    plan_jobs: &[(u32, u32)],
) -> Result<()> {
    let mut jobs = Vec::new();
    let mut nodes = Vec::new();
    for &(n, k) in plan_jobs {
        for i in 0..k {
            jobs.push(RunJob {
                commit: st.plan.commits[n as usize].sha.clone(),
                run: st.runs_on[n as usize] + i,
            });
            nodes.push(n);
        }
    }
    let results: Vec<RunResult> = backend.run(&jobs)?;
    if results.len() != jobs.len() {
        bail!(
            "backend returned {} results for {} runs",
            results.len(),
            jobs.len()
        );
    }
    let round = st.rounds;
    st.rounds += 1;
    let mut longest: f64 = 0.0;
    let mut lines: Vec<(u32, String)> = Vec::new();
    for ((job, r), &n) in jobs.iter().zip(&results).zip(&nodes) {
        let status = status_record(&r.status);
        journal.append(&Record::Run {
            commit: job.commit.clone(),
            run: job.run,
            round,
            status: status.clone(),
            secs: r.secs,
            output: r.output.clone(),
        })?;
        st.apply_run(n, &status, r.secs, r.output.as_deref());
        longest = longest.max(r.secs);
        lines.push((n, format!("run #{}: {}", job.run, describe_run(&status))));
    }
    st.test_secs += longest;
    // Group the lines by commit, as the reference log does.
    let mut shown: Vec<u32> = Vec::new();
    for &(n, _) in plan_jobs {
        if shown.contains(&n) {
            continue;
        }
        shown.push(n);
        if st.last_shown != Some(n) {
            events.line(&format!(
                "testing commit {} (built before)",
                st.plan.commits[n as usize].sha
            ));
            st.last_shown = Some(n);
        }
        let mine: Vec<&str> = lines
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, l)| l.as_str())
            .collect();
        let first = mine[0].split_once(": ").map(|x| x.1).unwrap_or("");
        // "all runs" only when this round holds every run of the commit so
        // far: a later round's summary would hide the earlier ones.
        let whole = mine.len() as u32 == st.runs_on[n as usize];
        if whole
            && mine.len() > 1
            && mine
                .iter()
                .all(|l| l.split_once(": ").map(|x| x.1) == Some(first))
        {
            events.line(&format!("all runs: {first}"));
        } else {
            for l in mine {
                events.line(l);
            }
        }
    }
    Ok(())
}

fn finish(st: State, outcome: Outcome) -> Finish {
    let culprit = match outcome.verdict {
        Verdict::Culprit(c) => Some(c),
        _ => None,
    };
    let confidence = match outcome.verdict {
        Verdict::Culprit(c) => mass_of(&outcome.status, Hypothesis::Commit(c)),
        Verdict::Older => mass_of(&outcome.status, Hypothesis::Older),
        _ => outcome.status.credible.first().map_or(0.0, |h| h.1),
    };
    Finish {
        outcome,
        culprit,
        confidence,
        builds: st.engine.builds(),
        runs: st.engine.runs(),
        rounds: st.rounds,
        build_secs: st.build_secs,
        test_secs: st.test_secs,
        identities: st.identities,
        signatures: st.signatures,
        build_errors: st.build_errors,
        hint: st.hint,
        engine: st.engine,
    }
}

fn mass_of(s: &Status, h: Hypothesis) -> f64 {
    s.credible
        .iter()
        .find(|(x, _)| *x == h)
        .map_or(0.0, |x| x.1)
}
