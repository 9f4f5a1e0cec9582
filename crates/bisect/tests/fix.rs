//! Fix bisection: the bug shows on the old end (the good nodes) and is gone
//! at bad; the engine finds the first commit without it. A seeded oracle
//! answers, with a reliable and a flaky reproducer, on a line and a DAG.

mod common;

use common::*;
use culprit_bisect::{Config, Verdict};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn config() -> Config {
    Config {
        vms: 10,
        fix: true,
        ..Config::default()
    }
}

/// Drives a fix bisection where `fix` removed the bug (None: never fixed).
fn drive_fix(h: &History, fix: Option<u32>, q: f64, seed: u64) -> Drive {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = World {
        culprit: fix,
        ..World::clean(0, q)
    };
    let mut truth = Truth::new(h, &w, &mut rng);
    if fix.is_some() {
        // Present where the fix is not an ancestor-or-self.
        truth.present.iter_mut().for_each(|p| *p = !*p);
        truth.rate = truth
            .present
            .iter()
            .map(|&p| if p { w.q } else { w.false_target })
            .collect();
    }
    drive_truth(h, &w, &truth, config(), &mut rng)
}

#[test]
fn a_reliable_reproducer_finds_the_fix_on_a_line() {
    let h = History::linear(300);
    for fix in [3, 150, 299] {
        let d = drive_fix(&h, Some(fix), 1.0, fix as u64);
        assert_eq!(d.outcome.verdict, Verdict::Culprit(fix), "{:?}", d.outcome);
        assert!(d.builds <= 14, "fix {fix}: {} builds", d.builds);
    }
}

#[test]
fn a_flaky_reproducer_finds_the_fix_on_a_dag_and_is_never_confidently_wrong() {
    let mut right = 0;
    for seed in 0..8u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(40 + seed);
        let h = History::merge_heavy(300, &mut rng);
        let fix = pick_culprit(&h, &mut rng);
        let d = drive_fix(&h, Some(fix), 0.3, seed);
        match d.outcome.verdict {
            Verdict::Culprit(x) if x == fix => right += 1,
            Verdict::Culprit(x) => panic!("seed {seed}: named {x}, the fix is {fix}"),
            _ => {}
        }
        let q = d.outcome.status.q_estimate;
        assert!(q > 0.1 && q < 0.6, "seed {seed}: q estimate {q}");
    }
    assert!(right >= 7, "{right} of 8");
}

#[test]
fn a_bug_that_still_crashes_at_the_new_end_is_not_fixed() {
    let h = History::linear(200);
    for q in [1.0, 0.5] {
        let d = drive_fix(&h, None, q, 9);
        assert_eq!(d.outcome.verdict, Verdict::Older, "q {q}: {:?}", d.outcome);
        // Said early: the new end is tested right after the old end.
        assert!(d.builds <= 3, "q {q}: {} builds", d.builds);
    }
}

#[test]
fn a_bug_that_never_shows_on_the_old_end_is_not_reproduced() {
    let h = History::linear(50);
    // q = 0: the old end never crashes.
    let d = drive_fix(&h, Some(25), 0.0, 3);
    assert_eq!(d.outcome.verdict, Verdict::NotReproduced, "{:?}", d.outcome);
    // The old end (good node 0) is where it was looked for, not bad.
    assert!(d
        .steps
        .iter()
        .all(|s| !matches!(s, culprit_bisect::Step::Build(x) if *x == h.bad)));
}
