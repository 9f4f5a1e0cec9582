//! The Code: disassembly against what syzkaller's objdump-based
//! decompiler printed (testdata/syzkaller/decompile: N.in a report, N.out
//! the report with the block appended, or unchanged when syzkaller found
//! nothing worth decoding) and against the reference syzbot log's block.
//!
//! x86-64 must match objdump's text exactly. arm and arm64 are decoded by
//! yaxpeax-arm; they must match on offsets, encodings, the trapping mark
//! and mnemonics, and on operands after the normalisation in
//! `arm_operands` (objdump's value comments dropped; documented there).

use culprit_report::disasm::report_block;
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CULPRIT_SHARED_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("testdata/syzkaller/decompile").is_dir())
}

const HEADER: &str = "Code disassembly (best guess):\n";

fn expected_block(out: &str) -> Option<String> {
    let at = out.find(HEADER)?;
    Some(out[at..].to_string())
}

/// One rendered line: (marker+offset, encoding, mnemonic, operands).
fn fields(line: &str) -> (String, String, String, String) {
    let parts: Vec<&str> = line.splitn(3, '\t').collect();
    let asm = parts.get(2).copied().unwrap_or("");
    let asm = asm.trim_end_matches(" <-- trapping instruction");
    let (m, ops) = asm.split_once(['\t', ' ']).unwrap_or((asm, ""));
    (
        parts[0].to_string(),
        parts.get(1).unwrap_or(&"").trim().to_string(),
        m.to_string(),
        ops.trim().to_string(),
    )
}

/// objdump and yaxpeax spell the same operands differently:
/// - objdump appends the immediate's value as a comment (`// #4269801472`,
///   `@ 0xffffffe0`): dropped;
/// - objdump writes branch targets as absolute addresses (`0x50`),
///   yaxpeax relative to the instruction (`$+0x50`): made absolute;
/// - arm immediates: objdump `#32`/`#-32`, yaxpeax `0x20`/`-0x20`: both
///   become the number in decimal;
/// - spaces after commas and letter case are ignored.
fn arm_operands(ops: &str, offset: u64) -> String {
    let ops = ops.split(['@', '/']).next().unwrap_or("").trim();
    let ops = if let Some(rel) = ops
        .strip_prefix("$+0x")
        .or_else(|| ops.strip_prefix("$-0x"))
    {
        let v = i64::from_str_radix(rel, 16).unwrap_or(0);
        let v = if ops.starts_with("$-") { -v } else { v };
        format!("0x{:x}", offset as i64 + v)
    } else {
        ops.to_string()
    };
    let number = |t: &str| -> Option<i64> {
        let t = t.trim_start_matches('#');
        let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
        let v = match t.strip_prefix("0x") {
            Some(h) => i64::from_str_radix(h, 16).ok()?,
            None => t.parse().ok()?,
        };
        Some(if neg { -v } else { v })
    };
    ops.split(',')
        .map(|t| {
            let t = t.trim();
            let (open, t) = t.strip_prefix('[').map_or(("", t), |r| ("[", r));
            let (t, close) = t.strip_suffix(']').map_or((t, ""), |r| (r, "]"));
            let t = number(t).map_or_else(|| t.to_lowercase(), |v| v.to_string());
            format!("{open}{t}{close}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn syzkaller_decompile_testdata() {
    let Some(root) = shared() else {
        eprintln!("skipped: no shared/testdata/syzkaller/decompile (set CULPRIT_SHARED_DIR)");
        return;
    };
    let mut compared = 0;
    let mut notes = Vec::new();
    for arch in ["amd64", "arm64", "arm"] {
        let dir = root.join("testdata/syzkaller/decompile").join(arch);
        let mut n = 0;
        while let Ok(input) = std::fs::read_to_string(dir.join(format!("{n}.in"))) {
            let out = std::fs::read_to_string(dir.join(format!("{n}.out"))).unwrap();
            let want = expected_block(&out);
            let got = report_block(&input);
            let name = format!("{arch}/{n}");
            assert_eq!(
                got.is_some(),
                want.is_some(),
                "{name}: ours\n{got:?}\nsyzkaller\n{want:?}"
            );
            if let (Some(got), Some(want)) = (got, want) {
                eprintln!("{name} ours:\n{got}{name} syzkaller:\n{want}");
                if arch == "amd64" {
                    assert_eq!(got.trim_end(), want.trim_end(), "{name}");
                } else {
                    let g: Vec<_> = got.lines().skip(1).map(fields).collect();
                    let w: Vec<_> = want.lines().skip(1).map(fields).collect();
                    assert_eq!(g.len(), w.len(), "{name}: instruction count");
                    for (a, b) in g.iter().zip(&w) {
                        assert_eq!((&a.0, &a.1, &a.2), (&b.0, &b.1, &b.2), "{name}");
                        let off = u64::from_str_radix(
                            a.0.trim_start_matches('*').trim().trim_end_matches(':'),
                            16,
                        )
                        .unwrap();
                        let (x, y) = (arm_operands(&a.3, off), arm_operands(&b.3, off));
                        if a.3 != b.3 {
                            notes.push(format!(
                                "{name} {}: yaxpeax {:?} objdump {:?}",
                                a.0, a.3, b.3
                            ));
                        }
                        assert_eq!(x, y, "{name} {}: operands", a.0);
                    }
                }
                compared += 1;
            }
            n += 1;
        }
        assert!(n > 0, "no cases in {}", dir.display());
    }
    eprintln!(
        "{compared} blocks compared; spelling differences:\n{}",
        notes.join("\n")
    );
    assert!(compared >= 3);
}

#[test]
fn the_reference_logs_own_block() {
    let Some(root) = shared() else {
        eprintln!("skipped: no shared/ (set CULPRIT_SHARED_DIR)");
        return;
    };
    let log = std::fs::read_to_string(root.join("reference/syzbot-cause-bisection.log")).unwrap();
    let crash = &log[log.find("\ncrash: ").expect("crash section")..];
    let (report, theirs) = crash
        .split_once("----------------\n")
        .expect("block separator");
    let ours = report_block(report).expect("the GPF's code is worth decoding");
    eprintln!("{ours}");
    assert_eq!(ours.trim_end(), theirs.trim_end());
}
