//! The demo history itself: which files change, where the bug and the
//! flaky boot go, and the `git fast-import` stream that writes it all.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The prctl option the injected bug adds ('CULP').
pub const PRCTL_OPTION: u32 = 0x4355_4c50;

/// Files on the main line and on side branches (disjoint, so merges never
/// conflict). All are built by tinyconfig. kernel/sys.c, where the bug goes,
/// also gets harmless changes, as a real file in a crash stack does.
const MAIN_FILES: &[&str] = &[
    "kernel/fork.c",
    "kernel/exit.c",
    "kernel/signal.c",
    "kernel/panic.c",
    "mm/mmap.c",
    "mm/memory.c",
    "fs/open.c",
    "fs/read_write.c",
    "fs/namei.c",
    "lib/string.c",
    "lib/vsprintf.c",
    "kernel/cred.c",
    "kernel/sys.c",
];
const SIDE_FILES: &[&str] = &[
    "fs/pipe.c",
    "fs/stat.c",
    "mm/util.c",
    "lib/kstrtox.c",
    "kernel/pid.c",
    "fs/exec.c",
];

const MAIN_LEN: usize = 90;
const FORKS: &[usize] = &[8, 22, 40, 61, 75];
const SIDE_LEN: usize = 4;
const MERGE_AFTER: usize = 6;
const FLAKY_AT: usize = 28;
const BUG_AT: usize = 52;
/// Release tags on master after these commits: one before the bug, one
/// after it (a walk back tests the newer one, sees the crash, then the
/// older one). The base commit is tagged `v6.1` by the caller.
const RELEASES: &[(&str, usize)] = &[("v6.2", 40), ("v6.3", 70)];
/// After the last commit with the bug: plain changes, the fix, more
/// changes (a fix bisection from the bad commit to the new tip).
const BEFORE_FIX: usize = 3;
const AFTER_FIX: usize = 2;

const AUTHORS: &[(&str, &str)] = &[
    ("Alice Example", "alice@example.org"),
    ("Bob Example", "bob@example.org"),
    ("Carol Example", "carol@example.org"),
    ("Dave Example", "dave@example.org"),
];

pub(super) struct Marks {
    pub(super) bug: usize,
    pub(super) flaky: usize,
    /// The last commit with the bug (the bad end of a cause bisection).
    pub(super) bad: usize,
    /// The commit that removes the bug.
    pub(super) fix: usize,
}

/// The fast-import stream of the whole history on top of `base`.
pub(super) fn history(repo: &Path, base: &str) -> Result<(Vec<u8>, Marks)> {
    let mut s = Vec::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for f in MAIN_FILES.iter().chain(SIDE_FILES).chain(&["init/main.c"]) {
        let text = std::fs::read_to_string(repo.join(f)).map_err(|e| Error::Io {
            what: format!("read {f}"),
            source: e,
        })?;
        files.insert(f.to_string(), text);
    }
    let mut mark = 0usize;
    let mut when = 1_700_000_000u64;
    let mut change = 0usize;
    let mut main_tip = base.to_string();
    let mut side: Option<(String, usize, Vec<String>)> = None; // (tip, fork index, files)
    let mut side_files_state = files.clone();
    let mut marks = Marks {
        bug: 0,
        flaky: 0,
        bad: 0,
        fix: 0,
    };
    let mut tags: Vec<(&str, String)> = Vec::new();

    let mut commit = |s: &mut Vec<u8>,
                      branch: &str,
                      from: &str,
                      merge: Option<&str>,
                      msg: &str,
                      author: usize,
                      changes: &[(&str, &str)]|
     -> String {
        mark += 1;
        when += 600;
        let (name, email) = AUTHORS[author % AUTHORS.len()];
        let msg = format!("{msg}\n\nSigned-off-by: {name} <{email}>\n");
        let _ = writeln!(s, "commit refs/heads/{branch}\nmark :{mark}");
        let _ = writeln!(s, "author {name} <{email}> {when} +0000");
        let _ = writeln!(
            s,
            "committer Linus Example <linus@example.org> {when} +0000"
        );
        let _ = writeln!(s, "data {}\n{msg}", msg.len());
        let _ = writeln!(s, "from {from}");
        if let Some(m) = merge {
            let _ = writeln!(s, "merge {m}");
        }
        for (path, text) in changes {
            let _ = writeln!(s, "M 100644 inline {path}\ndata {}", text.len());
            s.extend_from_slice(text.as_bytes());
            s.push(b'\n');
        }
        s.push(b'\n');
        format!(":{mark}")
    };

    for i in 1..=MAIN_LEN {
        if let Some(k) = FORKS.iter().position(|&f| f == i) {
            let mut tip = main_tip.clone();
            let mut touched = Vec::new();
            side_files_state = files.clone();
            for j in 0..SIDE_LEN {
                change += 1;
                let f = SIDE_FILES[(k * SIDE_LEN + j) % SIDE_FILES.len()];
                let text = append_change(&side_files_state[f], change);
                side_files_state.insert(f.to_string(), text.clone());
                touched.push(f.to_string());
                tip = commit(
                    &mut s,
                    &format!("topic-{k}"),
                    &tip,
                    None,
                    &format!("{}: demo change {change} (topic {k})", dir_of(f)),
                    change,
                    &[(f, &text)],
                );
            }
            side = Some((tip, i, touched));
        }
        if let Some((tip, fork, touched)) = side.clone() {
            if i == fork + MERGE_AFTER {
                let changes: Vec<(String, String)> = touched
                    .iter()
                    .map(|f| (f.clone(), side_files_state[f].clone()))
                    .collect();
                for (f, t) in &changes {
                    files.insert(f.clone(), t.clone());
                }
                let refs: Vec<(&str, &str)> = changes
                    .iter()
                    .map(|(f, t)| (f.as_str(), t.as_str()))
                    .collect();
                let k = FORKS.iter().position(|&f| f == fork).unwrap_or(0);
                main_tip = commit(
                    &mut s,
                    "master",
                    &main_tip,
                    Some(&tip),
                    &format!("Merge branch 'topic-{k}'"),
                    0,
                    &refs,
                );
                side = None;
            }
        }
        let (path, text, msg) = if i == BUG_AT {
            let t = inject_bug(&files["kernel/sys.c"])?;
            ("kernel/sys.c", t, "prctl: add PR_CULPRIT_DEMO".to_string())
        } else if i == FLAKY_AT {
            let t = inject_flaky_boot(&files["init/main.c"])?;
            (
                "init/main.c",
                t,
                "init: add an early boot self-check".to_string(),
            )
        } else {
            change += 1;
            let f = MAIN_FILES[i % MAIN_FILES.len()];
            let t = append_change(&files[f], change);
            (f, t, format!("{}: demo change {change}", dir_of(f)))
        };
        files.insert(path.to_string(), text.clone());
        main_tip = commit(&mut s, "master", &main_tip, None, &msg, i, &[(path, &text)]);
        if i == BUG_AT {
            marks.bug = mark_number(&main_tip);
        }
        if i == FLAKY_AT {
            marks.flaky = mark_number(&main_tip);
        }
        if let Some((tag, _)) = RELEASES.iter().find(|r| r.1 == i) {
            tags.push((tag, main_tip.clone()));
        }
    }
    marks.bad = mark_number(&main_tip);
    for j in 0..BEFORE_FIX + 1 + AFTER_FIX {
        let (path, text, msg) = if j == BEFORE_FIX {
            let t = remove_bug(&files["kernel/sys.c"])?;
            (
                "kernel/sys.c",
                t,
                "prctl: PR_CULPRIT_DEMO: do not write through the user's argument".to_string(),
            )
        } else {
            change += 1;
            let f = MAIN_FILES[(MAIN_LEN + j) % MAIN_FILES.len()];
            let t = append_change(&files[f], change);
            (f, t, format!("{}: demo change {change}", dir_of(f)))
        };
        files.insert(path.to_string(), text.clone());
        main_tip = commit(&mut s, "master", &main_tip, None, &msg, j, &[(path, &text)]);
        if j == BEFORE_FIX {
            marks.fix = mark_number(&main_tip);
        }
    }
    for (tag, from) in tags {
        let _ = writeln!(
            s,
            "reset refs/tags/{tag}
from {from}
"
        );
    }
    Ok((s, marks))
}

fn mark_number(m: &str) -> usize {
    m.trim_start_matches(':').parse().unwrap_or(0)
}

fn dir_of(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// A harmless change that still changes the kernel image (.rodata).
fn append_change(text: &str, n: usize) -> String {
    format!(
        "{text}\n/* culprit demo change {n} */\n\
         static const char culprit_demo_{n}[] __used = \"culprit demo change {n}\";\n"
    )
}

fn inject_bug(sys_c: &str) -> Result<String> {
    let anchor = "\tswitch (option) {\n\tcase PR_SET_PDEATHSIG:\n";
    if !sys_c.contains(anchor) {
        return Err(Error::Command {
            cmd: "demo".into(),
            detail: "kernel/sys.c has no prctl switch to patch".into(),
        });
    }
    let bug = format!(
        "\tswitch (option) {{\n\
         \tcase {PRCTL_OPTION:#x}: /* PR_CULPRIT_DEMO */\n\
         \t\tif (get_random_u32() & 1)\n\
         \t\t\t*(volatile int *)arg2 = 0;\n\
         \t\tbreak;\n\
         \tcase PR_SET_PDEATHSIG:\n"
    );
    Ok(sys_c.replacen(anchor, &bug, 1))
}

/// The fix: the demo option no longer writes through its argument.
fn remove_bug(sys_c: &str) -> Result<String> {
    let write = "\t\tif (get_random_u32() & 1)\n\t\t\t*(volatile int *)arg2 = 0;\n";
    if !sys_c.contains(write) {
        return Err(Error::Command {
            cmd: "demo".into(),
            detail: "kernel/sys.c has no demo bug to fix".into(),
        });
    }
    Ok(sys_c.replacen(write, "", 1))
}

fn inject_flaky_boot(main_c: &str) -> Result<String> {
    let anchor = "\tdo_sysctl_args();\n";
    if !main_c.contains(anchor) {
        return Err(Error::Command {
            cmd: "demo".into(),
            detail: "init/main.c has no do_sysctl_args() to patch".into(),
        });
    }
    let check = "\tdo_sysctl_args();\n\n\
         \tif (get_random_u32() % 10 == 0)\n\
         \t\tpanic(\"early boot self-check failed\");\n";
    Ok(main_c.replacen(anchor, check, 1))
}

/// The reproducer: calls the new prctl once (the kernel crashes on a
/// random bit, so about half of the runs).
pub const REPRO_C: &str = r#"// culprit demo reproducer: triggers PR_CULPRIT_DEMO once.
#include <stdio.h>
#include <sys/prctl.h>

int main(void)
{
	printf("repro: calling prctl(0x43554c50)\n");
	fflush(stdout);
	prctl(0x43554c50, 0, 0, 0, 0);
	printf("repro: survived\n");
	return 0;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_apply_to_the_real_anchors() {
        let sys = "x\n\tswitch (option) {\n\tcase PR_SET_PDEATHSIG:\n\t\tfoo();\n";
        let out = inject_bug(sys).unwrap();
        assert!(out.contains("case 0x43554c50"));
        assert!(out.contains("get_random_u32() & 1"));
        assert!(inject_bug("nothing").is_err());
        let main = "a\n\tdo_sysctl_args();\n\n\tif (ramdisk_execute_command) {\n";
        assert!(inject_flaky_boot(main).unwrap().contains("% 10 == 0"));
        assert!(inject_flaky_boot("nothing").is_err());
    }

    #[test]
    fn history_has_merges_and_the_bug_after_the_flaky_boot() {
        let d = tempfile::tempdir().unwrap();
        for f in MAIN_FILES.iter().chain(SIDE_FILES) {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "int x;\n").unwrap();
        }
        std::fs::write(
            d.path().join("kernel/sys.c"),
            "\tswitch (option) {\n\tcase PR_SET_PDEATHSIG:\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("init")).unwrap();
        std::fs::write(d.path().join("init/main.c"), "\tdo_sysctl_args();\n").unwrap();
        let (stream, marks) = history(d.path(), "0123").unwrap();
        let text = String::from_utf8(stream).unwrap();
        let commits = text.matches("\ncommit refs/heads/").count() + 1;
        let merges = text.lines().filter(|l| l.starts_with("merge :")).count();
        assert!(commits >= 100, "{commits}");
        assert_eq!(merges, FORKS.len());
        assert!(0 < marks.flaky && marks.flaky < marks.bug && marks.bug < commits);
        assert!(marks.bug < marks.bad && marks.bad < marks.fix && marks.fix < commits);
        assert!(text.contains("get_random_u32() & 1"));
        // Releases before and after the bug.
        assert!(text.contains("reset refs/tags/v6.2\nfrom :"), "{text}");
        assert!(text.contains("reset refs/tags/v6.3\nfrom :"));
        // Every demo change adds data the kernel keeps, so signatures differ.
        assert!(text.contains("static const char culprit_demo_1[] __used"));
    }
}
