//! Older commits to try as the good end of a range: release tags that are
//! ancestors of the bad commit ([`Repo::release_tags`], the way syzbot
//! walks back over releases), and for histories without release tags,
//! commits further and further back along the first-parent line
//! ([`Repo::first_parent_back`]).
//!
//! Read-only: nothing here writes to the repository.

use crate::repo::{GitError, Repo};

/// A release tag and the commit it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The tag's name, e.g. `v6.1`.
    pub tag: String,
    /// The commit the tag names (annotated tags peeled).
    pub commit: String,
    /// Major, minor and patch level (0 for `vX.Y`).
    pub version: [u32; 3],
}

/// The version a tag names if it names a release: `vX.Y` or `vX.Y.Z`,
/// decimal numbers without leading zeros (`v6.1-rc3`, `v6.1.0.1`, `6.1`,
/// `v6.x`, `v6.01` are not releases).
pub fn release_version(tag: &str) -> Option<[u32; 3]> {
    let rest = tag.strip_prefix('v')?;
    let parts: Vec<&str> = rest.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut v = [0u32; 3];
    for (slot, p) in v.iter_mut().zip(&parts) {
        let leading_zero = p.len() > 1 && p.starts_with('0');
        if p.is_empty() || leading_zero || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    Some(v)
}

/// A commit some way back from the bad commit along its first parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Back {
    /// How many first-parent steps back from the bad commit.
    pub distance: u32,
    pub commit: String,
    /// The first-parent line ends here (a commit without parents).
    pub root: bool,
}

impl Repo {
    /// The release tags (see [`release_version`]) whose commit is an
    /// ancestor of `bad` other than `bad` itself, newest version first
    /// (equal versions by tag name). Tags naming the same commit as an
    /// earlier one in that order are left out.
    pub fn release_tags(&self, bad: &str) -> Result<Vec<Release>, GitError> {
        let bad = self.resolve(bad)?;
        let merged = format!("--merged={bad}");
        let fmt = "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)";
        let out = self.git(&["for-each-ref", &merged, fmt, "refs/tags/"])?;
        let mut found = Vec::new();
        for line in out.lines() {
            let f: Vec<&str> = line.split('\0').collect();
            let [tag, kind, sha, peeled_kind, peeled] = f[..] else {
                return Err(GitError::Parse {
                    args: "for-each-ref refs/tags/".into(),
                    line: line.to_string(),
                });
            };
            let Some(version) = release_version(tag) else {
                continue;
            };
            let commit = match (kind, peeled_kind) {
                ("commit", _) => sha.to_string(),
                ("tag", "commit") => peeled.to_string(),
                // A tag of a tag: let git peel it all the way.
                _ => self.resolve(&format!("refs/tags/{tag}"))?,
            };
            if commit != bad {
                found.push(Release {
                    tag: tag.to_string(),
                    commit,
                    version,
                });
            }
        }
        found.sort_by(|a, b| b.version.cmp(&a.version).then_with(|| a.tag.cmp(&b.tag)));
        let mut seen = std::collections::HashSet::new();
        found.retain(|r| seen.insert(r.commit.clone()));
        Ok(found)
    }

    /// How many commits `new` has that `old` does not (`git rev-list
    /// --count old..new`): the size of the range between two walk steps.
    pub fn count_between(&self, old: &str, new: &str) -> Result<u64, GitError> {
        let spec = format!("{old}..{new}");
        let out = self.git(&["rev-list", "--count", &spec, "--"])?;
        out.trim().parse().map_err(|_| GitError::Parse {
            args: format!("rev-list --count {spec}"),
            line: out.trim().to_string(),
        })
    }

    /// The commits `steps` first-parent steps back from `bad` (steps taken
    /// in increasing order, duplicates once), for walking back with
    /// doubling steps where there are no release tags. A step past the
    /// start of history gives the first-parent root instead, and the list
    /// ends there (so it ends with `root: true` exactly when history was
    /// exhausted or a step landed on the root).
    pub fn first_parent_back(&self, bad: &str, steps: &[u32]) -> Result<Vec<Back>, GitError> {
        let bad = self.resolve(bad)?;
        let mut steps = steps.to_vec();
        steps.sort_unstable();
        steps.dedup();
        let mut out = Vec::new();
        for n in steps {
            let skip = format!("--skip={n}");
            let line = self.git(&[
                "rev-list",
                "--first-parent",
                "--parents",
                "--max-count=1",
                &skip,
                &bad,
                "--",
            ])?;
            let mut ids = line.split_whitespace();
            match ids.next() {
                Some(sha) => {
                    let root = ids.next().is_none();
                    out.push(Back {
                        distance: n,
                        commit: sha.to_string(),
                        root,
                    });
                    if root {
                        break;
                    }
                }
                None => {
                    let count = self.git(&["rev-list", "--first-parent", "--count", &bad, "--"])?;
                    let count: u32 = count.trim().parse().map_err(|_| GitError::Parse {
                        args: "rev-list --count".into(),
                        line: count.trim().to_string(),
                    })?;
                    let distance = count.saturating_sub(1);
                    let root = self
                        .git(&[
                            "rev-list",
                            "--first-parent",
                            "--max-count=1",
                            &format!("--skip={distance}"),
                            &bad,
                            "--",
                        ])?
                        .trim()
                        .to_string();
                    if out.last().map(|b: &Back| &b.commit) != Some(&root) {
                        out.push(Back {
                            distance,
                            commit: root,
                            root: true,
                        });
                    }
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::release_version;

    #[test]
    fn only_plain_versions_are_releases() {
        assert_eq!(release_version("v6.1"), Some([6, 1, 0]));
        assert_eq!(release_version("v5.15.12"), Some([5, 15, 12]));
        assert_eq!(release_version("v2.6.39"), Some([2, 6, 39]));
        assert_eq!(release_version("v3.0"), Some([3, 0, 0]));
        for not in [
            "v6.1-rc3",
            "v6",
            "6.1",
            "v6.1.2.3",
            "v6.x",
            "v6..1",
            "v6.1.",
            "vv6.1",
            "v6.1a",
            "v+6.1",
            "V6.1",
            "next-20240101",
            "v6.01",
            "v06.1",
        ] {
            assert_eq!(release_version(not), None, "{not}");
        }
    }
}
