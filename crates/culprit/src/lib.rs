//! culprit: campaign orchestration, backends, journal, logs and the CLI.
pub mod backend;
