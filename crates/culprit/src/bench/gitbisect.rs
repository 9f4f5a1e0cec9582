//! git bisect's choice of the next commit, on the DAG, and strategy 3: plain
//! git bisect with one run per commit.
//!
//! Candidates are the commits that reach the current bad commit and are not
//! reachable from any good one. For each candidate c, w(c) = number of
//! candidates that c reaches (itself included); git tests the candidate that
//! maximises min(w, N - w), the first such in its listing order (newest
//! first; here: highest topological index first). When that commit was
//! skipped, git picks another one among the non-skipped candidates ranked by
//! that same distance, at a position biased towards the best ranks: ⌊len · r
//! · √r⌋, where r in [0, 1) comes from a fixed linear congruential step on
//! len (the ANSI C rand constants), so the choice is deterministic, as in
//! git: near the midpoint, not at it.
//! When only skipped candidates are left, the first bad commit "could be any
//! of" them and the bad commit.

use super::graph::Bits;
use super::history::History;
use super::world::World;
use super::Tally;
use crate::backend::RunStatus;

const PRN_MODULO: u32 = 32_768;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Test(u32),
    /// The first bad commit.
    Found(u32),
    /// Only skipped commits left: the first bad commit is one of these.
    OnlySkipped(Vec<u32>),
}

/// State of one `git bisect` session.
pub struct GitBisect<'h> {
    hist: &'h History,
    bad: u32,
    good_side: Bits,
    skipped: Bits,
}

impl<'h> GitBisect<'h> {
    /// `git bisect start BAD GOOD...` with the history's endpoints.
    pub fn new(hist: &'h History) -> GitBisect<'h> {
        let mut good_side = Bits::new(hist.len());
        for &g in &hist.good {
            good_side.union_with(hist.anc.of(g));
        }
        GitBisect {
            hist,
            bad: hist.bad,
            good_side,
            skipped: Bits::new(hist.len()),
        }
    }

    pub fn bad(&self) -> u32 {
        self.bad
    }

    pub fn good(&mut self, x: u32) {
        self.good_side.union_with(self.hist.anc.of(x));
    }

    pub fn mark_bad(&mut self, x: u32) {
        self.bad = x;
    }

    pub fn skip(&mut self, x: u32) {
        self.skipped.set(x);
    }

    pub fn candidates(&self) -> Bits {
        let mut c = self.hist.anc.of(self.bad).clone();
        c.subtract(&self.good_side);
        c
    }

    pub fn next(&self) -> Next {
        let cand = self.candidates();
        let n = cand.count();
        // (distance, node) in git's listing order, the bad commit excluded.
        let mut ranked: Vec<(u32, u32)> = cand
            .iter()
            .filter(|&c| c != self.bad)
            .map(|c| {
                let w = self.hist.anc.of(c).count_and(&cand);
                (w.min(n - w), c)
            })
            .collect();
        ranked.reverse();
        if ranked.is_empty() {
            return Next::Found(self.bad);
        }
        let mut best = ranked[0];
        for &r in &ranked[1..] {
            if r.0 > best.0 {
                best = r;
            }
        }
        if !self.skipped.get(best.1) {
            return Next::Test(best.1);
        }
        ranked.retain(|&(_, c)| !self.skipped.get(c));
        if ranked.is_empty() {
            let mut any: Vec<u32> = cand.iter().collect();
            any.sort_unstable();
            return Next::OnlySkipped(any);
        }
        // Stable: equal distances keep git's listing order.
        ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
        let len = ranked.len() as u32;
        let prn = (len.wrapping_mul(1_103_515_245).wrapping_add(12_345) / 65_536) % PRN_MODULO;
        let pos = ((len as u64 * prn as u64 / PRN_MODULO as u64) as f64 * (prn as f64).sqrt()
            / (PRN_MODULO as f64).sqrt()) as usize;
        Next::Test(ranked[pos.min(ranked.len() - 1)].1)
    }
}

/// Strategy 3: git bisect, one run per commit, any crash = bad, a failed build
/// or an untestable run = skip. The endpoints are taken on trust.
pub fn plain(world: &World) -> Tally {
    let mut b = GitBisect::new(world.hist);
    let mut t = Tally::new("culprit");
    loop {
        match b.next() {
            Next::Found(x) => {
                t.answer = Some(x);
                return t;
            }
            Next::OnlySkipped(_) => {
                t.outcome = "could-be-any-of";
                return t;
            }
            Next::Test(x) => {
                let build = world.build(x);
                t.builds += 1;
                t.build_secs += build.secs;
                if !build.ok {
                    b.skip(x);
                    continue;
                }
                let r = world.run(x, 0);
                t.runs += 1;
                t.rounds += 1;
                t.test_secs += r.secs;
                match r.status {
                    RunStatus::Crashed { .. } => b.mark_bad(x),
                    RunStatus::Ok => b.good(x),
                    RunStatus::Untestable { .. } => b.skip(x),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::super::world::{Costs, Noise};
    use super::*;

    #[test]
    fn linear_midpoint_and_exact_search() {
        let h = synth::linear(16, 0).unwrap();
        let b = GitBisect::new(&h);
        // Candidates 1..=16; node k reaches k candidates: the midpoint is 8.
        assert_eq!(b.next(), Next::Test(8));
        for seed in 0..20 {
            let w = World::new(&h, seed, Noise::default(), Costs::default(), false);
            let t = plain(&w);
            assert_eq!(t.answer, Some(w.culprit));
            assert!(t.builds <= 5, "{}", t.builds);
        }
    }

    #[test]
    fn merge_midpoint_counts_ancestors_in_the_candidate_set() {
        // 0 good; branch A: 1-2-3-4 from 0; branch B: 5-6 from 0; 7 = merge(4, 6).
        let parents = vec![
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![3],
            vec![0],
            vec![5],
            vec![4, 6],
        ];
        let h = History::new(
            "m".into(),
            (0..8).map(|i| i.to_string()).collect(),
            vec![String::new(); 8],
            parents,
            vec![0],
            7,
            vec![true; 8],
        )
        .unwrap();
        let mut b = GitBisect::new(&h);
        // N = 7. w: 1→1, 2→2, 3→3, 4→4, 5→1, 6→2. Best min(w, 7-w) = 3, at
        // 3 (w=3) and 4 (w=4, 7-4=3): the newest listed first wins, 4.
        assert_eq!(b.next(), Next::Test(4));
        b.good(4);
        // Left: 5, 6, 7 -> w(5)=1, w(6)=2: both distance 1, newest (6) wins.
        assert_eq!(b.next(), Next::Test(6));
        b.skip(6);
        assert_eq!(b.next(), Next::Test(5));
        b.mark_bad(5);
        assert_eq!(b.next(), Next::Found(5));
    }

    #[test]
    fn a_skipped_midpoint_gives_way_to_a_commit_near_it() {
        let h = synth::linear(100, 0).unwrap();
        let mut b = GitBisect::new(&h);
        assert_eq!(b.next(), Next::Test(50));
        b.skip(50);
        let Next::Test(x) = b.next() else {
            panic!("expected a commit to test")
        };
        assert_ne!(x, 50);
        assert!((30..=70).contains(&x), "{x}");
        // Deterministic, as git's choice is.
        assert_eq!(b.next(), Next::Test(x));
    }

    #[test]
    fn only_skipped_left() {
        let h = synth::linear(3, 0).unwrap();
        let mut b = GitBisect::new(&h);
        for x in [1, 2] {
            b.skip(x);
        }
        assert_eq!(b.next(), Next::OnlySkipped(vec![1, 2, 3]));
    }
}
