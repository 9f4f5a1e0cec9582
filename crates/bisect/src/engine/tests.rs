use super::*;
use crate::types::{BuildOutcome, RunOutcome};

/// 0 good; 1..=6 a line; 7 and 8 a branch forked from 1 (7 changes code,
/// 8 only docs); 9 merges it; 10 the bad end.
fn forked() -> Dag {
    let parents = vec![
        vec![],
        vec![0],
        vec![1],
        vec![2],
        vec![3],
        vec![4],
        vec![5],
        vec![1],
        vec![7],
        vec![6, 8],
        vec![9],
    ];
    Dag::new(parents, &[0]).unwrap()
}

#[test]
fn a_docs_only_commit_is_as_old_as_the_binary_it_runs() {
    let mut e = Engine::new(forked(), 10, Config::default());
    assert_eq!(e.age(8), [3.0, 8.0]);
    let mut docs = vec![false; 11];
    docs[8] = true;
    // A merge is never docs-only, whatever the caller says.
    docs[9] = true;
    e.set_docs_only(&docs);
    assert_eq!(e.age(8), e.age(7));
    assert_eq!(e.age(7), [2.0, 7.0]);
    assert_eq!(e.age(9), [7.0, 9.0]);
    assert_eq!(e.age(5), [5.0, 5.0]);
}

#[test]
fn a_docs_only_commit_is_an_unlikely_culprit() {
    // The bug is in 3 or 4: 2 is clean, 4 crashes.
    let mass_of = |docs: Option<NodeId>| {
        let mut e = Engine::new(forked(), 10, Config::default());
        if let Some(d) = docs {
            let mut flags = vec![false; 11];
            flags[d as usize] = true;
            e.set_docs_only(&flags);
        }
        for (n, sig) in [(2, 2u8), (4, 4), (10, 10)] {
            let signature = Some([sig; 32]);
            e.record_build(n, BuildOutcome::Ok { signature }, 1.0);
        }
        for _ in 0..30 {
            e.record_run(2, RunOutcome::Clean, 1.0);
        }
        for _ in 0..10 {
            e.record_run(4, RunOutcome::Failure(0), 1.0);
            e.record_run(10, RunOutcome::Failure(0), 1.0);
        }
        let st = e.status();
        let mass = |x| st.mass(Hypothesis::Commit(x));
        (mass(3), mass(4))
    };
    let (m3, m4) = mass_of(None);
    assert!((m3 / m4 - 1.0).abs() < 0.05, "{m3} vs {m4}");
    let (m3, m4) = mass_of(Some(3));
    let ratio = m3 / m4;
    let want = Config::default().docs_prior;
    assert!((ratio / want - 1.0).abs() < 0.05, "{ratio} vs {want}");
}
