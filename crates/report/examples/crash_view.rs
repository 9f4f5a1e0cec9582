//! Shows each crash of a console log as a maintainer reads it: the report,
//! symbolised to `function file:line` (with `[inline]` frames) when a
//! vmlinux with DWARF is given, then syzkaller's "Code disassembly (best
//! guess)" block when the crash trapped in kernel code.
//!
//! `cargo run -p culprit-report --example crash_view -- LOG [VMLINUX]`
//!
//! On the reference syzbot log (already symbolised by syzbot, whose
//! vmlinux is not at hand) it shows the disassembly only.

use culprit_report::{disasm, symbolize::Symbolizer};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: crash_view LOG [VMLINUX]");
        std::process::exit(2);
    }
    let log = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("crash_view: cannot read {}: {e}", args[1]);
        std::process::exit(1)
    });
    let sym = args.get(2).map(|p| {
        let t = Instant::now();
        let elf = std::fs::read(p).unwrap_or_else(|e| {
            eprintln!("crash_view: cannot read {p}: {e}");
            std::process::exit(1)
        });
        let s = Symbolizer::new(&elf).unwrap_or_else(|e| {
            eprintln!("crash_view: {p}: {e}");
            std::process::exit(1)
        });
        eprintln!("symbolizer for {p} built in {:.2?}", t.elapsed());
        s
    });
    let mut n = 0;
    for r in culprit_report::reports(&log) {
        n += 1;
        println!("==== crash {n}: {}", r.title);
        let t = Instant::now();
        let text = match &sym {
            Some(s) => s.symbolize(&r.report),
            None => r.report.clone(),
        };
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
        if sym.is_some() {
            eprintln!("symbolised in {:.2?}", t.elapsed());
        }
        if let Some(block) = disasm::report_block(&r.report) {
            println!("----------------\n{block}");
        }
    }
    if n == 0 {
        eprintln!("crash_view: no crash report in {}", args[1]);
    }
}
