//! Ancestor sets on the DAG: fixed bitsets for tested commits and a
//! reusable walker for the many short walks of probe selection.

use crate::dag::{Dag, NodeId};

/// A fixed-size set of node indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub fn new(n: usize) -> Bits {
        Bits {
            words: vec![0; n.div_ceil(64)],
        }
    }

    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

/// Candidate ancestors-or-self of `x`: the hypotheses under which the bug is
/// present at `x`. Good nodes are not candidates and the walk does not pass
/// through them (what lies behind a good commit is outside the range).
pub fn ancestors(dag: &Dag, x: NodeId) -> Bits {
    let mut bits = Bits::new(dag.len());
    if dag.is_good(x) {
        return bits;
    }
    let mut stack = vec![x];
    bits.set(x as usize);
    while let Some(y) = stack.pop() {
        for &p in dag.parents(y) {
            if !dag.is_good(p) && !bits.get(p as usize) {
                bits.set(p as usize);
                stack.push(p);
            }
        }
    }
    bits
}

/// Child lists of every node (the DAG stores parents only).
#[derive(Debug, Clone)]
pub struct Children {
    offsets: Vec<u32>,
    list: Vec<NodeId>,
}

impl Children {
    pub fn new(dag: &Dag) -> Children {
        let n = dag.len();
        let mut count = vec![0u32; n + 1];
        for x in 0..n as NodeId {
            for &p in dag.parents(x) {
                count[p as usize + 1] += 1;
            }
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut list = vec![0; count[n] as usize];
        for x in 0..n as NodeId {
            for &p in dag.parents(x) {
                list[fill[p as usize] as usize] = x;
                fill[p as usize] += 1;
            }
        }
        Children {
            offsets: count,
            list,
        }
    }

    pub fn of(&self, x: NodeId) -> &[NodeId] {
        &self.list[self.offsets[x as usize] as usize..self.offsets[x as usize + 1] as usize]
    }
}

/// Walks ancestors repeatedly without clearing a visited array each time.
pub struct Walker {
    stamp: Vec<u32>,
    generation: u32,
    stack: Vec<NodeId>,
}

impl Walker {
    pub fn new(n: usize) -> Walker {
        Walker {
            stamp: vec![0; n],
            generation: 0,
            stack: Vec::new(),
        }
    }

    /// Calls `visit` on every candidate ancestor-or-self of `x` whose index is
    /// at least `lo`. Nodes below `lo` are not entered: in topological order
    /// no path from them leads back up to a node at or above `lo`.
    pub fn walk(&mut self, dag: &Dag, x: NodeId, lo: NodeId, mut visit: impl FnMut(NodeId)) {
        if dag.is_good(x) || x < lo {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let g = self.generation;
        self.stamp[x as usize] = g;
        self.stack.push(x);
        while let Some(y) = self.stack.pop() {
            visit(y);
            for &p in dag.parents(y) {
                if p >= lo && self.stamp[p as usize] != g && !dag.is_good(p) {
                    self.stamp[p as usize] = g;
                    self.stack.push(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_stop_at_good_nodes() {
        // 0 good; 1 <- 0; 2 <- 1; 3 <- 0 ; 4 <- 2,3
        let dag = Dag::new(vec![vec![], vec![0], vec![1], vec![0], vec![2, 3]], &[0]).unwrap();
        let a = ancestors(&dag, 4);
        let got: Vec<usize> = (0..5).filter(|&i| a.get(i)).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
        let mut w = Walker::new(5);
        let mut seen = Vec::new();
        w.walk(&dag, 4, 2, |y| seen.push(y));
        seen.sort();
        assert_eq!(seen, vec![2, 3, 4]);
        let mut seen2 = Vec::new();
        w.walk(&dag, 2, 0, |y| seen2.push(y));
        seen2.sort();
        assert_eq!(seen2, vec![1, 2]);
        assert!(ancestors(&dag, 0).words().iter().all(|&w| w == 0));
        let c = Children::new(&dag);
        assert_eq!(c.of(0), &[1, 3]);
        assert_eq!(c.of(2), &[4]);
        assert!(c.of(4).is_empty());
    }
}
