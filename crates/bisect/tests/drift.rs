//! The engine driven by the seeded oracle when the reproducer changes along
//! history, when an older bug with the same title shows the target just
//! below the culprit, and when nothing changes. Each campaign must end on
//! the culprit, or, where the evidence cannot decide, on an honest answer:
//! an inconclusive credible set holding the culprit, never a confident
//! wrong one.

mod common;

use common::*;
use culprit_bisect::{Config, Hypothesis, Verdict};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn config() -> Config {
    Config {
        vms: 10,
        ..Config::default()
    }
}

/// Culprit found, or an inconclusive answer whose credible set holds it.
/// Returns whether the culprit was named.
fn honest(d: &Drive, c: u32, what: &str) -> bool {
    match d.outcome.verdict {
        Verdict::Culprit(x) => {
            assert_eq!(x, c, "{what}: wrong culprit {:?}", d.outcome);
            true
        }
        Verdict::Inconclusive => {
            let cred = &d.outcome.status.credible;
            assert!(
                cred.iter().any(|h| h.0 == Hypothesis::Commit(c)),
                "{what}: credible set misses the culprit {cred:?}"
            );
            assert!(cred.len() > 1 || cred[0].1 < 0.99, "{what}: {cred:?}");
            false
        }
        v => panic!("{what}: {v:?}"),
    }
}

#[test]
fn a_reproducer_that_fires_less_on_old_code_is_not_read_as_absence() {
    let mut named = 0;
    for seed in 0..4 {
        let mut rng = ChaCha8Rng::seed_from_u64(40 + seed);
        let h = History::merge_heavy(400, &mut rng);
        let c = pick_culprit(&h, &mut rng);
        let mut w = World::clean(c, 0.9);
        w.q_old = Some(0.3);
        w.other = 0.02;
        w.untestable = 0.05;
        let d = drive(&h, &w, config(), seed);
        named += honest(&d, c, &format!("drift seed {seed}")) as u32;
        // The old side fires less than the recent one, and the engine says so.
        let st = &d.outcome.status;
        assert!(st.q_old < st.q_estimate, "{st:?}");
    }
    assert!(named >= 3, "named {named} of 4");
}

#[test]
fn a_reproducer_that_almost_stops_firing_on_old_code_gives_no_confident_wrong_answer() {
    // q falls from 0.9 to 0.1: the culprit may take hundreds of runs to
    // pin down; the engine may say it cannot, but never name another
    // commit with confidence.
    let mut named = 0;
    for seed in 0..4 {
        let mut rng = ChaCha8Rng::seed_from_u64(140 + seed);
        let h = History::merge_heavy(300, &mut rng);
        let c = pick_culprit(&h, &mut rng);
        let mut w = World::clean(c, 0.9);
        w.q_old = Some(0.1);
        w.other = 0.02;
        w.untestable = 0.05;
        let d = drive(&h, &w, config(), seed);
        named += honest(&d, c, &format!("steep drift seed {seed}")) as u32;
    }
    assert!(named >= 2, "named {named} of 4");
}

#[test]
fn target_crashes_in_a_false_region_rarely_drag_the_answer() {
    // An older bug with the same title fires at 0.05 on the culprit's 20
    // first-parent ancestors. Its crashes look like a reproducer that
    // fires less on older code, with the culprit at the bottom of the
    // stretch instead of its top. The region model (`regions`) gives the
    // engine the other reading, told apart only by extent and rate, so a
    // campaign that piles up runs in the stretch may end inconclusive and,
    // rarely, dragged there (measured on the bench's git DAG: 29 of 30
    // named, none wrong). Hence a bound, not zero.
    let (mut named, mut wrong, mut flagged, mut read_as_region) = (0, 0, 0, 0);
    for seed in 0..8 {
        let mut rng = ChaCha8Rng::seed_from_u64(60 + seed);
        let h = History::merge_heavy(600, &mut rng);
        let c = pick_culprit(&h, &mut rng);
        let mut w = World::clean(c, 0.9);
        w.false_target = 0.05;
        w.false_region = 20;
        let mut run_rng = ChaCha8Rng::seed_from_u64(seed);
        let truth = Truth::new(&h, &w, &mut run_rng);
        let d = drive_truth(&h, &w, &truth, config(), &mut run_rng);
        match d.outcome.verdict {
            Verdict::Culprit(x) if x == c => named += 1,
            Verdict::Culprit(_) => wrong += 1,
            _ => {}
        }
        // A crash the engine calls suspicious is on a commit without the
        // bug whenever the answer is right.
        if d.outcome.verdict == Verdict::Culprit(c) {
            for &(x, k) in &d.outcome.status.suspicious {
                assert!(
                    !truth.present[x as usize] && k > 0,
                    "suspicious {x} (culprit {c})"
                );
                flagged += 1;
            }
        }
        // When the engine reads the crashes as an older bug's region (or
        // as the title showing anywhere, a background), the commits it
        // blames on that are ones without this bug.
        let st = &d.outcome.status;
        if st.region.max(st.background) >= 0.5 && !st.suspicious.is_empty() {
            assert!(
                st.suspicious
                    .iter()
                    .all(|&(x, _)| !truth.present[x as usize]),
                "region read on commits with the bug: {:?} (culprit {c})",
                st.suspicious
            );
            read_as_region += 1;
        }
    }
    assert!(named >= 5, "named {named} of 8");
    assert!(wrong <= 1, "{wrong} of 8 named a wrong commit");
    assert!(flagged >= 1, "no suspicious crash reported in 8 campaigns");
    assert!(
        read_as_region >= 1,
        "no crashes read as a false region or background in 8 campaigns"
    );
}

#[test]
fn a_stationary_reproducer_still_finds_the_culprit() {
    for (seed, q) in [(0u64, 1.0), (1, 0.5), (2, 0.2)] {
        let mut rng = ChaCha8Rng::seed_from_u64(80 + seed);
        let h = History::merge_heavy(400, &mut rng);
        let c = pick_culprit(&h, &mut rng);
        let d = drive(&h, &World::clean(c, q), config(), seed);
        assert_eq!(
            d.outcome.verdict,
            Verdict::Culprit(c),
            "q={q}: {:?}",
            d.outcome
        );
        assert!(d.outcome.status.drift < 0.5, "{:?}", d.outcome.status);
    }
}
