//! One QEMU machine: boot the kernel with the initramfs, capture the serial
//! console to a file, stop it on time.
//!
//! Two deadlines: the boot timeout runs until init prints its first marker,
//! then the run timeout starts. The console is QEMU's standard output,
//! captured through culprit-proc with a bound (the first MiB and the last
//! 4 MiB, where the crash is), so a kernel that floods the console cannot
//! fill the disk or the memory. QEMU runs contained and is killed on
//! timeout and on cancel; it never outlives culprit.

use crate::accel::Accel;
use crate::initramfs::INIT_STARTED;
use crate::{Error, Result};
use culprit_proc::{Bound, Cancel, Exit as JobExit, Job, ParentDeath, Sink};
use std::path::{Path, PathBuf};
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
    /// The QEMU job; the serial console is its standard output.
    pub fn command(&self) -> Job {
        let mut c = Job::new(&self.qemu);
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
            .args(["-serial", "stdio"])
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
    /// cancel of `cancel` or an I/O failure of culprit itself.
    pub fn boot(&self, console: &Path, cancel: &Cancel) -> Result<Outcome> {
        let mut job = self.command();
        job.stdout(Sink::file(console))
            .stderr(Sink::Memory(Bound {
                head: 16 << 10,
                tail: 16 << 10,
            }))
            .timeout(self.boot_timeout)
            .parent_death(ParentDeath::Kill);
        let started = job.watch(INIT_STARTED);
        let run_timeout = self.run_timeout;
        let mut booted = false;
        let out = match job.run_with(cancel, |t| {
            if !booted && t.seen(started) {
                booted = true;
                t.deadline = Some(Instant::now() + run_timeout);
            }
        }) {
            Ok(o) => o,
            Err(culprit_proc::Error::Spawn { source, .. }) => {
                return Ok(Outcome {
                    exit: Exit::StartFailed(format!("cannot run {}: {source}", self.qemu)),
                    console: Vec::new(),
                    stderr: String::new(),
                    secs: 0.0,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let console_bytes = crate::read(console)?;
        let stderr = String::from_utf8_lossy(&out.stderr.bytes).into_owned();
        let booted = booted || out.seen(started);
        let exit = match out.exit {
            JobExit::Cancelled => return Err(Error::Cancelled),
            JobExit::TimedOut if booted => Exit::RunTimeout,
            JobExit::TimedOut => Exit::BootTimeout,
            e if !e.success() && out.stdout.total == 0 => Exit::StartFailed(
                stderr
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("qemu exited with no output")
                    .to_string(),
            ),
            JobExit::Code(c) => Exit::Exited(Some(c)),
            _ => Exit::Exited(None),
        };
        Ok(Outcome {
            exit,
            console: console_bytes,
            stderr,
            secs: out.secs,
        })
    }
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
        let c = machine("qemu-system-x86_64").command();
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let s = args.join(" ");
        assert!(s.contains("-no-reboot"));
        assert!(s.contains("-accel tcg"));
        assert!(s.contains("-serial stdio"));
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
            .boot(&d.path().join("c.log"), &Cancel::new())
            .unwrap();
        assert!(matches!(out.exit, Exit::StartFailed(_)), "{:?}", out.exit);
    }
}
