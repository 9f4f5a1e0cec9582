//! Synthetic histories: a linear chain, and a kernel-like mainline that merges
//! many topic branches, some of them based on old mainline commits, some of
//! them merging a sub-topic of their own (a maintainer tree).

use super::history::History;
use super::rng::{tag, Stream};

/// Fraction of non-merge commits that only touch docs or tests.
pub const DOC_FRACTION: f64 = 0.15;

struct Builder {
    parents: Vec<Vec<u32>>,
    subjects: Vec<String>,
    own_binary: Vec<bool>,
    seed: u64,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        Builder {
            parents: vec![vec![]],
            subjects: vec!["(good side of the range)".into()],
            own_binary: vec![true],
            seed,
        }
    }

    fn commit(&mut self, parents: Vec<u32>, subject: String) -> u32 {
        let id = self.parents.len() as u32;
        let doc = parents.len() == 1
            && Stream::new(&[self.seed, tag::DOC, id as u64]).unit() < DOC_FRACTION;
        self.parents.push(parents);
        self.subjects.push(subject);
        self.own_binary.push(!doc);
        id
    }

    fn finish(self, name: String) -> anyhow::Result<History> {
        let n = self.parents.len();
        let shas = (0..n)
            .map(|i| format!("{:016x}{:024x}", self.seed, i))
            .collect();
        let bad = n as u32 - 1;
        History::new(
            name,
            shas,
            self.subjects,
            self.parents,
            vec![0],
            bad,
            self.own_binary,
        )
    }
}

/// Node 0 (good) followed by `n` commits in a line.
pub fn linear(n: usize, seed: u64) -> anyhow::Result<History> {
    let mut b = Builder::new(seed);
    for i in 1..=n as u32 {
        b.commit(vec![i - 1], format!("change {i}"));
    }
    b.finish(format!("linear-{n}"))
}

/// About `n` commits: mainline commits and merges of topic branches.
pub fn kernel(n: usize, seed: u64) -> anyhow::Result<History> {
    let mut b = Builder::new(seed);
    let mut s = Stream::new(&[seed, tag::HISTORY]);
    let mut mainline = vec![0u32];
    let mut topic = 0;
    while b.parents.len() <= n {
        let tip = *mainline.last().unwrap();
        if s.unit() < 0.15 {
            let c = b.commit(vec![tip], format!("mainline fix {}", b.parents.len()));
            mainline.push(c);
            continue;
        }
        topic += 1;
        let base = pick_base(&mut s, &mainline);
        let len = branch_len(&mut s);
        let mut head = base;
        for k in 0..len {
            head = b.commit(vec![head], format!("topic{topic}: change {}", k + 1));
        }
        if s.unit() < 0.2 {
            // A maintainer tree: the topic merges a sub-topic first.
            let sub_base = pick_base(&mut s, &mainline);
            let mut sub = sub_base;
            for k in 0..branch_len(&mut s) {
                sub = b.commit(vec![sub], format!("topic{topic}.1: change {}", k + 1));
            }
            head = b.commit(vec![head, sub], format!("Merge branch 'topic{topic}.1'"));
        }
        let m = b.commit(vec![tip, head], format!("Merge branch 'topic{topic}'"));
        mainline.push(m);
    }
    b.finish(format!("kernel-{n}"))
}

/// Recent mainline mostly; a quarter of the branches start from an old commit.
fn pick_base(s: &mut Stream, mainline: &[u32]) -> u32 {
    let len = mainline.len() as u64;
    if s.unit() < 0.25 {
        mainline[s.below(len) as usize]
    } else {
        mainline[(len - 1 - s.below(len.min(8))) as usize]
    }
}

fn branch_len(s: &mut Stream) -> u64 {
    if s.unit() < 0.1 {
        1 + s.below(40)
    } else {
        1 + s.below(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_chain_shape() {
        let h = linear(50, 1).unwrap();
        assert_eq!(h.len(), 51);
        assert_eq!(h.bad, 50);
        assert_eq!(h.merges(), 0);
        assert_eq!(h.anc.of(50).count(), 51);
        // Doc-only commits share their parent's signature owner.
        for x in 1..51u32 {
            let owner = h.sig_owner[x as usize];
            assert_eq!(h.binary[x as usize], owner == x);
        }
    }

    #[test]
    fn kernel_like_has_merges_and_old_bases_and_is_reproducible() {
        let h = kernel(2000, 7).unwrap();
        assert!(h.len() > 2000);
        let merges = h.merges();
        assert!(merges > 150 && merges < 800, "{merges}");
        // Every commit is an ancestor of the bad end.
        assert_eq!(h.anc.of(h.bad).count() as usize, h.len());
        // Some branch starts far below the mainline tip it merges into.
        let old = h.parents.iter().enumerate().any(|(i, ps)| {
            ps.len() == 1 && h.parents.get(ps[0] as usize + 1).is_some() && i > ps[0] as usize + 200
        });
        assert!(old);
        let again = kernel(2000, 7).unwrap();
        assert_eq!(h.parents, again.parents);
        assert_ne!(h.parents, kernel(2000, 8).unwrap().parents);
    }
}
