//! Scenarios: a history and the noise and costs to simulate on it.

use super::history::{self, History};
use super::synth;
use super::world::{Costs, Drift, Noise};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The real git DAG, relative to the project root.
pub const GIT_DAG: &str = "../shared/testdata/dags/git-v2.40.0..v2.45.0.tsv";

/// One scenario, as written in the scenarios file (every field but `name` and
/// `history` is optional; noise defaults to none, costs to the reference log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// "git" (the real git DAG), "tsv:PATH", "cut:PATH:BAD:GOOD[,GOOD...]"
    /// (a smaller range of a DAG file), "repo:PATH:BAD:GOOD[,GOOD...]",
    /// "linear:N" or "kernel:N" (synthetic, a new one per seed).
    pub history: String,
    #[serde(default = "one")]
    pub q: f64,
    #[serde(default)]
    pub unrelated: f64,
    #[serde(default)]
    pub untestable: f64,
    #[serde(default)]
    pub build_fail: f64,
    #[serde(default)]
    pub false_target: f64,
    /// Rate on old commits with the bug (drift); absent: no drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q_old: Option<f64>,
    #[serde(default)]
    pub drift: Drift,
    #[serde(default = "half")]
    pub drift_at: f64,
    /// Commits before the culprit where `false_target` applies (0: all
    /// commits without the bug).
    #[serde(default)]
    pub false_region: u32,
    #[serde(default = "build_min")]
    pub build_min: f64,
    #[serde(default = "round_min")]
    pub round_min: f64,
    #[serde(default = "vms")]
    pub vms: u32,
    /// Per candidate: its revert on the bad commit conflicts.
    #[serde(default = "revert_conflict")]
    pub revert_conflict: f64,
    /// Whether a merge may be the culprit.
    #[serde(default)]
    pub merge_culprits: bool,
    /// culprit's builders, with the timeline time model; None: one action
    /// at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builders: Option<u32>,
    /// Draw q and the unrelated-crash rate per seed (overrides both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<super::mix::Mix>,
}

fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}
fn revert_conflict() -> f64 {
    Noise::default().revert_conflict
}
fn build_min() -> f64 {
    Costs::default().build_min
}
fn round_min() -> f64 {
    Costs::default().round_min
}
fn vms() -> u32 {
    Costs::default().vms
}

impl Scenario {
    /// A scenario without noise, at the reference costs.
    pub fn new(name: &str, history: &str) -> Scenario {
        Scenario {
            name: name.to_string(),
            history: history.to_string(),
            q: 1.0,
            unrelated: 0.0,
            untestable: 0.0,
            build_fail: 0.0,
            false_target: 0.0,
            q_old: None,
            drift: Drift::Step,
            drift_at: half(),
            false_region: 0,
            revert_conflict: revert_conflict(),
            build_min: build_min(),
            round_min: round_min(),
            vms: vms(),
            merge_culprits: false,
            builders: None,
            mix: None,
        }
    }

    pub fn noise(&self) -> Noise {
        Noise {
            q: self.q,
            q_old: self.q_old,
            drift: self.drift,
            drift_at: self.drift_at,
            false_region: self.false_region,
            unrelated: self.unrelated,
            untestable: self.untestable,
            build_fail: self.build_fail,
            false_target: self.false_target,
            revert_conflict: self.revert_conflict,
        }
    }

    pub fn costs(&self) -> Costs {
        Costs {
            build_min: self.build_min,
            round_min: self.round_min,
            vms: self.vms,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let n = self.noise();
        for (what, p) in [
            ("q", n.q),
            ("unrelated", n.unrelated),
            ("untestable", n.untestable),
            ("build_fail", n.build_fail),
            ("false_target", n.false_target),
            ("q_old", n.q_old.unwrap_or(0.5)),
            ("drift_at", n.drift_at),
            ("revert_conflict", n.revert_conflict),
        ] {
            if !(0.0..=1.0).contains(&p) {
                bail!("scenario {}: {what} = {p} is not a probability", self.name);
            }
        }
        if self.builders == Some(0) {
            bail!("scenario {}: builders must be at least 1", self.name);
        }
        if self.q <= 0.0 || self.untestable >= 1.0 || self.vms == 0 {
            bail!(
                "scenario {}: q > 0, untestable < 1 and vms > 0 are needed",
                self.name
            );
        }

        HistorySpec::parse(&self.history)?;
        Ok(())
    }
}

/// The file format: `[[scenario]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scenario: Vec<Scenario>,
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Scenario>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: File = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for s in &f.scenario {
        s.validate()?;
    }
    Ok(f.scenario)
}

/// The built-in set: the target setting on the real git DAG at four
/// reproduction rates, and smaller classes.
pub fn builtin() -> Vec<Scenario> {
    let base = |name: &str, history: &str, q: f64| Scenario {
        q,
        unrelated: 0.02,
        untestable: 0.05,
        build_fail: 0.05,
        ..Scenario::new(name, history)
    };
    let mut v: Vec<Scenario> = [1.0, 0.5, 0.2, 0.1]
        .iter()
        .map(|&q| base(&format!("git q={q}"), "git", q))
        .collect();
    v.push(Scenario {
        unrelated: 0.0,
        untestable: 0.0,
        build_fail: 0.0,
        ..base("linear-1000 clean", "linear:1000", 1.0)
    });
    v.push(Scenario {
        unrelated: 0.05,
        untestable: 0.10,
        false_target: 0.01,
        ..base("kernel-2000 q=0.5 harsh", "kernel:2000", 0.5)
    });
    v.push(Scenario {
        false_target: 0.005,
        merge_culprits: true,
        ..base("kernel-500 q=0.2 merge culprits", "kernel:500", 0.2)
    });
    v
}

/// Where a history comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HistorySpec {
    Tsv(PathBuf),
    /// The range `BAD --not GOOD...` within a DAG file.
    Cut {
        path: PathBuf,
        bad: String,
        goods: Vec<String>,
    },
    Repo {
        path: PathBuf,
        bad: String,
        goods: Vec<String>,
    },
    Linear(usize),
    Kernel(usize),
}

impl HistorySpec {
    pub fn parse(s: &str) -> anyhow::Result<HistorySpec> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let size = || -> anyhow::Result<usize> {
            let n: usize = rest
                .parse()
                .with_context(|| format!("history {s}: size expected"))?;
            if n < 2 {
                bail!("history {s}: at least 2 commits");
            }
            Ok(n)
        };
        Ok(match kind {
            "git" if rest.is_empty() => HistorySpec::Tsv(git_dag()),
            "tsv" => HistorySpec::Tsv(PathBuf::from(rest)),
            "repo" | "cut" => {
                let mut p = rest.rsplitn(3, ':');
                let (Some(goods), Some(bad), Some(path)) = (p.next(), p.next(), p.next()) else {
                    bail!("history {s}: expected {kind}:PATH:BAD:GOOD[,GOOD...]");
                };
                let (path, bad) = (PathBuf::from(path), bad.to_string());
                let goods = goods.split(',').map(str::to_string).collect();
                if kind == "repo" {
                    HistorySpec::Repo { path, bad, goods }
                } else {
                    HistorySpec::Cut { path, bad, goods }
                }
            }
            "linear" => HistorySpec::Linear(size()?),
            "kernel" => HistorySpec::Kernel(size()?),
            _ => bail!(
                "history {s}: expected git, tsv:PATH, cut:PATH:BAD:GOOD, repo:PATH:BAD:GOOD, linear:N or kernel:N"
            ),
        })
    }

    /// Synthetic histories are drawn anew for every seed.
    pub fn per_seed(&self) -> bool {
        matches!(self, HistorySpec::Linear(_) | HistorySpec::Kernel(_))
    }

    pub fn load(&self, seed: u64) -> anyhow::Result<Arc<History>> {
        Ok(Arc::new(match self {
            HistorySpec::Tsv(p) => history::load_tsv(p)?,
            HistorySpec::Repo { path, bad, goods } => history::load_repo(path, bad, goods)?,
            HistorySpec::Cut { path, bad, goods } => history::load_tsv_cut(path, bad, goods)?,
            HistorySpec::Linear(n) => synth::linear(*n, seed)?,
            HistorySpec::Kernel(n) => synth::kernel(*n, seed)?,
        }))
    }
}

/// The real git DAG: from the working directory (the project root), else
/// from beside the source tree this binary was built from or one of its
/// parent directories (a worktree nested next to `shared/`).
pub fn git_dag() -> PathBuf {
    let here = PathBuf::from(GIT_DAG);
    if here.exists() {
        return here;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let rel = GIT_DAG.trim_start_matches("../");
    root.ancestors()
        .skip(1)
        .map(|d| d.join(rel))
        .find(|p| p.exists())
        .unwrap_or_else(|| root.join(GIT_DAG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_file_parses_with_defaults_and_rejects_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(
            &p,
            "[[scenario]]\nname = \"a\"\nhistory = \"linear:100\"\nq = 0.5\n\n\
             [[scenario]]\nname = \"b\"\nhistory = \"repo:/x:y:HEAD:v1,v2\"\nvms = 4\n",
        )
        .unwrap();
        let s = load(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].q, 0.5);
        assert_eq!(s[0].costs(), Costs::default());
        assert_eq!(s[1].q, 1.0);
        assert_eq!(
            HistorySpec::parse(&s[1].history).unwrap(),
            HistorySpec::Repo {
                path: "/x:y".into(),
                bad: "HEAD".into(),
                goods: vec!["v1".into(), "v2".into()]
            }
        );
        assert_eq!(
            HistorySpec::parse("cut:d.tsv:786a3e4b:2d019f46").unwrap(),
            HistorySpec::Cut {
                path: "d.tsv".into(),
                bad: "786a3e4b".into(),
                goods: vec!["2d019f46".into()]
            }
        );
        assert!(HistorySpec::parse("cut:d.tsv:786a3e4b")
            .unwrap_err()
            .to_string()
            .contains("expected cut:PATH:BAD:GOOD"));
        std::fs::write(
            &p,
            "[[scenario]]\nname = \"a\"\nhistory = \"linear:100\"\nq = 2\n",
        )
        .unwrap();
        assert!(load(&p).is_err());
        std::fs::write(
            &p,
            "[[scenario]]\nname = \"d\"\nhistory = \"linear:100\"\nq = 0.9\nq_old = 0.1\n\
             drift = \"merge\"\ndrift_at = 0.25\nfalse_target = 0.05\nfalse_region = 20\n",
        )
        .unwrap();
        let s = load(&p).unwrap();
        let n = s[0].noise();
        assert_eq!(
            (n.q_old, n.drift, n.drift_at),
            (Some(0.1), Drift::Merge, 0.25)
        );
        assert_eq!((n.false_target, n.false_region), (0.05, 20));
        std::fs::write(
            &p,
            "[[scenario]]\nname = \"d\"\nhistory = \"linear:100\"\ndrift = \"sideways\"\n",
        )
        .unwrap();
        assert!(load(&p).is_err());
        std::fs::write(&p, "[[scenario]]\nname = \"a\"\nhistory = \"x\"\n").unwrap();
        assert!(load(&p).is_err());
        for s in builtin() {
            s.validate().unwrap();
        }
    }
}
