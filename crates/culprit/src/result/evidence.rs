//! The weak points of an answer, as the engine sees them: a reproduction
//! rate that changes along history, target crashes on commits the answer
//! calls clean, and tested commits whose state is still uncertain with the
//! runs that would settle them.

use serde::Serialize;

use crate::campaign::Plan;
use crate::print::short;
use culprit_bisect::Status;

/// Below this posterior probability a change of rate is not reported.
const DRIFT_SHOWN: f64 = 0.5;
/// From this posterior probability on, suspicious crashes are called a
/// false-target region.
const REGION_SHOWN: f64 = 0.5;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceDoc {
    /// Posterior probability that the reproduction rate changes among the
    /// tested commits (usually: the reproducer fires less on older code).
    pub drift: f64,
    /// The rate on the older side of that change, when it is likely.
    pub q_old: Option<f64>,
    /// Posterior probability, beyond the prior's, that the target crashes
    /// just below the answer come from an older bug with the same title (a
    /// false-target region).
    pub region: f64,
    /// Posterior probability, beyond the prior's, that target crashes on
    /// commits without the bug come from a background: the title showing
    /// at a low rate anywhere in the range (a generic title).
    pub background: f64,
    /// Commits that showed the target although the answer says the bug is
    /// not there: a coincidence or an older bug with the same title.
    pub suspicious: Vec<Suspicious>,
    /// Tested commits whose state is still uncertain, most uncertain first.
    pub weak: Vec<Weak>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Suspicious {
    pub commit: String,
    pub crashes: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Weak {
    pub commit: String,
    /// Clean runs more that would settle it at the current rates.
    pub more_runs: u32,
}

impl EvidenceDoc {
    pub fn new(plan: &Plan, st: &Status) -> EvidenceDoc {
        let sha = |x: u32| plan.commits[x as usize].sha.clone();
        EvidenceDoc {
            drift: st.drift,
            q_old: (st.drift >= DRIFT_SHOWN).then_some(st.q_old),
            region: st.region,
            background: st.background,
            suspicious: st
                .suspicious
                .iter()
                .map(|&(x, k)| Suspicious {
                    commit: sha(x),
                    crashes: k,
                })
                .collect(),
            weak: st
                .weak
                .iter()
                .map(|&(x, more)| Weak {
                    commit: sha(x),
                    more_runs: more,
                })
                .collect(),
        }
    }

    /// Lines for the text result; none when there is nothing to say.
    pub fn lines(&self, q: f64) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(old) = self.q_old {
            let how = if old < q { "fires less" } else { "fires more" };
            out.push(format!(
                "the reproducer {how} on older commits ({:.0}% probable): rate {q:.2} on recent ones, {old:.2} on older ones",
                self.drift * 100.0
            ));
        }
        if !self.suspicious.is_empty() {
            let list: Vec<String> = self
                .suspicious
                .iter()
                .map(|s| format!("{} ({}x)", short(&s.commit), s.crashes))
                .collect();
            let why = if self.region >= REGION_SHOWN {
                format!(
                    "read as an older bug with the same title just below the answer, {:.0}% probable",
                    self.region * 100.0
                )
            } else if self.background >= REGION_SHOWN {
                format!(
                    "read as the title showing at a low rate on commits without the bug anywhere in the range, {:.0}% probable",
                    self.background * 100.0
                )
            } else {
                "a coincidence, or an older bug with the same title".to_string()
            };
            out.push(format!(
                "suspicious: the target crashed on commits the answer calls clean ({why}): {}",
                list.join(", ")
            ));
        }
        if !self.weak.is_empty() {
            let list: Vec<String> = self
                .weak
                .iter()
                .take(5)
                .map(|w| format!("{} (~{} more runs)", short(&w.commit), w.more_runs))
                .collect();
            out.push(format!("weak evidence on: {}", list.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(region: f64) -> EvidenceDoc {
        EvidenceDoc {
            drift: 0.0,
            q_old: None,
            region,
            background: 0.0,
            suspicious: vec![Suspicious {
                commit: "0123456789abcdef0123456789abcdef01234567".to_string(),
                crashes: 3,
            }],
            weak: Vec::new(),
        }
    }

    #[test]
    fn suspicious_crashes_say_whether_they_read_as_an_older_bug() {
        let likely = doc(0.83).lines(0.9);
        assert_eq!(likely.len(), 1);
        assert!(
            likely[0].contains("older bug with the same title just below the answer, 83% probable"),
            "{likely:?}"
        );
        assert!(likely[0].contains("(3x)"), "{likely:?}");
        let unlikely = doc(0.2).lines(0.9);
        assert!(unlikely[0].contains("a coincidence, or"), "{unlikely:?}");
        assert!(!unlikely[0].contains("probable"), "{unlikely:?}");
        let mut generic = doc(0.1);
        generic.background = 0.7;
        let generic = generic.lines(0.9);
        assert!(
            generic[0].contains("without the bug anywhere in the range, 70% probable"),
            "{generic:?}"
        );
        // Nothing suspicious, nothing to say, whatever the belief.
        let mut none = doc(0.9);
        none.suspicious.clear();
        assert!(none.lines(0.9).is_empty());
    }
}
