//! A realistic scenario mix: reproduction rates and unrelated crashes drawn
//! per seed from syzbot's record, and the per-rate breakdown of its results.
//!
//! syzbot's record (issue 13): about 85% of bugs crash in every run on the
//! start commit, 4% have q in [0.5, 0.9), 2% in [0.2, 0.5), 3% below 0.2.
//! The remaining 6% are taken as q in [0.9, 1): bugs that crash in most but
//! not all runs, between the two large groups. "Below 0.2" is drawn from
//! [0.05, 0.2): rarer reproducers are not bisectable by anyone at 10 runs a
//! round. About 22% of start-commit test rounds (10 runs) show a second,
//! unrelated crash title: a per-run unrelated-crash rate u with
//! 1 - (1 - u)^10 = 0.22, u = 0.0245, on every commit.

use super::report::{is_correct, Trial, CONFIDENT};
use super::rng::{tag, Stream};
use super::scenario::Scenario;
use super::world::Noise;
use super::Strategy;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Share of start-commit rounds of this many runs that show an unrelated
/// crash.
const UNRELATED_ROUNDS: f64 = 0.22;
const ROUND_RUNS: i32 = 10;

/// Rate buckets: upper share bound (cumulative), q range.
const BUCKETS: [(f64, f64, f64); 5] = [
    (0.85, 1.0, 1.0),
    (0.91, 0.9, 1.0),
    (0.95, 0.5, 0.9),
    (0.97, 0.2, 0.5),
    (1.00, 0.05, 0.2),
];

/// A per-seed draw of the noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mix {
    /// syzbot's record (module docs).
    Syzbot,
}

impl Mix {
    /// The scenario's noise with q and the unrelated-crash rate of `seed`.
    pub fn noise(self, base: Noise, seed: u64) -> Noise {
        let mut s = Stream::new(&[seed, tag::MIX]);
        let (u, v) = (s.unit(), s.unit());
        let &(_, lo, hi) = BUCKETS
            .iter()
            .find(|b| u < b.0)
            .unwrap_or(&BUCKETS[BUCKETS.len() - 1]);
        Noise {
            q: if lo == hi { lo } else { lo + (hi - lo) * v },
            unrelated: 1.0 - (1.0 - UNRELATED_ROUNDS).powf(1.0 / ROUND_RUNS as f64),
            ..base
        }
    }
}

/// Label of the rate bucket `q` falls in.
pub fn bucket(q: f64) -> &'static str {
    match q {
        q if q >= 1.0 => "q=1",
        q if q >= 0.9 => "q in [0.9,1)",
        q if q >= 0.5 => "q in [0.5,0.9)",
        q if q >= 0.2 => "q in [0.2,0.5)",
        _ => "q < 0.2",
    }
}

/// Accuracy, calibration, runs and hours per rate bucket of every mix
/// scenario.
pub fn table(scenarios: &[Scenario], trials: &[Trial], strategies: &[Strategy]) -> String {
    let mut s = String::new();
    for sc in scenarios.iter().filter(|sc| sc.mix.is_some()) {
        let mine: Vec<&Trial> = trials.iter().filter(|t| t.scenario == sc.name).collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n== {} by reproduction rate ==", sc.name);
        let _ = writeln!(
            s,
            "{:<15} {:<8} {:>5} {:>5} {:>13} {:>8} {:>8}",
            "bucket", "strategy", "seeds", "acc", "conf>=.99 ok", "runs", "hours"
        );
        for b in [
            "q=1",
            "q in [0.9,1)",
            "q in [0.5,0.9)",
            "q in [0.2,0.5)",
            "q < 0.2",
        ] {
            let ts: Vec<&Trial> = mine.iter().copied().filter(|t| bucket(t.q) == b).collect();
            if ts.is_empty() {
                continue;
            }
            for &st in strategies {
                let rs: Vec<(&Trial, &super::Tally)> = ts
                    .iter()
                    .filter_map(|t| t.results.iter().find(|r| r.0 == st).map(|r| (*t, &r.1)))
                    .collect();
                if rs.is_empty() {
                    continue;
                }
                let k = rs.len() as f64;
                let ok = rs.iter().filter(|(t, r)| is_correct(t, r)).count() as f64;
                let conf: Vec<_> = rs
                    .iter()
                    .filter(|(_, r)| r.answered() && r.confidence.is_some_and(|c| c >= CONFIDENT))
                    .collect();
                let conf_ok = conf.iter().filter(|(t, r)| is_correct(t, r)).count();
                let calib = if conf.is_empty() {
                    format!("{:>3} {:>5}", 0, "-")
                } else {
                    format!(
                        "{:>3} {:>5.2}",
                        conf.len(),
                        conf_ok as f64 / conf.len() as f64
                    )
                };
                let runs = rs.iter().map(|(_, r)| r.runs as f64).sum::<f64>() / k;
                let hours = rs.iter().map(|(_, r)| r.hours()).sum::<f64>() / k;
                let _ = writeln!(
                    s,
                    "{:<15} {:<8} {:>5} {:>5.2} {:>13} {:>8.1} {:>8.2}",
                    b,
                    st.name(),
                    rs.len(),
                    ok / k,
                    calib,
                    runs,
                    hours
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_record() {
        let n = 20_000;
        let mut count = std::collections::BTreeMap::new();
        for seed in 0..n {
            let z = Mix::Syzbot.noise(Noise::default(), seed);
            assert!(z.q > 0.0 && z.q <= 1.0);
            *count.entry(bucket(z.q)).or_insert(0usize) += 1;
            assert_eq!(z, Mix::Syzbot.noise(Noise::default(), seed));
        }
        let share = |b| count.get(b).copied().unwrap_or(0) as f64 / n as f64;
        for (b, want) in [
            ("q=1", 0.85),
            ("q in [0.9,1)", 0.06),
            ("q in [0.5,0.9)", 0.04),
            ("q in [0.2,0.5)", 0.02),
            ("q < 0.2", 0.03),
        ] {
            assert!((share(b) - want).abs() < 0.01, "{b}: {}", share(b));
        }
        // 22% of 10-run rounds show an unrelated crash.
        let u = Mix::Syzbot.noise(Noise::default(), 1).unrelated;
        let rounds = 1.0 - (1.0 - u).powi(10);
        assert!((rounds - 0.22).abs() < 1e-9, "{rounds}");
    }
}
