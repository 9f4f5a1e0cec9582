//! A non-uniform prior over culprit hypotheses (`Engine::set_prior`).

mod common;

use common::*;
use culprit_bisect::{BuildOutcome, Config, Dag, Engine, Hypothesis, RunOutcome, Step, Verdict};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// 0 good, 1..=n-1 a line, bad = n-1.
fn line(n: u32) -> Dag {
    let parents = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    Dag::new(parents, &[0]).unwrap()
}

fn config() -> Config {
    Config {
        vms: 4,
        target: Some(7),
        ..Config::default()
    }
}

fn mass(e: &Engine, h: Hypothesis) -> f64 {
    let s = e.status();
    s.credible.iter().find(|x| x.0 == h).map_or(0.0, |x| x.1)
}

/// An engine with the bad commit verified (two target crashes).
fn verified(n: u32) -> Engine {
    let mut e = Engine::new(line(n), n - 1, config());
    e.record_build(n - 1, BuildOutcome::Ok { signature: None }, 10.0);
    e.record_run(n - 1, RunOutcome::Failure(7), 5.0);
    e.record_run(n - 1, RunOutcome::Failure(7), 5.0);
    e
}

#[test]
fn prior_weights_shape_the_posterior_and_the_next_probe() {
    let n = 64;
    let mut weights = vec![1.0; n as usize];
    weights[10] = 200.0;
    // Good nodes are ignored, whatever their weight.
    weights[0] = 1e9;
    let mut e = verified(n);
    let uniform = e.status();
    e.set_prior(&weights);
    let s = e.status();
    assert_eq!(s.credible[0].0, Hypothesis::Commit(10));
    let m10 = s.credible[0].1;
    // 200 of 262 weight units (62 candidates, one weighted 200), times the
    // share not given to "older".
    let want = 0.99 * 200.0 / 262.0;
    assert!((m10 - want).abs() < 0.01, "{m10} vs {want}");
    assert_ne!(s.credible, uniform.credible);
    // Evidence still counts: a clean run above 10 and crashes below it leave
    // 10 out, and the prior no longer holds it up.
    let before = mass(&e, Hypothesis::Commit(10));
    e.record_build(20, BuildOutcome::Ok { signature: None }, 10.0);
    for _ in 0..3 {
        e.record_run(20, RunOutcome::Clean, 5.0);
    }
    let after = mass(&e, Hypothesis::Commit(10));
    assert!(after < before / 2.0, "{after} vs {before}");
    // The next build is near the heavy commit rather than mid-range.
    let mut f = verified(n);
    let mid = match f.next() {
        Step::Build(x) => x,
        s => panic!("{s:?}"),
    };
    f.set_prior(&weights);
    let heavy = match f.next() {
        Step::Build(x) => x,
        s => panic!("{s:?}"),
    };
    assert!(mid.abs_diff(10) > heavy.abs_diff(10), "{mid} {heavy}");
    assert!(heavy.abs_diff(10) <= 1, "{heavy}");
}

#[test]
fn zero_weights_rule_out_and_all_zero_means_uniform() {
    let n = 32;
    let mut weights = vec![1.0; n as usize];
    for w in weights.iter_mut().take(16) {
        *w = 0.0;
    }
    weights[5] = f64::NAN;
    let mut e = verified(n);
    e.set_prior(&weights);
    let s = e.status();
    for (h, _) in &s.credible {
        if let Hypothesis::Commit(c) = h {
            assert!(*c >= 16, "{h:?}");
        }
    }
    let mut u = verified(n);
    let reference = u.status();
    u.set_prior(&vec![0.0; n as usize]);
    assert_eq!(u.status(), reference);
    // Deterministic: the same calls give the same answers.
    let mut again = verified(n);
    again.set_prior(&weights);
    assert_eq!(again.status(), s);
    assert_eq!(again.next(), e.next());
}

#[test]
#[should_panic(expected = "one weight per DAG node")]
fn prior_of_the_wrong_length_is_refused() {
    let mut e = verified(8);
    e.set_prior(&[1.0; 3]);
}

/// Weights giving `share` of the prior to the commits in `hinted`.
fn hint(n: usize, hinted: &[u32], share: f64) -> Vec<f64> {
    let each_other = (1.0 - share) / (n - hinted.len()) as f64;
    let each_hinted = share / hinted.len() as f64;
    let mut w = vec![each_other; n];
    for &x in hinted {
        w[x as usize] = each_hinted;
    }
    w
}

#[test]
fn a_right_hint_saves_builds_and_a_wrong_one_still_finds_the_culprit() {
    let (mut uniform, mut right, mut wrong) = (0, 0, 0);
    for seed in 0..6u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let h = History::merge_heavy(600, &mut rng);
        let c = pick_change(&h, &mut rng);
        let decoy = pick_culprit(&h, &mut rng);
        let w = World::clean(c, 0.8);
        let truth = Truth::new(&h, &w, &mut rng);
        let config = Config {
            vms: 4,
            ..Config::default()
        };
        let n = h.parents.len();
        let builds = |prior: Option<Vec<f64>>| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let d = drive_with_prior(&h, &w, &truth, config.clone(), prior.as_deref(), &mut r);
            assert_eq!(d.outcome.verdict, Verdict::Culprit(c), "seed {seed}");
            d.builds
        };
        uniform += builds(None);
        right += builds(Some(hint(n, &[c], 0.5)));
        if decoy != c {
            wrong += builds(Some(hint(n, &[decoy], 0.5)));
        }
    }
    assert!(
        right < uniform,
        "right hint {right} builds, uniform {uniform}"
    );
    // A wrong hint costs about a build per campaign, not a new search.
    assert!(
        wrong > 0 && wrong <= uniform + 12,
        "wrong hint {wrong}, uniform {uniform}"
    );
}
