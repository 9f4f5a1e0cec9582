//! The kernel mode's settings, defined once: they are the `--kernel`
//! options of `culprit bisect` (clap), the `[kernel]` section of a campaign
//! file (which becomes those options) and part of a `CampaignSpec` (serde).

use anyhow::{bail, Result};
use clap::ValueHint;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default seconds the VM may run after init started.
pub const RUN_TIMEOUT: f64 = 300.0;
/// Default seconds a build may take.
pub const BUILD_TIMEOUT: f64 = 3600.0;

/// How kernels are built and booted. Timeouts shared with the generic mode
/// (`--run-timeout`, `--build-timeout`) are set by the caller.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[command(next_help_heading = "Kernel mode")]
pub struct KernelSettings {
    /// The kernel config, completed with `make olddefconfig` on every
    /// commit. Default: tinyconfig plus what the VM needs.
    #[arg(long = "kernel-config", id = "config", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// The reproducer, run only inside the VM: C source (compiled
    /// statically on the host), a static binary or a shell script.
    /// Required in kernel mode.
    #[arg(long = "repro", id = "reproducer", visible_alias = "reproducer", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub reproducer: Option<PathBuf>,
    /// Compiler; ccache is put in front of it when installed.
    #[arg(long, value_name = "CC", default_value = "gcc")]
    pub compiler: String,
    /// Use ccache (default: when installed).
    #[arg(long, value_name = "BOOL")]
    pub ccache: Option<bool>,
    /// Memory per VM in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub memory: u32,
    /// CPUs per VM.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cpus: u32,
    /// Seconds until the VM's init must have started.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub boot_timeout: f64,
    /// Seconds the reproducer runs in each VM (counted OK if the kernel
    /// survived).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub repro_time: f64,
    /// Executions of the reproducer per boot, one after the other until the
    /// kernel crashes or --repro-time is over. A boot costs far more than
    /// an execution; give 1 for a reproducer that must run once per boot.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub repro_repeat: u32,
    /// Extra kernel command line.
    #[arg(
        long,
        value_name = "ARGS",
        default_value = "",
        hide_default_value = true
    )]
    pub cmdline: String,
    /// Virtualisation: KVM only when the CPU really supports it (auto), or
    /// forced.
    #[arg(long, value_name = "ACCEL", default_value = "auto", value_parser = ["auto", "kvm", "tcg"])]
    pub accel: String,
    /// The QEMU program.
    #[arg(long, value_name = "PROGRAM", default_value = "qemu-system-x86_64")]
    pub qemu: String,
    /// A static busybox for the VM's initramfs.
    #[arg(long, value_name = "FILE", default_value = "/bin/busybox", value_hint = ValueHint::FilePath)]
    pub busybox: PathBuf,
    /// Parallel make jobs of each build (default: the number of CPUs,
    /// shared between the builders of --builders).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Where the kernel checkout and build directory live. Later campaigns
    /// on the same repository reuse them: no new checkout and no first full
    /// build. One campaign at a time per DIR. Default:
    /// ~/.cache/culprit/trees/<repository> (if another campaign is using
    /// it, a private tree in the workdir).
    #[arg(long, value_name = "DIR", conflicts_with = "private_tree", value_hint = ValueHint::DirPath)]
    pub build_tree: Option<PathBuf>,
    /// Check out and build in the workdir, in a tree of this campaign's own
    /// (a full checkout and a first full build), instead of the shared
    /// build tree.
    #[arg(long)]
    pub private_tree: bool,
    /// Seconds a run may take (`--run-timeout`; default 300).
    #[arg(skip)]
    pub run_timeout: Option<f64>,
    /// Seconds a build may take (`--build-timeout`; default 3600).
    #[arg(skip)]
    pub build_timeout: Option<f64>,
}

impl Default for KernelSettings {
    fn default() -> Self {
        KernelSettings {
            config: None,
            reproducer: None,
            compiler: "gcc".into(),
            ccache: None,
            memory: 512,
            cpus: 1,
            boot_timeout: 120.0,
            repro_time: 60.0,
            repro_repeat: 10,
            cmdline: String::new(),
            accel: "auto".into(),
            qemu: "qemu-system-x86_64".into(),
            busybox: "/bin/busybox".into(),
            jobs: None,
            build_tree: None,
            private_tree: false,
            run_timeout: None,
            build_timeout: None,
        }
    }
}

impl KernelSettings {
    pub fn run_timeout(&self) -> f64 {
        self.run_timeout.unwrap_or(RUN_TIMEOUT)
    }

    pub fn build_timeout(&self) -> f64 {
        self.build_timeout.unwrap_or(BUILD_TIMEOUT)
    }

    /// Checks the values, before anything is created.
    pub fn validate(&self) -> Result<()> {
        let Some(r) = &self.reproducer else {
            bail!("kernel mode needs a reproducer: give --repro FILE (C source, static binary or shell script)");
        };
        if !r.is_file() {
            bail!("the reproducer {} is not a file", r.display());
        }
        if let Some(c) = &self.config {
            if !c.is_file() {
                bail!("the kernel config {} is not a file", c.display());
            }
        }
        if self.repro_repeat == 0 {
            bail!("the reproducer must run at least once per boot: give --repro-repeat (or [kernel] repro_repeat) of 1 or more");
        }
        for (name, v) in [
            ("--boot-timeout", self.boot_timeout),
            ("--repro-time", self.repro_time),
            ("--run-timeout", self.run_timeout()),
            ("--build-timeout", self.build_timeout()),
        ] {
            if !(v > 0.0 && v.is_finite() && v <= 1e7) {
                bail!("{name} must be a positive number of seconds (up to 10^7), not {v}");
            }
        }
        if !(64..=1 << 20).contains(&self.memory) {
            bail!(
                "--memory must be between 64 and 1048576 MiB (got {})",
                self.memory
            );
        }
        if !(1..=256).contains(&self.cpus) {
            bail!("--cpus must be between 1 and 256 (got {})", self.cpus);
        }
        if self.repro_repeat > 1_000_000 {
            bail!(
                "--repro-repeat must be at most 1000000 (got {})",
                self.repro_repeat
            );
        }
        if self.jobs.is_some_and(|j| !(1..=4096).contains(&j)) {
            bail!("--jobs must be between 1 and 4096");
        }
        Ok(())
    }
}

/// Whether `tree` looks like a Linux source tree: the checks kernel mode
/// makes before creating anything.
pub fn is_kernel_tree(files: &dyn Fn(&str) -> bool) -> bool {
    [
        "Kconfig",
        "Makefile",
        "arch/x86/Kconfig",
        "scripts/Kbuild.include",
    ]
    .iter()
    .all(|f| files(f))
}

/// Checks that the tools exist and says which Debian package to install.
pub fn preflight(s: &KernelSettings) -> Result<()> {
    check_tools(s, true)
}

/// [`preflight`] for a machine that only builds kernels (a build node):
/// no QEMU, no busybox.
pub fn preflight_build(s: &KernelSettings) -> Result<()> {
    check_tools(s, false)
}

fn check_tools(s: &KernelSettings, runs: bool) -> Result<()> {
    let mut missing = Vec::new();
    let mut tools = vec![
        (s.compiler.as_str(), "gcc"),
        ("make", "make"),
        ("flex", "flex"),
        ("bison", "bison"),
        ("bc", "bc"),
        ("git", "git"),
    ];
    if runs {
        tools.insert(0, (s.qemu.as_str(), "qemu-system-x86"));
    }
    for (tool, pkg) in tools {
        if let Err(e) = culprit_kernel::require_tool(tool, pkg) {
            missing.push(e.to_string());
        }
    }
    if runs && !Path::new(&s.busybox).is_file() {
        missing.push(format!(
            "{} not found: install the Debian package `busybox-static`",
            s.busybox.display()
        ));
    }
    if !missing.is_empty() {
        bail!("missing tools:\n  {}", missing.join("\n  "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_toml_with_defaults() {
        let s: KernelSettings = toml::from_str(
            "reproducer = \"repro.c\"\nconfig = \"k.config\"\nmemory = 384\ncmdline = \"quiet\"\n",
        )
        .unwrap();
        assert_eq!(s.memory, 384);
        assert_eq!(s.reproducer, Some(PathBuf::from("repro.c")));
        assert_eq!(s.compiler, "gcc");
        assert_eq!(s.accel, "auto");
        assert!(toml::from_str::<KernelSettings>("vmz = 3\n").is_err());
    }

    #[test]
    fn preflight_names_the_package() {
        let s = KernelSettings {
            qemu: "qemu-system-x86_64-not-installed".into(),
            ..KernelSettings::default()
        };
        let e = preflight(&s).unwrap_err().to_string();
        assert!(e.contains("qemu-system-x86"), "{e}");
    }

    #[test]
    fn validation_names_the_option() {
        let d = tempfile::tempdir().unwrap();
        let repro = d.path().join("r.sh");
        std::fs::write(&repro, "true\n").unwrap();
        let ok = KernelSettings {
            reproducer: Some(repro),
            ..KernelSettings::default()
        };
        ok.validate().unwrap();
        let e = KernelSettings {
            reproducer: None,
            ..ok.clone()
        };
        assert!(e.validate().unwrap_err().to_string().contains("--repro"));
        let e = KernelSettings {
            repro_repeat: 0,
            ..ok.clone()
        };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--repro-repeat"));
        let e = KernelSettings {
            run_timeout: Some(1e19),
            ..ok.clone()
        };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--run-timeout"));
    }

    #[test]
    fn a_kernel_tree_has_its_landmarks() {
        let all = |_: &str| true;
        assert!(is_kernel_tree(&all));
        let no_kconfig = |f: &str| f != "Kconfig";
        assert!(!is_kernel_tree(&no_kconfig));
    }
}
