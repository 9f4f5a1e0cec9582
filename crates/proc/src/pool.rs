//! The parallel pool: N items, at most K at once, each on a thread of its
//! own, results in input order.

use crate::Cancel;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<R> {
    /// It ran; this is what it returned.
    Done(R),
    /// The token was cancelled before its turn came.
    NotStarted,
}

impl<R> Slot<R> {
    pub fn done(self) -> Option<R> {
        match self {
            Slot::Done(r) => Some(r),
            Slot::NotStarted => None,
        }
    }
}

/// Runs `f` on every item, at most `max` at once (at least one), each call
/// on a new thread: a child process's parent-death signal follows the
/// thread that spawned it, so the thread lives exactly as long as the
/// item's work. Items are started in input order; once `cancel` is
/// cancelled no more start (the running ones are expected to stop, as
/// their jobs under `cancel` are killed) and the rest are
/// [`Slot::NotStarted`]. Results come back in input order. A panic in `f`
/// is propagated once all started items have ended.
pub fn pool<T, R, F>(cancel: &Cancel, items: &[T], max: usize, f: F) -> Vec<Slot<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let _seen = cancel.observe();
    let max = max.max(1);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let running = Mutex::new(0usize);
    let freed = Condvar::new();

    /// Frees the item's place even if `f` panics.
    struct Place<'a>(&'a Mutex<usize>, &'a Condvar);
    impl Drop for Place<'_> {
        fn drop(&mut self) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            self.1.notify_all();
        }
    }

    std::thread::scope(|sc| {
        for (item, slot) in items.iter().zip(&results) {
            let mut n = running.lock().unwrap_or_else(|e| e.into_inner());
            // The token's cancel does not signal this condvar: look at it
            // every few milliseconds while waiting for a place.
            while *n >= max && !cancel.is_cancelled() {
                n = freed
                    .wait_timeout(n, Duration::from_millis(20))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if cancel.is_cancelled() {
                break;
            }
            *n += 1;
            drop(n);
            let (f, running, freed) = (&f, &running, &freed);
            sc.spawn(move || {
                let _place = Place(running, freed);
                let r = f(item);
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(
            |m| match m.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Some(r) => Slot::Done(r),
                None => Slot::NotStarted,
            },
        )
        .collect()
}
