//! Regression guard for `culprit bench`: on a few seeds of noisy scenarios
//! (synthetic, and the real git DAG, one with a reproducer that fires less
//! on older commits), culprit's engine must be at least as accurate as
//! syzbot's rules on the same worlds, never confidently wrong, and the bench must be reproducible (same seeds, same
//! numbers, whatever the thread count). An accuracy guard, not a timing test.

use culprit::bench::report::Trial;
use culprit::bench::scenario::Scenario;
use culprit::bench::{evaluate, Strategy};

fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        unrelated: 0.02,
        untestable: 0.05,
        build_fail: 0.05,
        ..Scenario::new("", "")
    };
    vec![
        Scenario {
            name: "kernel-300 q=0.5".into(),
            history: "kernel:300".into(),
            q: 0.5,
            ..base.clone()
        },
        Scenario {
            name: "linear-200 q=0.2".into(),
            history: "linear:200".into(),
            q: 0.2,
            ..base.clone()
        },
        Scenario {
            name: "git q=0.5".into(),
            history: "git".into(),
            q: 0.5,
            ..base.clone()
        },
        // The reproducer fires at 0.9 on recent commits and 0.1 on those
        // older than halfway from the culprit to the bad commit.
        Scenario {
            name: "git drift 0.9->0.1".into(),
            history: "git".into(),
            q: 0.9,
            q_old: Some(0.1),
            ..base.clone()
        },
    ]
}

const SEEDS: u32 = 5;

#[test]
fn culprit_is_at_least_as_accurate_as_syzbot_and_results_reproduce() {
    let all = [Strategy::Culprit, Strategy::Syzbot, Strategy::Git];
    let sc = scenarios();
    let a = evaluate(&sc, SEEDS, &all, 2, None).unwrap();
    print!(
        "{}",
        culprit::bench::report::table(&a.scenarios, &a.trials, &a.rows)
    );
    for s in &sc {
        let acc = |st| {
            a.rows
                .iter()
                .find(|r| r.scenario == s.name && r.strategy == st)
                .unwrap()
                .accuracy
        };
        let (ours, syz) = (acc(Strategy::Culprit), acc(Strategy::Syzbot));
        assert!(
            ours >= syz,
            "{}: culprit accuracy {ours} below syzbot's {syz}",
            s.name
        );
        // No confident answer of culprit's is wrong on these few seeds, but
        // for one at most under drift 0.9 -> 0.1, where 150 seeds measured
        // 3 wrong of 140 confident answers (0.98): a few seeds cannot be
        // asked for none.
        let row = a
            .rows
            .iter()
            .find(|r| r.scenario == s.name && r.strategy == Strategy::Culprit)
            .unwrap();
        let wrong = a
            .trials
            .iter()
            .filter(|t| t.scenario == s.name && confidently_wrong(t))
            .count();
        let allowed = usize::from(s.q_old.is_some());
        assert!(
            wrong <= allowed,
            "{}: confident answers wrong ({:?} right of {})",
            s.name,
            row.calibration,
            row.confident
        );
    }
    // Same seeds, one thread: identical trials, rows and checks.
    let b = evaluate(&sc, SEEDS, &all, 1, None).unwrap();
    assert_eq!(a, b);
}

/// Seeds of the git DAG's `drift 0.9->0.1` scenario (the rate falls by
/// position in the range) on which an engine that read "older" by depth
/// alone named the change point as the culprit with confidence >= 0.99: a
/// side-branch commit as deep as one that fires was quiet, and no single
/// change in depth could say so. At most one of them may end confidently
/// wrong (the engine's confident answers under this drift are right about
/// 98 in 100, measured on 150 seeds); that engine got all four wrong.
#[test]
fn a_rate_that_falls_by_position_is_not_read_as_a_culprit_at_the_change() {
    let sc = culprit::bench::scenario::Scenario {
        name: "git drift 0.9->0.1".into(),
        history: "git".into(),
        q: 0.9,
        q_old: Some(0.1),
        unrelated: 0.02,
        untestable: 0.05,
        build_fail: 0.05,
        ..culprit::bench::scenario::Scenario::new("", "")
    };
    let hist = culprit::bench::scenario::HistorySpec::parse(&sc.history)
        .unwrap()
        .load(0)
        .unwrap();
    let mut wrong = Vec::new();
    for seed in [21u64, 32, 43, 53] {
        let t = culprit::bench::trial(&sc, &hist, seed, &[Strategy::Culprit], None).unwrap();
        if confidently_wrong(&t) {
            let r = &t.results[0].1;
            wrong.push(format!(
                "seed {seed}: named {:?} with {:?}, the culprit is {}",
                r.answer, r.confidence, t.truth
            ));
        }
    }
    assert!(wrong.len() <= 1, "{wrong:#?}");
}

/// Culprit's engine named a commit that is not the culprit with confidence
/// >= 0.99 in this trial.
fn confidently_wrong(t: &Trial) -> bool {
    t.results.iter().any(|(st, r)| {
        *st == Strategy::Culprit && r.confidence.unwrap_or(0.0) >= 0.99 && r.answer != Some(t.truth)
    })
}
