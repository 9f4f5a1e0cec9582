//! The walk back over releases as a machine: a seeded oracle answers its
//! builds and runs; the good end it finds must be right, at q = 1 and with
//! a flaky reproducer (q = 0.3), and never confidently wrong.

use super::*;
use crate::bench::rng::Stream;

/// A walk over `releases` releases (oldest first, then bad), with the prior
/// the execute layer gives it (equal intervals, halving with age).
fn walk_plan(releases: usize, q_label: &str) -> Plan {
    let n = releases + 1;
    let commits: Vec<Commit> = (0..n)
        .map(|i| Commit {
            sha: format!("{i:040x}"),
            parents: if i == 0 { vec![] } else { vec![i as u32 - 1] },
            good: false,
            subject: format!("step {i}"),
        })
        .collect();
    let labels = (0..n)
        .map(|i| {
            if i + 1 == n {
                String::new()
            } else {
                format!("v1.{i}")
            }
        })
        .collect();
    let prior = (0..n).map(|i| 0.5f64.powi((n - 1 - i) as i32)).collect();
    Plan {
        bad: n as u32 - 1,
        commits,
        config: culprit_bisect::Config {
            vms: 4,
            older_prior: 0.0,
            ..Default::default()
        },
        target_title: Some("KASAN: use-after-free in f".into()),
        key: format!("walk test {q_label}"),
        product: "build".into(),
        hints: false,
        verify: false,
        workdir: None,
        notes: Vec::new(),
        walk: Some(Walk {
            labels,
            prior,
            ends_at_root: false,
            releases: true,
        }),
        after_walk: false,
        docs_only: Vec::new(),
    }
}

/// Runs the walk against an oracle where the bug came in after release
/// `culprit - 1` (node `culprit` is the first with it) and shows in a run
/// with probability `q`. Returns how it ended.
fn walk(releases: usize, culprit: u32, q: f64, seed: u64) -> (WalkEnd, Plan) {
    let plan = walk_plan(releases, &format!("{q} {seed}"));
    let mut m = Machine::new(plan.clone()).unwrap();
    m.resume(&[]).unwrap();
    let mut rng = Stream::new(&[seed, culprit as u64]);
    let node = |sha: &str| plan.commits.iter().position(|c| c.sha == sha).unwrap() as u32;
    loop {
        match m.poll(&|_| true) {
            Action::Done => break,
            Action::Build(c) => {
                let sig = format!("{:064x}", node(&c));
                m.feed(&Record::Build {
                    commit: c,
                    ok: true,
                    signature: Some(sig),
                    secs: 1.0,
                    first_error: None,
                    info: Vec::new(),
                    log: None,
                    config: None,
                    symbols: None,
                })
                .unwrap();
            }
            Action::Run { round, jobs } => {
                for j in jobs {
                    let crashed = node(&j.commit) >= culprit && rng.unit() < q;
                    let status = if crashed {
                        RunStatus::Crashed {
                            title: "KASAN: use-after-free in f".into(),
                            crash: None,
                        }
                    } else {
                        RunStatus::Ok
                    };
                    m.feed(&Record::Run {
                        commit: j.commit,
                        run: j.run,
                        round,
                        status,
                        secs: 1.0,
                        output: None,
                    })
                    .unwrap();
                }
            }
            a => panic!("a walk asks for {a:?}"),
        }
    }
    let f = m.finish();
    (f.walk_end(&plan), plan)
}

#[test]
fn the_walk_finds_the_newest_good_release() {
    for q in [1.0, 0.3] {
        let mut wrong = 0;
        for seed in 0..12u64 {
            // Culprit node 1..=6 over 6 releases: bug after v1.(c-1).
            let culprit = 1 + (seed % 6) as u32;
            let (end, plan) = walk(6, culprit, q, seed);
            let want = &plan.commits[culprit as usize - 1].sha;
            match end {
                WalkEnd::Good {
                    commit, confidence, ..
                } => {
                    if &commit != want {
                        wrong += 1;
                        assert!(confidence < 0.99, "q {q} seed {seed}: confidently wrong");
                    }
                }
                e => panic!("q {q} seed {seed}: {e:?}"),
            }
        }
        assert!(wrong <= 1, "q {q}: {wrong} of 12 wrong");
    }
}

#[test]
fn a_bug_older_than_every_release_is_the_oldest_answer() {
    for q in [1.0, 0.3] {
        let (end, plan) = walk(4, 0, q, 7);
        match end {
            WalkEnd::Oldest { commit, label, .. } => {
                assert_eq!(commit, plan.commits[0].sha);
                assert_eq!(label, "v1.0");
            }
            e => panic!("q {q}: {e:?}"),
        }
    }
}

#[test]
fn the_newest_release_is_tested_first() {
    let plan = walk_plan(6, "order");
    let mut m = Machine::new(plan.clone()).unwrap();
    m.resume(&[]).unwrap();
    let mut built = Vec::new();
    for _ in 0..40 {
        match m.poll(&|_| true) {
            Action::Build(c) => {
                built.push(c.clone());
                if built.len() == 2 {
                    break;
                }
                m.feed(&Record::Build {
                    commit: c,
                    ok: true,
                    signature: None,
                    secs: 1.0,
                    first_error: None,
                    info: Vec::new(),
                    log: None,
                    config: None,
                    symbols: None,
                })
                .unwrap();
            }
            Action::Run { round, jobs } => {
                for j in jobs {
                    m.feed(&Record::Run {
                        commit: j.commit,
                        run: j.run,
                        round,
                        status: RunStatus::Crashed {
                            title: "KASAN: use-after-free in f".into(),
                            crash: None,
                        },
                        secs: 1.0,
                        output: None,
                    })
                    .unwrap();
                }
            }
            a => panic!("{a:?}"),
        }
    }
    // bad first, then the newest release (node 5 of 0..=6).
    assert_eq!(
        built,
        [plan.commits[6].sha.clone(), plan.commits[5].sha.clone()]
    );
}
