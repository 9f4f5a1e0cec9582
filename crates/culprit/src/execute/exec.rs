//! Which driver performs a campaign: the one-action loop on a [`Backend`]
//! (one build at a time, `--builders 1`, as always) or the batch loop on a
//! [`Concurrent`] backend (`--builders B`).

use anyhow::Result;

use crate::backend::{Backend, Concurrent};
use crate::campaign::{Finish, Machine, Record, Sink};
use crate::drive::{drive, drive_batch, Reverter};
use crate::hint::Hinter;
use crate::journal::Journal;

/// A campaign's backend, with the driver that goes with it.
pub enum Exec {
    One(Box<dyn Backend>),
    Many(Box<dyn Concurrent>),
}

impl Exec {
    /// Drives `m` to its end (see [`drive`] and [`drive_batch`]).
    pub fn drive(
        &mut self,
        m: Machine,
        past: &[Record],
        journal: &mut Journal,
        sink: &mut dyn Sink,
        hinter: &mut dyn Hinter,
        reverter: &mut dyn Reverter,
    ) -> Result<Finish> {
        match self {
            Exec::One(b) => drive(m, past, b.as_mut(), journal, sink, hinter, reverter),
            Exec::Many(b) => drive_batch(m, past, b.as_mut(), journal, sink, hinter, reverter),
        }
    }
}
