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
//! the files a crash stack names). Commits with one build signature are one
//! test unit. Other crashes and untestable runs are no evidence.
//!
//! Where the bug is present, a run shows the target at a rate that may
//! change along history: with prior probability `Config::drift_prior` a
//! change point, uniform over the range's topological positions, puts the
//! older units on an "old side" with a rate of its own (prior
//! `Config::old_q_prior`), learned only from the runs there; both rates are
//! integrated out in closed form (one Beta term per gap between tested
//! units, see `posterior`). Why a change point rather than an independent
//! rate per unit (a hierarchical Beta): the failure it must prevent is a
//! reproducer that fires less on *older* code (syzbot's study: half its wrong
//! answers), which is ordered along history; a change point costs
//! drift * width / N a priori, so a drop that happens to sit exactly at the
//! answer of a converged search stays unlikely unless runs below it show the
//! target, while independent per-unit rates would make every clean run weak
//! evidence and multiply the runs of stationary campaigns.
//!
//! Where the bug is absent, the target shows at a small rate f, or, with
//! prior probability `Config::region_prior`, the unit lies in a false-target
//! region (an older bug with the same title) whose rate is log-uniform up to
//! `Config::region_rate_max`: a few target crashes there cost a bounded
//! factor, and `Status::suspicious` names them.
//!
//! The next step maximises the expected information (about the culprit and
//! the rates) per unit of cost, over a round of runs on built commits or a
//! new build; a commit's predicted rate mixes the recent and old sides by
//! the chance that it lies below a change. Broken builds make their
//! neighbours less attractive. The answer is a culprit (or "older") once it
//! holds the confidence with a margin; when nothing more is worth testing,
//! the leader is still the answer if it holds the confidence, else the
//! verdict is inconclusive with the credible set. `Status::weak` lists the
//! commits judged clean on weak evidence and the runs that would settle
//! them at the current rates.
//!
//! Code map: `types` (the vocabulary), `engine` (bookkeeping of builds, runs
//! and test units, and the decision loop), `posterior` (the model), `probe`
//! (which commits to evaluate and what a test of one is worth), `select`
//! (the engine's evaluation of those commits), `plan` (run
//! round or build, by information per cost), `bits`/`math` (helpers).

mod bits;
mod dag;
mod engine;
mod math;
mod plan;
mod posterior;
mod probe;
mod select;
mod types;

pub use dag::{Dag, DagError, NodeId};
pub use engine::Engine;
pub use types::{
    BuildOutcome, Config, Evidence, Hypothesis, Outcome, RunOutcome, Signature, Status, Step,
    StopReason, Verdict,
};

/// Identity of a failure (a crash title interned by the caller).
pub type Identity = u32;
