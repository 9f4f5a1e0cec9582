//! Crash-stack hints in the campaign: when the machine asks for one, and how
//! a hint becomes the engine's prior.
//!
//! The lookup itself (reading a console, asking git) is I/O and lives
//! outside (`crate::hint`); the machine only says when it wants a hint
//! ([`super::Action::Hint`]) and takes the answer.

use super::{Action, Event, Machine, Record};

/// Share of the prior given to the commits a crash-stack hint names: enough
/// to test them first, small enough that a wrong hint costs about one build.
pub const HINT_SHARE: f64 = 0.5;

/// Commits that touch the code of the crash, by index into the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub commits: Vec<u32>,
    /// One line for the log, saying what was matched.
    pub text: String,
}

impl Machine {
    /// Gives the hinted commits [`HINT_SHARE`] of the culprit prior and
    /// keeps the hint. False when it is too broad to tell anything.
    pub(super) fn use_hint(&mut self, hint: Hint) -> bool {
        let commits = &self.plan.commits;
        let candidates = commits.iter().filter(|c| !c.good).count();
        let mut hinted = vec![false; commits.len()];
        for &c in &hint.commits {
            hinted[c as usize] = !commits[c as usize].good;
        }
        let k = hinted.iter().filter(|h| **h).count();
        if k == 0 || 2 * k >= candidates {
            return false;
        }
        let w = HINT_SHARE / (1.0 - HINT_SHARE) * (candidates - k) as f64 / k as f64;
        let weights: Vec<f64> = hinted.iter().map(|&h| if h { w } else { 1.0 }).collect();
        self.engine.set_prior(&weights);
        self.hint = Some(hint);
        true
    }

    /// Once the target is settled, asks for a hint from a console that
    /// shows it; again if the target changes (the old hint is dropped).
    pub(super) fn hint_action(&mut self) -> Option<Action> {
        if !self.plan.hints || !self.engine.target_locked() {
            return None;
        }
        let target = self.engine.target()?;
        if self.hinted_for == Some(target) {
            return None;
        }
        // The bad commit's console first: the target was learned there.
        let output = self
            .outputs
            .get(&(self.engine.shows(), target))
            .or_else(|| {
                self.outputs
                    .iter()
                    .find(|((_, id), _)| *id == target)
                    .map(|(_, p)| p)
            })?
            .clone();
        self.hinted_for = Some(target);
        if self.hint.take().is_some() {
            self.engine.set_prior(&vec![1.0; self.plan.commits.len()]);
        }
        Some(Action::Hint {
            title: self.identities[target as usize].clone(),
            output,
        })
    }

    /// The answer to [`Action::Hint`]. Returns the record to journal when
    /// the hint is used.
    pub fn hint_found(&mut self, hint: Option<Hint>) -> Option<Record> {
        let hint = hint?;
        let text = hint.text.clone();
        let commits: Vec<String> = hint
            .commits
            .iter()
            .map(|&c| self.plan.commits[c as usize].sha.clone())
            .collect();
        let n = commits.len();
        if !self.use_hint(hint) {
            self.events.push(Event::Hint {
                text,
                commits: n,
                used: false,
            });
            return None;
        }
        self.events.push(Event::Hint {
            text: text.clone(),
            commits: n,
            used: true,
        });
        Some(Record::Hint {
            commits,
            text,
            target: self.hinted_for.map(|t| self.identities[t as usize].clone()),
        })
    }
}
