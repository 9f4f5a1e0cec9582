//! [`drive_batch`] against a simulated concurrent backend that answers in
//! a scrambled order, and fails on demand.

use super::*;
use crate::backend::{RunJob, RunResult};
use crate::bench::world::{Costs, Noise, World};
use crate::bench::{sim, synth};
use crate::campaign::event::{Collect, Discard};
use crate::hint::NoHints;

/// A backend of `builders` builders and `vms` VMs over a simulated world:
/// what it starts ends in the order `pick` chooses among what is in
/// flight; run number `fail_at` (counting all runs) fails.
struct Fake<'w> {
    w: &'w World<'w>,
    builders: u32,
    vms: u32,
    building: Vec<(u32, String)>,
    running: Vec<RunJob>,
    built: Vec<bool>,
    /// Most builds in flight at once.
    most: usize,
    runs: u32,
    fail_at: Option<u32>,
    stopped: u32,
    turn: bool,
}

impl<'w> Fake<'w> {
    fn new(w: &'w World<'w>, builders: u32) -> Self {
        Fake {
            w,
            builders,
            vms: w.costs.vms,
            building: Vec::new(),
            running: Vec::new(),
            built: vec![false; w.hist.len()],
            most: 0,
            runs: 0,
            fail_at: None,
            stopped: 0,
            turn: false,
        }
    }

    fn node(&self, c: &str) -> u32 {
        self.w.hist.shas.iter().position(|s| s == c).unwrap() as u32
    }
}

impl Concurrent for Fake<'_> {
    fn free_builders(&self) -> u32 {
        self.builders - self.building.len() as u32
    }
    fn free_vms(&self) -> u32 {
        self.vms - self.running.len() as u32
    }
    fn is_available(&self, c: &str) -> bool {
        self.built[self.node(c) as usize]
    }
    fn start_build(&mut self, c: &str) -> Result<()> {
        assert!(self.free_builders() > 0, "a build with no free builder");
        let free = (1..=self.builders)
            .find(|k| !self.building.iter().any(|b| b.0 == *k))
            .unwrap();
        self.building.push((free, c.to_string()));
        self.most = self.most.max(self.building.len());
        Ok(())
    }
    fn start_run(&mut self, job: RunJob) -> Result<()> {
        assert!(self.free_vms() > 0, "a run with no free VM");
        assert!(self.is_available(&job.commit), "a run on an unbuilt commit");
        self.running.push(job);
        Ok(())
    }
    fn busy(&self) -> bool {
        !self.building.is_empty() || !self.running.is_empty()
    }
    fn next(&mut self) -> Result<Completion> {
        // Alternate between the newest build and the oldest run, so that
        // completions come in neither start order nor one kind at a time.
        self.turn = !self.turn;
        let take_build = !self.building.is_empty() && (self.turn || self.running.is_empty());
        if take_build {
            let (builder, commit) = self.building.pop().unwrap();
            let x = self.node(&commit);
            let r = self.w.build(x);
            self.built[x as usize] = r.ok;
            return Ok(Completion::Built {
                builder,
                commit,
                result: Ok(r),
            });
        }
        if self.running.is_empty() {
            bail!("nothing in flight");
        }
        let job = self.running.remove(0);
        self.runs += 1;
        if self.fail_at == Some(self.runs) {
            return Ok(Completion::Ran {
                job,
                result: Err(anyhow::anyhow!("the test was killed by signal 9")),
            });
        }
        let r: RunResult = self.w.run(self.node(&job.commit), job.run);
        Ok(Completion::Ran { job, result: Ok(r) })
    }
    fn stop(&mut self) {
        self.building.clear();
        self.running.clear();
        self.stopped += 1;
    }
}

fn world(h: &crate::bench::history::History, seed: u64) -> World<'_> {
    let noise = Noise {
        q: 0.6,
        unrelated: 0.05,
        untestable: 0.05,
        ..Noise::default()
    };
    World::new(h, seed, noise, Costs::default(), false)
}

#[test]
fn several_builds_in_flight_find_the_culprit_and_the_journal_replays_to_it() {
    let h = synth::linear(80, 2).unwrap();
    let w = world(&h, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let (mut journal, past) = Journal::open(&path).unwrap();
    let mut fake = Fake::new(&w, 3);
    let mut events = Collect::default();
    let f = drive_batch(
        Machine::new(sim::plan(&w)).unwrap(),
        &past,
        &mut fake,
        &mut journal,
        &mut events,
        &mut NoHints,
        &mut NoReverts,
    )
    .unwrap();
    assert_eq!(f.culprit, Some(w.culprit));
    assert!(fake.most >= 2, "never more than one build in flight");
    assert!(!fake.busy(), "work left in flight");
    assert!(events
        .0
        .iter()
        .any(|e| matches!(e, Event::BuilderFinished { .. })));
    // The standing is said when it changes, not at every poll.
    let statuses: Vec<&Event> = events
        .0
        .iter()
        .filter(|e| matches!(e, Event::Status { .. }))
        .collect();
    assert!(statuses.len() > 3);
    assert!(statuses.windows(2).all(|w| w[0] != w[1]), "{statuses:?}");
    // Every build and run was journaled as it ended: replayed alone, the
    // journal is the finished campaign.
    drop(journal);
    let (_, records) = Journal::open(&path).unwrap();
    let mut again = Machine::new(sim::plan(&w)).unwrap();
    assert_eq!(again.resume(&records).unwrap(), None);
    assert_eq!(again.poll_batch(3, 1, &|_| true), vec![Action::Done]);
    let g = again.finish();
    assert_eq!((g.culprit, g.builds, g.runs), (f.culprit, f.builds, f.runs));
}

#[test]
fn a_failed_run_stops_everything_in_flight_and_keeps_what_ended() {
    let h = synth::linear(80, 2).unwrap();
    let w = world(&h, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let (mut journal, past) = Journal::open(&path).unwrap();
    let mut fake = Fake::new(&w, 3);
    fake.fail_at = Some(5);
    let err = drive_batch(
        Machine::new(sim::plan(&w)).unwrap(),
        &past,
        &mut fake,
        &mut journal,
        &mut Discard,
        &mut NoHints,
        &mut NoReverts,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("signal 9"), "{err:#}");
    assert!(fake.stopped >= 1 && !fake.busy(), "work left in flight");
    drop(journal);
    let (_, records) = Journal::open(&path).unwrap();
    let runs = records
        .iter()
        .filter(|r| matches!(r, Record::Run { .. }))
        .count();
    assert_eq!(runs, 4, "the runs that ended before the failure");
    // And the campaign resumes from them to the same answer.
    let (mut journal, past) = Journal::open(&path).unwrap();
    let f = drive_batch(
        Machine::new(sim::plan(&w)).unwrap(),
        &past,
        &mut Fake::new(&w, 3),
        &mut journal,
        &mut Discard,
        &mut NoHints,
        &mut NoReverts,
    )
    .unwrap();
    assert_eq!(f.culprit, Some(w.culprit));
}
