//! x86-64 disassembly against GNU objdump itself, on many windows of real
//! machine code (this test executable's own .text and some system
//! programs'): every line must be
//! the line objdump prints (`objdump -D -b binary -m i386 -M x86-64`, trailing
//! spaces trimmed as syzkaller does). Skipped when objdump is missing.
//!
//! Not compared, because they only show up when bytes that are not code
//! get decoded (a window starting mid-instruction), and are counted:
//! objdump's `rex.*` names for REX prefixes an instruction does not use
//! (iced drops them silently), and how many bytes objdump's `(bad)`
//! swallows, or which invalid encodings it still decodes (`lock jb`,
//! `mov ...,%cs`: iced says `(bad)`), its `%riz`/`%eiz` for a SIB byte
//! without index (compilers never emit one), and an fwait folded into the
//! x87 instruction after it (the kernel has no x87 code); after any of
//! them, the rest of the window. Nor objdump's `...`
//! for trailing zero bytes, which it elides without `-z`.

use culprit_report::disasm::{disassemble, Arch, Code};
use object::{Object, ObjectSection};
use std::process::Command;

fn objdump_lines(bytes: &[u8], dir: &std::path::Path) -> Vec<String> {
    let f = dir.join("window.bin");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new("objdump")
        // As syzkaller runs it: a 32-bit binary target decoded as x86-64,
        // hence 32-bit branch targets.
        .args(["-D", "-b", "binary", "-m", "i386", "-M", "x86-64"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.ends_with("<.data>:"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn windows_of_real_code_match_objdump() {
    let have = Command::new("objdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("skipped: binutils' objdump is not installed");
        return;
    }
    // This test's own code, and system programs built by another
    // compiler at another time: code this test did not choose.
    let mut files = vec![std::env::current_exe().unwrap()];
    files.extend(
        ["/bin/ls", "/usr/bin/git", "/usr/bin/objdump"]
            .iter()
            .map(std::path::PathBuf::from)
            .filter(|p| p.exists()),
    );
    let mut texts = Vec::new();
    for f in &files {
        let exe = std::fs::read(f).unwrap();
        let obj = object::File::parse(&*exe).unwrap();
        if let Some(s) = obj.section_by_name(".text") {
            texts.push(s.data().unwrap().to_vec());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let windows: usize = std::env::var("DISASM_WINDOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let (mut lines, mut skipped, mut diffs) = (0, 0, Vec::new());
    for (w, bytes) in texts
        .iter()
        .flat_map(|text| {
            let step = (text.len() / windows).max(1);
            (0..windows).filter_map(move |w| text.get(w * step..w * step + 64))
        })
        .enumerate()
    {
        let theirs = objdump_lines(bytes, dir.path());
        // Decoding from the first byte, as objdump does (the alignment
        // search is the unit tests' business).
        let d = disassemble(&Code {
            arch: Arch::X86_64,
            bytes: bytes.to_vec(),
            trap: 0,
        });
        let ours: Vec<String> = d
            .render()
            .lines()
            .map(|l| {
                let l = l.trim_end_matches(" <-- trapping instruction");
                match l.strip_prefix('*') {
                    Some(rest) => format!(" {rest}"),
                    None => l.to_string(),
                }
            })
            .collect();
        for (i, t) in theirs.iter().enumerate() {
            let asm = t.split('\t').nth(2).unwrap_or("");
            let ours_bad = ours.get(i).is_some_and(|l| l.ends_with("(bad)"));
            let bytes = t.split('\t').nth(1).unwrap_or("");
            let folded_wait = bytes.starts_with("9b ") && bytes.trim_end() != "9b";
            if asm.split(' ').any(|w| w.starts_with("rex"))
                || folded_wait
                || asm.contains("(bad)")
                || asm.contains("%riz")
                || asm.contains("%eiz")
                || ours_bad
                || t == "\t..."
            {
                skipped += 1;
                break;
            }
            lines += 1;
            let o = ours.get(i).map(String::as_str).unwrap_or("<none>");
            if o != t {
                diffs.push(format!(
                    "window {w} line {i}:\n  ours    {o:?}\n  objdump {t:?}"
                ));
                break;
            }
        }
    }
    eprintln!(
        "{lines} objdump lines compared, {skipped} windows cut short at a non-code line, {} windows differ",
        diffs.len()
    );
    assert!(lines > 1000, "too little code compared");
    assert!(
        diffs.is_empty(),
        "{}",
        diffs[..diffs.len().min(30)].join("\n")
    );
}
