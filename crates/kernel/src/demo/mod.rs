//! A synthetic kernel history with a known culprit, for the end-to-end test
//! and the README demo.
//!
//! From Debian's linux-source tarball: one base commit with the whole tree,
//! then a main line of harmless changes to .c files that tinyconfig really
//! compiles (each adds a string to .rodata, so every commit has its own
//! kernel signature), side branches merged back in, one commit that injects
//! a prctl whose handler dereferences NULL on a random bit (the reproducer
//! crashes about half of the runs), and an earlier unrelated commit after
//! which about one boot in ten panics before init.
//!
//! The history is written with one `git fast-import` stream, so it takes
//! seconds; only the base commit (`git add` of ~79k files) is slow. The
//! result is cached in its directory and reused when the generator version
//! matches. It only ever writes inside the directory it is given.

mod history;

pub use history::{PRCTL_OPTION, REPRO_C};

use crate::{io_ctx, Error, Result};
use culprit_proc::{Cancel, Input, Job};
use history::history;
use std::path::{Path, PathBuf};

/// Bump when the generated history changes.
const VERSION: &str = "7";

/// A generated history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    pub repo: PathBuf,
    /// The last commit with the bug (crashes).
    pub bad: String,
    /// The base commit, tagged v6.1 (does not crash). Releases v6.2 (before
    /// the bug) and v6.3 (after it) are tagged on master between.
    pub good: String,
    /// The commit that removes the bug, a few commits after bad.
    pub fixed: String,
    /// The tip of master, after the fix (does not crash).
    pub head: String,
    /// The commit that injects the bug.
    pub injected: String,
    /// The commit after which ~10% of boots fail.
    pub flaky_boot: String,
    /// Commits between good (excluded) and bad (included).
    pub commits: usize,
    /// A tinyconfig-based config that boots in QEMU.
    pub config: PathBuf,
    /// The reproducer (C source).
    pub repro: PathBuf,
}

fn git(repo: &Path) -> Job {
    let mut c = Job::new("git");
    c.arg("-C").arg(repo);
    c.env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("GIT_AUTHOR_NAME", "Linus Example")
        .env("GIT_AUTHOR_EMAIL", "linus@example.org")
        .env("GIT_COMMITTER_NAME", "Linus Example")
        .env("GIT_COMMITTER_EMAIL", "linus@example.org");
    c
}

fn run(c: &mut Job, what: &str, cancel: &Cancel) -> Result<String> {
    let out = c.output(cancel)?;
    if !out.success() {
        return Err(Error::Command {
            cmd: what.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The demo in `dir`, created (or reused if already there) from `tarball`.
/// `log` receives progress lines; git, tar and make run under `cancel`.
pub fn create(
    tarball: &Path,
    dir: &Path,
    log: &mut dyn FnMut(&str),
    cancel: &Cancel,
) -> Result<Demo> {
    io_ctx(std::fs::create_dir_all(dir), || {
        format!("create {}", dir.display())
    })?;
    // Tests in parallel share the cached demo: one creates it, the others wait.
    let _lock = Lock::take(&dir.join("demo.lock"))?;
    let meta = dir.join("demo.txt");
    if let Some(d) = load(&meta, dir) {
        log(&format!("reusing demo history in {}", dir.display()));
        return Ok(d);
    }
    crate::require_tool("git", "git")?;
    let repo = dir.join("linux");
    if repo.exists() {
        io_ctx(std::fs::remove_dir_all(&repo), || {
            format!("remove {}", repo.display())
        })?;
    }
    io_ctx(std::fs::create_dir_all(dir), || {
        format!("create {}", dir.display())
    })?;
    let t = std::time::Instant::now();
    extract(tarball, dir, &repo, cancel)?;
    log(&format!(
        "extracted {} in {:.0} s",
        tarball.display(),
        t.elapsed().as_secs_f64()
    ));

    let t = std::time::Instant::now();
    fix_gitignore(&repo)?;
    run(
        git(&repo).args(["init", "-q", "-b", "master"]),
        "git init",
        cancel,
    )?;
    run(
        git(&repo).args(["config", "gc.auto", "0"]),
        "git config",
        cancel,
    )?;
    // Force: the tarball is pristine source, and upstream's ".*" rule would
    // otherwise drop hundreds of tracked dotfiles.
    run(git(&repo).args(["add", "-A", "-f", "."]), "git add", cancel)?;
    run(
        git(&repo).args(["commit", "-q", "-m", "Linux 6.1 (demo base)"]),
        "git commit",
        cancel,
    )?;
    let good = run(
        git(&repo).args(["rev-parse", "HEAD"]),
        "git rev-parse",
        cancel,
    )?;
    log(&format!(
        "base commit in {:.0} s",
        t.elapsed().as_secs_f64()
    ));

    let t = std::time::Instant::now();
    let (stream, marks) = history(&repo, &good)?;
    let marks_file = dir.join("marks");
    // Jobs read stdin from a file: nothing can block on a pipe we feed.
    let stream_file = dir.join("history.fast-import");
    crate::write(&stream_file, &stream)?;
    let mut c = git(&repo);
    c.args(["fast-import", "--quiet", "--force"])
        .arg(format!("--export-marks={}", marks_file.display()))
        .stdin(Input::File(stream_file.clone()));
    run(&mut c, "git fast-import", cancel)?;
    let _ = std::fs::remove_file(&stream_file);
    run(
        git(&repo).args(["reset", "-q", "--hard", "master"]),
        "git reset",
        cancel,
    )?;
    let exported = std::fs::read_to_string(&marks_file).unwrap_or_default();
    let hash = |mark: usize| -> Result<String> {
        exported
            .lines()
            .find_map(|l| l.strip_prefix(&format!(":{mark} ")))
            .map(str::to_string)
            .ok_or_else(|| Error::Command {
                cmd: "git fast-import".into(),
                detail: format!("mark {mark} not exported"),
            })
    };
    run(git(&repo).args(["tag", "v6.1", &good]), "git tag", cancel)?;
    let head = run(
        git(&repo).args(["rev-parse", "master"]),
        "git rev-parse",
        cancel,
    )?;
    let bad = hash(marks.bad)?;
    let count = run(
        git(&repo).args(["rev-list", "--count", &format!("{good}..{bad}")]),
        "git rev-list",
        cancel,
    )?;
    log(&format!(
        "history of {count} commits in {:.1} s",
        t.elapsed().as_secs_f64()
    ));

    let demo = Demo {
        repo: repo.clone(),
        bad,
        good,
        fixed: hash(marks.fix)?,
        head,
        injected: hash(marks.bug)?,
        flaky_boot: hash(marks.flaky)?,
        commits: count.parse().unwrap_or(0),
        config: dir.join("demo.config"),
        repro: dir.join("repro.c"),
    };
    crate::write(&demo.repro, REPRO_C)?;
    make_config(&repo, dir, &demo.config, cancel)?;
    save(&meta, &demo)?;
    Ok(demo)
}

/// Where tests and the README demo cache the history: `$CULPRIT_DEMO_DIR`,
/// else a directory in the system temp dir.
pub fn default_dir() -> PathBuf {
    std::env::var_os("CULPRIT_DEMO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("culprit-demo-v{VERSION}")))
}

/// An exclusive lock on a file, released on drop (or when the process dies).
struct Lock(std::fs::File);

impl Lock {
    fn take(path: &Path) -> Result<Lock> {
        use std::os::fd::AsRawFd;
        let f = io_ctx(
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path),
            || format!("open {}", path.display()),
        )?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::Io {
                what: format!("lock {}", path.display()),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Lock(f))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

fn extract(tarball: &Path, dir: &Path, repo: &Path, cancel: &Cancel) -> Result<()> {
    crate::require_tool("tar", "tar")?;
    let tmp = dir.join("extract.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    io_ctx(std::fs::create_dir_all(&tmp), || {
        format!("create {}", tmp.display())
    })?;
    let mut c = Job::new("tar");
    c.arg("xf").arg(tarball).arg("-C").arg(&tmp);
    run(&mut c, &format!("tar xf {}", tarball.display()), cancel)?;
    let top = io_ctx(std::fs::read_dir(&tmp), || {
        format!("list {}", tmp.display())
    })?
    .filter_map(|e| e.ok())
    .map(|e| e.path())
    .find(|p| p.join("Makefile").exists())
    .ok_or_else(|| Error::Command {
        cmd: "tar".into(),
        detail: "no kernel tree in the tarball".into(),
    })?;
    io_ctx(std::fs::rename(&top, repo), || {
        format!("move to {}", repo.display())
    })?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// Debian's top-level .gitignore ends with a packaging block ("/*") that
/// hides the whole tree from git; cut it.
fn fix_gitignore(repo: &Path) -> Result<()> {
    let p = repo.join(".gitignore");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(());
    };
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("# Debian packaging") {
            skipping = true;
            // Drop the "#" line that opens the block too.
            if out.last().is_some_and(|l: &&str| l.trim() == "#") {
                out.pop();
            }
        }
        if !skipping && line != "/*" && line != "!/debian/" {
            out.push(line);
        }
    }
    crate::write(&p, out.join("\n") + "\n")
}

fn make_config(repo: &Path, dir: &Path, out: &Path, cancel: &Cancel) -> Result<()> {
    let build = dir.join("config-build");
    let b = crate::build::Builder::new(
        repo,
        &build,
        crate::build::Compiler {
            cc: "gcc".into(),
            ccache: false,
        },
    )?;
    let text = crate::config::tiny_vm_config(&b, &dir.join("config.log"), cancel)?;
    crate::write(out, text)?;
    let _ = std::fs::remove_dir_all(&build);
    Ok(())
}

fn save(meta: &Path, d: &Demo) -> Result<()> {
    let text = format!(
        "version={VERSION}\nbad={}\ngood={}\nfixed={}\nhead={}\ninjected={}\nflaky_boot={}\ncommits={}\n",
        d.bad, d.good, d.fixed, d.head, d.injected, d.flaky_boot, d.commits
    );
    crate::write(meta, text)
}

fn load(meta: &Path, dir: &Path) -> Option<Demo> {
    let text = std::fs::read_to_string(meta).ok()?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    if get("version")? != VERSION {
        return None;
    }
    let d = Demo {
        repo: dir.join("linux"),
        bad: get("bad")?,
        good: get("good")?,
        fixed: get("fixed")?,
        head: get("head")?,
        injected: get("injected")?,
        flaky_boot: get("flaky_boot")?,
        commits: get("commits")?.parse().ok()?,
        config: dir.join("demo.config"),
        repro: dir.join("repro.c"),
    };
    (d.repo.join(".git").exists() && d.config.exists() && d.repro.exists()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_gitignore_block_is_removed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(".gitignore"),
            "*.o\n.*\n\n#\n# Debian packaging: ignore everything\n# at the top\n#\n/*\n!/debian/\n",
        )
        .unwrap();
        fix_gitignore(d.path()).unwrap();
        let t = std::fs::read_to_string(d.path().join(".gitignore")).unwrap();
        assert!(t.contains("*.o"));
        assert!(!t.lines().any(|l| l == "/*"), "{t}");
    }
}
