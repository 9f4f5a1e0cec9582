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
//! the files a crash stack names), and merges weigh `Config::merge_prior`
//! (0.2: a merge rarely brings a bug of its own), commits the caller
//! declares docs-only (`Engine::set_docs_only`) `Config::docs_prior` (0.01:
//! they build their parent's binary; not 0, the caller's path rule may be
//! wrong), and such a commit is as old as the binary it runs. A run on a commit where
//! the bug is present shows the target with a rate learned from the data;
//! where it is absent, with a small rate f. Other crashes and untestable runs are no
//! evidence. Commits with one build signature are one test unit.
//!
//! The rate may change along history (`rates`): real reproducers often fire
//! less, or not at all, on older code, and a model with one shared rate
//! learned at the bad end reads a few clean runs there as proof of absence
//! and answers confidently wrong. So with prior probability
//! `Config::drift_prior` the rate changes at one point, uniform over the
//! range, in depth (generation) or in topological position, half the prior
//! each (a DAG's side branches make the two disagree, and a change along
//! one cannot be placed on the other); commits with the bug older than it
//! fire at q_old ~
//! Beta(`Config::q_old_prior`), the others at q ~ Beta(`Config::q_prior`),
//! both integrated out in closed form (one term per gap between tested
//! units). Why a change point and not a rate per unit: the effect is
//! ordered and correlated (the reproducer needs something a later commit
//! added), so the far side's rate is learned from the far side's own
//! crashes; exchangeable per-unit rates would make every clean run weak
//! everywhere. Why the change's prior is proportional to a gap's width: at
//! a converged answer the gap below it is narrow, so in a stationary history
//! clean runs below the answer keep most of their weight (measured: mean
//! runs +0 to +20% on the stationary bench scenarios).
//!
//! A false-target region (`regions`) is the other reading of the same
//! counts: target crashes just below the culprit from an older bug with the
//! same title. With prior `Config::region_prior` the absent commits below
//! the culprit, down to a boundary about `Config::region_length` commits
//! away, fire at a rate up to `Config::region_rate`; a few crashes there
//! then no longer drag the answer down to them. A background is the same
//! without a place (prior `Config::background_prior`): every absent commit
//! fires at such a rate, as a generic title does. The stop rule asks for
//! more when any of these readings is believed.
//!
//! The readings predict the same counts on every commit of the range; what
//! separates them is a revert (`reverts`): the bad commit with candidate c
//! reverted fires at the bad end's rate unless c is the culprit. The
//! caller decides when to revert (the campaign reverts its answer, or a
//! leader it cannot settle) and records the runs
//! (`Engine::record_revert_run`); each is one factor on c's hypothesis.
//!
//! The next step maximises the expected information about the culprit per
//! unit of cost, over a round of runs on built commits or a new build; each
//! class of hypotheses predicts a commit's crashes from its own rates, its
//! two sides mixed by where it places the change, so runs are never valued
//! for locating the change alone. Broken builds make their neighbours less
//! attractive. The search stops when one hypothesis is confident, or when
//! settling would take more than a few hundred runs at the information a
//! run still brings, or a unit has had `Config::max_unit_runs`; the answer
//! is then the leader with its true posterior, or inconclusive, and
//! `Status` lists the target crashes on commits it calls clean
//! (suspicious) and the tested commits whose state is uncertain with the
//! runs that would settle them (weak).
//!
//! A fix bisection (`Config::fix`) is the same model with the sides
//! swapped: "culprit is c" means the bug is absent exactly at c's
//! descendants-or-self, the learned rate q applies everywhere else, the
//! target is learned on the old end (`Engine::shows`), and "older" reads
//! "not fixed, even at bad".
//!
//! Code map: `types` (the vocabulary), `engine` (bookkeeping of builds, runs
//! and test units, and the decision loop), `verify` (the bad or old end
//! shows the failure first), `posterior` (the model), `rates`
//! (the present side: one rate or a change of rate), `doubts` (suspicious
//! and weak evidence, when to give up), `reverts` (runs on a candidate's
//! revert as evidence), `probe`
//! (which commits to evaluate and what a test of one is worth), `select`
//! (the engine's evaluation of those commits), `plan` (run
//! round or build, by information per cost), `batch` (several builds at
//! once: joint picks, speculative builds, runs for idle VMs),
//! `bits`/`math` (helpers).

mod batch;
mod bits;
mod dag;
mod doubts;
mod engine;
mod math;
mod plan;
mod posterior;
mod probe;
mod rates;
mod regions;
mod reverts;
mod select;
mod types;
mod verify;

pub use batch::{Batch, InFlight};
pub use dag::{Dag, DagError, NodeId};
pub use engine::Engine;
pub use types::{
    BuildOutcome, Config, Evidence, Hypothesis, Outcome, RunOutcome, Signature, Status, Step,
    StopReason, Verdict,
};

/// Identity of a failure (a crash title interned by the caller).
pub type Identity = u32;
