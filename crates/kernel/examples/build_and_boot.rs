//! The manual way, as a `git bisect run` step: build the kernel checked out in
//! SRC exactly as culprit's kernel backend does (same config preparation, same
//! reproducible make with ccache, build directory next to the tree), then boot
//! it RUNS times (VMS at a time) with culprit's initramfs and reproducer.
//!
//! `build_and_boot SRC WORKDIR CONFIG REPRO RUNS VMS`
//!
//! Exit status for `git bisect run`: 1 if any run crashed (a manual bisector
//! calls a commit bad on the first crash), 125 (skip) if it does not build or
//! no run booted, 0 otherwise. Appends "build SECS" / "test SECS RUNS" lines
//! to WORKDIR/times.txt so the benchmark can split the wall time.
//! It never writes into SRC (make runs with `O=WORKDIR/build`).

use culprit_kernel::build::{Builder, Compiler};
use culprit_kernel::classify::{classify, Verdict};
use culprit_kernel::{accel, config, initramfs, qemu};
use culprit_proc::Cancel;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("build_and_boot: {e}");
            // Not a verdict on the commit: stop `git bisect run` (exit > 127
            // aborts it) instead of silently skipping.
            std::process::exit(128);
        }
    }
}

fn log_time(workdir: &Path, line: &str) -> Res<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(workdir.join("times.txt"))?;
    writeln!(f, "{line}")?;
    Ok(())
}

fn run() -> Res<i32> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        return Err("usage: build_and_boot SRC WORKDIR CONFIG REPRO RUNS VMS".into());
    }
    let (src, work) = (PathBuf::from(&a[1]), std::path::absolute(&a[2])?);
    let runs: u32 = a[5].parse()?;
    let vms: u32 = a[6].parse::<u32>()?.max(1);
    std::fs::create_dir_all(&work)?;
    // culprit's defaults (KernelSettings::default()).
    let repro_time = 60.0_f64;

    // Build (timed like culprit's build_secs: config + make + copy).
    let t = Instant::now();
    let base = std::fs::read_to_string(&a[3])?;
    let b = Builder::new(&src, &work.join("build"), Compiler::detect("gcc"))?;
    let cancel = Cancel::new();
    let built = config::prepare(&b, &base, &work.join("config.log"), &cancel, None)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            b.make(&["bzImage"], &work.join("build.log"), &cancel)
                .map_err(|e| e.to_string())
        });
    let kernel = work.join("bzImage");
    let ok = match built {
        Ok(o) if o.ok => {
            std::fs::copy(b.build_dir.join("arch/x86/boot/bzImage"), &kernel)?;
            true
        }
        Ok(o) => {
            eprintln!("build failed: {}", o.first_error.unwrap_or_default());
            false
        }
        Err(e) => {
            eprintln!("build failed: {e}");
            false
        }
    };
    log_time(&work, &format!("build {:.3}", t.elapsed().as_secs_f64()))?;
    if !ok {
        return Ok(125);
    }

    // Test: the initramfs is built once per workdir, like culprit does once
    // per campaign.
    let t = Instant::now();
    let initrd = work.join("initramfs.cpio");
    if !initrd.is_file() {
        let repro = initramfs::Repro::detect(Path::new(&a[4]))?;
        let tmp = work.join("repro-build");
        std::fs::create_dir_all(&tmp)?;
        initramfs::build(
            "/bin/busybox".as_ref(),
            &repro,
            // The manual way: one execution per boot.
            initramfs::ReproRun {
                secs: repro_time as u64,
                repeat: 1,
            },
            &tmp,
            &initrd,
            &cancel,
        )?;
    }
    let (accel, _) = accel::detect();
    let m = qemu::Machine {
        qemu: "qemu-system-x86_64".into(),
        kernel,
        initrd,
        memory_mb: 512,
        cpus: 1,
        accel,
        cmdline: String::new(),
        boot_timeout: Duration::from_secs(120),
        run_timeout: Duration::from_secs_f64(300f64.max(repro_time + 30.0)),
    };
    let (crashed, booted) = (AtomicU32::new(0), AtomicU32::new(0));
    let items: Vec<u32> = (0..runs).collect();
    culprit_proc::pool(&cancel, &items, vms as usize, |&i| {
        let v = match m.boot(&work.join(format!("run-{i}.log")), &cancel) {
            Ok(out) => classify(&out),
            Err(e) => Verdict::Infra(e.to_string()),
        };
        eprintln!("run #{i}: {}", short(&v));
        match v {
            Verdict::Crashed { .. } => {
                crashed.fetch_add(1, Ordering::SeqCst);
                booted.fetch_add(1, Ordering::SeqCst);
            }
            Verdict::Ok => {
                booted.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    });
    log_time(
        &work,
        &format!("test {:.3} {runs}", t.elapsed().as_secs_f64()),
    )?;
    let (c, bt) = (crashed.into_inner(), booted.into_inner());
    eprintln!("{c} of {runs} runs crashed, {bt} booted");
    Ok(if c > 0 {
        1
    } else if bt == 0 {
        125
    } else {
        0
    })
}

/// A verdict in one line: its kind and title or reason.
fn short(v: &culprit_kernel::classify::Verdict) -> String {
    use culprit_kernel::classify::Verdict;
    match v {
        Verdict::Crashed { title, .. } => format!("crashed: {title}"),
        other => format!("{other:?}"),
    }
}
