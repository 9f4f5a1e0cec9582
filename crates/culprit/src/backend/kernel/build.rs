//! The build part of the kernel backend: one builder's checkout and build
//! directory, which build a commit reproducibly and keep its products in
//! the campaign's store (`kernels/<sha>/`: bzImage, effective .config,
//! build log, signature and compiler identity, vmlinux with debug info).
//!
//! Builder 1 has `tree/` and `build/` in the build tree (as with one
//! builder); builder K has `builder-K/tree/` and `builder-K/build/`. Each
//! pair has the same shape, so ccache (whose base directory is the pair's
//! parent) sees the same relative paths and flags in every builder and
//! their cache entries serve each other. A builder never touches another
//! builder's checkout or build directory, and writes only the store
//! directory of the commit it builds.

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use culprit_kernel::build::{Builder, Compiler};
use culprit_kernel::{config, signature, toolchain};
use culprit_proc::Cancel;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::settings::KernelSettings;
use super::vm::kernel_dir;
use crate::backend::{BuildResult, Progress};

/// The checkout and build directory of builder `k` (from 1) in the build
/// tree `root`.
pub fn builder_dirs(root: &Path, k: u32) -> (PathBuf, PathBuf) {
    let base = if k <= 1 {
        root.to_path_buf()
    } else {
        root.join(format!("builder-{k}"))
    };
    (base.join("tree"), base.join("build"))
}

/// The base config every commit's config is completed from: the user's
/// file, or tinyconfig plus what the VM needs (made once per campaign by
/// whichever builder needs it first, kept in `WORKDIR/base.config`).
pub struct BaseConfig {
    saved: PathBuf,
    text: Mutex<Option<String>>,
}

impl BaseConfig {
    pub fn new(given: Option<String>, workdir: &Path) -> Arc<BaseConfig> {
        Arc::new(BaseConfig {
            saved: workdir.join("base.config"),
            text: Mutex::new(given),
        })
    }

    fn get(&self, builder: &Builder, log: &Path, cancel: &Cancel) -> Result<String> {
        // Held while tinyconfig runs: the other builders wait for it
        // rather than make it again.
        let mut text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = text.as_ref() {
            return Ok(t.clone());
        }
        let t = match std::fs::read_to_string(&self.saved) {
            Ok(t) => t,
            Err(_) => {
                let t = config::tiny_vm_config(builder, log, cancel)
                    .context("making tinyconfig + VM options")?;
                std::fs::write(&self.saved, &t)?;
                t
            }
        };
        *text = Some(t.clone());
        Ok(t)
    }
}

/// One builder: a checkout and a build directory reused across commits.
pub struct TreeBuild {
    /// The repository bisected (read only).
    repo: Repo,
    tree: Worktree,
    builder: Builder,
    workdir: PathBuf,
    base: Arc<BaseConfig>,
}

impl TreeBuild {
    /// Opens (or creates, at `bad`) builder `k`'s checkout in `root`;
    /// `jobs` is its make -j.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        repo: &Repo,
        bad: &str,
        root: &Path,
        k: u32,
        s: &KernelSettings,
        jobs: usize,
        workdir: &Path,
        base: Arc<BaseConfig>,
        progress: Progress,
    ) -> Result<TreeBuild> {
        let (tree_dir, build_dir) = builder_dirs(root, k);
        let what = if k <= 1 {
            "culprit's worktree".to_string()
        } else {
            format!("the worktree of builder {k}")
        };
        let tree = Worktree::ensure(repo, &tree_dir, bad, progress)
            .with_context(|| format!("creating {what}"))?;
        let compiler = Compiler {
            cc: s.compiler.clone(),
            ccache: s
                .ccache
                .unwrap_or_else(|| culprit_kernel::have_tool("ccache")),
        };
        let mut builder = Builder::new(tree.dir(), &build_dir, compiler)?;
        builder.timeout = Duration::from_secs_f64(s.build_timeout());
        builder.jobs = jobs.max(1);
        Ok(TreeBuild {
            repo: repo.clone(),
            tree,
            builder,
            workdir: workdir.to_path_buf(),
            base,
        })
    }

    /// The checkout this builder builds in.
    pub fn dir(&self) -> &Path {
        self.tree.dir()
    }

    /// The kernel of `commit`: the one kept in the store, else built now
    /// under `cancel`. An `Err` is an infrastructure failure or a cancel;
    /// a commit that does not build is `Ok` with `ok: false`.
    pub fn build(
        &mut self,
        commit: &str,
        cancel: &Cancel,
        progress: Progress,
    ) -> Result<BuildResult> {
        match cached(&self.workdir, commit) {
            Some(r) => Ok(r),
            None => self.build_now(commit, cancel, progress),
        }
    }

    fn build_now(
        &mut self,
        commit: &str,
        cancel: &Cancel,
        progress: Progress,
    ) -> Result<BuildResult> {
        let start = Instant::now();
        let dir = kernel_dir(&self.workdir, commit);
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("build.log");
        self.tree
            .checkout(commit, progress)
            .with_context(|| format!("checking out {commit}"))?;
        let failed = |first_error: String, log: &Path| BuildResult {
            ok: false,
            signature: None,
            secs: start.elapsed().as_secs_f64(),
            first_error: Some(first_error),
            log: Some(log.to_path_buf()),
            config: None,
            symbols: None,
            info: vec![],
        };
        let cfg_log = dir.join("config.log");
        let base = self.base.get(&self.builder, &cfg_log, cancel)?;
        let source = Some((&self.repo, commit));
        let effective = match config::prepare(&self.builder, &base, &cfg_log, cancel, source) {
            Ok(t) => t,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e @ (culprit_kernel::Error::Io { .. } | culprit_kernel::Error::Process(_))) => {
                return Err(e.into())
            }
            Err(e) => return Ok(failed(e.to_string(), &cfg_log)),
        };
        std::fs::write(dir.join("config"), &effective)?;
        let out = match self.builder.make_with(&["bzImage"], &log, cancel, progress) {
            Ok(o) => o,
            Err(culprit_kernel::Error::Cancelled) => bail!("interrupted"),
            Err(e) => return Err(e.into()),
        };
        if !out.ok {
            return Ok(failed(
                out.first_error.unwrap_or_else(|| "make failed".into()),
                &log,
            ));
        }
        let build = &self.builder.build_dir;
        culprit_kernel::build::check_bzimage(build)?;
        let sig = signature::of_file(&build.join("vmlinux")).context("signing vmlinux")?;
        let compiler = toolchain::identity(build, &self.builder.compiler.cc, cancel);
        std::fs::copy(build.join("arch/x86/boot/bzImage"), dir.join("bzImage"))
            .context("keeping bzImage")?;
        let symbols = keep_symbols(&build.join("vmlinux"), &dir.join("vmlinux"), &effective)?;
        // Written last: its presence says the kernel is complete.
        std::fs::write(
            dir.join("build.txt"),
            format!(
                "signature: {}\ncompiler: {compiler}\nseconds: {:.1}\n",
                hex::encode(sig),
                out.secs
            ),
        )?;
        Ok(BuildResult {
            ok: true,
            signature: Some(sig),
            secs: start.elapsed().as_secs_f64(),
            first_error: None,
            log: Some(log),
            config: Some(dir.join("config")),
            symbols,
            info: vec![format!("compiler: {compiler}")],
        })
    }
}

/// The kept kernel of `commit`, if the store has a complete one.
fn cached(workdir: &Path, commit: &str) -> Option<BuildResult> {
    kept(&kernel_dir(workdir, commit))
}

/// The kernel kept in `dir` (a `kernels/<commit>/` directory), as a build
/// result that needs no rebuild; None unless it is complete.
pub fn kept(dir: &Path) -> Option<BuildResult> {
    let meta = std::fs::read_to_string(dir.join("build.txt")).ok()?;
    if !dir.join("bzImage").is_file() {
        return None;
    }
    let get = |k: &str| {
        meta.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .map(str::to_string)
    };
    let sig = hex::decode(get("signature")?).ok()?.try_into().ok()?;
    Some(BuildResult {
        ok: true,
        signature: Some(sig),
        secs: 0.0,
        first_error: None,
        log: Some(dir.join("build.log")),
        config: Some(dir.join("config")),
        symbols: Some(dir.join("vmlinux")).filter(|p| p.is_file()),
        info: vec![format!("compiler: {}", get("compiler")?)],
    })
}

/// Keeps the vmlinux of a build with debug info beside its bzImage, to
/// symbolise its crashes later. A hard link costs nothing (the linker
/// writes a new file for the next build); a copy where links fail.
fn keep_symbols(vmlinux: &Path, kept: &Path, config: &str) -> Result<Option<PathBuf>> {
    let parsed = config::parse(config);
    let debug = ["DEBUG_INFO", "DEBUG_INFO_DWARF5", "DEBUG_INFO_DWARF4"]
        .iter()
        .any(|o| parsed.get(*o).map(String::as_str) == Some("y"));
    let _ = std::fs::remove_file(kept);
    if !debug {
        return Ok(None);
    }
    if std::fs::hard_link(vmlinux, kept).is_err() {
        std::fs::copy(vmlinux, kept).context("keeping vmlinux")?;
    }
    Ok(Some(kept.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_one_keeps_the_one_builder_layout_and_all_pairs_have_one_shape() {
        let root = Path::new("/t");
        assert_eq!(
            builder_dirs(root, 1),
            (root.join("tree"), root.join("build"))
        );
        let (tree, build) = builder_dirs(root, 3);
        assert_eq!(tree, root.join("builder-3/tree"));
        assert_eq!(build, root.join("builder-3/build"));
        // ccache's base directory is the build directory's parent: the
        // checkout must sit beside it under the same name in every pair.
        for k in 1..=4 {
            let (t, b) = builder_dirs(root, k);
            assert_eq!(t.parent(), b.parent());
            assert_eq!(t.file_name(), Some("tree".as_ref()));
        }
    }

    #[test]
    fn a_kernel_without_its_metadata_is_not_kept() {
        let d = tempfile::tempdir().unwrap();
        let k = kernel_dir(d.path(), "abc");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(k.join("bzImage"), b"x").unwrap();
        assert!(cached(d.path(), "abc").is_none());
        let sig = "11".repeat(32);
        std::fs::write(
            k.join("build.txt"),
            format!("signature: {sig}\ncompiler: gcc (Debian) 12\nseconds: 1.0\n"),
        )
        .unwrap();
        let r = cached(d.path(), "abc").expect("kept");
        assert_eq!(r.signature, Some([0x11; 32]));
        assert_eq!(r.info, vec!["compiler: gcc (Debian) 12".to_string()]);
        std::fs::write(k.join("build.txt"), "signature: zz\ncompiler: gcc\n").unwrap();
        assert!(cached(d.path(), "abc").is_none(), "a bad signature");
    }
}
