//! How the machine takes in a build or a run: identities, engine
//! records, per-commit state, the events that follow, and the target's
//! announcement.

use super::*;

impl Machine {
    pub(super) fn node(&self, sha: &str) -> Result<u32, Error> {
        self.index
            .get(sha)
            .copied()
            .ok_or_else(|| Error::UnknownCommit(sha.to_string()))
    }

    /// The identity of a crash: its title's, or, for a title not seen
    /// before, the first identity whose crash it matches (crates/report's
    /// crash identity: shared titles, or the same kind of crash in the
    /// same code), else a new one. The engine sees one identity per run.
    pub(super) fn identity(&mut self, title: &str, crash: Option<&Crash>) -> u32 {
        if let Some(&id) = self.identity_of.get(title) {
            return id;
        }
        let me = Crash::target(title, crash);
        let corrupted = crash.is_some_and(|c| c.corrupted);
        let found = self.targets.iter().enumerate().find_map(|(id, t)| {
            culprit_report::identity_match_target(t, &me, corrupted).map(|m| (id as u32, m))
        });
        if let Some((id, m)) = found {
            self.identity_of.insert(title.to_string(), id);
            if !self.replaying {
                self.events.push(Event::SameCrash {
                    title: title.to_string(),
                    same_as: self.identities[id as usize].clone(),
                    why: why_same(&m),
                });
            }
            return id;
        }
        let id = self.identities.len() as u32;
        self.identities.push(title.to_string());
        self.targets.push(me);
        self.identity_of.insert(title.to_string(), id);
        id
    }

    pub(super) fn apply_build(
        &mut self,
        n: u32,
        ok: bool,
        sig: Option<&str>,
        err: Option<&str>,
        secs: f64,
    ) {
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

    pub(super) fn apply_run(
        &mut self,
        n: u32,
        status: &RunStatus,
        secs: f64,
        output: Option<&PathBuf>,
    ) {
        let outcome = match status {
            RunStatus::Ok => RunOutcome::Clean,
            RunStatus::Crashed { title, crash } => {
                let id = self.identity(title, crash.as_ref());
                if let Some(p) = output {
                    self.outputs.entry((n, id)).or_insert_with(|| p.clone());
                }
                if n == self.engine.shows() {
                    match self.bad_titles.iter_mut().find(|(i, _)| *i == id) {
                        Some((_, c)) => *c += 1,
                        None => self.bad_titles.push((id, 1)),
                    }
                }
                RunOutcome::Failure(id)
            }
            RunStatus::Untestable { reason, .. } => {
                *self.untestable.entry(reason.clone()).or_insert(0) += 1;
                RunOutcome::Untestable
            }
        };
        self.engine.record_run(n, outcome, secs);
        self.runs_on[n as usize] += 1;
    }

    pub(super) fn status_event(&mut self, s: &Status) {
        let (leading, mass) = match s.credible.first() {
            Some((h, m)) => (Some(self.hyp_name(*h)), *m),
            None => (None, 0.0),
        };
        self.events.push(Event::Status {
            builds: self.engine.builds(),
            runs: self.engine.runs(),
            rounds: self.rounds(),
            leading,
            mass,
            credible: s.credible.len(),
            q_estimate: s.q_estimate,
        });
    }

    /// A hypothesis as the result and events name it.
    pub fn hyp_name(&self, h: Hypothesis) -> String {
        hyp_name(&self.plan, h)
    }

    pub(super) fn announce_target(&mut self) {
        let Some(t) = self.engine.target() else {
            return;
        };
        if self.engine.target_locked() && self.announced != Some(t) {
            self.announced = Some(t);
            self.events.push(Event::TargetLocked {
                title: self.identities[t as usize].clone(),
                given: self.plan.target_title.is_some(),
            });
        }
    }

    /// Most runs tested nothing: the machines are broken, not the commits;
    /// answering from what is left would be a guess.
    pub(super) fn infrastructure_failure(&self, status: &Status) -> Option<Outcome> {
        let bad: u32 = self.untestable.values().sum();
        let runs = self.engine.runs();
        (bad >= INFRA_MIN_RUNS && f64::from(bad) >= INFRA_SHARE * f64::from(runs)).then(|| {
            Outcome {
                verdict: Verdict::Inconclusive,
                reason: StopReason::Untestable,
                status: status.clone(),
            }
        })
    }

    /// Why the campaign must end now whatever the engine would do next: a
    /// given target that never shows, or runs that mostly test nothing.
    /// [`Machine::poll`] and [`Machine::poll_batch`] both ask it first.
    pub(super) fn stops_early(&self, status: &Status) -> Option<Outcome> {
        self.near_miss(status)
            .or_else(|| self.infrastructure_failure(status))
    }

    /// The most frequent reason runs were untestable, with its count.
    pub fn untestable_reason(&self) -> Option<(&str, u32)> {
        let mut best: Option<(&str, u32)> = None;
        for (r, &c) in &self.untestable {
            if best.is_none_or(|b| c > b.1) {
                best = Some((r, c));
            }
        }
        best
    }

    /// A given target that never gets its turn on the bad commit: every run
    /// there crashed with something else.
    pub(super) fn near_miss(&self, status: &Status) -> Option<Outcome> {
        self.plan.target_title.as_ref()?;
        let e = self.engine.evidence(self.engine.shows());
        (e.target == 0 && e.clean == 0 && e.other >= NEAR_MISS_RUNS).then(|| Outcome {
            verdict: Verdict::NotReproduced,
            reason: StopReason::NotReproduced,
            status: status.clone(),
        })
    }

    /// Emits the log blocks of commits whose visit ends: those not in
    /// `next` (the commits of the coming round).
    pub(super) fn end_visits(&mut self, next: &[u32]) {
        for (n, v) in self.visits.end(next) {
            let c = &self.plan.commits[n as usize];
            let e = self.engine.evidence(n);
            self.events.push(Event::CommitTested {
                commit: c.sha.clone(),
                subject: c.subject.clone(),
                runs: v.runs,
                earlier: v.earlier,
                counts: Counts {
                    target: e.target,
                    other: e.other,
                    clean: e.clean,
                    untestable: e.untestable,
                },
            });
        }
    }
}

fn parse_sig(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok().and_then(|v| v.try_into().ok())
}

/// Why a crash with another title counts as an identity, for the log.
fn why_same(m: &culprit_report::Match) -> String {
    match m {
        culprit_report::Match::ExactTitle => "the same title".into(),
        culprit_report::Match::AltTitle(t) => format!("both are also titled {t:?}"),
        culprit_report::Match::TypeAndFrames { family, frame, .. } => {
            format!("the same kind of crash ({family}) in the same code ({frame})")
        }
    }
}
