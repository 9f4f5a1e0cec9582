//! The kernel config: start from tinyconfig plus what the VM needs, or from
//! the user's config; complete it with `make olddefconfig`; check it.
//!
//! The check runs on the completed config, so it catches options that
//! olddefconfig silently dropped because a dependency was missing. It never
//! edits the user's file; the effective config is written to the build
//! directory and the caller keeps a copy per commit.

use crate::build::Builder;
use crate::{Error, Result};
use culprit_git::Repo;
use culprit_proc::Cancel;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Options the VM cannot do without, and why.
pub const REQUIRED: &[(&str, &str)] = &[
    ("64BIT", "an x86_64 kernel"),
    ("PRINTK", "kernel messages"),
    ("TTY", "a console"),
    ("SERIAL_8250", "the serial port"),
    ("SERIAL_8250_CONSOLE", "the serial console"),
    ("BLK_DEV_INITRD", "booting the initramfs"),
    ("BINFMT_ELF", "running busybox and the reproducer"),
    ("BINFMT_SCRIPT", "running /init"),
    ("PROC_FS", "the smoke test"),
];

/// Added to tinyconfig to make a small kernel that boots in QEMU and prints
/// full oopses; also what a user config should have.
///
/// The ORC unwinder gives reliable call traces: tinyconfig keeps
/// UNWINDER_GUESS, whose traces are all `? ` frames, which the report
/// parser cannot trust (every WARNING is titled "WARNING in corrupted").
/// ORC rather than frame pointers: the same build cost (compiling 40
/// objects of a 6.1 tinyconfig build without ccache took 23.2 CPU s with
/// ORC, 22.8 with frame pointers, 23.4 with the guess unwinder; objtool
/// runs on every object in all three), no run-time cost (frame pointers
/// take a register and a push/pop per call), the x86_64 default and what
/// syzbot's kernels use. vmlinux grows 4% (12.5 to 13.0 MB: the ORC
/// tables).
pub const VM_FRAGMENT: &str = "\
CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_KALLSYMS=y
CONFIG_BUG=y
CONFIG_FUTEX=y
CONFIG_MULTIUSER=y
CONFIG_KERNEL_GZIP=y
# CONFIG_KERNEL_XZ is not set
CONFIG_UNWINDER_ORC=y
# CONFIG_UNWINDER_GUESS is not set
";

/// What symbolising crash reports to file:line needs
/// (culprit_report::symbolize): DWARF line tables and inlining in vmlinux.
/// REDUCED drops types and variable locations, which symbolisation does
/// not read. On a 6.1 tinyconfig+ORC build: compile CPU +0% (+10% for full
/// DWARF5), vmlinux 23 MB (43 MB full, 13 MB none), the bzImage and the
/// code unchanged. Part of the default config ([`tiny_vm_config`]), so the
/// crashes of every tested commit can be symbolised; a user's own config
/// keeps whatever debug info it has.
pub const DEBUG_INFO_FRAGMENT: &str = "\
CONFIG_DEBUG_KERNEL=y
CONFIG_DEBUG_INFO_DWARF5=y
CONFIG_DEBUG_INFO_REDUCED=y
";

/// Always appended: reproducible builds need no git suffix in the version,
/// and the signature must not depend on a linked-in initramfs.
pub const REPRODUCIBLE_FRAGMENT: &str = "\
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_LOCALVERSION=\"\"
CONFIG_INITRAMFS_SOURCE=\"\"
";

/// `CONFIG_X` -> value ("y", "m", "\"str\"", ...); unset options are absent.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The required options the config lacks, with why they are needed.
pub fn missing_required(text: &str) -> Vec<String> {
    let cfg = parse(text);
    REQUIRED
        .iter()
        .filter(|(o, _)| cfg.get(*o).map(String::as_str) != Some("y"))
        .map(|(o, why)| format!("CONFIG_{o}=y ({why})"))
        .collect()
}

/// Errors with every missing option.
pub fn check(text: &str) -> Result<()> {
    let missing = missing_required(text);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "lacks what the VM needs: {}",
            missing.join(", ")
        )))
    }
}

/// Paths whose change can change what olddefconfig makes of one input
/// config: the Kconfig files, the kconfig program and the scripts Kconfig
/// calls, and the Makefiles that set its variables.
const KCONFIG_INPUTS: &[&str] = &[
    ":(glob)**/Kconfig*",
    "scripts",
    "Makefile",
    "arch/x86/Makefile",
];
/// In the build directory: the commit the current .config was completed
/// for, the compiler, and the .config's digest.
const STAMP: &str = ".culprit-config-commit";

/// Writes `base` plus the reproducible fragment to the build directory's
/// .config, completes it with olddefconfig for the tree currently checked
/// out, checks it and returns the effective config. Only rewrites .config
/// when the input changed, so an unchanged config triggers no rebuild; and
/// when neither the input nor any Kconfig input changed since the commit
/// the .config was completed for, keeps it without running olddefconfig
/// (its result would be the same; this saves over a second per build).
/// `source` is the repository and the commit checked out in the source
/// tree (without it, olddefconfig always runs). make runs under `cancel`.
pub fn prepare(
    b: &Builder,
    base: &str,
    log: &Path,
    cancel: &Cancel,
    source: Option<(&Repo, &str)>,
) -> Result<String> {
    let wanted = format!("{base}\n{REPRODUCIBLE_FRAGMENT}");
    let input = b.build_dir.join(".culprit-input-config");
    let dot = b.build_dir.join(".config");
    let stamp = b.build_dir.join(STAMP);
    std::fs::create_dir_all(&b.build_dir).ok();
    let same = std::fs::read_to_string(&input).ok().as_deref() == Some(&wanted) && dot.exists();
    let commit = source.map(|(_, c)| c.to_string());
    // The stamp names the .config's content too: a .config changed by
    // anything else is completed again.
    let stamp_text = |c: &str, config: &[u8]| {
        let digest = hex::encode(Sha256::digest(config));
        format!("{c}\n{}\n{digest}\n", b.compiler.make_cc())
    };
    if let (true, Some(c), Ok(prev)) = (same, &commit, std::fs::read_to_string(&stamp)) {
        let p = prev.lines().next().unwrap_or_default();
        let current = crate::read(&dot)?;
        let unchanged = source.is_some_and(|(repo, _)| repo.unchanged(p, c, KCONFIG_INPUTS));
        if prev == stamp_text(p, &current) && unchanged {
            crate::write(
                log,
                format!("culprit: no Kconfig input changed since {p}: .config kept\n"),
            )?;
            let text = String::from_utf8_lossy(&current).into_owned();
            check_completed(&text)?;
            crate::write(&stamp, stamp_text(c, &current))?;
            return Ok(text);
        }
    }
    std::fs::remove_file(&stamp).ok();
    if !same {
        crate::write(&dot, &wanted)?;
        crate::write(&input, &wanted)?;
    }
    let out = b.make(&["olddefconfig"], log, cancel)?;
    if !out.ok {
        // The next commit must start from the input again.
        std::fs::remove_file(&input).ok();
        return Err(Error::Command {
            cmd: "make olddefconfig".into(),
            detail: out.first_error.unwrap_or_default(),
        });
    }
    let completed = crate::read(&dot)?;
    let text = String::from_utf8_lossy(&completed).into_owned();
    check_completed(&text)?;
    if let Some(c) = &commit {
        crate::write(&stamp, stamp_text(c, &completed))?;
    }
    Ok(text)
}

fn check_completed(text: &str) -> Result<()> {
    let missing = missing_required(text);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Config(format!(
        "after make olddefconfig it lacks what the VM needs: {}",
        missing.join(", ")
    )))
}

/// tinyconfig plus [`VM_FRAGMENT`] and [`DEBUG_INFO_FRAGMENT`], completed: a
/// config that boots in QEMU and whose crashes can be symbolised.
pub fn tiny_vm_config(b: &Builder, log: &Path, cancel: &Cancel) -> Result<String> {
    let out = b.make(&["tinyconfig"], log, cancel)?;
    if !out.ok {
        return Err(Error::Command {
            cmd: "make tinyconfig".into(),
            detail: out.first_error.unwrap_or_default(),
        });
    }
    let dot = b.build_dir.join(".config");
    let tiny = String::from_utf8_lossy(&crate::read(&dot)?).into_owned();
    std::fs::remove_file(b.build_dir.join(".culprit-input-config")).ok();
    prepare(
        b,
        &format!("{tiny}\n{VM_FRAGMENT}\n{DEBUG_INFO_FRAGMENT}"),
        log,
        cancel,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use culprit_proc::Job;

    #[test]
    fn kconfig_inputs_are_told_apart_from_other_changes() {
        let d = tempfile::tempdir().unwrap();
        let c = Cancel::new();
        let git = |args: &[&str]| {
            let mut j = Job::new("git");
            j.arg("-C")
                .arg(d.path())
                .args(["-c", "user.name=T", "-c", "user.email=t@e"])
                .args(args);
            let out = j.output(&c).unwrap();
            assert!(out.success(), "git {args:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let commit = |path: &str, text: &str| {
            let p = d.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", path]);
            git(&["rev-parse", "HEAD"])
        };
        git(&["init", "-q"]);
        let a = commit("Kconfig", "config A\n");
        let b = commit("kernel/sys.c", "int x;\n");
        let k = commit("drivers/foo/Kconfig.debug", "config B\n");
        let e = commit("scripts/kconfig/conf.c", "int y;\n");
        let f = commit("Documentation/x.rst", "doc\n");
        let repo = Repo::open(d.path()).unwrap();
        let same = |x: &str, y: &str| repo.unchanged(x, y, KCONFIG_INPUTS);
        assert!(same(&a, &b));
        assert!(!same(&b, &k), "nested Kconfig.debug");
        assert!(!same(&k, &e), "scripts/");
        assert!(same(&e, &f));
        assert!(!same(&a, &f));
        assert!(!same("no-such-commit", &f));
    }

    #[test]
    fn parse_skips_unset_and_comments() {
        let c = parse("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x=y\"\n");
        assert_eq!(c.get("A").unwrap(), "y");
        assert!(!c.contains_key("B"));
        assert_eq!(c.get("C").unwrap(), "\"x=y\"");
    }

    #[test]
    fn missing_options_are_named() {
        let full: String = REQUIRED
            .iter()
            .map(|(o, _)| format!("CONFIG_{o}=y\n"))
            .collect();
        assert!(check(&full).is_ok());
        let without = full.replace("CONFIG_SERIAL_8250_CONSOLE=y\n", "");
        let err = check(&without).unwrap_err().to_string();
        assert!(err.contains("CONFIG_SERIAL_8250_CONSOLE=y"), "{err}");
        assert!(err.contains("serial console"), "{err}");
        assert!(!err.contains("CONFIG_BLK_DEV_INITRD"), "{err}");
    }

    #[test]
    fn the_fragment_asks_for_a_reliable_unwinder() {
        let c = parse(VM_FRAGMENT);
        assert_eq!(c.get("UNWINDER_ORC").map(String::as_str), Some("y"));
        assert!(VM_FRAGMENT.contains("# CONFIG_UNWINDER_GUESS is not set"));
    }

    #[test]
    fn the_debug_fragment_asks_for_dwarf() {
        let c = parse(DEBUG_INFO_FRAGMENT);
        for o in ["DEBUG_KERNEL", "DEBUG_INFO_DWARF5", "DEBUG_INFO_REDUCED"] {
            assert_eq!(c.get(o).map(String::as_str), Some("y"), "{o}");
        }
        assert!(!VM_FRAGMENT.contains("DEBUG_INFO"));
    }

    #[test]
    fn the_fragment_covers_the_requirements() {
        assert!(missing_required(VM_FRAGMENT).is_empty());
    }
}
