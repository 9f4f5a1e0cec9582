//! The repository: commit DAG of a range, commit metadata and trailers,
//! tags and releases, worktrees, the MAINTAINERS file and the recipients
//! of a result, and commits culprit makes itself in the object database
//! (reverts, patched commits).
//!
//! Git is driven through its command-line interface (the one tool every
//! kernel developer has, with exactly git's semantics for ranges). This
//! crate never touches the user's working tree: checkouts happen in
//! worktrees that the caller owns.

pub mod maintainers;
mod range;
mod recipients;
mod releases;
mod repo;
mod search;
mod synth;
pub mod trailers;
mod worktree;

pub use range::{Range, RangeCommit};
pub use recipients::{Guilty, RecipientsError};
pub use releases::{release_version, Back, Release};
pub use repo::{CommitMeta, GitError, Repo};
pub use synth::{Hunk, PatchError, Revert, SYNTH_EMAIL, SYNTH_NAME};
pub use worktree::Worktree;
