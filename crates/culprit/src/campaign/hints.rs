//! Crash-stack hints in the campaign: the [`Hinter`] the campaign asks once
//! the target is known, and how a hint becomes the engine's prior.

use super::{Events, State};
use crate::journal::{Journal, Record};
use anyhow::Result;
use std::path::Path;

/// Share of the prior given to the commits a crash-stack hint names: enough
/// to test them first, small enough that a wrong hint costs about one build.
pub const HINT_SHARE: f64 = 0.5;

/// Commits that touch the code of the crash, by index into the plan.
#[derive(Debug, Clone)]
pub struct Hint {
    pub commits: Vec<u32>,
    /// One line for the log, saying what was matched.
    pub text: String,
}

/// Where crash-stack hints come from. The CLI looks up the files of the
/// crash's stack in the repository; simulations have none.
pub trait Hinter {
    /// The hint for the target crash `title` whose console output is at
    /// `output`, or None when the crash names no code the range touches.
    fn hint(&mut self, output: &Path, title: &str) -> Option<Hint>;
    /// False: hints in a resumed journal are ignored too.
    fn enabled(&self) -> bool {
        true
    }
}

/// Gives no hints (simulations, `--no-hint`).
pub struct NoHints;
impl Hinter for NoHints {
    fn hint(&mut self, _output: &Path, _title: &str) -> Option<Hint> {
        None
    }
    fn enabled(&self) -> bool {
        false
    }
}

impl State<'_> {
    /// Gives the hinted commits [`HINT_SHARE`] of the culprit prior and
    /// keeps the hint. False when it is too broad to tell anything.
    pub(super) fn use_hint(&mut self, hint: Hint) -> bool {
        let candidates = self.plan.commits.iter().filter(|c| !c.good).count();
        let mut hinted = vec![false; self.plan.commits.len()];
        for &c in &hint.commits {
            hinted[c as usize] = !self.plan.commits[c as usize].good;
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

    /// Once the target is known, asks for a hint from its first crash.
    pub(super) fn look_for_hint(
        &mut self,
        hints: &mut dyn Hinter,
        journal: &mut Journal,
        events: &mut dyn Events,
    ) -> Result<()> {
        let Some(target) = self.engine.target() else {
            return Ok(());
        };
        let Some(output) = self.first_output.get(&target).cloned() else {
            return Ok(());
        };
        self.hinted = true;
        let title = self.identities[target as usize].clone();
        let Some(hint) = hints.hint(&output, &title) else {
            return Ok(());
        };
        let commits = hint
            .commits
            .iter()
            .map(|&c| self.plan.commits[c as usize].sha.clone())
            .collect();
        let text = hint.text.clone();
        if !self.use_hint(hint) {
            events.line(&format!("{text} (too broad: not used)"));
            return Ok(());
        }
        events.line(&text);
        journal.append(&Record::Hint { commits, text })
    }
}
