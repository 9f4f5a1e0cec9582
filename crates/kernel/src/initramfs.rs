//! The initramfs culprit boots: busybox, an init that runs a smoke test and
//! then the reproducer, and the reproducer itself.
//!
//! The archive is written here in the newc cpio format, so no root and no
//! kernel tree are needed. It must contain the /dev/console node, or init
//! runs without stdout. Init stops the VM with `reboot -f` (with QEMU's
//! -no-reboot this ends QEMU; `poweroff` would need ACPI).
//!
//! Init prints fixed markers that [`crate::classify`] relies on; they never
//! appear on the kernel command line, so the console cannot echo them early.

use crate::{Error, Result};
use culprit_proc::{Cancel, Job};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;
use std::path::Path;

/// Printed by init as soon as it runs.
pub const INIT_STARTED: &str = "culprit: init started";
/// Printed when the smoke test passed.
pub const SMOKE_OK: &str = "culprit: smoke ok";
/// Printed when the smoke test failed, followed by what failed.
pub const SMOKE_FAILED: &str = "culprit: smoke failed: ";
/// Printed when the reproducer ran for its time and the kernel survived.
pub const REPRO_DONE: &str = "culprit: repro done";

/// How init runs the reproducer in one boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReproRun {
    /// Seconds all executions together may take; the one running then is
    /// killed.
    pub secs: u64,
    /// Executions, one after the other, unless the kernel crashes first. A
    /// reproducer that triggers the bug on a coin flip per execution
    /// reproduces far more often per boot when repeated, and a boot costs
    /// much more than an execution.
    pub repeat: u32,
}

/// A reproducer as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repro {
    /// C source, compiled statically on the host.
    C(std::path::PathBuf),
    /// A static executable.
    Binary(std::path::PathBuf),
    /// A shell script, run by busybox sh.
    Script(std::path::PathBuf),
}

impl Repro {
    /// Tells the kind from the file: `.c` source, ELF binary, or a script.
    pub fn detect(path: &Path) -> Result<Repro> {
        let data = crate::read(path).map_err(|e| Error::Repro(e.to_string()))?;
        if path.extension().is_some_and(|e| e == "c") {
            Ok(Repro::C(path.to_path_buf()))
        } else if data.starts_with(b"\x7fELF") {
            Ok(Repro::Binary(path.to_path_buf()))
        } else if data.starts_with(b"#!") || path.extension().is_some_and(|e| e == "sh") {
            Ok(Repro::Script(path.to_path_buf()))
        } else {
            Err(Error::Repro(format!(
                "{}: not C source (.c), an ELF binary or a shell script",
                path.display()
            )))
        }
    }

    pub fn is_script(&self) -> bool {
        matches!(self, Repro::Script(_))
    }

    /// The bytes to put at /repro; compiles C source into `work_dir`
    /// (gcc runs under `cancel`).
    pub fn materialize(&self, work_dir: &Path, cancel: &Cancel) -> Result<Vec<u8>> {
        match self {
            Repro::C(src) => {
                crate::require_tool("gcc", "gcc")?;
                let out = work_dir.join("repro.bin");
                let mut gcc = Job::new("gcc");
                gcc.args(["-static", "-O2", "-pthread", "-o"])
                    .arg(&out)
                    .arg(src);
                let res = gcc.output(cancel)?;
                if !res.success() {
                    let err = String::from_utf8_lossy(&res.stderr);
                    let first = err
                        .lines()
                        .find(|l| l.contains("error"))
                        .or_else(|| err.lines().next())
                        .unwrap_or("gcc failed");
                    return Err(Error::Repro(format!(
                        "{} does not compile: {first}",
                        src.display()
                    )));
                }
                crate::read(&out)
            }
            Repro::Binary(p) => {
                let data = crate::read(p)?;
                if is_dynamic(&data)? {
                    return Err(Error::Repro(format!(
                        "{} is dynamically linked; the VM has no libc: link it with -static",
                        p.display()
                    )));
                }
                Ok(data)
            }
            Repro::Script(p) => crate::read(p),
        }
    }
}

/// Whether an ELF executable needs a dynamic loader.
pub fn is_dynamic(elf: &[u8]) -> Result<bool> {
    let f = ElfFile64::<Endianness>::parse(elf)
        .map_err(|e| Error::Repro(format!("not a 64-bit ELF executable: {e}")))?;
    let endian = f.endian();
    let phdrs = f
        .elf_header()
        .program_headers(endian, elf)
        .map_err(|e| Error::Repro(e.to_string()))?;
    Ok(phdrs
        .iter()
        .any(|p| p.p_type(endian) == object::elf::PT_INTERP))
}

/// The /init script: markers, smoke test, the reproducer repeated under a
/// time limit, then stop the VM.
pub fn init_script(run: ReproRun, script: bool) -> String {
    let exec = if script { "sh /repro" } else { "/repro" };
    let (secs, repeat) = (run.secs.max(1), run.repeat.max(1));
    format!(
        r#"#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{INIT_STARTED}"
fail() {{ echo "{SMOKE_FAILED}$1"; reboot -f; sleep 60; }}
[ -r /proc/version ] || fail "no /proc/version"
echo culprit > /tmp/smoke && [ "$(cat /tmp/smoke)" = culprit ] || fail "tmpfs write/read"
/bin/busybox true || fail "exec"
echo "{SMOKE_OK}"
cd /tmp
end=$(( $(date +%s) + {secs} ))
i=0
status=0
while [ $i -lt {repeat} ]; do
  left=$(( end - $(date +%s) ))
  [ $left -gt 0 ] || break
  timeout -s KILL $left {exec}
  status=$?
  i=$((i + 1))
done
echo "{REPRO_DONE} status=$status executions=$i"
reboot -f
sleep 60
"#
    )
}

/// A newc ("070701") cpio archive being written.
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            if mode & 0o170000 == 0o040000 { 2 } else { 1 },
            0, // mtime: fixed, the archive is reproducible
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, (0, 0), &[]);
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, 0o100000 | perm, (0, 0), data);
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, 0o120777, (0, 0), target.as_bytes());
    }

    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) {
        self.entry(name, 0o020000 | perm, (major, minor), &[]);
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        while !self.buf.len().is_multiple_of(512) {
            self.buf.push(0);
        }
        self.buf
    }
}

/// Builds the initramfs for `repro` into `out` (work files in `work_dir`;
/// the reproducer's compiler runs under `cancel`).
pub fn build(
    busybox: &Path,
    repro: &Repro,
    run: ReproRun,
    work_dir: &Path,
    out: &Path,
    cancel: &Cancel,
) -> Result<()> {
    let bb = crate::read(busybox).map_err(|_| Error::MissingTool {
        tool: busybox.display().to_string(),
        package: "busybox-static".into(),
    })?;
    if is_dynamic(&bb)? {
        return Err(Error::MissingTool {
            tool: format!("{} (static)", busybox.display()),
            package: "busybox-static".into(),
        });
    }
    let repro_bytes = repro.materialize(work_dir, cancel)?;
    let mut c = Cpio::default();
    for d in ["dev", "proc", "sys", "tmp", "bin", "root"] {
        c.dir(d);
    }
    c.char_dev("dev/console", 0o600, 5, 1);
    c.char_dev("dev/null", 0o666, 1, 3);
    c.file("bin/busybox", 0o755, &bb);
    c.symlink("bin/sh", "busybox");
    c.file(
        "init",
        0o755,
        init_script(run, repro.is_script()).as_bytes(),
    );
    c.file("repro", 0o755, &repro_bytes);
    crate::write(out, c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_lists_with_the_system_cpio() {
        if !crate::have_tool("cpio") {
            eprintln!("cpio not installed; skipping the cross-check");
            return;
        }
        let mut c = Cpio::default();
        c.dir("dev");
        c.char_dev("dev/console", 0o600, 5, 1);
        c.file("init", 0o755, b"#!/bin/sh\necho hi\n");
        c.symlink("sh", "busybox");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.cpio");
        std::fs::write(&p, c.finish()).unwrap();
        let out = Job::shell(format!("cpio -itv < {}", p.display()))
            .output(&Cancel::new())
            .unwrap();
        assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(list.contains("crw-------"), "{list}");
        assert!(list.contains("5,   1") || list.contains("5, 1"), "{list}");
        assert!(list.contains("init"), "{list}");
        assert!(list.contains("sh -> busybox"), "{list}");
    }

    #[test]
    fn repro_kinds_and_compile_errors() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("r.c");
        std::fs::write(&good, "int main(void) { return 0; }\n").unwrap();
        let c = Cancel::new();
        let r = Repro::detect(&good).unwrap();
        let bin = r.materialize(d.path(), &c).unwrap();
        assert!(
            !is_dynamic(&bin).unwrap(),
            "gcc -static made a dynamic binary"
        );

        let bad = d.path().join("bad.c");
        std::fs::write(&bad, "int main(void) { return nope; }\n").unwrap();
        let err = Repro::detect(&bad)
            .unwrap()
            .materialize(d.path(), &c)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not compile") && err.contains("nope"),
            "{err}"
        );

        let sh = d.path().join("r");
        std::fs::write(&sh, "#!/bin/sh\necho x\n").unwrap();
        assert!(Repro::detect(&sh).unwrap().is_script());

        let dynbin = d.path().join("dyn");
        std::fs::copy("/bin/sh", &dynbin).unwrap();
        let err = Repro::detect(&dynbin)
            .unwrap()
            .materialize(d.path(), &c)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dynamically linked"), "{err}");
        c.cancel();
        assert!(matches!(r.materialize(d.path(), &c), Err(Error::Cancelled)));
    }

    #[test]
    fn init_prints_markers_in_order() {
        let s = init_script(
            ReproRun {
                secs: 30,
                repeat: 4,
            },
            false,
        );
        let a = s.find(INIT_STARTED).unwrap();
        let b = s.find(SMOKE_OK).unwrap();
        let c = s.find(REPRO_DONE).unwrap();
        assert!(a < b && b < c);
        assert!(s.contains("+ 30 ))") && s.contains("-lt 4 ]"), "{s}");
        assert!(s.contains("timeout -s KILL $left /repro"));
        assert!(s.trim_end().ends_with("sleep 60"));
    }
}
