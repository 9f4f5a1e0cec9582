//! MAINTAINERS speed on linux-source-6.1: parse + index (target <= 50 ms)
//! and one lookup (target <= 1 ms), next to the time of one
//! `scripts/get_maintainer.pl --nogit --nogit-fallback` call on the same
//! inputs (printed before the criterion results).
//!
//! Tree: `CULPRIT_LINUX_SRC` (an extracted tree), else the needed parts of
//! /usr/src/linux-source-6.1.tar.xz are extracted to a temporary directory.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use culprit_git::maintainers::{Input, Maintainers};

const TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";
const FILES: &[&str] = &[
    "io_uring/io_uring.c",
    "drivers/net/ethernet/intel/e1000e/netdev.c",
    "arch/arm64/boot/dts/rockchip/rk3399.dtsi",
    "kernel/bpf/verifier.c",
];

fn prepare() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Ok(src) = std::env::var("CULPRIT_LINUX_SRC") {
        return (PathBuf::from(src), None);
    }
    assert!(
        Path::new(TARBALL).exists(),
        "{TARBALL} missing: install linux-source-6.1 or set CULPRIT_LINUX_SRC"
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let listing = Command::new("tar")
        .args(["tf", TARBALL])
        .output()
        .unwrap()
        .stdout;
    for entry in String::from_utf8(listing).unwrap().lines() {
        if let Some(dir) = entry
            .strip_prefix("linux-source-6.1/")
            .and_then(|e| e.strip_suffix('/'))
        {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
    }
    let base = [
        "MAINTAINERS",
        ".mailmap",
        "scripts/get_maintainer.pl",
        "COPYING",
        "CREDITS",
        "Kbuild",
        "Makefile",
        "README",
    ];
    let members: Vec<String> = base
        .iter()
        .chain(FILES)
        .map(|m| format!("linux-source-6.1/{m}"))
        .collect();
    let st = Command::new("tar")
        .arg("xf")
        .arg(TARBALL)
        .arg("-C")
        .arg(&root)
        .arg("--strip-components=1")
        .args(&members)
        .status()
        .unwrap();
    assert!(st.success());
    (root, Some(tmp))
}

/// A patch touching the sample files, with a keyword on an added line.
fn patch(root: &Path) -> String {
    let mut p = String::from("From: A <a@example.org>\nSubject: [PATCH] bpf: x\n\n---\n");
    for f in FILES {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let line = text.lines().nth(10).unwrap_or("");
        p += &format!("diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -11,1 +11,2 @@\n-{line}\n+{line}\n+\tstruct bpf_prog *p;\n");
    }
    p
}

/// Mean wall time of `n` get_maintainer.pl runs with `args`.
fn perl_ms(root: &Path, args: &[&str], n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let out = Command::new("perl")
            .args(["scripts/get_maintainer.pl", "--nogit", "--nogit-fallback"])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    start.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
}

fn bench(c: &mut Criterion) {
    let (root, _tmp) = prepare();
    let text = std::fs::read_to_string(root.join("MAINTAINERS")).unwrap();
    let patch_text = patch(&root);
    let patch_path =
        std::env::temp_dir().join(format!("culprit-bench-{}.patch", std::process::id()));
    std::fs::write(&patch_path, &patch_text).unwrap();

    let one = perl_ms(&root, &["-f", FILES[0]], 20);
    let pat = perl_ms(&root, &[patch_path.to_str().unwrap()], 20);
    println!("get_maintainer.pl per call (mean of 20): -f {}: {one:.1} ms; patch of {} files: {pat:.1} ms", FILES[0], FILES.len());
    std::fs::remove_file(&patch_path).unwrap();

    c.bench_function("maintainers/parse_index_text", |b| {
        b.iter(|| Maintainers::parse(black_box(&text)).unwrap())
    });
    c.bench_function("maintainers/load_tree (read + parse + dir checks)", |b| {
        b.iter(|| Maintainers::load(black_box(&root)).unwrap().unwrap())
    });
    let m = Maintainers::load(&root).unwrap().unwrap();
    let paths = [PathBuf::from(FILES[0])];
    c.bench_function("maintainers/lookup_one_file (-f, reads file for K:)", |b| {
        b.iter(|| m.lookup_paths(&root, black_box(&paths)).unwrap())
    });
    c.bench_function("maintainers/lookup_one_path (no content)", |b| {
        b.iter(|| {
            m.lookup(&[Input::File {
                path: black_box(FILES[1]),
                content: None,
            }])
            .unwrap()
        })
    });
    c.bench_function("maintainers/lookup_patch_4_files", |b| {
        b.iter(|| {
            m.lookup(&[Input::Patch(black_box(patch_text.as_bytes()))])
                .unwrap()
        })
    });
    c.bench_function(
        "maintainers/load_then_first_patch_lookup (K: compile included)",
        |b| {
            b.iter(|| {
                let m = Maintainers::load(&root).unwrap().unwrap();
                m.lookup(&[Input::Patch(patch_text.as_bytes())]).unwrap()
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
