//! Accuracy over many seeded campaigns on small merge-heavy DAGs with noise:
//! the answer is right almost always, and confident answers are right.

mod common;

use common::*;
use culprit_bisect::{Config, Verdict};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Score {
    right: u32,
    confident: u32,
    confident_wrong: u32,
}

fn score(q: f64, seeds: u64, base: u64) -> Score {
    let mut s = Score {
        right: 0,
        confident: 0,
        confident_wrong: 0,
    };
    for seed in 0..seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(base + seed);
        let n = 200 + (seed as usize * 37) % 300;
        let h = History::merge_heavy(n, &mut rng);
        let c = pick_culprit(&h, &mut rng);
        let mut w = World::clean(c, q);
        w.other = 0.02;
        w.untestable = 0.05;
        w.build_fail = 0.03;
        w.fail_stretch = 2;
        w.doc_only = 0.05;
        let truth = Truth::new(&h, &w, &mut rng);
        let config = Config {
            vms: 10,
            ..Config::default()
        };
        let d = drive_truth(&h, &w, &truth, config, &mut rng);
        let ok = d.outcome.verdict == Verdict::Culprit(c);
        s.right += ok as u32;
        if d.outcome.status.credible[0].1 >= 0.99 {
            s.confident += 1;
            s.confident_wrong += !ok as u32;
        }
    }
    eprintln!(
        "q={q}: right {}/{seeds}, confident {} of which wrong {}",
        s.right, s.confident, s.confident_wrong
    );
    s
}

#[test]
fn accurate_with_a_flaky_reproducer() {
    let s = score(0.3, 100, 1000);
    assert!(s.right >= 94, "right {}/100", s.right);
    // The target: at least 98% right among answers with confidence 0.99.
    assert!(
        s.confident_wrong * 50 <= s.confident,
        "confident {}, wrong {}",
        s.confident,
        s.confident_wrong
    );
}

#[test]
fn accurate_with_a_reliable_reproducer() {
    let s = score(1.0, 50, 2000);
    assert!(s.right >= 48, "right {}/50", s.right);
    assert_eq!(s.confident_wrong, 0);
}
