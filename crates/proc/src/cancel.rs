//! Scoped cancellation: a tree of tokens. Cancelling a token cancels its
//! descendants, kills the children spawned under any of them, wakes their
//! sleepers, and makes later spawns under them fail. A token never affects
//! its parent or its siblings.

use crate::{Error, Result};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Something running under a token that its cancellation must stop at
/// once (a job's process group and contained descendants).
pub(crate) trait Killable: Send + Sync {
    fn kill(&self);
}

/// A cancellation token. Clones share one token; [`Cancel::child`] makes a
/// new one below it.
#[derive(Clone)]
pub struct Cancel {
    node: Arc<Node>,
}

struct Node {
    tree: Arc<Tree>,
    label: Option<Arc<str>>,
    state: Mutex<State>,
    woken: Condvar,
}

/// What all tokens of one tree share.
struct Tree {
    /// Running jobs, sleepers and [`Observing`] guards anywhere in the tree:
    /// how the signal handling tells whether the program will notice a
    /// cancel by itself (see [`crate::signals`]).
    observers: AtomicUsize,
}

#[derive(Default)]
struct State {
    cancelled: bool,
    children: Vec<Weak<Node>>,
    running: Vec<Weak<dyn Killable>>,
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not stop a cancel from killing children.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .field("label", &self.label())
            .finish()
    }
}

/// Characters a label may hold: it travels in an environment variable and
/// is matched by a shell script.
fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 128
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl Cancel {
    /// A new root token, not cancelled.
    pub fn new() -> Cancel {
        Cancel {
            node: Arc::new(Node {
                tree: Arc::new(Tree {
                    observers: AtomicUsize::new(0),
                }),
                label: None,
                state: Mutex::new(State::default()),
                woken: Condvar::new(),
            }),
        }
    }

    /// A token cancelled with this one, that can also be cancelled alone.
    /// Created cancelled if this one already is.
    pub fn child(&self) -> Cancel {
        self.make_child(self.node.label.clone())
    }

    /// A child token whose jobs (and theirs, recursively) carry `label` in
    /// their marker, so that [`crate::kill_leftovers`] can find them after
    /// this process died. For a campaign: a stable id that a resumed run
    /// gives again. Letters, digits, `-`, `_` and `.` only, at most 128.
    pub fn with_label(&self, label: &str) -> Result<Cancel> {
        if !valid_label(label) {
            return Err(Error::Label(label.to_string()));
        }
        Ok(self.make_child(Some(label.into())))
    }

    fn make_child(&self, label: Option<Arc<str>>) -> Cancel {
        let node = Arc::new(Node {
            tree: self.node.tree.clone(),
            label,
            state: Mutex::new(State::default()),
            woken: Condvar::new(),
        });
        let mut st = self.node.lock();
        if st.cancelled {
            node.lock().cancelled = true;
        } else {
            // Forget children that are gone, so a long-lived root does not
            // grow without bound.
            st.children.retain(|c| c.strong_count() > 0);
            st.children.push(Arc::downgrade(&node));
        }
        Cancel { node }
    }

    /// The label jobs under this token carry, if any.
    pub fn label(&self) -> Option<&str> {
        self.node.label.as_deref()
    }

    /// Cancels this token and all below it: kills their running children
    /// (process groups and contained descendants), wakes their sleepers,
    /// and makes later spawns under them fail with [`Error::Cancelled`].
    /// Idempotent. Not for a raw signal handler (it takes locks): see
    /// [`crate::signals`].
    pub fn cancel(&self) {
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            let (running, children) = {
                let mut st = node.lock();
                if st.cancelled && st.running.is_empty() && st.children.is_empty() {
                    continue;
                }
                st.cancelled = true;
                (
                    std::mem::take(&mut st.running),
                    std::mem::take(&mut st.children),
                )
            };
            node.woken.notify_all();
            for r in running.iter().filter_map(Weak::upgrade) {
                r.kill();
            }
            stack.extend(children.iter().filter_map(Weak::upgrade));
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.node.lock().cancelled
    }

    /// `Err(Error::Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Sleeps for `d`, or less if the token is cancelled meanwhile (then
    /// `Err(Error::Cancelled)`).
    pub fn sleep(&self, d: Duration) -> Result<()> {
        let _seen = self.observe();
        let end = Instant::now() + d;
        let mut st = self.node.lock();
        loop {
            if st.cancelled {
                return Err(Error::Cancelled);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            st = self
                .node
                .woken
                .wait_timeout(st, end - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Blocks until the token is cancelled.
    pub fn wait(&self) {
        let _seen = self.observe();
        let mut st = self.node.lock();
        while !st.cancelled {
            st = self.node.woken.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Declares that the caller watches this token (checks it often, or
    /// waits on something it cancels) until the guard is dropped. The
    /// signal handling gives a program that holds one time to stop by
    /// itself; see [`crate::signals`]. Jobs, [`Cancel::sleep`],
    /// [`Cancel::wait`] and [`crate::pool`] observe on their own.
    pub fn observe(&self) -> Observing {
        self.node.tree.observers.fetch_add(1, Ordering::SeqCst);
        Observing {
            tree: self.node.tree.clone(),
        }
    }

    /// Observers anywhere in this token's tree.
    pub(crate) fn observers(&self) -> usize {
        self.node.tree.observers.load(Ordering::SeqCst)
    }

    /// Runs `start` (which starts something killable) unless the token is
    /// cancelled, and registers what it started, all under the token's lock:
    /// a concurrent cancel either prevents the start or kills what started.
    pub(crate) fn start<T>(
        &self,
        start: impl FnOnce() -> Result<(T, Arc<dyn Killable>)>,
    ) -> Result<T> {
        let mut st = self.node.lock();
        if st.cancelled {
            return Err(Error::Cancelled);
        }
        let (value, k) = start()?;
        st.running.retain(|r| r.strong_count() > 0);
        st.running.push(Arc::downgrade(&k));
        Ok(value)
    }
}

/// See [`Cancel::observe`].
pub struct Observing {
    tree: Arc<Tree>,
}

impl Drop for Observing {
    fn drop(&mut self) {
        self.tree.observers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct Flag(AtomicBool);
    impl Killable for Flag {
        fn kill(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn started(c: &Cancel) -> Result<Arc<Flag>> {
        c.start(|| {
            let f = Arc::new(Flag(AtomicBool::new(false)));
            Ok((f.clone(), f as Arc<dyn Killable>))
        })
    }

    #[test]
    fn cancel_goes_down_not_up_nor_sideways() {
        let root = Cancel::new();
        let a = root.child();
        let a1 = a.child();
        let b = root.child();
        let (fa1, fb, froot) = (
            started(&a1).unwrap(),
            started(&b).unwrap(),
            started(&root).unwrap(),
        );
        a.cancel();
        assert!(a.is_cancelled() && a1.is_cancelled());
        assert!(!root.is_cancelled() && !b.is_cancelled());
        assert!(fa1.0.load(Ordering::SeqCst));
        assert!(!fb.0.load(Ordering::SeqCst) && !froot.0.load(Ordering::SeqCst));
        assert!(matches!(started(&a1), Err(Error::Cancelled)));
        assert!(matches!(a.check(), Err(Error::Cancelled)));
        // A child of a cancelled token is born cancelled.
        assert!(a.child().is_cancelled());
        root.cancel();
        assert!(b.is_cancelled() && fb.0.load(Ordering::SeqCst));
        assert!(froot.0.load(Ordering::SeqCst));
        root.cancel();
    }

    #[test]
    fn sleep_wakes_on_cancel_and_counts_as_observing() {
        let root = Cancel::new();
        let c = root.child();
        assert!(c.sleep(Duration::from_millis(1)).is_ok());
        let t = {
            let c = c.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let r = c.sleep(Duration::from_secs(60));
                (r, start.elapsed())
            })
        };
        while root.observers() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        root.cancel();
        let (r, took) = t.join().unwrap();
        assert!(matches!(r, Err(Error::Cancelled)));
        assert!(took < Duration::from_secs(30), "{took:?}");
        assert_eq!(root.observers(), 0);
        let g = root.observe();
        assert_eq!(c.observers(), 1);
        drop(g);
        assert_eq!(c.observers(), 0);
    }

    #[test]
    fn labels_are_inherited_and_checked() {
        let root = Cancel::new();
        assert_eq!(root.label(), None);
        let l = root.with_label("campaign-1.a_b").unwrap();
        assert_eq!(l.child().label(), Some("campaign-1.a_b"));
        for bad in ["", "a b", "a/b", "x'y", &"x".repeat(129)] {
            assert!(
                matches!(root.with_label(bad), Err(Error::Label(_))),
                "{bad:?}"
            );
        }
    }
}
