//! One QEMU machine: boot the kernel with the initramfs, capture the serial
//! console to a file, stop it on time.
//!
//! Two deadlines: the boot timeout runs until init prints its first marker,
//! then the run timeout starts. QEMU runs in its own process group and is
//! killed on timeout, on cancel and when dropped; it never outlives culprit.

use crate::accel::Accel;
use crate::initramfs::INIT_STARTED;
use crate::{io_ctx, Error, Result};
use culprit_proc::{ParentDeath, Wait};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Always on the kernel command line: console on the serial port, and every
/// oops or warning ends the machine so the run ends at the first crash.
pub const BASE_CMDLINE: &str =
    "console=ttyS0 earlyprintk=serial oops=panic panic_on_warn=1 panic=-1 nokaslr";

#[derive(Debug, Clone)]
pub struct Machine {
    pub qemu: String,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub memory_mb: u32,
    pub cpus: u32,
    pub accel: Accel,
    /// Extra kernel command line from the user.
    pub cmdline: String,
    pub boot_timeout: Duration,
    pub run_timeout: Duration,
}

/// How the machine ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// QEMU exited on its own (reboot or panic with -no-reboot).
    Exited(Option<i32>),
    /// Init did not print its first marker within the boot timeout.
    BootTimeout,
    /// The run went past the run timeout.
    RunTimeout,
    /// QEMU could not start or failed at once (stderr in `Outcome::stderr`).
    StartFailed(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit: Exit,
    pub console: Vec<u8>,
    pub stderr: String,
    pub secs: f64,
}

impl Machine {
    /// The QEMU command line, console to `console`.
    pub fn command(&self, console: &Path) -> Command {
        let mut c = Command::new(&self.qemu);
        let cmdline = if self.cmdline.trim().is_empty() {
            BASE_CMDLINE.to_string()
        } else {
            format!("{BASE_CMDLINE} {}", self.cmdline.trim())
        };
        c.arg("-nodefaults")
            .args(["-display", "none"])
            .args(["-monitor", "none"])
            .arg("-no-reboot")
            .args(["-accel", &self.accel.to_string()])
            .args(["-m", &self.memory_mb.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .args(["-serial", &format!("file:{}", console.display())])
            .arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&self.initrd)
            .args(["-append", &cmdline]);
        if self.accel == Accel::Kvm {
            c.args(["-cpu", "host"]);
        }
        c
    }

    /// Boots once; the console is written to `console`. `Err` only for a
    /// cancel or an I/O failure of culprit itself.
    pub fn boot(&self, console: &Path) -> Result<Outcome> {
        let start = Instant::now();
        let stderr_path = console.with_extension("qemu-stderr");
        let stderr = io_ctx(std::fs::File::create(&stderr_path), || {
            format!("create {}", stderr_path.display())
        })?;
        // QEMU appends to an existing file; start empty.
        crate::write(console, b"")?;
        let mut cmd = self.command(console);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = match culprit_proc::spawn(&mut cmd, ParentDeath::Kill) {
            Ok(c) => c,
            Err(culprit_proc::Error::Spawn { source, .. }) => {
                return Ok(Outcome {
                    exit: Exit::StartFailed(format!("cannot run {}: {source}", self.qemu)),
                    console: Vec::new(),
                    stderr: String::new(),
                    secs: start.elapsed().as_secs_f64(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let mut booted = false;
        let mut last_check = Instant::now();
        let run_timeout = self.run_timeout;
        let wait = child.wait_until(start + self.boot_timeout, |deadline| {
            if booted || last_check.elapsed() < Duration::from_millis(200) {
                return;
            }
            last_check = Instant::now();
            if let Ok(text) = std::fs::read(console) {
                if contains(&text, INIT_STARTED.as_bytes()) {
                    booted = true;
                    *deadline = Instant::now() + run_timeout;
                }
            }
        })?;
        drop(child);
        let console_bytes = crate::read(console)?;
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let booted = booted || contains(&console_bytes, INIT_STARTED.as_bytes());
        let exit = match wait {
            Wait::Cancelled => return Err(Error::Cancelled),
            Wait::TimedOut if booted => Exit::RunTimeout,
            Wait::TimedOut => Exit::BootTimeout,
            Wait::Exited(st) if !st.success() && console_bytes.is_empty() => Exit::StartFailed(
                stderr
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("qemu exited with no output")
                    .to_string(),
            ),
            Wait::Exited(st) => Exit::Exited(st.code()),
        };
        Ok(Outcome {
            exit,
            console: console_bytes,
            stderr,
            secs: start.elapsed().as_secs_f64(),
        })
    }
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(qemu: &str) -> Machine {
        Machine {
            qemu: qemu.into(),
            kernel: "/k/bzImage".into(),
            initrd: "/k/initrd".into(),
            memory_mb: 256,
            cpus: 2,
            accel: Accel::Tcg,
            cmdline: " quiet ".into(),
            boot_timeout: Duration::from_secs(5),
            run_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn command_line() {
        let c = machine("qemu-system-x86_64").command(Path::new("/tmp/c.log"));
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let s = args.join(" ");
        assert!(s.contains("-no-reboot"));
        assert!(s.contains("-accel tcg"));
        assert!(s.contains("-serial file:/tmp/c.log"));
        assert!(s.contains("-m 256 -smp 2"));
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(append.starts_with("console=ttyS0"));
        assert!(append.contains("panic=-1"));
        assert!(append.ends_with(" quiet"));
    }

    #[test]
    fn missing_qemu_is_a_start_failure_not_an_error() {
        let d = tempfile::tempdir().unwrap();
        let out = machine("/nonexistent/qemu-system-x86_64")
            .boot(&d.path().join("c.log"))
            .unwrap();
        assert!(matches!(out.exit, Exit::StartFailed(_)), "{:?}", out.exit);
    }
}
