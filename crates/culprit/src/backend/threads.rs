//! The thread machinery the backends with several builders share
//! (`super::builders`, `super::kernel::builders`): each build and each run
//! is one named thread that reports its progress and, once, its end over
//! one channel; [`Threads`] counts the threads that have not reported
//! their end, queues the [`Completion`]s for [`super::Concurrent::next`]
//! and joins every thread on stop.
//!
//! It knows nothing of builders, checkouts or runs: what an end means
//! (`M`, the backend's own message) is the backend's to take in. It must
//! never drop an end unseen: [`Threads::next`] hands each one back, and
//! [`Threads::stop`] passes each drained one to the backend.

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use super::Completion;

/// What a thread sends.
enum Note<M> {
    Progress { commit: String, text: String },
    Ended(M),
}

/// What [`Threads::next`] hands back.
pub enum Step<M> {
    /// The oldest completion queued.
    Ready(Completion),
    /// A thread ended with this message (it is no longer in flight).
    Ended(M),
}

/// Given to a thread's body to report progress while it works.
pub struct Reporter<M> {
    tx: Sender<Note<M>>,
}

impl<M> Reporter<M> {
    /// One line of progress on `commit`.
    pub fn progress(&self, commit: &str, text: String) {
        let _ = self.tx.send(Note::Progress {
            commit: commit.to_string(),
            text,
        });
    }
}

/// See the module docs.
pub struct Threads<M> {
    tx: Sender<Note<M>>,
    rx: Receiver<Note<M>>,
    /// Threads that have not reported their end yet.
    in_flight: usize,
    handles: Vec<JoinHandle<()>>,
    ready: VecDeque<Completion>,
}

/// `work()`, with a panic turned into an error naming the `what` thread.
pub fn caught<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the {what} thread panicked")))
}

impl<M: Send + 'static> Threads<M> {
    pub fn new() -> Self {
        let (tx, rx) = channel();
        Threads {
            tx,
            rx,
            in_flight: 0,
            handles: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Starts thread `name` (a `what` thread, for the error) running
    /// `body`, whose message is sent as its end. `body` should wrap its
    /// work in [`caught`], so that a panic still ends it with a message.
    pub fn spawn(
        &mut self,
        name: String,
        what: &str,
        body: impl FnOnce(&Reporter<M>) -> M + Send + 'static,
    ) -> Result<()> {
        let reporter = Reporter {
            tx: self.tx.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let msg = body(&reporter);
                let _ = reporter.tx.send(Note::Ended(msg));
            })
            .with_context(|| format!("starting a {what} thread"))?;
        self.handles.push(handle);
        self.in_flight += 1;
        Ok(())
    }

    /// Queues `c` for [`Threads::next`], after those already queued.
    pub fn push(&mut self, c: Completion) {
        self.ready.push_back(c);
    }

    /// Whether a thread is in flight or a completion is queued.
    pub fn busy(&self) -> bool {
        self.in_flight > 0 || !self.ready.is_empty()
    }

    /// The oldest completion queued, else (waiting for it) the next end
    /// of a thread, queuing the progress reported meanwhile.
    pub fn next(&mut self) -> Result<Step<M>> {
        loop {
            if let Some(c) = self.ready.pop_front() {
                return Ok(Step::Ready(c));
            }
            if self.in_flight == 0 {
                bail!("waiting for builds or runs, but none is in flight");
            }
            // This holds a sender, so the channel stays open.
            match self.rx.recv().context("the build and run threads")? {
                Note::Progress { commit, text } => {
                    self.ready.push_back(Completion::Progress { commit, text });
                }
                Note::Ended(msg) => {
                    self.in_flight -= 1;
                    return Ok(Step::Ended(msg));
                }
            }
        }
    }

    /// Waits for every thread in flight to end (the caller has cancelled
    /// their work), passing each end to `ended`, drops what is queued and
    /// joins every thread.
    pub fn stop(&mut self, mut ended: impl FnMut(M)) {
        while self.in_flight > 0 {
            match self.rx.recv() {
                Ok(Note::Progress { .. }) => {}
                Ok(Note::Ended(msg)) => {
                    self.in_flight -= 1;
                    ended(msg);
                }
                Err(_) => break,
            }
        }
        self.in_flight = 0;
        self.ready.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl<M: Send + 'static> Default for Threads<M> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn progress_text(step: Step<u32>) -> String {
        match step {
            Step::Ready(Completion::Progress { commit, text }) => format!("{commit}: {text}"),
            Step::Ready(_) => "another completion".into(),
            Step::Ended(n) => format!("ended {n}"),
        }
    }

    #[test]
    fn progress_comes_before_the_end_that_follows_it() {
        let mut t = Threads::<u32>::new();
        t.spawn("t".into(), "test", |r| {
            r.progress("abc", "half".into());
            7
        })
        .unwrap();
        assert!(t.busy());
        assert_eq!(progress_text(t.next().unwrap()), "abc: half");
        assert_eq!(progress_text(t.next().unwrap()), "ended 7");
        assert!(!t.busy());
        assert!(t.next().is_err(), "nothing is in flight any more");
    }

    #[test]
    fn a_panic_ends_the_thread_with_an_error() {
        let mut t = Threads::<Result<u32>>::new();
        t.spawn("t".into(), "test", |_| caught("test", || panic!("boom")))
            .unwrap();
        match t.next().unwrap() {
            Step::Ended(Err(e)) => assert_eq!(e.to_string(), "the test thread panicked"),
            _ => panic!("expected the thread's end with an error"),
        }
    }

    #[test]
    fn stop_waits_for_every_thread_and_hands_each_end_over() {
        let mut t = Threads::<u32>::new();
        // Each thread waits for its go, so both are in flight at stop.
        let mut gos = Vec::new();
        for n in 0..2 {
            let (go, wait) = sync_channel::<()>(1);
            gos.push(go);
            t.spawn(format!("t{n}"), "test", move |r| {
                let _ = wait.recv();
                r.progress("abc", "dropped".into());
                n
            })
            .unwrap();
        }
        t.push(Completion::Progress {
            commit: "abc".into(),
            text: "queued".into(),
        });
        for go in &gos {
            go.send(()).unwrap();
        }
        let mut ended = Vec::new();
        t.stop(|n| ended.push(n));
        ended.sort();
        assert_eq!(ended, vec![0, 1]);
        assert!(!t.busy(), "queued completions are dropped on stop");
        assert!(t.handles.is_empty(), "every thread is joined");
    }
}
