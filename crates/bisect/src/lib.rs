//! The bisection engine: evidence in, decisions out.
//!
//! This crate is told what happened (a build succeeded with some signature, a
//! run crashed with some identity, a run was untestable) and answers two
//! questions: what should be tested next, and what do we know now. It keeps a
//! posterior over "which commit introduced the bug" on the commit DAG, with
//! the reproduction rate learned from the data.
//!
//! It must never do I/O: no processes, no clock, no files, no randomness, no
//! hash-order iteration. Given the same sequence of calls it gives the same
//! answers, which is what makes campaigns resumable from a journal and
//! simulatable in the bench.

mod dag;
mod engine;

pub use dag::{Dag, DagError, NodeId};
pub use engine::{
    BuildOutcome, Config, Engine, Evidence, Hypothesis, Outcome, RunOutcome, Signature, Status,
    Step, StopReason, Verdict,
};

/// Identity of a failure (a crash title interned by the caller).
pub type Identity = u32;
