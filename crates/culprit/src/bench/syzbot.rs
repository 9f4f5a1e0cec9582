//! Strategy 2: syzbot's cause-bisection rules (BRIEF section 2), simulated.
//!
//! - Runs per revision: 10 on 10 VMs; 20 on the first test (the bad commit)
//!   and on every test once the reproducer is judged flaky. Flaky: on the
//!   first test, fewer than half of the runs that tested something crashed.
//!   20 runs on 10 VMs are two rounds.
//! - Any crash counts as the bug (titles are not compared); a boot failure
//!   is neither good nor bad.
//! - Verdict: good if no crash and at least half of the runs OK (3/4 when
//!   flaky); bad if at least max(2, runs/6) crashes; skip otherwise. A build
//!   failure is a skip.
//! - The bad commit must test bad (else: not reproduced). Then the release
//!   walk looks for a release that tests good: the good endpoint, then up to
//!   [`RELEASES`] - 1 older ones (modelled as the good endpoint again with
//!   fresh runs); if none does, the bug is "older than the oldest tested
//!   release" (last verdict bad) or the bisection errs (last verdict skip).
//!   Then git bisect (see `gitbisect`) with those verdicts.
//! - Confidence: the product over good verdicts of 1 - (1 - q)^(OK runs),
//!   with q estimated as crashes / (crashes + OK) over the runs of commits
//!   judged bad. Below 0.66 the result is not published. A culprit whose
//!   signature equals its first parent's ("no-op") is treated as unreliable
//!   and not published either.

use super::gitbisect::{GitBisect, Next};
use super::world::World;
use super::Tally;
use crate::backend::RunStatus;

/// Publication threshold on syzbot's confidence.
pub const PUBLISH: f64 = 0.66;
/// Releases the good-start walk tries before giving up.
pub const RELEASES: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Good,
    Bad,
    Skip,
}

/// The verdict on one revision tested with `n` runs.
fn verdict(c: &Counts, n: u32, flaky: bool) -> Verdict {
    let want_good = if flaky {
        (3 * n).div_ceil(4)
    } else {
        n.div_ceil(2)
    };
    if c.crashed == 0 && c.ok >= want_good {
        Verdict::Good
    } else if c.crashed >= 2.max(n / 6) {
        Verdict::Bad
    } else {
        Verdict::Skip
    }
}

struct Counts {
    crashed: u32,
    ok: u32,
}

struct Syzbot<'w> {
    world: &'w World<'w>,
    t: Tally,
    flaky: bool,
    bad_crashed: u32,
    bad_tested: u32,
    /// OK-run counts of the good verdicts.
    goods: Vec<u32>,
}

impl Syzbot<'_> {
    /// Build and test `x` with `n` runs; `None` if the build failed.
    fn test(&mut self, x: u32, n: u32) -> Option<(Verdict, Counts)> {
        self.test_from(x, n, 0)
    }

    /// Same, with run numbers starting at `first`.
    fn test_from(&mut self, x: u32, n: u32, first: u32) -> Option<(Verdict, Counts)> {
        let b = self.world.build(x);
        self.t.builds += 1;
        self.t.build_secs += b.secs;
        if !b.ok {
            return None;
        }
        let vms = self.world.costs.vms.max(1);
        let mut c = Counts { crashed: 0, ok: 0 };
        let mut longest: f64 = 0.0;
        for i in 0..n {
            let r = self.world.run(x, first + i);
            longest = longest.max(r.secs);
            if (i + 1) % vms == 0 || i + 1 == n {
                self.t.rounds += 1;
                self.t.test_secs += longest;
                longest = 0.0;
            }
            match r.status {
                RunStatus::Crashed { .. } => c.crashed += 1,
                RunStatus::Ok => c.ok += 1,
                RunStatus::Untestable { .. } => {}
            }
        }
        self.t.runs += n;
        let v = verdict(&c, n, self.flaky);
        match v {
            Verdict::Bad => {
                self.bad_crashed += c.crashed;
                self.bad_tested += c.crashed + c.ok;
            }
            Verdict::Good => self.goods.push(c.ok),
            Verdict::Skip => {}
        }
        Some((v, c))
    }

    fn runs(&self) -> u32 {
        if self.flaky {
            20
        } else {
            10
        }
    }

    fn confidence(&self) -> f64 {
        let q = self.bad_crashed as f64 / self.bad_tested.max(1) as f64;
        self.goods
            .iter()
            .map(|&ok| 1.0 - (1.0 - q).powi(ok as i32))
            .product()
    }
}

pub fn syzbot(world: &World) -> Tally {
    let h = world.hist;
    let mut s = Syzbot {
        world,
        t: Tally::new("culprit"),
        flaky: false,
        bad_crashed: 0,
        bad_tested: 0,
        goods: Vec::new(),
    };
    match s.test(h.bad, 20) {
        Some((Verdict::Bad, c)) => s.flaky = 2 * c.crashed < c.crashed + c.ok,
        _ => return s.end("not-reproduced"),
    }
    // The release walk: the good endpoint stands for the newest release, and
    // older releases (tried when it does not test good) are modelled as
    // further builds of it with fresh runs, in the same range. That spares
    // syzbot the longer range an older release would bring: it favours syzbot.
    let mut last = Verdict::Skip;
    for attempt in 0..RELEASES {
        let g = h.good[0];
        match s.test_from(g, s.runs(), attempt * 20) {
            Some((Verdict::Good, _)) => {
                last = Verdict::Good;
                break;
            }
            Some((v, _)) => last = v,
            None => last = Verdict::Skip,
        }
    }
    match last {
        Verdict::Good => {}
        Verdict::Bad => return s.end("older"),
        Verdict::Skip => return s.end("error"),
    }
    let mut b = GitBisect::new(h);
    loop {
        match b.next() {
            Next::Test(x) => match s.test(x, s.runs()) {
                Some((Verdict::Good, _)) => b.good(x),
                Some((Verdict::Bad, _)) => b.mark_bad(x),
                _ => b.skip(x),
            },
            Next::OnlySkipped(_) => return s.end("could-be-any-of"),
            Next::Found(x) => {
                let conf = s.confidence();
                s.t.confidence = Some(conf);
                let parent = h.parents[x as usize].first().copied();
                let noop =
                    parent.is_some_and(|p| h.sig_owner[p as usize] == h.sig_owner[x as usize]);
                if noop || conf < PUBLISH {
                    return s.end("unpublished");
                }
                s.t.answer = Some(x);
                return s.t;
            }
        }
    }
}

impl Syzbot<'_> {
    fn end(mut self, outcome: &'static str) -> Tally {
        self.t.outcome = outcome;
        self.t.answer = None;
        self.t
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::super::world::{Costs, Noise};
    use super::*;

    #[test]
    fn verdict_rule_matches_the_brief() {
        let v = |crashed, ok, n, flaky| verdict(&Counts { crashed, ok }, n, flaky);
        assert_eq!(v(0, 5, 10, false), Verdict::Good);
        assert_eq!(v(0, 4, 10, false), Verdict::Skip); // 6 boot failures
        assert_eq!(v(1, 9, 10, false), Verdict::Skip); // one crash: neither
        assert_eq!(v(2, 8, 10, false), Verdict::Bad);
        assert_eq!(v(2, 18, 20, false), Verdict::Skip); // 20 runs need 3
        assert_eq!(v(3, 17, 20, true), Verdict::Bad);
        assert_eq!(v(0, 14, 20, true), Verdict::Skip); // flaky: 3/4 OK
        assert_eq!(v(0, 15, 20, true), Verdict::Good);
    }

    #[test]
    fn noiseless_syzbot_finds_the_culprit_with_ten_runs_per_step() {
        let h = synth::kernel(500, 2).unwrap();
        for seed in 0..10 {
            let w = World::new(&h, seed, Noise::default(), Costs::default(), false);
            let t = syzbot(&w);
            assert_eq!(t.answer, Some(w.culprit), "seed {seed}");
            assert_eq!(t.confidence, Some(1.0));
            // 20 on the bad commit, 10 on the good one and on each step.
            assert_eq!(t.runs, 20 + 10 * (t.builds - 1));
            assert_eq!(t.rounds, 2 + (t.builds - 1));
        }
    }

    #[test]
    fn flaky_reproducer_gets_twenty_runs_and_can_go_unpublished() {
        let h = synth::linear(300, 4).unwrap();
        let noise = Noise {
            q: 0.2,
            ..Noise::default()
        };
        let (mut unpublished, mut twenty) = (0, 0);
        for seed in 0..30 {
            let w = World::new(&h, seed, noise, Costs::default(), false);
            let t = syzbot(&w);
            unpublished += (t.outcome == "unpublished") as u32;
            if t.outcome != "not-reproduced" {
                assert_eq!(t.runs, 20 * t.builds);
                twenty += 1;
            }
        }
        assert!(twenty > 0 && unpublished > 0, "{twenty} {unpublished}");
    }
}
