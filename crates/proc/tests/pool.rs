//! The pool: input order, at most K at once, a thread per item, and items
//! not started once the token is cancelled.

use culprit_proc::{pool, Cancel, Exit, Job, Slot};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[test]
fn results_in_input_order_with_at_most_k_at_once() {
    let c = Cancel::new();
    let items: Vec<u64> = (0..12).collect();
    let now = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let threads = Mutex::new(Vec::new());
    let out = pool(&c, &items, 3, |&i| {
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(n, Ordering::SeqCst);
        threads.lock().unwrap().push(std::thread::current().id());
        // Later items finish first: order must come from the input.
        std::thread::sleep(Duration::from_millis(5 * (12 - i)));
        now.fetch_sub(1, Ordering::SeqCst);
        i * 10
    });
    let want: Vec<Slot<u64>> = items.iter().map(|i| Slot::Done(i * 10)).collect();
    assert_eq!(out, want);
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    // One thread per item.
    let mut t = threads.into_inner().unwrap();
    t.sort_by_key(|id| format!("{id:?}"));
    t.dedup();
    assert_eq!(t.len(), items.len());
}

#[test]
fn a_cancel_stops_running_jobs_and_starts_no_more() {
    let root = Cancel::new();
    let c = root.child();
    let items: Vec<usize> = (0..6).collect();
    let out = pool(&c, &items, 2, |&i| {
        if i == 1 {
            // Let item 0's job start, then cancel everything.
            std::thread::sleep(Duration::from_millis(300));
            c.cancel();
            return None;
        }
        Some(Job::new("sleep").arg("1000").run(&c).map(|o| o.exit))
    });
    assert!(
        matches!(out[0], Slot::Done(Some(Ok(Exit::Cancelled)))),
        "{:?}",
        out[0]
    );
    assert!(matches!(out[1], Slot::Done(None)));
    for s in &out[2..] {
        // Either never started, or started just as the cancel came and
        // refused by the token.
        assert!(
            matches!(
                s,
                Slot::NotStarted | Slot::Done(Some(Err(culprit_proc::Error::Cancelled)))
            ),
            "{s:?}"
        );
    }
    assert!(out[2..].iter().any(|s| matches!(s, Slot::NotStarted)));
    assert!(!root.is_cancelled());
}

#[test]
fn an_empty_pool_and_a_zero_limit() {
    let c = Cancel::new();
    let none: Vec<Slot<()>> = pool(&c, &[] as &[u8], 4, |_| ());
    assert!(none.is_empty());
    let out = pool(&c, &[1, 2], 0, |x| x + 1);
    assert_eq!(out, vec![Slot::Done(2), Slot::Done(3)]);
    c.cancel();
    let out = pool(&c, &[1, 2], 2, |x| x + 1);
    assert_eq!(out, vec![Slot::NotStarted, Slot::NotStarted]);
}

#[test]
fn each_result_is_handed_over_as_its_item_finishes() {
    use culprit_proc::pool_each;
    use std::time::{Duration, Instant};
    let c = Cancel::new();
    // Item 0 is slow, item 1 quick: 1 must be handed over first, long
    // before 0 ends.
    let items = [600u64, 10, 20];
    let start = Instant::now();
    let mut order = Vec::new();
    let started = pool_each(
        &c,
        &items,
        3,
        |ms| {
            std::thread::sleep(Duration::from_millis(*ms));
            *ms
        },
        |i, r| order.push((i, r, start.elapsed())),
    );
    assert_eq!(started, vec![true, true, true]);
    let idx: Vec<usize> = order.iter().map(|o| o.0).collect();
    assert_eq!(idx, vec![1, 2, 0]);
    assert!(order[0].2 < Duration::from_millis(500), "{order:?}");
    // A panic in one item is raised after the others are handed over.
    let mut got = Vec::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool_each(
            &c,
            &[1u32, 2, 3],
            2,
            |x| {
                if *x == 2 {
                    panic!("boom");
                }
                *x
            },
            |_, r| got.push(r),
        )
    }));
    assert!(r.is_err());
    got.sort();
    assert_eq!(got, vec![1, 3]);
}
