//! culprit: the campaign machine, its driver, backends, journal, printers
//! and the CLI.
//!
//! Layers, from the bottom:
//! - `campaign`: the sans-IO campaign machine (records in, actions and
//!   typed events out) around the engine (crates/bisect);
//! - `backend`: how commits are built and runs executed (generic commands,
//!   Linux in QEMU); `hint`: crash-stack hints from the repository;
//! - `drive`: the loop that performs a machine's actions through a backend
//!   and keeps the `journal`;
//! - `result` (typed results) and `print` (text log, progress, JSON lines,
//!   the maintainer e-mail, which `report_mail` assembles from a result);
//! - `trial` (build one commit, run it N times, count what showed: `culprit
//!   test` and revert verification);
//! - `spec` (the one description of a campaign), `execute` (run one), `cli`
//!   (the command line), `demo`, and `bench` (the same machine over a
//!   simulated world).

pub mod backend;
pub mod bench;
pub mod campaign;
pub mod cli;
pub mod demo;
pub mod drive;
pub mod execute;
pub mod hint;
pub mod journal;
pub mod print;
pub mod procs;
pub mod report_mail;
pub mod result;
pub mod signature;
pub mod spec;
#[cfg(test)]
mod test_git;
pub mod trial;
