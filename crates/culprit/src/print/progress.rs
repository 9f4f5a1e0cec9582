//! The spinner on a terminal: what the campaign is doing right now, with
//! the elapsed time, so that no long step looks like a hang.

use crate::print::short;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

use crate::campaign::{Event, Sink};

/// A spinner on standard error, or nothing when it is not a terminal.
pub struct Spinner {
    bar: Option<ProgressBar>,
    /// The engine's standing, shown after the current step.
    standing: String,
    step: String,
    /// Runs finished and expected in the current round.
    round: (u32, u32),
}

impl Spinner {
    pub fn new() -> Spinner {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        let mut s = Spinner::hidden();
        s.bar = bar;
        s
    }

    /// No spinner, whatever standard error is (a log written to a file
    /// while something else owns the terminal).
    pub fn hidden() -> Spinner {
        Spinner {
            bar: None,
            standing: String::new(),
            step: String::new(),
            round: (0, 0),
        }
    }

    /// Runs `f` with the spinner hidden, so printed lines do not mix with it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    fn show(&self) {
        if let Some(b) = &self.bar {
            let msg = format!("{} | {}", self.step, self.standing);
            b.set_message(super::escape(&msg).into_owned());
        }
    }
}

impl Default for Spinner {
    fn default() -> Self {
        Spinner::new()
    }
}

impl Sink for Spinner {
    fn event(&mut self, e: &Event) {
        if self.bar.is_none() {
            return;
        }
        match e {
            Event::Status {
                builds, runs, mass, ..
            } => {
                self.standing = format!(
                    "builds {builds}, runs {runs}, leading commit holds {:.1}%",
                    mass * 100.0
                );
            }
            Event::BuildStarted {
                commit, subject, ..
            } => {
                self.step = format!("building {} {subject}", short(commit));
            }
            Event::BuilderStarted { builder, commit } => {
                self.step = format!("builder {builder}: building {}", short(commit));
            }
            Event::Progress { commit, text } if commit.is_empty() => {
                self.step = text.clone();
            }
            Event::Progress { commit, text } => {
                self.step = format!("building {}: {text}", short(commit));
            }
            Event::RoundStarted { round, jobs } => {
                let n: u32 = jobs.iter().map(|j| j.runs).sum();
                self.round = (0, n);
                self.step = format!("test round {round}: 0/{n} runs done");
            }
            Event::RunFinished { round, .. } => {
                self.round.0 += 1;
                self.step = format!(
                    "test round {round}: {}/{} runs done",
                    self.round.0, self.round.1
                );
            }
            Event::Finished { .. } => self.step = "done".into(),
            _ => return,
        }
        self.show();
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish();
    }
}
