//! Choosing between "run a round on built commits" and "build a commit" by
//! expected information per unit of cost.
//!
//! A round of up to `vms` runs costs one run duration of wall time plus a
//! small per-run charge (runs are a budget too, and a run that tells little
//! should not be spent just because a VM is idle). A build costs its own time
//! plus the round that must follow before it tells anything.

use crate::dag::NodeId;

/// Expected information (bits) of r runs, for r = 0..=r_max.
#[derive(Debug, Clone)]
pub struct Choice {
    pub node: NodeId,
    pub curve: Vec<f64>,
}

#[derive(Debug, Clone, Copy)]
pub struct Costs {
    pub build: f64,
    pub round: f64,
    pub run: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub alloc: Vec<(NodeId, u32)>,
    pub value: f64,
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildPlan {
    pub node: NodeId,
    pub value: f64,
    pub rate: f64,
}

/// Greedy allocation of at most `max_runs` runs over built commits: each
/// step adds the block of runs on one commit that most improves the round's
/// information per cost, and stops when no block improves it.
pub fn best_round(options: &[Choice], costs: Costs, max_runs: u32) -> Option<RunPlan> {
    let mut given = vec![0u32; options.len()];
    let (mut value, mut used) = (0.0f64, 0u32);
    let cost = |n: u32| costs.round + n as f64 * costs.run;
    loop {
        let mut best: Option<(f64, usize, u32, f64)> = None;
        for (i, o) in options.iter().enumerate() {
            let r0 = given[i];
            let top = (o.curve.len() as u32 - 1).min(r0 + max_runs - used);
            for r in r0 + 1..=top {
                let gain = o.curve[r as usize] - o.curve[r0 as usize];
                if gain <= 1e-12 {
                    continue;
                }
                let rate = (value + gain) / cost(used + r - r0);
                // Ties: the earlier option (lower node) and fewer runs win.
                if best.is_none_or(|(b, _, _, _)| rate > b) {
                    best = Some((rate, i, r, gain));
                }
            }
        }
        match best {
            Some((rate, i, r, gain)) if used == 0 || rate > value / cost(used) => {
                used += r - given[i];
                given[i] = r;
                value += gain;
            }
            _ => break,
        }
    }
    if used == 0 {
        return None;
    }
    let mut alloc: Vec<(NodeId, u32)> = options
        .iter()
        .zip(&given)
        .filter(|(_, &g)| g > 0)
        .map(|(o, &g)| (o.node, g))
        .collect();
    alloc.sort();
    Some(RunPlan {
        alloc,
        value,
        rate: value / cost(used),
    })
}

/// The unbuilt commit whose build and first round promise the most
/// information per cost (curves already discounted by the risk that the
/// build fails).
pub fn best_build(options: &[Choice], costs: Costs) -> Option<BuildPlan> {
    let mut best: Option<BuildPlan> = None;
    for o in options {
        for (r, &v) in o.curve.iter().enumerate().skip(1) {
            if v <= 1e-12 {
                continue;
            }
            let rate = v / (costs.build + costs.round + r as f64 * costs.run);
            if best.as_ref().is_none_or(|b| rate > b.rate) {
                best = Some(BuildPlan {
                    node: o.node,
                    value: v,
                    rate,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const COSTS: Costs = Costs {
        build: 10.0,
        round: 1.0,
        run: 0.5,
    };

    #[test]
    fn one_run_when_one_is_decisive() {
        let o = vec![Choice {
            node: 3,
            curve: vec![0.0, 1.0, 1.0, 1.0],
        }];
        let p = best_round(&o, COSTS, 10).unwrap();
        assert_eq!(p.alloc, vec![(3, 1)]);
    }

    #[test]
    fn spreads_runs_across_commits() {
        let curve = vec![0.0, 0.3, 0.55, 0.7, 0.8, 0.85];
        let o = vec![
            Choice {
                node: 7,
                curve: curve.clone(),
            },
            Choice { node: 2, curve },
        ];
        let p = best_round(&o, COSTS, 10).unwrap();
        let total: u32 = p.alloc.iter().map(|a| a.1).sum();
        assert!(total <= 10);
        assert_eq!(p.alloc.len(), 2, "{:?}", p.alloc);
        let p = best_round(&o, COSTS, 1).unwrap();
        assert_eq!(p.alloc, vec![(7, 1)]);
    }

    #[test]
    fn build_prefers_value_per_cost() {
        let o = vec![
            Choice {
                node: 1,
                curve: vec![0.0, 0.2, 0.3],
            },
            Choice {
                node: 2,
                curve: vec![0.0, 0.9, 0.95],
            },
        ];
        assert_eq!(best_build(&o, COSTS).unwrap().node, 2);
        assert!(best_build(&[], COSTS).is_none());
    }
}
