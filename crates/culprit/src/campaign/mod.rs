//! The campaign as a polled machine: it is told what happened (journal
//! records) and answers what to do next ([`Action`]), emitting typed
//! [`Event`]s on the way.
//!
//! Like the engine it wraps, it is sans-IO and deterministic: no processes,
//! threads, clocks or files, and no hash-order iteration. Every duration
//! comes from the records (measured or simulated by a backend), so the same
//! machine serves `culprit bisect` (through `crate::drive`), the bench
//! simulator and, later, a server running many campaigns. Replaying a
//! journal into a fresh machine restores the exact state.
//!
//! Protocol: [`Machine::resume`] with the journal's records (it returns the
//! start record to journal when there were none), then loop: [`Machine::poll`]
//! gives an action; the driver performs it, journals each resulting record
//! and [`Machine::feed`]s it; [`Machine::take_events`] drains the events for
//! the printers. [`Action::Done`] ends it; [`Machine::finish`] gives the
//! result.

use culprit_bisect::{
    BuildOutcome, Config, Engine, Hypothesis, Outcome, RunOutcome, Status, Step, StopReason,
    Verdict,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod apply;
mod batch;
pub mod event;
mod hints;
mod plan;
pub mod record;
#[cfg(test)]
mod revert_tests;
mod state;
#[cfg(test)]
mod tests;
mod verify;
#[cfg(test)]
mod walk_tests;

pub use event::{Counts, Event, Fanout, RoundJob, RunLine, Sink};
pub use hints::{Hint, HINT_SHARE};
pub use plan::{
    dag_of, hyp_name, reason_name, Action, Commit, Error, Finish, Plan, RunJob, Walk, WalkEnd,
    NEAR_MISS_RUNS,
};
use plan::{verdict_mass, verdict_name};
use plan::{INFRA_MIN_RUNS, INFRA_SHARE};
pub use record::{Crash, Record, RevertMade, RunStatus, Untestable};
use state::Visits;
use verify::Verify;
pub use verify::{Verification, VerifyOutcome};

/// The campaign machine. See the module docs.
pub struct Machine {
    plan: Plan,
    engine: Engine,
    index: BTreeMap<String, u32>,
    identities: Vec<String>,
    /// What each identity's first crash looked like (index = identity):
    /// later titles are compared with it.
    targets: Vec<culprit_report::Target>,
    identity_of: BTreeMap<String, u32>,
    runs_on: Vec<u32>,
    /// Per commit: one past the highest run number handed out or
    /// journaled. Not `runs_on`: runs of a round end in any order, and a
    /// kill can cut one whose later sibling was journaled (runs 6 and 8
    /// journaled, 7 not), so a count would hand out 8 again on resume.
    next_run: Vec<u32>,
    /// Longest run of each round, by round number.
    round_secs: BTreeMap<u32, f64>,
    build_secs: f64,
    signatures: BTreeMap<u32, String>,
    build_errors: BTreeMap<u32, String>,
    build_logs: BTreeMap<u32, PathBuf>,
    configs: BTreeMap<u32, PathBuf>,
    symbols: BTreeMap<u32, PathBuf>,
    outputs: BTreeMap<(u32, u32), PathBuf>,
    /// Failures on the bad commit by identity, in order of first appearance.
    bad_titles: Vec<(u32, u32)>,
    /// The target a hint was looked up (or replayed) for.
    hinted_for: Option<u32>,
    hint: Option<Hint>,
    /// The target last announced with [`Event::TargetLocked`].
    announced: Option<u32>,
    visits: Visits,
    events: Vec<Event>,
    /// Replaying the journal: no events for what is not new.
    replaying: bool,
    started: bool,
    done: Option<Outcome>,
    /// The engine's outcome while the revert verification runs.
    verifying: Option<Outcome>,
    /// Every verification's state, by culprit (a campaign may revert
    /// several commits; the journal holds each one's records in a block).
    verifies: BTreeMap<String, Verify>,
    /// The culprit of the verification under way, or of the last one.
    current: Option<String>,
    /// How each verification ended, by culprit.
    verdicts: BTreeMap<String, Verification>,
    /// A verification just ended: if the search goes on, say so.
    resumed: Option<String>,
    verification: Option<Verification>,
    /// Untestable runs by reason (for the infrastructure-error class).
    untestable: BTreeMap<String, u32>,
    /// Work handed out by [`Machine::poll_batch`] and not yet answered.
    flight: batch::Flight,
}

impl Machine {
    pub fn new(plan: Plan) -> Result<Machine, Error> {
        // A fixed target is the first identity, so the engine knows it from
        // the start and replayed runs are classified against it.
        let mut config: Config = plan.config.clone();
        let identities: Vec<String> = plan.target_title.iter().cloned().collect();
        if !identities.is_empty() {
            config.target = Some(0);
        }
        let mut engine = Engine::new(dag_of(&plan)?, plan.bad, config);
        if let Some(w) = &plan.walk {
            engine.set_prior(&w.prior);
        }
        if !plan.docs_only.is_empty() {
            if plan.docs_only.len() != plan.commits.len() {
                return Err(Error::DocsOnly {
                    flags: plan.docs_only.len(),
                    commits: plan.commits.len(),
                });
            }
            engine.set_docs_only(&plan.docs_only);
        }
        Ok(Machine {
            index: plan
                .commits
                .iter()
                .enumerate()
                .map(|(i, c)| (c.sha.clone(), i as u32))
                .collect(),
            identity_of: identities
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect(),
            targets: identities
                .iter()
                .map(|t| culprit_report::Target::from_title(t))
                .collect(),
            identities,
            runs_on: vec![0; plan.commits.len()],
            next_run: vec![0; plan.commits.len()],
            round_secs: BTreeMap::new(),
            build_secs: 0.0,
            signatures: BTreeMap::new(),
            build_errors: BTreeMap::new(),
            build_logs: BTreeMap::new(),
            configs: BTreeMap::new(),
            symbols: BTreeMap::new(),
            outputs: BTreeMap::new(),
            bad_titles: Vec::new(),
            hinted_for: None,
            hint: None,
            announced: None,
            visits: Visits::default(),
            events: Vec::new(),
            replaying: false,
            started: false,
            done: None,
            verifying: None,
            verifies: BTreeMap::new(),
            current: None,
            verdicts: BTreeMap::new(),
            resumed: None,
            verification: None,
            untestable: BTreeMap::new(),
            flight: batch::Flight::default(),
            engine,
            plan,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The start record of this campaign.
    pub fn start_record(&self) -> Record {
        let p = &self.plan;
        Record::Start {
            bad: p.commits[p.bad as usize].sha.clone(),
            goods: p
                .commits
                .iter()
                .filter(|c| c.good)
                .map(|c| c.sha.clone())
                .collect(),
            key: p.key.clone(),
        }
    }

    /// Replays the journal's records. Returns the start record to append
    /// when the journal was empty.
    pub fn resume(&mut self, past: &[Record]) -> Result<Option<Record>, Error> {
        let p = &self.plan;
        self.events.push(Event::Started {
            direction: if p.config.fix { "fix" } else { "cause" },
            bad: p.commits[p.bad as usize].sha.clone(),
            goods: p
                .commits
                .iter()
                .filter(|c| c.good)
                .map(|c| c.sha.clone())
                .collect(),
            candidates: p.commits.iter().filter(|c| !c.good).count(),
            workdir: p.workdir.clone(),
            notes: p.notes.clone(),
            walk: p.walk.as_ref().map_or_else(Vec::new, |w| {
                w.labels
                    .iter()
                    .rev()
                    .filter(|l| !l.is_empty())
                    .cloned()
                    .collect()
            }),
            continued: p.after_walk,
        });
        let Some(first) = past.first() else {
            self.started = true;
            return Ok(Some(self.start_record()));
        };
        match first {
            Record::Start { key, bad, .. } => {
                if *key != p.key || *bad != p.commits[p.bad as usize].sha {
                    return Err(Error::OtherCampaign { bad: bad.clone() });
                }
            }
            _ => return Err(Error::NoStart),
        }
        self.started = true;
        self.replaying = true;
        let replayed = past[1..].iter().try_for_each(|r| self.feed(r));
        self.replaying = false;
        replayed?;
        if past.len() > 1 {
            self.events.push(Event::Resumed {
                builds: self.engine.builds(),
                runs: self.engine.runs(),
            });
        }
        Ok(None)
    }

    /// Tells the machine what happened (a record the driver has journaled,
    /// or one replayed from the journal).
    pub fn feed(&mut self, r: &Record) -> Result<(), Error> {
        match r {
            Record::Start { .. } => return Err(Error::TwoStarts),
            Record::Revert {
                culprit,
                onto,
                made,
            } => {
                let c = self.node(culprit)?;
                self.current = Some(culprit.clone());
                let v = self.verifies.entry(culprit.clone()).or_insert_with(|| {
                    Verify::new(culprit.clone(), onto.clone(), String::new(), 0)
                });
                v.onto = onto.clone();
                v.subject = format!("Revert \"{}\"", self.plan.commits[c as usize].subject);
                v.made = Some(made.clone());
            }
            r if self.feed_verify(r) => {}
            Record::Build {
                commit,
                ok,
                signature,
                secs,
                first_error,
                info,
                log,
                config,
                symbols,
            } => {
                let n = self.node(commit)?;
                self.flight.built(n);
                self.apply_build(n, *ok, signature.as_deref(), first_error.as_deref(), *secs);
                if let Some(l) = log {
                    self.build_logs.insert(n, l.clone());
                }
                if let Some(c) = config {
                    self.configs.insert(n, c.clone());
                }
                if let Some(s) = symbols {
                    self.symbols.insert(n, s.clone());
                }
                let same_as = self.engine.evidence(n).same_as;
                if !self.replaying {
                    self.events.push(Event::BuildFinished {
                        commit: commit.clone(),
                        ok: *ok,
                        secs: *secs,
                        product: self.plan.product.clone(),
                        signature: signature.clone().filter(|_| *ok),
                        error: (!*ok).then(|| {
                            first_error
                                .clone()
                                .unwrap_or_else(|| "unknown error".into())
                        }),
                        info: info.clone(),
                        log: log.clone(),
                        same_as: same_as.map(|m| self.plan.commits[m as usize].sha.clone()),
                    });
                }
                if !*ok && n == self.engine.shows() {
                    return Err(Error::BadDoesNotBuild {
                        commit: commit.clone(),
                        error: first_error
                            .clone()
                            .unwrap_or_else(|| "no error line found".into()),
                        log: log
                            .as_ref()
                            .map(|p| format!(" (full output: {})", p.display()))
                            .unwrap_or_default(),
                    });
                }
            }
            Record::Run {
                commit,
                run,
                round,
                status,
                secs,
                output,
            } => {
                let n = self.node(commit)?;
                self.flight.ran(n);
                let next = &mut self.next_run[n as usize];
                *next = (*next).max(run.saturating_add(1));
                let earlier = self.runs_on[n as usize];
                self.apply_run(n, status, *secs, output.as_ref());
                let m = self.round_secs.entry(*round).or_insert(0.0);
                *m = m.max(*secs);
                if !self.replaying {
                    self.visits.add(n, earlier, *run, status.clone());
                    self.events.push(Event::RunFinished {
                        commit: commit.clone(),
                        run: *run,
                        round: *round,
                        status: status.clone(),
                        secs: *secs,
                        output: output.clone(),
                    });
                }
            }
            Record::Hint {
                commits,
                text,
                target,
            } => {
                let nodes = commits
                    .iter()
                    .map(|c| self.node(c))
                    .collect::<Result<Vec<u32>, Error>>()?;
                self.hinted_for = match target {
                    Some(t) => self.identity_of.get(t).copied(),
                    None => self.engine.target(),
                };
                let hint = Hint {
                    commits: nodes,
                    text: text.clone(),
                };
                if self.plan.hints && self.use_hint(hint) {
                    self.events.push(Event::Hint {
                        text: text.clone(),
                        commits: commits.len(),
                        used: true,
                    });
                }
            }
        }
        Ok(())
    }

    /// What to do next. `available` says whether a commit's build product
    /// can still be run without a rebuild (a kept kernel may have been
    /// deleted since it was journaled).
    pub fn poll(&mut self, available: &dyn Fn(&str) -> bool) -> Action {
        // A verification that ends hands the search back to the engine:
        // the revert's runs are evidence, and may send it on.
        loop {
            if let Some(a) = self.poll_once(available) {
                return a;
            }
        }
    }

    fn poll_once(&mut self, available: &dyn Fn(&str) -> bool) -> Option<Action> {
        if self.done.is_some() {
            return Some(Action::Done);
        }
        if let Some(o) = self.verifying.clone() {
            return self.verify_step(o, available);
        }
        if let Some(a) = self.hint_action() {
            return Some(a);
        }
        let status = self.engine.status();
        self.status_event(&status);
        self.announce_target();
        let step = loop {
            if let Some(o) = self.stops_early(&status) {
                break Step::Done(o);
            }
            match self.engine.next() {
                Step::Run(jobs) => {
                    let stale: Vec<u32> = jobs
                        .iter()
                        .map(|j| j.0)
                        .filter(|&n| !available(&self.plan.commits[n as usize].sha))
                        .collect();
                    if stale.is_empty() {
                        break Step::Run(jobs);
                    }
                    for n in stale {
                        self.engine.forget_build(n);
                    }
                }
                s => break s,
            }
        };
        if !matches!(step, Step::Done(_)) {
            self.resumed_event(&status);
        }
        Some(match step {
            Step::Build(n) => {
                self.end_visits(&[]);
                self.build_action(n, &status)
            }
            Step::Run(alloc) => {
                let nodes: Vec<u32> = alloc.iter().map(|j| j.0).collect();
                self.end_visits(&nodes);
                self.round_action(&alloc)
            }
            Step::Done(outcome) => {
                self.end_visits(&[]);
                return self.conclude(outcome, available);
            }
        })
    }

    /// Build commit `n`, announced in the log (with the credible set it
    /// was chosen from, unless it is an end of the range or a walk step).
    fn build_action(&mut self, n: u32, status: &Status) -> Action {
        let c = &self.plan.commits[n as usize];
        if self.engine.builds() > 0
            && n != self.engine.shows()
            && n != self.plan.bad
            && self.plan.walk.is_none()
        {
            self.events.push(Event::CommitChosen {
                commit: c.sha.clone(),
                subject: c.subject.clone(),
                credible: status.credible.len(),
                mass: status.credible.iter().map(|h| h.1).sum(),
            });
        }
        self.events.push(Event::BuildStarted {
            commit: c.sha.clone(),
            subject: c.subject.clone(),
            release: self.release_of(n),
        });
        Action::Build(c.sha.clone())
    }

    /// The release name of a walk's commit.
    fn release_of(&self, n: u32) -> Option<String> {
        let w = self.plan.walk.as_ref().filter(|w| w.releases)?;
        Some(w.labels[n as usize].clone()).filter(|l| !l.is_empty())
    }

    fn finished(&mut self, outcome: Outcome) -> Action {
        let (culprit, confidence) = verdict_mass(&outcome);
        let releases = self.plan.walk.as_ref().is_some_and(|w| w.releases);
        let ended = match plan::walk_end_of(&self.plan, outcome.verdict, confidence) {
            WalkEnd::Good { commit, label, .. } => Some((Some(label), Some(commit), None, false)),
            WalkEnd::Oldest { label, root, .. } => Some((None, None, Some(label), root)),
            WalkEnd::Undecided => None,
        };
        if let Some((good, good_commit, oldest, root)) = ended {
            self.events.push(Event::WalkEnded {
                good,
                good_commit,
                oldest,
                root,
                releases,
                confidence,
            });
        }
        self.events.push(Event::Finished {
            verdict: verdict_name(outcome.verdict, self.plan.config.fix),
            reason: reason_name(outcome.reason),
            culprit: culprit.map(|c| self.plan.commits[c as usize].sha.clone()),
            confidence,
            builds: self.engine.builds(),
            runs: self.engine.runs(),
            rounds: self.rounds(),
        });
        self.done = Some(outcome);
        Action::Done
    }

    /// Drains the events emitted since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn rounds(&self) -> u32 {
        self.round_secs.keys().next_back().map_or(0, |r| r + 1)
    }

    /// The campaign's result. Call after [`Action::Done`]; before it, the
    /// result is the engine's current state, reported as inconclusive.
    pub fn finish(self) -> Finish {
        let outcome = self.done.clone().unwrap_or_else(|| Outcome {
            verdict: Verdict::Inconclusive,
            reason: StopReason::Exhausted,
            status: self.engine.status(),
        });
        let (culprit, confidence) = verdict_mass(&outcome);
        let mut bad_titles: Vec<(String, u32)> = self
            .bad_titles
            .iter()
            .map(|&(id, c)| (self.identities[id as usize].clone(), c))
            .collect();
        bad_titles.sort_by_key(|t| std::cmp::Reverse(t.1));
        // The verification of the answer, after it was named.
        let verify_secs = match (outcome.verdict, &self.verification) {
            (Verdict::Culprit(c), Some(_)) => self.verify_secs(&self.plan.commits[c as usize].sha),
            _ => 0.0,
        };
        let untestable = self
            .untestable_reason()
            .map(|(r, c)| (r.to_string(), c, self.untestable.values().sum()));
        Finish {
            untestable,
            culprit,
            confidence,
            builds: self.engine.builds(),
            runs: self.engine.runs(),
            rounds: self.rounds(),
            build_secs: self.build_secs,
            test_secs: self.round_secs.values().sum(),
            verify_secs,
            identities: self.identities,
            bad_titles,
            signatures: self.signatures,
            build_errors: self.build_errors,
            build_logs: self.build_logs,
            configs: self.configs,
            symbols: self.symbols,
            outputs: self.outputs,
            hint: self.hint,
            verification: self.verification,
            engine: self.engine,
            outcome,
        }
    }
}
