//! Revert verification: a phase after the engine named a culprit. The
//! posterior says which commit is most likely; it cannot say whether taking
//! that commit out removes the crash, and a culprit that only exposes an
//! older bug looks the same to it. So the machine asks for the culprit
//! reverted on top of the bad commit, builds that, and runs it until a bug
//! still present would have shown (at most `--verify-runs` times).
//!
//! The revert's runs are evidence for the engine (`culprit_bisect`'s
//! `reverts`): they ask about one commit at the rate the bug fires at the
//! bad commit, which is what tells a reproducer that fires less on old code
//! from a false-target region. So when the engine cannot decide, a leader
//! holding `LEADER_SHARE` is reverted too, and after every verification the
//! engine is asked again: a crashing revert sends the search on, a clean
//! one may settle it. At most `MAX_REVERTS` commits are reverted.
//!
//! Everything comes from journal records, like the rest of the machine, so
//! a killed campaign resumes the phase where it stopped: the records of each
//! revert form one block, and every state is kept by culprit.

use crate::print::short;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use culprit_bisect::{Hypothesis, Outcome, Status, StopReason, Verdict};

use super::event::{Counts, Event, RoundJob, RunLine};
use super::plan::{Action, RunJob};
use super::record::{Crash, Record, RevertMade, RunStatus};

/// Most commits reverted in one campaign: each costs a build, and a
/// search that keeps naming commits whose revert still crashes is better
/// told as inconclusive.
pub const MAX_REVERTS: usize = 3;

/// Share of the posterior a leader needs, when the search cannot decide,
/// for its revert to be worth a build: the revert asks about it alone.
pub const LEADER_SHARE: f64 = 0.2;

/// How the verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOutcome {
    /// The target crash did not show on the revert: verified.
    Fixed,
    /// The target crash showed on the revert: the answer is suspect.
    Persists,
    /// Unverified: the revert conflicts (or changes nothing to test).
    DoesNotApply,
    /// Unverified: the revert does not build.
    DoesNotBuild,
    /// Unverified: no run on the revert tested anything.
    Untested,
}

impl VerifyOutcome {
    /// The log's words for it; `fix`: the reverted commit is a fix, so the
    /// crash coming back is what confirms it.
    pub fn text(self, fix: bool) -> &'static str {
        match (self, fix) {
            (VerifyOutcome::Fixed, false) => "revert fixes the crash",
            (VerifyOutcome::Persists, false) => "crash persists after revert",
            (VerifyOutcome::Fixed, true) => "crash stays away after reverting the fix",
            (VerifyOutcome::Persists, true) => "reverting the fix brings the crash back",
            (VerifyOutcome::DoesNotApply, _) => "revert does not apply",
            (VerifyOutcome::DoesNotBuild, _) => "revert does not build",
            (VerifyOutcome::Untested, _) => "revert could not be tested",
        }
    }

    /// Whether it confirms the answer (`Some(false)`: it contradicts it;
    /// `None`: it says nothing).
    pub fn confirms(self, fix: bool) -> Option<bool> {
        match self {
            VerifyOutcome::Fixed => Some(!fix),
            VerifyOutcome::Persists => Some(fix),
            _ => None,
        }
    }
}

/// The verification's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub outcome: VerifyOutcome,
    pub reason: String,
    /// The culprit and the commit it was reverted on (the bad end).
    pub culprit: String,
    pub onto: String,
    /// The revert commit, when the revert applied.
    pub commit: Option<String>,
    pub counts: Counts,
    /// The outcome confirms the answer (a cause: the crash went away; a
    /// fix: it came back); false when it contradicts it, null when it says
    /// nothing (the revert did not apply, build or test).
    pub confirms: Option<bool>,
}

/// The phase's state, rebuilt from records.
#[derive(Debug, Clone)]
pub(super) struct Verify {
    pub culprit: String,
    pub onto: String,
    pub subject: String,
    pub made: Option<RevertMade>,
    /// Whether the revert built, and the first error when it did not.
    pub built: Option<Result<(), String>>,
    pub runs: Vec<RunLine>,
    pub counts: Counts,
    pub wanted: u32,
    /// The culprit is a fix: its revert is expected to crash.
    pub fix: bool,
    /// Announced in this process (the log says what is being verified).
    pub announced: bool,
    /// A run ended in this process: the log shows the runs' block (a
    /// resumed campaign does not show replayed blocks again).
    pub fresh: bool,
    /// Modelled time: the revert's build, and each round's longest run.
    pub build_secs: f64,
    pub round_secs: BTreeMap<u32, f64>,
}

/// What the phase needs next.
pub(super) enum Need {
    Revert,
    Build(String),
    Runs(String, Vec<u32>),
    Done(Verification),
}

impl Verify {
    pub fn new(culprit: String, onto: String, subject: String, wanted: u32) -> Verify {
        Verify {
            culprit,
            onto,
            subject,
            made: None,
            built: None,
            runs: Vec::new(),
            counts: Counts::default(),
            wanted,
            fix: false,
            announced: false,
            fresh: false,
            build_secs: 0.0,
            round_secs: BTreeMap::new(),
        }
    }

    /// The revert commit, once made.
    pub fn commit(&self) -> Option<&str> {
        match &self.made {
            Some(RevertMade::Applied { commit }) => Some(commit),
            _ => None,
        }
    }

    pub fn record_run(&mut self, run: u32, status: &RunStatus, target: bool) {
        match status {
            RunStatus::Ok => self.counts.clean += 1,
            RunStatus::Crashed { .. } if target => self.counts.target += 1,
            RunStatus::Crashed { .. } => self.counts.other += 1,
            RunStatus::Untestable { .. } => self.counts.untestable += 1,
        }
        self.runs.push(RunLine {
            run,
            status: status.clone(),
        });
    }

    /// The next step. `available`: whether the revert's build product is
    /// still there; `status`: what the search learnt of the reproduction
    /// rate, which sizes the runs and states the reason; `settled`: the
    /// search holds this commit at its stopping confidence.
    pub fn need(&self, available: bool, status: &Status, confidence: f64, settled: bool) -> Need {
        let made = match &self.made {
            None => return Need::Revert,
            Some(m) => m,
        };
        let commit = match made {
            RevertMade::Applied { commit } => commit,
            RevertMade::Conflict { files } => {
                return self.done(
                    VerifyOutcome::DoesNotApply,
                    format!(
                        "reverting it on {} conflicts in {}",
                        short(&self.onto),
                        files.join(", ")
                    ),
                )
            }
            // The revert's tree is the bad commit's: it crashes in a cause
            // bisection, not in a fix bisection.
            RevertMade::Empty => {
                let (outcome, does) = if self.fix {
                    (VerifyOutcome::Fixed, "does not crash")
                } else {
                    (VerifyOutcome::Persists, "crashes")
                };
                return self.done(
                    outcome,
                    format!(
                        "reverting it changes nothing on {}, which {does}",
                        short(&self.onto)
                    ),
                );
            }
        };
        if self.counts.target > 0 {
            let n = self.runs.len();
            return self.done(
                VerifyOutcome::Persists,
                format!(
                    "{} of {n} runs on the revert crashed with the target",
                    self.counts.target
                ),
            );
        }
        let c = self.counts;
        // The same evidence rule as the search: enough clean runs that a
        // bug still present would have shown at the asked confidence, at
        // most `wanted` runs in all. Over the rate's posterior, not at its
        // mean: a bug seen in 3 of 5 runs may fire far less often than 0.6.
        let needed = status.clean_runs_needed(confidence);
        // The runs are evidence for the search too: while the search is not
        // yet sure of this commit, clean runs still move it there, so a
        // round more, up to twice the rule's count (a leader the search
        // could not settle often needs one or two runs past the rule).
        let more = match needed.saturating_sub(c.clean) {
            0 if !settled && c.clean < needed.saturating_mul(2) => 2,
            short => short,
        };
        let more = more.min(self.wanted.saturating_sub(self.runs.len() as u32));
        let next: Vec<u32> = self.missing().into_iter().take(more as usize).collect();
        match &self.built {
            Some(Err(e)) => return self.done(VerifyOutcome::DoesNotBuild, e.clone()),
            Some(Ok(())) if available || next.is_empty() => {}
            _ => return Need::Build(commit.clone()),
        }
        if !next.is_empty() {
            return Need::Runs(commit.clone(), next);
        }
        if c.clean == 0 {
            return self.done(
                VerifyOutcome::Untested,
                format!(
                    "none of {} runs tested anything ({} other crashes, {} untestable)",
                    self.runs.len(),
                    c.other,
                    c.untestable
                ),
            );
        }
        // How likely all these clean runs were if the bug were still there.
        let miss = status.miss(c.clean);
        let q = status.q_estimate;
        let mut reason = format!(
            "no target crash in {} runs ({} clean",
            self.runs.len(),
            c.clean
        );
        if c.other > 0 {
            reason.push_str(&format!(", {} other crashes", c.other));
        }
        if c.untestable > 0 {
            reason.push_str(&format!(", {} untestable", c.untestable));
        }
        reason.push_str(&format!(
            "); with the reproduction rate the search learnt (about {q:.2}) a present bug would go unseen with probability {miss:.1e}"
        ));
        self.done(VerifyOutcome::Fixed, reason)
    }

    /// Run numbers not run yet, lowest first.
    fn missing(&self) -> Vec<u32> {
        let seen: BTreeSet<u32> = self.runs.iter().map(|r| r.run).collect();
        (0..self.wanted).filter(|r| !seen.contains(r)).collect()
    }

    fn done(&self, outcome: VerifyOutcome, reason: String) -> Need {
        Need::Done(Verification {
            outcome,
            reason,
            culprit: self.culprit.clone(),
            onto: self.onto.clone(),
            commit: self.commit().map(str::to_string),
            counts: self.counts,
            confirms: outcome.confirms(self.fix),
        })
    }
}

/// The verification under way, borrowing only the fields it lives in (the
/// machine's events stay free to push to).
fn under_way<'a>(
    verifies: &'a mut BTreeMap<String, Verify>,
    current: &Option<String>,
) -> Option<&'a mut Verify> {
    verifies.get_mut(current.as_ref()?)
}

impl super::Machine {
    /// Enters the phase for culprit node `c` (or takes up the state the
    /// journal's records rebuilt).
    pub(super) fn start_verify(&mut self, c: u32) {
        let culprit = self.plan.commits[c as usize].sha.clone();
        let p = &self.plan;
        let onto = p.commits[p.bad as usize].sha.clone();
        let subject = format!("Revert \"{}\"", p.commits[c as usize].subject);
        let wanted = p.config.verify_runs;
        self.current = Some(culprit.clone());
        let v = self
            .verifies
            .entry(culprit.clone())
            .or_insert_with(|| Verify::new(culprit, onto, String::new(), wanted));
        v.subject = subject;
        v.wanted = wanted;
        v.fix = p.config.fix;
    }

    /// The engine is done: its answer (or, when it cannot decide, a leader
    /// holding `LEADER_SHARE`) is reverted first, unless it was already or
    /// `MAX_REVERTS` commits were; otherwise the campaign finishes. None:
    /// a verification just ended, ask the engine again.
    pub(super) fn conclude(
        &mut self,
        outcome: Outcome,
        available: &dyn Fn(&str) -> bool,
    ) -> Option<Action> {
        if let Some(c) = self.to_revert(&outcome) {
            self.start_verify(c);
            self.verifying = Some(outcome.clone());
            return self.verify_step(outcome, available);
        }
        if let Verdict::Culprit(c) = outcome.verdict {
            let sha = &self.plan.commits[c as usize].sha;
            self.verification = self.verdicts.get(sha).cloned();
        }
        Some(self.finished(outcome))
    }

    /// Modelled time of the verification of `culprit` (its revert's build
    /// and rounds), if it ran.
    pub(super) fn verify_secs(&self, culprit: &str) -> f64 {
        self.verifies
            .get(culprit)
            .map_or(0.0, |v| v.build_secs + v.round_secs.values().sum::<f64>())
    }

    /// After a verification, the search went on: the log says so.
    pub(super) fn resumed_event(&mut self, status: &Status) {
        let Some(culprit) = self.resumed.take() else {
            return;
        };
        let confidence = status.mass(Hypothesis::Commit(self.index[&culprit]));
        self.events.push(Event::SearchResumed {
            culprit,
            confidence,
        });
    }

    fn to_revert(&self, outcome: &Outcome) -> Option<u32> {
        if !self.plan.verify || self.plan.walk.is_some() {
            return None;
        }
        let c = match (outcome.verdict, outcome.reason) {
            (Verdict::Culprit(c), _) => c,
            (Verdict::Inconclusive, StopReason::Exhausted) => match outcome.status.credible.first()
            {
                Some(&(Hypothesis::Commit(c), mass)) if mass >= LEADER_SHARE => c,
                _ => return None,
            },
            _ => return None,
        };
        let sha = &self.plan.commits[c as usize].sha;
        if self.verdicts.contains_key(sha) {
            return None;
        }
        (self.verifies.contains_key(sha) || self.verifies.len() < MAX_REVERTS).then_some(c)
    }

    /// Records of the revert commit; false for any other record.
    pub(super) fn feed_verify(&mut self, r: &Record) -> bool {
        let Some(mine) = self
            .current
            .as_ref()
            .and_then(|c| self.verifies[c].commit())
        else {
            return false;
        };
        match r {
            Record::Build {
                commit,
                ok,
                signature,
                secs,
                first_error,
                info,
                log,
                ..
            } if commit == mine => {
                let error = first_error
                    .clone()
                    .unwrap_or_else(|| "unknown error".into());
                self.engine.record_revert_build();
                self.build_secs += secs;
                let v = under_way(&mut self.verifies, &self.current).expect("checked above");
                v.build_secs += secs;
                v.built = Some(if *ok {
                    Ok(())
                } else {
                    Err(match log {
                        Some(l) => format!("{error} (full output: {})", l.display()),
                        None => error.clone(),
                    })
                });
                if !self.replaying {
                    self.events.push(Event::BuildFinished {
                        commit: commit.clone(),
                        ok: *ok,
                        secs: *secs,
                        product: self.plan.product.clone(),
                        signature: signature.clone().filter(|_| *ok),
                        error: (!*ok).then_some(error),
                        info: info.clone(),
                        log: log.clone(),
                        same_as: None,
                    });
                }
                true
            }
            Record::Run {
                commit,
                run,
                round,
                status,
                secs,
                output,
            } if commit == mine => {
                let target = match status {
                    RunStatus::Crashed { title, crash } => self.is_target(title, crash.as_ref()),
                    _ => false,
                };
                let evidence = match status {
                    RunStatus::Ok => Some(false),
                    RunStatus::Crashed { .. } if target => Some(true),
                    _ => None,
                };
                let c = self.current.as_ref().map(|c| self.index[c]);
                self.engine
                    .record_revert_run(c.expect("checked above"), evidence);
                let v = under_way(&mut self.verifies, &self.current).expect("checked above");
                v.record_run(*run, status, target);
                let m = v.round_secs.entry(*round).or_insert(0.0);
                *m = m.max(*secs);
                let m = self.round_secs.entry(*round).or_insert(0.0);
                *m = m.max(*secs);
                v.fresh |= !self.replaying;
                if !self.replaying {
                    self.events.push(Event::RunFinished {
                        commit: commit.clone(),
                        run: *run,
                        round: *round,
                        status: status.clone(),
                        secs: *secs,
                        output: output.clone(),
                    });
                }
                true
            }
            _ => false,
        }
    }

    /// Whether a crash is the target, without making it a new identity
    /// (the engine counts the revert's other crashes as no evidence).
    fn is_target(&self, title: &str, crash: Option<&Crash>) -> bool {
        let Some(t) = self.engine.target() else {
            return false;
        };
        if let Some(&id) = self.identity_of.get(title) {
            return id == t;
        }
        let me = Crash::target(title, crash);
        let corrupted = crash.is_some_and(|c| c.corrupted);
        culprit_report::identity_match_target(&self.targets[t as usize], &me, corrupted).is_some()
    }

    pub(super) fn verify_step(
        &mut self,
        outcome: Outcome,
        available: &dyn Fn(&str) -> bool,
    ) -> Option<Action> {
        let Some(v) = under_way(&mut self.verifies, &self.current) else {
            self.verifying = None;
            return Some(self.finished(outcome));
        };
        if !v.announced {
            v.announced = true;
            self.events.push(Event::VerifyStarted {
                culprit: v.culprit.clone(),
                onto: v.onto.clone(),
            });
        }
        let avail = v.commit().is_some_and(available);
        // What the engine knows now, the revert's runs so far included:
        // the same on a replay of the journal as when the runs came in.
        let status = self.engine.status();
        let settled = self
            .engine
            .settles(Hypothesis::Commit(self.index[&v.culprit]));
        Some(
            match v.need(avail, &status, self.plan.config.confidence, settled) {
                Need::Revert => Action::Revert {
                    culprit: v.culprit.clone(),
                    onto: v.onto.clone(),
                },
                Need::Build(commit) => {
                    self.events.push(Event::BuildStarted {
                        commit: commit.clone(),
                        subject: v.subject.clone(),
                        release: None,
                    });
                    Action::Build(commit)
                }
                Need::Runs(commit, runs) => {
                    let round = self.rounds();
                    self.events.push(Event::RoundStarted {
                        round,
                        jobs: vec![RoundJob {
                            commit: commit.clone(),
                            runs: runs.len() as u32,
                        }],
                    });
                    let jobs = runs
                        .into_iter()
                        .map(|run| RunJob {
                            commit: commit.clone(),
                            run,
                        })
                        .collect();
                    Action::Run { round, jobs }
                }
                Need::Done(verification) => {
                    if let Some(commit) = v.commit() {
                        if v.fresh {
                            let mut runs = v.runs.clone();
                            runs.sort_by_key(|r| r.run);
                            self.events.push(Event::CommitTested {
                                commit: commit.to_string(),
                                subject: v.subject.clone(),
                                runs,
                                earlier: 0,
                                counts: v.counts,
                            });
                        }
                    }
                    self.events.push(Event::Verified {
                        outcome: verification.outcome,
                        text: verification.outcome.text(self.plan.config.fix),
                        reason: verification.reason.clone(),
                        commit: verification.commit.clone(),
                    });
                    self.resumed = Some(verification.culprit.clone());
                    self.verdicts
                        .insert(verification.culprit.clone(), verification);
                    self.verifying = None;
                    return None;
                }
            },
        )
    }
}
