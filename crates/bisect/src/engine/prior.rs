//! The engine's prior over culprits: the caller's weights, merges and
//! docs-only commits. What the prior says of a commit changes no evidence.

use super::Engine;
use crate::dag::{Dag, NodeId};

impl Engine {
    /// Sets the prior over "commit i introduced the bug": one relative
    /// weight per DAG node (weights of good nodes are ignored; negative or
    /// non-finite ones count as 0). The commits share `1 - older_prior` in
    /// proportion to their weights; a weight of 0 rules a commit out. All
    /// weights 0 means uniform, as without a call. Merges keep their factor
    /// `Config::merge_prior` on top, declared docs-only commits
    /// `Config::docs_prior`. Applies to every later decision and
    /// status.
    ///
    /// Panics if `weights.len()` is not the number of DAG nodes.
    pub fn set_prior(&mut self, weights: &[f64]) {
        assert_eq!(
            weights.len(),
            self.dag.len(),
            "set_prior needs one weight per DAG node"
        );
        self.weights = Some(weights.to_vec());
        self.reweigh();
    }

    /// Declares the commits whose change cannot reach the binary under test
    /// (documentation only, by their paths): one flag per DAG node. Such a
    /// commit is a culprit `Config::docs_prior` times as likely as others
    /// (not 0: the caller's rule may be wrong for this bug), and its age
    /// along history is that of the nearest first-parent ancestor that
    /// changes the binary, whose binary it runs: a docs-only commit on a
    /// branch forked long ago runs old code however late it landed, and
    /// fires as old code does. Merges are never docs-only. Applies to every
    /// later decision and status.
    ///
    /// Panics if `docs_only.len()` is not the number of DAG nodes.
    pub fn set_docs_only(&mut self, docs_only: &[bool]) {
        let n = self.dag.len();
        assert_eq!(
            docs_only.len(),
            n,
            "set_docs_only needs one flag per DAG node"
        );
        for (x, &docs) in docs_only.iter().enumerate() {
            // Parents come first in topological order.
            self.aged_as[x] = match self.dag.parents(x as NodeId) {
                [p] if docs => self.aged_as[*p as usize],
                _ => x as NodeId,
            };
        }
        self.reweigh();
    }

    pub(super) fn reweigh(&mut self) {
        self.prior = weighted(
            &self.dag,
            self.weights.as_deref(),
            self.config.merge_prior,
            &self.aged_as,
            self.config.docs_prior,
        );
    }
}

/// The prior weights the posterior uses: the caller's (`None`: all 1) with
/// merges' multiplied by `merge_prior` and docs-only commits' (those aged
/// as another commit) by `docs_prior`. `None` when that is uniform.
fn weighted(
    dag: &Dag,
    weights: Option<&[f64]>,
    merge_prior: f64,
    aged_as: &[NodeId],
    docs_prior: f64,
) -> Option<Vec<f64>> {
    let positive = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
    let is_merge = |x: usize| dag.parents(x as NodeId).len() > 1;
    let is_docs = |x: usize| aged_as[x] as usize != x;
    let merge = positive(merge_prior);
    let docs = positive(docs_prior);
    let n = dag.len();
    if weights.is_none()
        && (merge == 1.0 || !(0..n).any(is_merge))
        && (docs == 1.0 || !(0..n).any(is_docs))
    {
        return None;
    }
    let w = (0..n)
        .map(|i| {
            let mut x = positive(weights.map_or(1.0, |w| w[i]));
            if is_merge(i) {
                x *= merge;
            }
            if is_docs(i) {
                x *= docs;
            }
            x
        })
        .collect();
    Some(w)
}
