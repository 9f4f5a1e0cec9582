//! The symbolizer against binutils' `addr2line -i -f`: on a small program
//! this test compiles itself (gcc -g -O2, inline functions, two static
//! functions of the same name), and on a kernel given by
//! `CULPRIT_TEST_VMLINUX` (skipped with a message when unset).

mod common;

use common::binutils::{addr2line, have, same};
use culprit_report::symbolize::{paths::Prefixes, Frame, Symbolizer};
use object::{Object, ObjectSection, ObjectSymbol, SectionKind};
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: &[(&str, &str)] = &[
    ("include/inl.h", include_str!("symbolize_src/include/inl.h")),
    ("init/main.c", include_str!("symbolize_src/init/main.c")),
    ("mm/dup.c", include_str!("symbolize_src/mm/dup.c")),
];

/// Text symbols with their addresses and sizes.
fn functions(elf: &[u8]) -> Vec<(String, u64, u64)> {
    let obj = object::File::parse(elf).unwrap();
    let mut v: Vec<(String, u64, u64)> = obj
        .symbols()
        .filter(|s| s.size() > 0)
        .filter(|s| {
            s.section_index()
                .and_then(|i| obj.section_by_index(i).ok())
                .is_some_and(|sec| sec.kind() == SectionKind::Text)
        })
        .map(|s| (s.name().unwrap().to_string(), s.address(), s.size()))
        .collect();
    v.sort_by_key(|f| f.1);
    v
}

/// Builds the test program the way Kbuild builds a kernel with `O=`: from
/// a build directory next to the tree, sources named `../tree/...`. With
/// `split`, mm/dup.c is compiled in another worktree (`other/`), as when
/// ccache serves an object another worktree compiled: its DWARF names the
/// other build directory.
fn build(dir: &Path, dwarf: &str, split: bool) -> PathBuf {
    let roots = [dir.to_path_buf(), dir.join("other")];
    for root in &roots {
        for (name, text) in SOURCES {
            let p = root.join("tree").join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::fs::create_dir_all(root.join("build")).unwrap();
    }
    let gcc = |root: &Path, args: &[&str]| {
        let out = Command::new("gcc")
            .current_dir(root.join("build"))
            .args(args)
            .output()
            .expect("run gcc");
        assert!(
            out.status.success(),
            "gcc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let dup_root = if split { &roots[1] } else { &roots[0] };
    gcc(
        &roots[0],
        &[dwarf, "-O2", "-c", "-o", "main.o", "../tree/init/main.c"],
    );
    gcc(
        dup_root,
        &[dwarf, "-O2", "-c", "-o", "dup.o", "../tree/mm/dup.c"],
    );
    let dup = dup_root.join("build/dup.o").display().to_string();
    gcc(&roots[0], &["-o", "prog", "main.o", &dup]);
    roots[0].join("build/prog")
}

#[test]
fn every_address_of_a_small_program_agrees_with_binutils() {
    if !have("gcc") || !have("addr2line") {
        eprintln!("skipped: needs gcc and binutils' addr2line");
        return;
    }
    for (dwarf, split) in [
        ("-gdwarf-5", false),
        ("-gdwarf-4", false),
        ("-gdwarf-5", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let prog = build(dir.path(), dwarf, split);
        let elf = std::fs::read(&prog).unwrap();
        let sym = Symbolizer::new(&elf).unwrap();
        let mut prefixes = Prefixes::default();
        prefixes.add(&dir.path().join("tree").display().to_string());
        prefixes.add(&dir.path().join("build").display().to_string());
        prefixes.add(&dir.path().join("other/tree").display().to_string());
        prefixes.add(&dir.path().join("other/build").display().to_string());
        let ours_only = ["main", "crash", "helper", "mm_entry"];
        let funcs: Vec<_> = functions(&elf)
            .into_iter()
            .filter(|f| ours_only.contains(&f.0.as_str()))
            .collect();
        assert_eq!(
            funcs.iter().filter(|f| f.0 == "helper").count(),
            2,
            "{dwarf}: the test needs two static helper()s: {funcs:?}"
        );
        let addrs: Vec<u64> = funcs.iter().flat_map(|f| f.1..f.1 + f.2).collect();
        let theirs = addr2line(&prog, &addrs, &prefixes);
        let mut inlined = 0;
        for (a, t) in addrs.iter().zip(&theirs) {
            let ours = sym.frames_at(*a);
            assert!(
                same(&ours, t),
                "{dwarf} {a:#x}: ours {ours:?}\nbinutils {t:?}"
            );
            inlined += usize::from(ours.len() > 1);
        }
        assert!(inlined > 10, "{dwarf}: the program must exercise inlining");
        // Paths come out relative to the tree, as in a kernel.
        let files: Vec<String> = addrs
            .iter()
            .flat_map(|a| sym.frames_at(*a))
            .filter_map(|f| f.file)
            .collect();
        for want in ["init/main.c", "mm/dup.c", "include/inl.h"] {
            assert!(
                files.iter().any(|f| f == want),
                "{dwarf}: no {want} in {files:?}"
            );
        }
        eprintln!(
            "{dwarf} split={split}: {} addresses agree with binutils",
            addrs.len()
        );

        // Each `helper` is told apart by its size, and a report line is
        // looked up at its return address minus one.
        for (name, addr, size) in funcs.iter().filter(|f| f.0 == "helper") {
            assert_eq!(sym.resolve(name, 5, *size), Some(addr + 5));
        }
        // A size neither has: ambiguous, not resolved.
        assert_eq!(sym.resolve("helper", 5, 0x7777), None);
        assert_eq!(sym.resolve("no_such_function", 0, 0x10), None);
        let report = report_text(&funcs);
        let rendered = sym.symbolize(&report);
        assert_eq!(
            rendered,
            expected(&prog, &report, &funcs, &prefixes),
            "{dwarf}"
        );
    }
}

/// A report naming every function at a few offsets: a RIP line, then
/// frames (some unreliable).
fn report_text(funcs: &[(String, u64, u64)]) -> String {
    let mut r = String::from("general protection fault: 0000 [#1] SMP\n");
    for (i, (name, _, size)) in funcs.iter().enumerate() {
        for off in [1, size / 2, size - 1] {
            let prefix = match (i, off) {
                (0, 1) => "RIP: 0010:",
                (_, 1) => " ? ",
                _ => " ",
            };
            r.push_str(&format!("{prefix}{name}+{off:#x}/{size:#x}\n"));
        }
    }
    r.push_str(" unknown_function+0x1/0x10\nRIP: 0033:0x4665f9\n");
    r
}

/// What the symbolised report must be, from binutils' answers.
fn expected(prog: &Path, report: &str, funcs: &[(String, u64, u64)], p: &Prefixes) -> String {
    let mut out = String::new();
    for line in report.lines() {
        let hit = funcs.iter().find_map(|(name, addr, size)| {
            let start = line.find(&format!("{name}+"))?;
            let rest = &line[start + name.len() + 1..];
            let (off, sz) = rest.split_once('/')?;
            let off = u64::from_str_radix(off.trim_start_matches("0x"), 16).ok()?;
            (sz == format!("{size:#x}")).then_some((start, addr + off))
        });
        let Some((start, addr)) = hit else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let lookup = if line.starts_with("RIP:") {
            addr
        } else {
            addr - 1
        };
        let frames: Vec<Frame> = addr2line(prog, &[lookup], p).remove(0);
        let head = &line[..start];
        for f in &frames[..frames.len() - 1] {
            let name = f.function.as_deref().unwrap();
            out.push_str(&format!(
                "{head}{name} {} [inline]\n",
                f.location().unwrap()
            ));
        }
        out.push_str(&format!(
            "{line} {}\n",
            frames.last().unwrap().location().unwrap()
        ));
    }
    out
}

/// Only the innermost frame's file differs.
fn innermost_file_only(ours: &[Frame], theirs: &[Frame]) -> bool {
    ours.len() == theirs.len()
        && !ours.is_empty()
        && ours[0].file != theirs[0].file
        && same(&ours[1..], &theirs[1..])
        && ours[0].function == theirs[0].function
        && ours[0].line == theirs[0].line
}

/// readelf's decoded line table: (address, file base name), sorted by
/// address, rows at one address in table order.
fn decoded_lines(elf: &Path) -> Vec<(u64, String)> {
    let out = Command::new("readelf")
        .args(["-W", "--debug-dump=decodedline"])
        .arg(elf)
        .output()
        .expect("run readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let file = w.next()?;
            let _line = w.next()?;
            let addr = u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()?;
            Some((addr, file.rsplit('/').next()?.to_string()))
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows
}

/// A kernel built with DWARF: every function at several offsets, each
/// compared with binutils. Set CULPRIT_TEST_VMLINUX to the vmlinux (in its
/// build directory); CULPRIT_TEST_CONSOLE may name a console log whose
/// frames are compared too.
#[test]
fn a_kernel_agrees_with_binutils() {
    let Some(vmlinux) = std::env::var_os("CULPRIT_TEST_VMLINUX") else {
        eprintln!("skipped: set CULPRIT_TEST_VMLINUX to a vmlinux built with DWARF");
        return;
    };
    assert!(
        have("addr2line"),
        "CULPRIT_TEST_VMLINUX is set but binutils' addr2line is missing"
    );
    let vmlinux = PathBuf::from(vmlinux);
    let elf = std::fs::read(&vmlinux).expect("read CULPRIT_TEST_VMLINUX");
    let start = std::time::Instant::now();
    let sym = Symbolizer::new(&elf).unwrap();
    eprintln!("context built in {:?}", start.elapsed());
    let funcs = functions(&elf);
    // The tree as binutils names it: the directory of init/main.c.
    let start_kernel = funcs
        .iter()
        .find(|f| f.0 == "start_kernel")
        .expect("start_kernel");
    let mut none = Prefixes::default();
    none.add("/nonexistent");
    let main_c = addr2line(&vmlinux, &[start_kernel.1], &none)[0]
        .last()
        .and_then(|f| f.file.clone())
        .expect("start_kernel has a file");
    let tree = main_c
        .strip_suffix("init/main.c")
        .expect("start_kernel is in init/main.c");
    let mut prefixes = Prefixes::default();
    prefixes.add(tree);
    prefixes.add(&vmlinux.parent().unwrap().display().to_string());

    let mut addrs: Vec<u64> = Vec::new();
    for (_, addr, size) in &funcs {
        for off in [0, 1, size / 3, size / 2, size - 1] {
            addrs.push(addr + off);
        }
    }
    addrs.sort_unstable();
    addrs.dedup();
    let theirs = addr2line(&vmlinux, &addrs, &prefixes);
    let start = std::time::Instant::now();
    let ours: Vec<Vec<Frame>> = addrs.iter().map(|a| sym.frames_at(*a)).collect();
    let elapsed = start.elapsed();
    let mut bad = Vec::new();
    let (mut inlined, mut readelf_settled, mut asked_alone) = (0, 0, 0);
    let mut rows = None;
    for ((a, o), t) in addrs.iter().zip(&ours).zip(&theirs) {
        inlined += usize::from(o.len() > 1);
        if same(o, t) {
            continue;
        }
        // binutils caches the last function it found, so in a batch an
        // assembly label inside a sized symbol can get the enclosing
        // symbol's name; asked alone it names the label. Ask again alone.
        if o.last().map(|f| &f.function) != t.last().map(|f| &f.function)
            && same(o, &addr2line(&vmlinux, &[*a], &prefixes)[0])
        {
            asked_alone += 1;
            continue;
        }
        // binutils 2.40 names the unit's file instead of the header for
        // some line-table rows; its line is right. readelf's decoder,
        // independent of bfd's, settles it.
        if innermost_file_only(o, t) {
            let rows = rows.get_or_insert_with(|| decoded_lines(&vmlinux));
            let i = rows.partition_point(|r| r.0 <= *a);
            let theirs_file = i.checked_sub(1).map(|i| rows[i].1.as_str());
            let ours_file = o[0].file.as_deref().and_then(|f| f.rsplit('/').next());
            if theirs_file.is_some() && theirs_file == ours_file {
                readelf_settled += 1;
                continue;
            }
        }
        bad.push(format!("{a:#x}: ours {o:?}\n  binutils {t:?}"));
    }
    eprintln!(
        "{} addresses ({} with inlined frames) of {} functions looked up in {:?}; \
         {readelf_settled} differ from binutils only in the innermost file, where \
         readelf's decoded line table agrees with ours; {asked_alone} agree when binutils \
         is asked for them alone; {} differ",
        addrs.len(),
        inlined,
        funcs.len(),
        elapsed,
        bad.len()
    );
    if let Some(path) = std::env::var_os("CULPRIT_TEST_DIFFS") {
        std::fs::write(path, bad.join("\n")).unwrap();
    }
    assert!(bad.is_empty(), "{}", bad[..bad.len().min(20)].join("\n"));

    if let Some(console) = std::env::var_os("CULPRIT_TEST_CONSOLE") {
        let text = String::from_utf8_lossy(&std::fs::read(console).unwrap()).into_owned();
        let lines = sym.lines(&text);
        assert!(
            !lines.is_empty(),
            "no frame of CULPRIT_TEST_CONSOLE resolved"
        );
        let lookups: Vec<u64> = lines.iter().map(|l| l.lookup).collect();
        let theirs = addr2line(&vmlinux, &lookups, &prefixes);
        for (l, t) in lines.iter().zip(&theirs) {
            let alone;
            let t = if same(&l.frames, t) {
                t
            } else {
                alone = addr2line(&vmlinux, &[l.lookup], &prefixes).remove(0);
                &alone
            };
            assert!(
                same(&l.frames, t),
                "{}: ours {:?}\nbinutils {t:?}",
                l.original,
                l.frames
            );
        }
        eprintln!("{} console frames agree with binutils", lines.len());
        eprintln!("{}", sym.symbolize(&text));
    }
}
