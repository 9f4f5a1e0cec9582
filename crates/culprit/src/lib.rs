//! culprit: campaign orchestration, backends, journal, logs and the CLI.
//!
//! The binary is a thin shell over this library: `bisect_cmd` validates
//! input and prepares a campaign, `campaign` runs the loop between the
//! engine (crates/bisect) and a `backend`, `journal` makes it resumable,
//! `log` and `result` write what people and scripts read.

pub mod backend;
pub mod bench;
pub mod bisect_cmd;
pub mod campaign;
pub mod demo;
pub mod hint;
pub mod journal;
pub mod log;
pub mod maintainers_cmd;
pub mod procs;
pub mod report_cmd;
pub mod result;
pub mod signature;
