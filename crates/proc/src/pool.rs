//! The parallel pool: N items, at most K at once, each on a thread of its
//! own, results in input order.

use crate::Cancel;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
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
    let mut results: Vec<Slot<R>> = items.iter().map(|_| Slot::NotStarted).collect();
    pool_each(cancel, items, max, f, |i, r| results[i] = Slot::Done(r));
    results
}

/// [`pool`], handing each result to `done` (on the calling thread) as soon
/// as its item finishes, in the order they finish: a caller can record
/// what finished before a later item fails or the process is killed.
/// Returns, per item, whether it was started.
pub fn pool_each<T, R, F, D>(
    cancel: &Cancel,
    items: &[T],
    max: usize,
    f: F,
    mut done: D,
) -> Vec<bool>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
    D: FnMut(usize, R),
{
    let _seen = cancel.observe();
    let max = max.max(1);
    let mut started = vec![false; items.len()];
    let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<R>)>();
    let mut panic = None;
    std::thread::scope(|sc| {
        let (mut running, mut next) = (0usize, 0usize);
        loop {
            while running < max && next < items.len() && !cancel.is_cancelled() {
                let (f, tx, item, i) = (&f, tx.clone(), &items[next], next);
                sc.spawn(move || {
                    let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(item)));
                    let _ = tx.send((i, r));
                });
                started[next] = true;
                running += 1;
                next += 1;
            }
            if running == 0 {
                break;
            }
            // The token's cancel does not wake this receive: look at it
            // every few milliseconds while items run.
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok((i, Ok(r))) => {
                    running -= 1;
                    done(i, r);
                }
                Ok((_, Err(p))) => {
                    running -= 1;
                    panic.get_or_insert(p);
                }
                Err(_) => {}
            }
        }
    });
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    started
}
