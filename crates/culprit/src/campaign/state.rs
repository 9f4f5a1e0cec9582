//! Visits: the runs the machine gathered on each commit since the engine
//! turned to it, so that the log shows one block per visit however many
//! rounds it took.

use super::event::RunLine;
use super::record::RunStatus;

/// Runs of one visit to a commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Visit {
    pub runs: Vec<RunLine>,
    /// Runs on the commit before the visit began.
    pub earlier: u32,
}

/// Open visits in the order they began.
#[derive(Debug, Default)]
pub(super) struct Visits(Vec<(u32, Visit)>);

impl Visits {
    /// A run on `n`, which had `earlier` runs before this one.
    pub fn add(&mut self, n: u32, earlier: u32, run: u32, status: RunStatus) {
        let i = match self.0.iter().position(|(m, _)| *m == n) {
            Some(i) => i,
            None => {
                self.0.push((
                    n,
                    Visit {
                        runs: Vec::new(),
                        earlier,
                    },
                ));
                self.0.len() - 1
            }
        };
        self.0[i].1.runs.push(RunLine { run, status });
    }

    /// Ends the visits of every commit not in `keep`, in the order they
    /// began.
    pub fn end(&mut self, keep: &[u32]) -> Vec<(u32, Visit)> {
        let (ended, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(n, _)| !keep.contains(n));
        self.0 = open;
        ended
    }
}
