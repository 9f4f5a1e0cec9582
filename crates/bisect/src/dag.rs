//! The commit graph of a bisection range, as dense indices.

/// Index of a commit in a [`Dag`].
pub type NodeId = u32;

#[derive(Debug, thiserror::Error)]
pub enum DagError {
    /// A parent index is not smaller than its child's: the input is not in
    /// topological order (parents first) or refers outside the graph.
    #[error("node {node} lists parent {parent}, which does not come before it")]
    NotTopological { node: NodeId, parent: NodeId },
    /// A good node was listed twice or is out of range.
    #[error("good node {0} is out of range or listed twice")]
    BadGood(NodeId),
}

/// Commits in topological order (every parent index is smaller than its
/// child's), stored as compressed parent lists.
///
/// Nodes flagged "good" are the user's good endpoints (or merge bases standing
/// in for them). They are evidence like any other commit, but they are not
/// culprit candidates: the bug is present at a good node only under the
/// hypothesis that it is older than every good commit.
#[derive(Debug, Clone)]
pub struct Dag {
    offsets: Vec<u32>,
    parents: Vec<NodeId>,
    good: Vec<bool>,
}

impl Dag {
    /// `parents[i]` are the parents of node `i` inside the graph; `good` lists
    /// the good endpoint nodes (edges to them are allowed and carry no
    /// culprit meaning).
    pub fn new(parents: Vec<Vec<NodeId>>, good: &[NodeId]) -> Result<Dag, DagError> {
        let n = parents.len();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut flat = Vec::new();
        offsets.push(0);
        for (i, ps) in parents.iter().enumerate() {
            for &p in ps {
                if p as usize >= i {
                    return Err(DagError::NotTopological {
                        node: i as NodeId,
                        parent: p,
                    });
                }
                flat.push(p);
            }
            offsets.push(flat.len() as u32);
        }
        let mut is_good = vec![false; n];
        for &g in good {
            if g as usize >= n || is_good[g as usize] {
                return Err(DagError::BadGood(g));
            }
            is_good[g as usize] = true;
        }
        Ok(Dag {
            offsets,
            parents: flat,
            good: is_good,
        })
    }

    pub fn len(&self) -> usize {
        self.good.len()
    }

    pub fn is_empty(&self) -> bool {
        self.good.is_empty()
    }

    pub fn parents(&self, n: NodeId) -> &[NodeId] {
        let (a, b) = (
            self.offsets[n as usize] as usize,
            self.offsets[n as usize + 1] as usize,
        );
        &self.parents[a..b]
    }

    pub fn is_good(&self, n: NodeId) -> bool {
        self.good[n as usize]
    }

    /// The good flag of every node, by index.
    pub fn good_flags(&self) -> &[bool] {
        &self.good
    }

    /// Nodes that may be the culprit (every node that is not good).
    pub fn candidates(&self) -> usize {
        self.good.iter().filter(|g| !**g).count()
    }
}
