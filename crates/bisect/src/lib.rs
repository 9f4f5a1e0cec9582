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
//!
//! The model: hypotheses are "culprit is c" for every non-good commit c
//! (the bug is present exactly at c's descendants-or-self) plus "older than
//! every good commit" (present everywhere), with a prior that is uniform over
//! the commits unless the caller weights them (`Engine::set_prior`, e.g. from
//! the files a crash stack names). A run on a commit where the bug
//! is present shows the target with an unknown rate q ~ Beta, shared by all
//! commits and integrated out in closed form; where it is absent, with a
//! small rate f. Other crashes and untestable runs are no evidence. Commits
//! with one build signature are one test unit. The next step maximises the
//! expected information (about the culprit, q included) per unit of cost,
//! over a round of runs on built commits or a new build; broken builds make
//! their neighbours less attractive.
//!
//! A fix bisection (`Config::fix`) is the same model with the sides
//! swapped: "culprit is c" means the bug is absent exactly at c's
//! descendants-or-self, the learned rate q applies everywhere else, the
//! target is learned on the old end (`Engine::shows`), and "older" reads
//! "not fixed, even at bad".
//!
//! Code map: `types` (the vocabulary), `engine` (bookkeeping of builds, runs
//! and test units, and the decision loop), `posterior` (the model), `probe`
//! (which commits to evaluate and what a test of one is worth), `select`
//! (the engine's evaluation of those commits), `plan` (run
//! round or build, by information per cost), `batch` (several builds at
//! once: joint picks, speculative builds, runs for idle VMs),
//! `bits`/`math` (helpers).

mod batch;
mod bits;
mod dag;
mod engine;
mod math;
mod plan;
mod posterior;
mod probe;
mod select;
mod types;

pub use batch::{Batch, InFlight};
pub use dag::{Dag, DagError, NodeId};
pub use engine::Engine;
pub use types::{
    BuildOutcome, Config, Evidence, Hypothesis, Outcome, RunOutcome, Signature, Status, Step,
    StopReason, Verdict,
};

/// Identity of a failure (a crash title interned by the caller).
pub type Identity = u32;
