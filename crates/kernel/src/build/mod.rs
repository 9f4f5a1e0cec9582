//! Reproducible `make` in one reused build directory.
//!
//! The same build directory is used for every commit: after a checkout only
//! what changed is recompiled (seconds instead of minutes), and ccache covers
//! the rest. The environment pins everything that would otherwise leak the
//! build machine or the clock into the binary, so two builds of the same
//! source give the same kernel signature.
//!
//! It never runs `make` without `O=` (that would write into the source tree)
//! and never switches compiler on a build directory without saying so.

use crate::{io_ctx, Error, Result};
use culprit_proc::{Cancel, Exit, Job, ParentDeath, Sink};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which compiler to build with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiler {
    /// The compiler proper, e.g. "gcc" or "clang".
    pub cc: String,
    /// Prefix it with ccache.
    pub ccache: bool,
}

impl Compiler {
    /// `cc`, with ccache when it is installed.
    pub fn detect(cc: &str) -> Compiler {
        Compiler {
            cc: cc.to_string(),
            ccache: crate::have_tool("ccache"),
        }
    }

    /// The `CC=` value for make.
    pub fn make_cc(&self) -> String {
        if self.ccache {
            format!("ccache {}", self.cc)
        } else {
            self.cc.clone()
        }
    }
}

/// A kernel source tree, its build directory and how to run make there.
#[derive(Debug, Clone)]
pub struct Builder {
    pub src: PathBuf,
    /// Absolute: `make O=relative` silently builds in the source tree.
    pub build_dir: PathBuf,
    pub compiler: Compiler,
    pub jobs: usize,
    pub timeout: Duration,
    /// Cache directory for ccache; `None` keeps the user's default.
    pub ccache_dir: Option<PathBuf>,
}

/// What one make invocation did.
#[derive(Debug, Clone)]
pub struct MakeOutcome {
    pub ok: bool,
    pub timed_out: bool,
    pub secs: f64,
    /// First compiler/linker error of a failed build.
    pub first_error: Option<String>,
}

impl Builder {
    pub fn new(src: &Path, build_dir: &Path, compiler: Compiler) -> Result<Builder> {
        let abs = |p: &Path| -> Result<PathBuf> {
            if p.is_absolute() {
                Ok(p.to_path_buf())
            } else {
                Ok(io_ctx(std::env::current_dir(), || "current dir".into())?.join(p))
            }
        };
        let jobs = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Builder {
            src: abs(src)?,
            build_dir: abs(build_dir)?,
            compiler,
            jobs,
            timeout: Duration::from_secs(3600),
            ccache_dir: None,
        })
    }

    /// The `make` job with the reproducible environment.
    pub fn command(&self, targets: &[&str]) -> Job {
        let mut c = Job::new("make");
        c.arg("-C")
            .arg(&self.src)
            .arg(format!("O={}", self.build_dir.display()))
            .arg("ARCH=x86_64")
            .arg(format!("CC={}", self.cc()))
            .arg(format!("HOSTCC={}", self.compiler.make_cc()))
            .arg(format!("-j{}", self.jobs));
        if let Some(map) = self.macro_prefix_map() {
            let user = std::env::var("KCFLAGS").unwrap_or_default();
            c.arg(format!("KCFLAGS={}", format!("{user} {map}").trim()));
        }
        c.args(targets);
        c.env("KBUILD_BUILD_USER", "culprit")
            .env("KBUILD_BUILD_HOST", "culprit")
            .env("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 1970")
            .env("KBUILD_BUILD_VERSION", "1")
            // Set but empty: setlocalversion then appends no "+" for a
            // tree that is not at a tag.
            .env("LOCALVERSION", "")
            .env("LC_ALL", "C")
            // Direct mode skips the preprocessor on a hit: 1.5 s less per
            // build after a 20-file checkout than preprocessor mode. Never
            // depend mode: it would store `.incbin` objects (see CC_GUARD).
            .env("CCACHE_DIRECT", "1")
            .env("CCACHE_NODEPEND", "1")
            .env("CCACHE_NOHASHDIR", "1")
            .env(
                "CCACHE_BASEDIR",
                self.build_dir.parent().unwrap_or(&self.build_dir),
            );
        if let Some(d) = &self.ccache_dir {
            c.env("CCACHE_DIR", d);
        }
        c
    }

    /// With ccache, gcc sees the tree as `../tree/mm/mmap.c`: ccache's
    /// base_dir rewrites absolute paths under it relative to the build
    /// directory (which lets two worktrees share cache entries). The
    /// kernel's own `-fmacro-prefix-map=$(srctree)/=` then no longer
    /// matches, and WARNING headers would name `../tree/mm/mmap.c`. This
    /// maps the relative spelling too, so messages carry the kernel's
    /// usual `mm/mmap.c`. The flag is the same in every worktree laid out
    /// the same way, so it costs no cache hit. DWARF keeps the real path
    /// (culprit_report::symbolize makes it relative).
    fn macro_prefix_map(&self) -> Option<String> {
        if !self.compiler.ccache {
            return None;
        }
        let base = self.build_dir.parent()?;
        self.src.strip_prefix(base).ok()?;
        let rel = relative_path(&self.build_dir, &self.src)?;
        Some(format!("-fmacro-prefix-map={}/=", rel.display()))
    }

    /// The `CC=` value for make: with ccache, through the guard that keeps
    /// `.incbin` sources away from it.
    fn cc(&self) -> String {
        if self.compiler.ccache {
            format!("{} {}", self.cc_guard().display(), self.compiler.cc)
        } else {
            self.compiler.cc.clone()
        }
    }

    fn cc_guard(&self) -> PathBuf {
        self.build_dir.join(".culprit-ccache")
    }

    /// Writes the ccache guard into the (existing) build directory, only
    /// when its text changed, so make sees no new compiler.
    fn write_cc_guard(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.cc_guard();
        if std::fs::read(&path).is_ok_and(|t| t == CC_GUARD.as_bytes()) {
            return Ok(());
        }
        let tmp = path.with_extension("tmp");
        io_ctx(std::fs::write(&tmp, CC_GUARD), || {
            format!("write {}", tmp.display())
        })?;
        io_ctx(
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)),
            || format!("chmod {}", tmp.display()),
        )?;
        io_ctx(std::fs::rename(&tmp, &path), || {
            format!("rename {}", path.display())
        })
    }

    /// Runs make for `targets`, output (stdout and stderr) to `log`
    /// (bounded: its first 64 MiB and last 4 MiB). A cancel of `cancel`
    /// kills make and everything it started and is `Err(Error::Cancelled)`.
    pub fn make(&self, targets: &[&str], log: &Path, cancel: &Cancel) -> Result<MakeOutcome> {
        self.make_with(targets, log, cancel, &mut |_| {})
    }

    /// [`Builder::make`], telling `progress` every [`PROGRESS_EVERY`] how
    /// far make got: the steps kbuild printed so far and the last one.
    pub fn make_with(
        &self,
        targets: &[&str],
        log: &Path,
        cancel: &Cancel,
        progress: &mut dyn FnMut(String),
    ) -> Result<MakeOutcome> {
        crate::require_tool("make", "make")?;
        io_ctx(std::fs::create_dir_all(&self.build_dir), || {
            format!("create {}", self.build_dir.display())
        })?;
        if self.compiler.ccache {
            self.write_cc_guard()?;
        }
        let mut job = self.command(targets);
        job.stdout(Sink::File(log.to_path_buf(), LOG_BOUND))
            .merge_stderr()
            .timeout(self.timeout)
            // SIGTERM on our death: make then stops its jobs.
            .parent_death(ParentDeath::Term);
        let mut steps = Steps::default();
        let mut told = std::time::Instant::now();
        let out = job.run_with(cancel, |t| {
            if told.elapsed() >= PROGRESS_EVERY {
                told = std::time::Instant::now();
                steps.read(log);
                progress(steps.describe(t.started().elapsed().as_secs()));
            }
        })?;
        let secs = out.secs;
        let text = String::from_utf8_lossy(&crate::read(log)?).into_owned();
        match out.exit {
            Exit::Cancelled => Err(Error::Cancelled),
            Exit::TimedOut => Ok(MakeOutcome {
                ok: false,
                timed_out: true,
                secs,
                first_error: Some(format!(
                    "build timed out after {} s",
                    self.timeout.as_secs()
                )),
            }),
            exit => Ok(MakeOutcome {
                ok: exit.success(),
                timed_out: false,
                secs,
                first_error: if exit.success() {
                    None
                } else {
                    let e = first_error(&text).unwrap_or_else(|| format!("make: {exit}"));
                    // Paths relative to the tree, as a developer reads them.
                    let prefix = format!("{}/", self.src.display());
                    Some(e.replace(&prefix, ""))
                },
            }),
        }
    }
}

/// How often a long make reports how far it got.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A build log is kept whole up to this size (kbuild's quiet lines are ~40
/// bytes each, so a whole allmodconfig build fits), then head and tail.
const LOG_BOUND: culprit_proc::Bound = culprit_proc::Bound {
    head: 64 << 20,
    tail: 4 << 20,
};

/// The kbuild steps ("  CC      mm/mmap.o") a running make wrote so far,
/// read from its log as it grows.
#[derive(Debug, Default)]
struct Steps {
    offset: u64,
    count: u64,
    last: String,
    partial: Vec<u8>,
}

impl Steps {
    /// Reads what the log gained since the last call.
    fn read(&mut self, log: &Path) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(log) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        // At most a few MiB per call: a log grows by kilobytes a second.
        if f.take(8 << 20).read_to_end(&mut buf).is_err() {
            return;
        }
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let done: Vec<u8> = self.partial.drain(..=end).collect();
        for line in done.split(|&b| b == b'\n') {
            if let Some(step) = kbuild_step(line) {
                self.count += 1;
                self.last = step;
            }
        }
    }

    fn describe(&self, secs: u64) -> String {
        if self.count == 0 {
            return format!("make: {secs} s, no compile step yet");
        }
        format!("make: {secs} s, {} steps, last: {}", self.count, self.last)
    }
}

/// A kbuild quiet-mode line: two spaces, an upper-case tag, spaces, a path.
fn kbuild_step(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("  ")?;
    let (tag, what) = rest.split_once(' ')?;
    let ok = !tag.is_empty()
        && tag.len() <= 12
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then(|| format!("{tag} {}", what.trim()))
}

/// `to` relative to the directory `from`, both absolute, lexically (as
/// ccache computes it): `/w/build` to `/w/tree` is `../tree`.
fn relative_path(from: &Path, to: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let norm = |p: &Path| -> Option<Vec<std::ffi::OsString>> {
        let mut v = Vec::new();
        for c in p.components() {
            match c {
                Component::RootDir => {}
                Component::CurDir => {}
                Component::ParentDir => {
                    v.pop();
                }
                Component::Normal(n) => v.push(n.to_os_string()),
                Component::Prefix(_) => return None,
            }
        }
        Some(v)
    };
    if !from.is_absolute() || !to.is_absolute() {
        return None;
    }
    let (f, t) = (norm(from)?, norm(to)?);
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for part in &t[common..] {
        rel.push(part);
    }
    Some(rel)
}

/// Checks that the bzImage carries the kernel this build compressed. The
/// signature is taken from vmlinux, so a bzImage whose payload came from
/// another build (a stale piggy.o) would boot another commit's kernel
/// unseen. Nothing to check when there is no compressed payload.
pub fn check_bzimage(build_dir: &Path) -> Result<()> {
    const SUFFIXES: [&str; 7] = ["gz", "bz2", "lzma", "xz", "lzo", "lz4", "zst"];
    let dir = build_dir.join("arch/x86/boot/compressed");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    // A config that changed compression leaves the old file behind.
    let newest = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("vmlinux.bin.")
                .is_some_and(|ext| SUFFIXES.contains(&ext))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    let Some((_, payload_path)) = newest else {
        return Ok(());
    };
    let payload = crate::read(&payload_path)?;
    let image = crate::read(&build_dir.join("arch/x86/boot/bzImage"))?;
    if memchr::memmem::find(&image, &payload).is_some() {
        return Ok(());
    }
    Err(Error::StaleImage(format!(
        "arch/x86/boot/bzImage does not hold {}, the kernel this build \
         compressed: an object came from another build (a stale piggy.o, most \
         likely from ccache). Clear the cache (`ccache -C`) or turn ccache \
         off (`ccache = false` under [kernel]), and report this",
        payload_path.display()
    )))
}

/// Runs the compiler through ccache, except for a source that pulls a file
/// in with `.incbin` (piggy.S: the compressed vmlinux; rmpiggy.S, the certs,
/// the initramfs). ccache keys such an object on the source text alone,
/// which for piggy.S is two sizes, so a cached piggy.o puts another commit's
/// kernel in the bzImage. ccache refuses to store those objects in direct
/// and preprocessor mode, but one stored by depend mode (an earlier culprit,
/// or a user's ccache.conf) is served again by direct mode.
const CC_GUARD: &str = r#"#!/bin/sh
# Written by culprit: ccache, but never for a source that .incbin's a file.
for a do
  case $a in
  *.c|*.S) if [ -f "$a" ] && grep -q '\.incbin' "$a"; then exec "$@"; fi ;;
  esac
done
exec ccache "$@"
"#;

/// The first line of build output that reports an error: a compiler
/// diagnostic, a linker error, else make's own failure line.
pub fn first_error(log: &str) -> Option<String> {
    let compiler = log.lines().find(|l| {
        l.contains(": error: ")
            || l.contains(": fatal error: ")
            || l.contains("undefined reference to")
            || l.contains(": Error: ")
            || l.starts_with("ERROR: ")
    });
    let make = || {
        log.lines()
            .find(|l| l.contains("*** ") && l.starts_with("make"))
    };
    compiler
        .or_else(make)
        .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests;
