//! Where culprit keeps things by default: the per-campaign workdir and the
//! per-repository kernel build tree, both under the user's cache directory.

use anyhow::{Context, Result};
use culprit_git::Repo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("culprit")
}

pub fn default_workdir(key: &str) -> PathBuf {
    let id = hex::encode(&Sha256::digest(key.as_bytes())[..6]);
    cache_root().join(id)
}

/// The shared kernel build tree of a repository: one per repository (its
/// worktrees share it), named after it so that a user can find it.
pub fn default_build_tree(repo: &Path) -> Result<PathBuf> {
    let r = Repo::open(repo).with_context(|| format!("opening {}", repo.display()))?;
    let common = r
        .common_dir()
        .context("finding the repository's git directory")?;
    Ok(cache_root()
        .join("trees")
        .join(crate::backend::kernel::tree_name(&common)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_build_tree_is_one_per_repository() {
        let d = tempfile::tempdir().unwrap();
        let git = |dir: &Path, args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@e"])
                .args(args)
                .current_dir(dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        let (a, b) = (d.path().join("linux"), d.path().join("other tree"));
        for r in [&a, &b] {
            std::fs::create_dir_all(r).unwrap();
            git(r, &["init", "-q"]);
            git(r, &["commit", "-q", "--allow-empty", "-m", "x"]);
        }
        git(&a, &["worktree", "add", "-q", "--detach", "../wt"]);
        let ta = default_build_tree(&a).unwrap();
        assert_eq!(ta, default_build_tree(&d.path().join("wt")).unwrap());
        assert_eq!(ta, default_build_tree(&a.join(".")).unwrap());
        let tb = default_build_tree(&b).unwrap();
        assert_ne!(ta, tb);
        assert!(ta.starts_with(cache_root().join("trees")), "{ta:?}");
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name(&ta).starts_with("linux-"), "{ta:?}");
        assert!(name(&tb).starts_with("other_tree-"), "{tb:?}");
        assert!(default_build_tree(&d.path().join("missing")).is_err());
    }
}
