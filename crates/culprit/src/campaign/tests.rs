//! The machine on its own: a simulated world answers its actions, and the
//! records it produced are replayed, cut, torn and mixed up.

use super::*;
use crate::bench::sim;
use crate::bench::synth;
use crate::bench::world::{Costs, Noise, World};
use std::collections::BTreeSet;

/// Drives `m` against `w` with the driver's protocol; stops after `limit`
/// records (None: to the end). Returns every record produced, the start
/// record first.
fn run(m: &mut Machine, w: &World, past: &[Record], limit: Option<usize>) -> Vec<Record> {
    let mut out: Vec<Record> = past.to_vec();
    if let Some(start) = m.resume(past).unwrap() {
        out.push(start);
    }
    loop {
        if limit.is_some_and(|l| out.len() >= l) {
            return out;
        }
        match m.poll(&|_| true) {
            Action::Done => return out,
            Action::Hint { .. } => {
                m.hint_found(None);
            }
            Action::Revert { culprit, onto } => {
                let r = Record::Revert {
                    culprit,
                    onto,
                    made: RevertMade::Applied {
                        commit: REVERT.into(),
                    },
                };
                m.feed(&r).unwrap();
                out.push(r);
            }
            Action::Build(c) if c == REVERT => {
                let r = Record::Build {
                    commit: c,
                    ok: true,
                    signature: None,
                    secs: 1.0,
                    first_error: None,
                    info: Vec::new(),
                    log: None,
                    config: None,
                    symbols: None,
                };
                m.feed(&r).unwrap();
                out.push(r);
            }
            Action::Build(c) => {
                let x = w.hist.shas.iter().position(|s| *s == c).unwrap() as u32;
                let b = w.build(x);
                let r = Record::Build {
                    commit: c,
                    ok: b.ok,
                    signature: b.signature.map(hex::encode),
                    secs: b.secs,
                    first_error: b.first_error,
                    info: b.info,
                    log: None,
                    config: None,
                    symbols: None,
                };
                m.feed(&r).unwrap();
                out.push(r);
            }
            Action::Run { round, jobs } => {
                for j in jobs {
                    if limit.is_some_and(|l| out.len() >= l) {
                        return out;
                    }
                    let rr = match w.hist.shas.iter().position(|s| *s == j.commit) {
                        Some(x) => w.run(x as u32, j.run),
                        // The revert of the true culprit: the bug is gone.
                        None => crate::backend::RunResult {
                            status: RunStatus::Ok,
                            secs: 1.0,
                            output: None,
                        },
                    };
                    let r = Record::Run {
                        commit: j.commit,
                        run: j.run,
                        round,
                        status: rr.status,
                        secs: rr.secs,
                        output: None,
                    };
                    m.feed(&r).unwrap();
                    out.push(r);
                }
            }
        }
    }
}

/// The revert commit the tests' reverter makes.
const REVERT: &str = "0000000000000000000000000000000000000001";

fn noise() -> Noise {
    Noise {
        q: 0.5,
        unrelated: 0.05,
        untestable: 0.05,
        ..Noise::default()
    }
}

fn world(h: &crate::bench::history::History, seed: u64) -> World<'_> {
    World::new(h, seed, noise(), Costs::default(), false)
}

#[test]
fn a_replayed_journal_restores_the_exact_state() {
    let h = synth::kernel(150, 5).unwrap();
    let w = world(&h, 3);
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    let records = run(&mut m, &w, &[], None);
    let f = m.finish();
    assert_eq!(f.culprit, Some(w.culprit));

    let mut again = Machine::new(sim::plan(&w)).unwrap();
    assert_eq!(again.resume(&records).unwrap(), None);
    assert_eq!(again.poll(&|_| true), Action::Done);
    let events = again.take_events();
    let g = again.finish();
    assert_eq!(g.culprit, f.culprit);
    assert_eq!(g.confidence, f.confidence);
    assert_eq!((g.builds, g.runs, g.rounds), (f.builds, f.runs, f.rounds));
    assert_eq!(g.test_secs, f.test_secs);
    assert_eq!(g.build_secs, f.build_secs);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Resumed { runs, .. } if *runs == f.runs)),
        "{events:?}"
    );
    // Nothing replayed is reported as new.
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::RunFinished { .. } | Event::BuildFinished { .. })));
}

#[test]
fn a_campaign_resumed_mid_round_reuses_what_ran_and_finishes() {
    let h = synth::kernel(150, 5).unwrap();
    let w = world(&h, 4);
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    let all = run(&mut m, &w, &[], None);
    // Cut inside a round: after the first run of a round of several.
    let cut = (1..all.len())
        .find(|&i| {
            matches!((&all[i - 1], &all[i], all.get(i + 1)),
                (Record::Run { round: a, .. }, Record::Run { round: b, .. }, Some(Record::Run { round: c, .. }))
                if a != b && b == c)
        })
        .expect("a round of two runs or more")
        + 1;
    let past = &all[..cut];
    let mut m2 = Machine::new(sim::plan(&w)).unwrap();
    let resumed = run(&mut m2, &w, past, None);
    assert_eq!(&resumed[..cut], past);
    let f = m2.finish();
    assert_eq!(f.culprit, Some(w.culprit));
    // No run index is used twice on a commit, and no commit is built twice.
    let mut seen = std::collections::BTreeSet::new();
    let mut built = std::collections::BTreeSet::new();
    for r in &resumed {
        match r {
            Record::Run { commit, run, .. } => {
                assert!(
                    seen.insert((commit.clone(), *run)),
                    "run {commit} #{run} twice"
                )
            }
            Record::Build { commit, .. } => {
                assert!(built.insert(commit.clone()), "{commit} built twice")
            }
            _ => {}
        }
    }
    // The interrupted round keeps its number; the next one follows it.
    let Record::Run {
        round: cut_round, ..
    } = &past[cut - 1]
    else {
        unreachable!()
    };
    let next = resumed[cut..].iter().find_map(|r| match r {
        Record::Run { round, .. } => Some(*round),
        _ => None,
    });
    assert_eq!(next, Some(cut_round + 1));
}

#[test]
fn a_journal_of_another_campaign_is_refused() {
    let h = synth::linear(40, 0).unwrap();
    let w = world(&h, 1);
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    let records = run(&mut m, &w, &[], Some(6));
    let mut other = sim::plan(&w);
    other.key = "another experiment".into();
    let e = Machine::new(other).unwrap().resume(&records).unwrap_err();
    assert!(matches!(e, Error::OtherCampaign { .. }), "{e}");
    assert!(e.to_string().contains("different campaign"));

    let mut two = records.clone();
    two.insert(2, two[0].clone());
    let e = Machine::new(sim::plan(&w))
        .unwrap()
        .resume(&two)
        .unwrap_err();
    assert!(matches!(e, Error::TwoStarts), "{e}");

    let e = Machine::new(sim::plan(&w))
        .unwrap()
        .resume(&records[1..])
        .unwrap_err();
    assert!(matches!(e, Error::NoStart), "{e}");

    let mut unknown = records.clone();
    if let Record::Build { commit, .. } = &mut unknown[1] {
        *commit = "not-a-commit-of-this-range".into();
    }
    let e = Machine::new(sim::plan(&w))
        .unwrap()
        .resume(&unknown)
        .unwrap_err();
    assert!(matches!(e, Error::UnknownCommit(_)), "{e}");
}

#[test]
fn a_torn_journal_line_is_dropped_and_the_rest_replayed() {
    use std::io::Write;
    let h = synth::linear(60, 0).unwrap();
    let w = world(&h, 2);
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    let records = run(&mut m, &w, &[], Some(12));
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("journal.jsonl");
    let (mut j, _) = crate::journal::Journal::open(&path).unwrap();
    for r in &records {
        j.append(r).unwrap();
    }
    drop(j);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"type\":\"run\",\"commit\":\"ab").unwrap();
    drop(f);
    let (_, back) = crate::journal::Journal::open(&path).unwrap();
    assert_eq!(back, records);
    let mut m2 = Machine::new(sim::plan(&w)).unwrap();
    let all = run(&mut m2, &w, &back, None);
    assert_eq!(m2.finish().culprit, Some(w.culprit));
    assert!(all.len() > records.len());
}

#[test]
fn each_visit_is_one_block_and_events_are_deterministic() {
    let h = synth::kernel(120, 2).unwrap();
    let w = world(&h, 7);
    let mut events = Vec::new();
    for _ in 0..2 {
        let mut m = Machine::new(sim::plan(&w)).unwrap();
        run(&mut m, &w, &[], None);
        events.push(m.take_events());
    }
    assert_eq!(events[0], events[1]);
    let ev = &events[0];
    // Every run shows up in exactly one block, in order, and a block's
    // commit is never the next block's (consecutive rounds are one visit).
    let finished: Vec<(String, u32)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::RunFinished { commit, run, .. } => Some((commit.clone(), *run)),
            _ => None,
        })
        .collect();
    let mut blocked: Vec<(String, u32)> = Vec::new();
    for e in ev {
        if let Event::CommitTested { commit, runs, .. } = e {
            blocked.extend(runs.iter().map(|r| (commit.clone(), r.run)));
        }
    }
    let mut a = finished.clone();
    let mut b = blocked.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let tested: Vec<&Event> = ev
        .iter()
        .filter(|e| matches!(e, Event::CommitTested { .. } | Event::BuildStarted { .. }))
        .collect();
    for pair in tested.windows(2) {
        if let (Event::CommitTested { commit: a, .. }, Event::CommitTested { commit: b, .. }) =
            (pair[0], pair[1])
        {
            assert_ne!(a, b, "two blocks in a row for one commit");
        }
    }
    assert!(matches!(
        ev.last(),
        Some(Event::Finished {
            verdict: "culprit",
            ..
        })
    ));
}

#[test]
fn a_target_that_never_gets_its_turn_ends_early_with_what_was_seen() {
    let h = synth::linear(30, 0).unwrap();
    // Every run crashes with something else than the target.
    let w = World::new(
        &h,
        1,
        Noise {
            unrelated: 1.0,
            ..Noise::default()
        },
        Costs::default(),
        false,
    );
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    run(&mut m, &w, &[], None);
    let f = m.finish();
    assert_eq!(f.outcome.verdict, Verdict::NotReproduced);
    assert!(f.runs <= NEAR_MISS_RUNS + m_vms(&w), "{} runs", f.runs);
    assert!(!f.bad_titles.is_empty());
    assert!(f
        .bad_titles
        .iter()
        .all(|(t, _)| t != crate::bench::world::TARGET));
}

fn m_vms(w: &World) -> u32 {
    w.costs.vms
}

#[test]
fn a_crash_under_another_title_counts_as_the_target_and_says_why() {
    let h = synth::linear(20, 0).unwrap();
    let w = world(&h, 1);
    let mut plan = sim::plan(&w);
    plan.target_title = Some("general protection fault in io_uring_register".into());
    let mut m = Machine::new(plan).unwrap();
    m.resume(&[]).unwrap();
    let bad = h.shas[h.bad as usize].clone();
    assert_eq!(m.poll(&|_| true), Action::Build(bad.clone()));
    m.feed(&Record::Build {
        commit: bad.clone(),
        ok: true,
        signature: None,
        secs: 1.0,
        first_error: None,
        info: vec![],
        log: None,
        config: None,
        symbols: None,
    })
    .unwrap();
    let Action::Run { round, jobs } = m.poll(&|_| true) else {
        panic!("runs on bad expected")
    };
    // The wrapper's name in the title: the same bug as syzbot's title.
    let alias = RunStatus::Crashed {
        title: "general protection fault in __do_sys_io_uring_register".into(),
        crash: None,
    };
    let other = RunStatus::crashed("WARNING in sim_unrelated");
    for (i, j) in jobs.iter().enumerate() {
        let status = if i == 0 { alias.clone() } else { other.clone() };
        m.feed(&Record::Run {
            commit: j.commit.clone(),
            run: j.run,
            round,
            status,
            secs: 1.0,
            output: None,
        })
        .unwrap();
    }
    let events = m.take_events();
    let same: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::SameCrash { .. }))
        .collect();
    assert_eq!(same.len(), 1, "{events:?}");
    let Event::SameCrash {
        title,
        same_as,
        why,
    } = same[0]
    else {
        unreachable!()
    };
    assert!(title.contains("__do_sys_io_uring_register"));
    assert_eq!(same_as, "general protection fault in io_uring_register");
    assert!(!why.is_empty());
    // The engine counted it as the target on bad.
    assert!(m.engine().evidence(h.bad).target >= 1);
}

#[test]
fn a_named_culprit_is_verified_by_its_revert_and_a_resumed_campaign_finishes_it() {
    let h = synth::linear(40, 23).unwrap();
    let w = world(&h, 5);
    let mut plan = sim::plan(&w);
    plan.verify = true;
    plan.config.verify_runs = 12;
    let mut m = Machine::new(plan.clone()).unwrap();
    let all = run(&mut m, &w, &[], None);
    let f = m.finish();
    let v = f.verification.clone().expect("a culprit is verified");
    assert_eq!(v.outcome, VerifyOutcome::Fixed, "{v:?}");
    // As many clean runs as the evidence rule asks at the learnt rate.
    let st = &f.outcome.status;
    let want = st.clean_runs_needed(plan.config.confidence).min(12);
    assert!(
        (2..12).contains(&want),
        "rate ~ Beta{:?}: the rule stops before the cap ({want})",
        st.q_beta
    );
    assert_eq!(v.counts.clean, want);
    assert_eq!(v.commit.as_deref(), Some(REVERT));
    let reverts = all.iter().position(|r| matches!(r, Record::Revert { .. }));
    let at = reverts.expect("the revert is journaled") + 2;
    // Killed after the revert's build and one run: the rest runs on resume.
    let mut m = Machine::new(plan).unwrap();
    let again = run(&mut m, &w, &all[..at], None);
    assert_eq!(again.len(), all.len());
    assert_eq!(m.finish().verification, Some(v));
}

/// Drives `m` with [`Machine::poll_batch`] against `w`, answering what is
/// in flight newest first.
fn run_batch(m: &mut Machine, w: &World, builders: u32) {
    m.resume(&[]).unwrap();
    let mut flight: Vec<Record> = Vec::new();
    let vms = w.costs.vms;
    let mut running = 0u32;
    let mut building = 0u32;
    let mut built = vec![false; w.hist.len()];
    loop {
        let actions = m.poll_batch(builders - building, vms - running, &|c| {
            w.hist
                .shas
                .iter()
                .position(|s| s == c)
                .is_some_and(|x| built[x])
        });
        if actions.contains(&Action::Done) {
            return;
        }
        for a in actions {
            let x = |c: &str| w.hist.shas.iter().position(|s| s == c).unwrap() as u32;
            match a {
                Action::Build(c) => {
                    let b = w.build(x(&c));
                    building += 1;
                    flight.push(Record::Build {
                        commit: c,
                        ok: b.ok,
                        signature: b.signature.map(hex::encode),
                        secs: b.secs,
                        first_error: b.first_error,
                        info: b.info,
                        log: None,
                        config: None,
                        symbols: None,
                    });
                }
                Action::Run { round, jobs } => {
                    for j in jobs {
                        let rr = w.run(x(&j.commit), j.run);
                        running += 1;
                        flight.push(Record::Run {
                            commit: j.commit,
                            run: j.run,
                            round,
                            status: rr.status,
                            secs: rr.secs,
                            output: None,
                        });
                    }
                }
                Action::Hint { .. } => {
                    m.hint_found(None);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let r = flight.pop().expect("nothing handed out, nothing in flight");
        match &r {
            Record::Build { commit, ok, .. } => {
                building -= 1;
                let i = w.hist.shas.iter().position(|s| s == commit).unwrap();
                built[i] = *ok;
            }
            _ => running -= 1,
        }
        m.feed(&r).unwrap();
    }
}

#[test]
fn poll_batch_stops_on_broken_machines_like_poll() {
    let h = synth::linear(30, 0).unwrap();
    // Nearly every run tests nothing.
    let w = World::new(
        &h,
        1,
        Noise {
            untestable: 0.95,
            ..Noise::default()
        },
        Costs::default(),
        false,
    );
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    run_batch(&mut m, &w, 3);
    let f = m.finish();
    assert_eq!(f.outcome.verdict, Verdict::Inconclusive);
    assert_eq!(f.outcome.reason, culprit_bisect::StopReason::Untestable);
    assert!(f.runs >= INFRA_MIN_RUNS, "{} runs", f.runs);
    assert!(f.untestable.is_some());
}

#[test]
fn a_run_cut_by_a_kill_leaves_its_number_unused_and_none_is_handed_out_twice() {
    let h = synth::linear(60, 4).unwrap();
    let w = world(&h, 2);
    let mut m = Machine::new(sim::plan(&w)).unwrap();
    let full = run(&mut m, &w, &[], None);
    let key = |r: &Record| match r {
        Record::Run { commit, run, .. } => Some((commit.clone(), *run)),
        _ => None,
    };
    // Every place where a kill could have cut run k-1 of a commit after
    // run k was journaled (runs of a round end in any order): resume from
    // that journal and finish.
    let mut cuts = 0;
    let mut rerun = 0;
    for (i, r) in full.iter().enumerate() {
        let Some((commit, k)) = key(r) else { continue };
        let earlier = Some((commit.clone(), k.wrapping_sub(1)));
        let Some(lost) = full[..i].iter().position(|p| k > 0 && key(p) == earlier) else {
            continue;
        };
        cuts += 1;
        let mut past: Vec<Record> = full[..=i].to_vec();
        past.remove(lost);
        let mut m = Machine::new(sim::plan(&w)).unwrap();
        let resumed = run(&mut m, &w, &past, None);
        let mut seen = BTreeSet::new();
        for (c, q) in resumed.iter().filter_map(key) {
            assert!(
                seen.insert((c.clone(), q)),
                "cut {i}: run {q} of {c} journaled twice"
            );
        }
        rerun += resumed[past.len()..]
            .iter()
            .filter(|r| key(r).is_some_and(|(c, _)| c == commit))
            .count();
        assert_eq!(m.finish().culprit, Some(w.culprit), "cut {i}");
    }
    // The check can fail: commits with a cut run were run again.
    assert!(
        cuts >= 3 && rerun >= 1,
        "{cuts} cuts, {rerun} runs after them"
    );
}
