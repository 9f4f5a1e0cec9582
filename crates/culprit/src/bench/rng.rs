//! Reproducible, call-order-independent randomness for the simulation.
//!
//! Every random decision is a pure function of a key (seed, commit, run
//! index, purpose), so two strategies that run commit `c` for the `i`-th time
//! see the same outcome (common random numbers), and nothing depends on the
//! order in which threads or strategies ask.

/// splitmix64 finaliser: a bijective, well-mixing 64-bit hash step.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a small tuple of words.
pub fn key(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |h, &w| mix(h ^ mix(w)))
}

/// A splitmix64 stream started from a key: several independent draws for one
/// decision.
#[derive(Debug, Clone)]
pub struct Stream(u64);

impl Stream {
    pub fn new(words: &[u64]) -> Stream {
        Stream(key(words))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Purposes, so draws for different decisions never coincide.
pub mod tag {
    pub const CULPRIT: u64 = 1;
    pub const BREAK: u64 = 2;
    pub const RUN: u64 = 3;
    pub const BUILD: u64 = 4;
    pub const HISTORY: u64 = 5;
    pub const DOC: u64 = 6;
    pub const MIX: u64 = 7;
    pub const REVERT: u64 = 8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_every_word_and_not_on_call_order() {
        let a = Stream::new(&[1, 2, 3]).next_u64();
        let b = Stream::new(&[1, 2, 4]).next_u64();
        let c = Stream::new(&[2, 1, 3]).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
        let _ = Stream::new(&[9]).next_u64();
        assert_eq!(a, Stream::new(&[1, 2, 3]).next_u64());
    }

    #[test]
    fn unit_is_roughly_uniform() {
        let mut s = Stream::new(&[42]);
        let n = 20_000;
        let below_quarter = (0..n).filter(|_| s.unit() < 0.25).count();
        let frac = below_quarter as f64 / n as f64;
        assert!((frac - 0.25).abs() < 0.02, "{frac}");
        assert!((0..1000).all(|_| s.below(7) < 7));
    }
}
