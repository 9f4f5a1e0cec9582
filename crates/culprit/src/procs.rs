//! Ctrl-C for the CLI: SIGINT and SIGTERM cancel the root token every
//! child process runs under (crates/proc's `handle_signals`), so every job
//! is killed and the campaign returns with the journal intact (exit 130);
//! a program not waiting on a job exits with 130 within half a second.
//!
//! Starting, waiting for and killing children is crates/proc's job; this
//! module only holds the process's root token.

use culprit_proc::Cancel;
use std::sync::LazyLock;
use std::time::Duration;

static ROOT: LazyLock<Cancel> = LazyLock::new(Cancel::new);

/// The token every job of this process runs under.
pub fn root() -> &'static Cancel {
    &ROOT
}

/// From now on Ctrl-C (SIGINT) and SIGTERM cancel [`root`] instead of
/// killing culprit outright. Call it once, early.
pub fn install_interrupt_handler() {
    if let Err(e) = culprit_proc::handle_signals(root(), Duration::from_millis(500)) {
        tracing::warn!("{e}; Ctrl-C will kill culprit outright");
    }
}

/// Whether Ctrl-C (or SIGTERM) arrived, i.e. the children were cancelled.
pub fn interrupted() -> bool {
    culprit_proc::signalled().is_some() || root().is_cancelled()
}
