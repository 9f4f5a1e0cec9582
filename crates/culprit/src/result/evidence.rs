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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceDoc {
    /// Posterior probability that the reproduction rate changes among the
    /// tested commits (usually: the reproducer fires less on older code).
    pub drift: f64,
    /// The rate on the older side of that change, when it is likely.
    pub q_old: Option<f64>,
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
            out.push(format!(
                "suspicious: the target crashed on commits the answer calls clean (a coincidence, or an older bug with the same title): {}",
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
