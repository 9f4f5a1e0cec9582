//! Regression guard for `culprit bench`: on a few seeds of noisy scenarios
//! (synthetic, and the real git DAG), culprit's engine must be at least as accurate as syzbot's rules
//! on the same worlds, and the bench must be reproducible (same seeds, same
//! numbers, whatever the thread count). An accuracy guard, not a timing test.

use culprit::bench::scenario::Scenario;
use culprit::bench::{evaluate, Strategy};

fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        name: String::new(),
        history: String::new(),
        q: 1.0,
        unrelated: 0.02,
        untestable: 0.05,
        build_fail: 0.05,
        false_target: 0.0,
        build_min: 6.5,
        round_min: 8.7,
        vms: 10,
        merge_culprits: false,
        builders: None,
        mix: None,
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
    ]
}

const SEEDS: u32 = 5;

#[test]
fn culprit_is_at_least_as_accurate_as_syzbot_and_results_reproduce() {
    let all = [Strategy::Culprit, Strategy::Syzbot, Strategy::Git];
    let sc = scenarios();
    let a = evaluate(&sc, SEEDS, &all, 2).unwrap();
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
    }
    // Same seeds, one thread: identical trials, rows and checks.
    let b = evaluate(&sc, SEEDS, &all, 1).unwrap();
    assert_eq!(a, b);
}
