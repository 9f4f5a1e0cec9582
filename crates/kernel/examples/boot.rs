//! Boots a kernel with a reproducer a few times and prints each verdict and
//! how long it took: `cargo run -p culprit-kernel --example boot -- BZIMAGE REPRO [RUNS]`.

use culprit_kernel::{accel, classify, initramfs, qemu};
use culprit_proc::Cancel;
use std::path::PathBuf;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: boot BZIMAGE REPRO [RUNS]");
        std::process::exit(2);
    }
    let runs: u32 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let dir = tempfile::tempdir()?;
    let repro = initramfs::Repro::detect(&PathBuf::from(&args[2]))?;
    let initrd = dir.path().join("initramfs.cpio");
    let run = initramfs::ReproRun {
        secs: 30,
        repeat: 1,
    };
    // Ctrl-C kills this example; the watchdog then ends its QEMU.
    let cancel = Cancel::new();
    initramfs::build(
        "/bin/busybox".as_ref(),
        &repro,
        run,
        dir.path(),
        &initrd,
        &cancel,
    )?;
    let (accel, why) = accel::detect();
    println!("{why}");
    let m = qemu::Machine {
        qemu: "qemu-system-x86_64".into(),
        kernel: PathBuf::from(&args[1]),
        initrd,
        memory_mb: 256,
        cpus: 1,
        accel,
        cmdline: String::new(),
        boot_timeout: Duration::from_secs(60),
        run_timeout: Duration::from_secs(60),
    };
    for i in 0..runs {
        let console = dir.path().join(format!("{i}.log"));
        let out = m.boot(&console, &cancel)?;
        let v = classify::classify(&out);
        println!("run #{i}: {} ({:.2} s)", short(&v), out.secs);
        if std::env::var_os("SHOW_CONSOLE").is_some() {
            println!("{}", String::from_utf8_lossy(&out.console));
        }
    }
    Ok(())
}

/// A verdict in one line: its kind and title or reason.
fn short(v: &culprit_kernel::classify::Verdict) -> String {
    use culprit_kernel::classify::Verdict;
    match v {
        Verdict::Crashed { title, .. } => format!("crashed: {title}"),
        other => format!("{other:?}"),
    }
}
