//! The kernel config: start from tinyconfig plus what the VM needs, or from
//! the user's config; complete it with `make olddefconfig`; check it.
//!
//! The check runs on the completed config, so it catches options that
//! olddefconfig silently dropped because a dependency was missing. It never
//! edits the user's file; the effective config is written to the build
//! directory and the caller keeps a copy per commit.

use crate::build::Builder;
use crate::{Error, Result};
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

/// Writes `base` plus the reproducible fragment to the build directory's
/// .config, completes it with olddefconfig for the tree currently checked
/// out, checks it and returns the effective config. Only rewrites .config
/// when the input changed, so an unchanged config triggers no rebuild.
pub fn prepare(b: &Builder, base: &str, log: &Path) -> Result<String> {
    let wanted = format!("{base}\n{REPRODUCIBLE_FRAGMENT}");
    let input = b.build_dir.join(".culprit-input-config");
    let dot = b.build_dir.join(".config");
    std::fs::create_dir_all(&b.build_dir).ok();
    let same = std::fs::read_to_string(&input).ok().as_deref() == Some(&wanted) && dot.exists();
    if !same {
        crate::write(&dot, &wanted)?;
        crate::write(&input, &wanted)?;
    }
    let out = b.make(&["olddefconfig"], log)?;
    if !out.ok {
        // The next commit must start from the input again.
        std::fs::remove_file(&input).ok();
        return Err(Error::Command {
            cmd: "make olddefconfig".into(),
            detail: out.first_error.unwrap_or_default(),
        });
    }
    let text = String::from_utf8_lossy(&crate::read(&dot)?).into_owned();
    let missing = missing_required(&text);
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "after make olddefconfig it lacks what the VM needs: {}",
            missing.join(", ")
        )));
    }
    Ok(text)
}

/// tinyconfig plus [`VM_FRAGMENT`], completed: a config that boots in QEMU.
pub fn tiny_vm_config(b: &Builder, log: &Path) -> Result<String> {
    let out = b.make(&["tinyconfig"], log)?;
    if !out.ok {
        return Err(Error::Command {
            cmd: "make tinyconfig".into(),
            detail: out.first_error.unwrap_or_default(),
        });
    }
    let dot = b.build_dir.join(".config");
    let tiny = String::from_utf8_lossy(&crate::read(&dot)?).into_owned();
    std::fs::remove_file(b.build_dir.join(".culprit-input-config")).ok();
    prepare(b, &format!("{tiny}\n{VM_FRAGMENT}"), log)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_fragment_covers_the_requirements() {
        assert!(missing_required(VM_FRAGMENT).is_empty());
    }
}
