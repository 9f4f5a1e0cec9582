//! Reverts as evidence: a verification whose revert still crashes sends
//! the search on, and the journal replays every revert of a campaign.

use super::*;
use crate::bench::sim;
use crate::bench::synth;
use crate::bench::world::{Costs, Noise, World, TARGET};

/// The revert commit the tests make for `culprit`: its own hash per
/// reverted commit.
fn revert_of(culprit: &str) -> String {
    format!("f{}", &culprit[1..])
}

/// Drives `m` against `w` from `past`, journaling every record. The bad
/// commit with `c` reverted is clean when `c` is the world's culprit and
/// crashes with the target otherwise; `lie` is reverted as if it were not
/// the culprit (a commit that only exposes an older bug would look so).
fn run(m: &mut Machine, w: &World, past: &[Record], lie: Option<&str>) -> Vec<Record> {
    let mut out: Vec<Record> = past.to_vec();
    if let Some(start) = m.resume(past).unwrap() {
        out.push(start);
    }
    let truth = &w.hist.shas[w.culprit as usize];
    let mut feed = |m: &mut Machine, r: Record| {
        m.feed(&r).unwrap();
        out.push(r);
    };
    loop {
        match m.poll(&|_| true) {
            Action::Done => break,
            Action::Hint { .. } => {
                m.hint_found(None);
            }
            Action::Revert { culprit, onto } => {
                let commit = revert_of(&culprit);
                feed(
                    m,
                    Record::Revert {
                        culprit,
                        onto,
                        made: RevertMade::Applied { commit },
                    },
                )
            }
            Action::Build(c) => {
                let b = match w.hist.shas.iter().position(|s| *s == c) {
                    Some(x) => w.build(x as u32),
                    None => w.build(w.hist.bad),
                };
                feed(m, crate::drive::build_record(c, b))
            }
            Action::Run { round, jobs } => {
                for j in jobs {
                    let status = match w.hist.shas.iter().position(|s| *s == j.commit) {
                        Some(x) => w.run(x as u32, j.run).status,
                        None if Some(j.commit.clone()) == lie.map(revert_of) => {
                            RunStatus::crashed(TARGET)
                        }
                        None if j.commit == revert_of(truth) => RunStatus::Ok,
                        None => RunStatus::crashed(TARGET),
                    };
                    feed(
                        m,
                        Record::Run {
                            commit: j.commit,
                            run: j.run,
                            round,
                            status,
                            secs: 1.0,
                            output: None,
                        },
                    );
                }
            }
        }
    }
    out
}

fn reverted(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Revert { culprit, .. } => Some(culprit.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_crashing_revert_sends_the_search_on_and_the_journal_replays_it() {
    let h = synth::linear(60, 7).unwrap();
    let w = World::new(&h, 3, Noise::default(), Costs::default(), false);
    let mut plan = sim::plan(&w);
    plan.verify = true;
    plan.config.verify_runs = 8;
    let truth = h.shas[w.culprit as usize].clone();

    // Honest reverts: the answer is verified once, and it holds.
    let mut m = Machine::new(plan.clone()).unwrap();
    let honest = run(&mut m, &w, &[], None);
    let f = m.finish();
    assert_eq!(f.culprit, Some(w.culprit));
    assert_eq!(reverted(&honest), vec![truth.clone()]);
    let v = f.verification.expect("the answer is verified");
    assert_eq!(v.outcome, VerifyOutcome::Fixed);
    // The revert's runs count as runs of the campaign.
    let runs = honest
        .iter()
        .filter(|r| matches!(r, Record::Run { .. }))
        .count();
    assert_eq!(f.runs as usize, runs);

    // The true culprit's revert crashes: the engine gives it up and goes on.
    let mut m = Machine::new(plan.clone()).unwrap();
    let lied = run(&mut m, &w, &[], Some(&truth));
    let events = m.take_events();
    let f = m.finish();
    let commits = reverted(&lied);
    assert_eq!(commits[0], truth);
    assert!(commits.len() <= verify::MAX_REVERTS, "{commits:?}");
    let set: std::collections::BTreeSet<&String> = commits.iter().collect();
    assert_eq!(set.len(), commits.len(), "a commit reverted twice");
    let resumed = events.iter().find_map(|e| match e {
        Event::SearchResumed {
            culprit,
            confidence,
        } => Some((culprit.clone(), *confidence)),
        _ => None,
    });
    let (culprit, confidence) = resumed.expect("the search went on");
    assert_eq!(culprit, truth);
    // One crashing revert costs its commit the chance that a culprit's
    // revert keeps the crash (`revert_keeps`): below the asked confidence,
    // not to nothing.
    assert!(
        confidence < plan.config.confidence && confidence > 0.1,
        "{confidence}"
    );
    // Named all the same in the end, it carries its failed verification.
    if f.culprit == Some(w.culprit) {
        let v = f.verification.as_ref().expect("verified");
        assert_eq!(v.outcome, VerifyOutcome::Persists);
    }
    // The campaign built and ran more after the first verification.
    let first = lied
        .iter()
        .position(|r| matches!(r, Record::Revert { .. }))
        .unwrap();
    let later = &lied[first..];
    assert!(later
        .iter()
        .any(|r| matches!(r, Record::Run { commit, .. } if h.shas.contains(commit))));

    // Replayed from its journal, cut where the revert's block ends (a cut
    // inside a round may rightly decide otherwise) or at the end, it ends
    // the same way.
    let block = first
        + 1
        + lied[first + 1..]
            .iter()
            .position(|r| match r {
                Record::Build { commit, .. } | Record::Run { commit, .. } => {
                    h.shas.contains(commit)
                }
                _ => true,
            })
            .unwrap();
    for cut in [block, lied.len()] {
        let mut m = Machine::new(plan.clone()).unwrap();
        let again = run(&mut m, &w, &lied[..cut], Some(&truth));
        if let Some(i) = (0..again.len().min(lied.len())).find(|&i| again[i] != lied[i]) {
            panic!(
                "cut at {cut}: record {i} differs:\n{:?}\n{:?}\n{:?}",
                lied[i],
                again[i],
                &lied[i.saturating_sub(3)..i]
            );
        }
        assert_eq!(again.len(), lied.len(), "cut at {cut}");
        let g = m.finish();
        assert_eq!(g.outcome.verdict, f.outcome.verdict);
        assert_eq!(g.verification, f.verification);
    }
}
