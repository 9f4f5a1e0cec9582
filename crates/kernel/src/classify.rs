//! One run's console, and how the machine ended, to an outcome.
//!
//! The init markers split the console into phases. A crash before init
//! started is a boot failure; between init and the smoke-test marker, a
//! failed smoke test; after it, the reproducer's crash. Crash titles come
//! from culprit-report. A QEMU that could not start is an infrastructure
//! error, kept apart from anything the kernel did.

use crate::initramfs::{INIT_STARTED, REPRO_DONE, SMOKE_FAILED, SMOKE_OK};
use crate::qemu::{Exit, Outcome};

/// What a run showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// The reproducer's crash: its title and, when there was one, the
    /// report it was read from.
    Crashed {
        title: String,
        report: Option<Box<culprit_report::Report>>,
    },
    /// "boot failed: ..."
    BootFailed(String),
    /// "basic kernel testing failed: ..."
    SmokeFailed(String),
    /// The reproducer ran past the run timeout without a crash.
    Timeout(String),
    /// QEMU itself failed.
    Infra(String),
}

fn find(hay: &[u8], needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.windows(n.len()).position(|w| w == n)
}

/// Classifies one run.
pub fn classify(out: &Outcome) -> Verdict {
    if let Exit::StartFailed(why) = &out.exit {
        return Verdict::Infra(format!("QEMU failed to start: {why}"));
    }
    let con = &out.console;
    let init = find(con, INIT_STARTED);
    let smoke_ok = find(con, SMOKE_OK);
    let smoke_failed = find(con, SMOKE_FAILED);
    let done = find(con, REPRO_DONE);
    if let Some(r) = culprit_report::reports(con).next() {
        let title = r.title.clone();
        return match (init, smoke_ok) {
            (None, _) => Verdict::BootFailed(title),
            (Some(_), None) => Verdict::SmokeFailed(title),
            (Some(_), Some(s)) if r.start < s => Verdict::SmokeFailed(title),
            (Some(i), _) if r.start < i => Verdict::BootFailed(title),
            _ => Verdict::Crashed {
                title,
                report: Some(Box::new(r)),
            },
        };
    }
    if init.is_none() {
        return Verdict::BootFailed(match &out.exit {
            Exit::BootTimeout => "timed out waiting for init (no crash report)".into(),
            _ if con.is_empty() => "no console output".into(),
            _ => "machine stopped before init ran (no crash report)".into(),
        });
    }
    if let Some(p) = smoke_failed {
        let rest = &con[p + SMOKE_FAILED.len()..];
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        return Verdict::SmokeFailed(String::from_utf8_lossy(line).trim().to_string());
    }
    if smoke_ok.is_none() {
        return Verdict::SmokeFailed(match &out.exit {
            Exit::RunTimeout => "smoke test timed out".into(),
            _ => "machine stopped during the smoke test".into(),
        });
    }
    if done.is_some() {
        return Verdict::Ok;
    }
    match &out.exit {
        Exit::RunTimeout => Verdict::Timeout("reproducer still running at the run timeout".into()),
        // The machine went away while the reproducer ran, without a report:
        // syzbot calls this a lost connection, and it is a crash.
        _ => Verdict::Crashed {
            title: "lost connection to test machine".into(),
            report: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(console: &str, exit: Exit) -> Outcome {
        Outcome {
            exit,
            console: console.as_bytes().to_vec(),
            stderr: String::new(),
            secs: 1.0,
        }
    }

    const OOPS: &str = "BUG: kernel NULL pointer dereference, address: 0000000000000000\n\
        #PF: supervisor write access in kernel mode\nRIP: 0010:__do_sys_prctl+0x1/0x2\n\
        Kernel panic - not syncing: Fatal exception\n";

    fn title() -> String {
        culprit_report::parse(OOPS.as_bytes()).unwrap().title
    }

    #[test]
    fn phases() {
        let exited = || Exit::Exited(Some(0));
        let ok = format!("boot\n{INIT_STARTED}\n{SMOKE_OK}\n{REPRO_DONE} status=0\n");
        assert_eq!(classify(&out(&ok, exited())), Verdict::Ok);

        let crash = format!("boot\n{INIT_STARTED}\n{SMOKE_OK}\n{OOPS}");
        assert!(
            matches!(classify(&out(&crash, exited())), Verdict::Crashed { title: t, report: Some(_) } if t == title())
        );

        let boot = format!("early\n{OOPS}");
        assert_eq!(
            classify(&out(&boot, exited())),
            Verdict::BootFailed(title())
        );

        let smoke = format!("{INIT_STARTED}\n{OOPS}");
        assert_eq!(
            classify(&out(&smoke, exited())),
            Verdict::SmokeFailed(title())
        );

        let smoke2 = format!("{INIT_STARTED}\n{SMOKE_FAILED}tmpfs write/read\n");
        assert_eq!(
            classify(&out(&smoke2, exited())),
            Verdict::SmokeFailed("tmpfs write/read".into())
        );
    }

    #[test]
    fn timeouts_and_infrastructure() {
        assert!(matches!(
            classify(&out("Linux version 6.1\n", Exit::BootTimeout)),
            Verdict::BootFailed(r) if r.contains("timed out")
        ));
        let hang = format!("{INIT_STARTED}\n{SMOKE_OK}\n");
        assert!(matches!(
            classify(&out(&hang, Exit::RunTimeout)),
            Verdict::Timeout(_)
        ));
        assert!(matches!(
            classify(&out(&hang, Exit::Exited(Some(0)))),
            Verdict::Crashed { title: t, .. } if t.contains("lost connection")
        ));
        let v = classify(&out("", Exit::StartFailed("no such file".into())));
        assert!(matches!(&v, Verdict::Infra(r) if r.contains("QEMU failed to start")));
        assert!(matches!(v, Verdict::Infra(_)), "{v:?}");
    }
}
