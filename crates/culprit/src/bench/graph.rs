//! Ancestor sets as bit rows, for exact reachability questions on a range.
//!
//! The bench asks "is the culprit an ancestor of x" for every run and "how many
//! candidates does x reach" for every git-bisect step; one bit row per commit
//! answers both in O(N/64). Memory is N²/8 bytes, so histories are capped at
//! [`MAX_NODES`].

/// Largest history the bench accepts (N²/8 bytes of ancestor rows: 128 MB).
pub const MAX_NODES: usize = 32_768;

/// A fixed-size set of node indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits(Vec<u64>);

impl Bits {
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    pub fn set(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }

    pub fn clear(&mut self, i: u32) {
        self.0[i as usize / 64] &= !(1 << (i % 64));
    }

    pub fn get(&self, i: u32) -> bool {
        self.0[i as usize / 64] >> (i % 64) & 1 == 1
    }

    pub fn union_with(&mut self, o: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= b;
        }
    }

    pub fn subtract(&mut self, o: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a &= !b;
        }
    }

    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// |self ∩ o|
    pub fn count_and(&self, o: &Bits) -> u32 {
        self.0
            .iter()
            .zip(&o.0)
            .map(|(a, b)| (a & b).count_ones())
            .sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(wi as u32 * 64 + b)
            })
        })
    }
}

/// Ancestors of every node, each including the node itself.
#[derive(Debug, Clone)]
pub struct Ancestry {
    rows: Vec<Bits>,
}

impl Ancestry {
    /// `parents` must be in topological order (parents first).
    pub fn new(parents: &[Vec<u32>]) -> Ancestry {
        let n = parents.len();
        let mut rows: Vec<Bits> = Vec::with_capacity(n);
        for (i, ps) in parents.iter().enumerate() {
            let mut row = Bits::new(n);
            row.set(i as u32);
            for &p in ps {
                row.union_with(&rows[p as usize]);
            }
            rows.push(row);
        }
        Ancestry { rows }
    }

    /// Ancestors of `x`, `x` included.
    pub fn of(&self, x: u32) -> &Bits {
        &self.rows[x as usize]
    }

    /// Whether `a` is `x` or one of its ancestors.
    pub fn reaches(&self, x: u32, a: u32) -> bool {
        self.rows[x as usize].get(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diamond_ancestry() {
        // 0 <- 1 <- 3, 0 <- 2 <- 3
        let a = Ancestry::new(&[vec![], vec![0], vec![0], vec![1, 2]]);
        assert_eq!(a.of(3).count(), 4);
        assert!(a.reaches(3, 2) && a.reaches(1, 0) && !a.reaches(1, 2));
        assert_eq!(a.of(2).iter().collect::<Vec<_>>(), vec![0, 2]);
        let mut b = a.of(3).clone();
        b.subtract(a.of(1));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(a.of(1).count_and(a.of(2)), 1);
    }

    #[test]
    fn bits_iterate_across_words() {
        let mut b = Bits::new(200);
        for i in [0, 63, 64, 130, 199] {
            b.set(i);
        }
        b.clear(130);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 63, 64, 199]);
    }
}
