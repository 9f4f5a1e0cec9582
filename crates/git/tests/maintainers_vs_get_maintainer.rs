//! Compares `culprit_git::maintainers` with the kernel's own
//! `scripts/get_maintainer.pl --nogit --nogit-fallback` (linux-source-6.1)
//! on >= 200 files sampled across the tree and >= 50 generated patches.
//!
//! The tree comes from `CULPRIT_LINUX_SRC` (an extracted tree) or else is
//! partly extracted from /usr/src/linux-source-6.1.tar.xz into a temporary
//! directory: MAINTAINERS, .mailmap, the script, the files it checks for,
//! every directory (F: patterns naming directories depend on them) and the
//! sampled files. Without the tarball the test fails, unless
//! CULPRIT_SKIP_KERNEL=1.
//!
//! Entries matching a file with equal specificity are printed by the script
//! in Perl hash order, which is random per process. Cases without such a
//! tie must equal the unmodified script's output; cases with one must equal
//! the output of a copy whose sort breaks ties by MAINTAINERS order (a
//! one-expression change), which is the order we define.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use culprit_git::maintainers::{patch_files, Input, Maintainers};

const TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";
const PREFIX: &str = "linux-source-6.1/";
const SORT_LINE: &str =
    "sort {$hash{$b} <=> $hash{$a}} keys %hash) {\n\t    add_categories($line);";
const SORT_TIE_BREAK: &str =
    "sort {$hash{$b} <=> $hash{$a} || $a <=> $b} keys %hash) {\n\t    add_categories($line);";

struct Tree {
    root: PathBuf,
    files: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ty = e.file_type().unwrap();
        if ty.is_dir() && name != ".git" {
            walk(root, &path, out);
        } else if ty.is_file() {
            out.push(path);
        }
    }
}

/// Regular files of the tree, sorted. Extracts the skeleton if needed.
fn tree() -> Option<Tree> {
    if let Ok(src) = std::env::var("CULPRIT_LINUX_SRC") {
        let root = PathBuf::from(src);
        assert!(
            root.join("scripts/get_maintainer.pl").is_file(),
            "CULPRIT_LINUX_SRC={} is not a kernel tree",
            root.display()
        );
        let mut files = Vec::new();
        walk(&root, "", &mut files);
        files.sort();
        return Some(Tree {
            root,
            files,
            _tmp: None,
        });
    }
    if !Path::new(TARBALL).exists() {
        if std::env::var("CULPRIT_SKIP_KERNEL").as_deref() == Ok("1") {
            eprintln!("\n*** SKIPPED: {TARBALL} missing and CULPRIT_SKIP_KERNEL=1: get_maintainer.pl comparison NOT run ***\n");
            return None;
        }
        panic!("{TARBALL} is missing: install the Debian package linux-source-6.1 (CI does), point CULPRIT_LINUX_SRC at an extracted tree, or set CULPRIT_SKIP_KERNEL=1 to skip");
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("linux");
    let listing = String::from_utf8(run(Command::new("tar").args(["tf", TARBALL]))).unwrap();
    let mut files = Vec::new();
    for entry in listing.lines() {
        let rel = entry.strip_prefix(PREFIX).unwrap_or(entry);
        if rel.is_empty() {
            continue;
        }
        if let Some(dir) = rel.strip_suffix('/') {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        } else {
            files.push(rel.to_string());
        }
    }
    files.sort();
    Some(Tree {
        root,
        files,
        _tmp: Some(tmp),
    })
}

fn extract(tree: &Tree, members: &BTreeSet<String>) {
    if tree._tmp.is_none() {
        return;
    }
    let list = tree.root.join(".members");
    let names: Vec<String> = members.iter().map(|m| format!("{PREFIX}{m}")).collect();
    std::fs::write(&list, names.join("\n") + "\n").unwrap();
    run(Command::new("tar")
        .arg("xf")
        .arg(TARBALL)
        .arg("-C")
        .arg(&tree.root)
        .args(["--strip-components=1", "-T"])
        .arg(&list));
    std::fs::remove_file(list).unwrap();
}

/// Deterministic pseudo-random numbers (no dependency, fixed seed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const N_TOKENS: &[&str] = &[
    "rockchip", "tegra", "sifive", "mediatek", "exynos", "sun50i", "imx", "stm32", "zynq",
    "aspeed", "meson", "at91", "bcm2835", "cros_ec", "ps3", "pseries", "zstd", "binfmt", "riscv",
    "csky", "axp288", "litex", "uniphier", "powernv",
];
const K_PATH_TOKENS: &[&str] = &[
    "bpf",
    "phylink",
    "pidfd",
    "landlock",
    "seccomp",
    "pstore",
    "ptp",
    "xdp",
    "hwmon",
    "reset",
    "regulator",
    "dma-fence",
    "printk",
    "pwm",
    "overlay",
    "random",
    "fortify",
    "clang",
];
const K_SNIPPETS: &[&str] = &[
    "riscv_v_enable();",
    "struct bpf_prog *prog;",
    "struct phylink *pl;",
    "pidfd_get_pid(fd);",
    "zstd_decompress();",
    "landlock_add_rule();",
    "secure_computing();",
    "printk_index_emit();",
    "hwmon_device_register(dev);",
    "pwm_apply_state(pwm, &st);",
    "SGX_ENCL_PAGE;",
    "ABS_MT_POSITION_X,",
    "/* built with clang */",
    "dma_fence_put(f);",
    "reset_control_get(dev, NULL);",
    "regulator_get_optional(dev, \"x\");",
    "of_overlay_remove(&id);",
    "struct xdp_buff xdp;",
    "ptp_clock_register();",
    "/* mediatek quirk */",
    "#include <linux/pstore.h>",
    "#define __NO_FORTIFY",
    "compatible = \"nxp,tda998x\";",
    "fu540_init();",
    "add_random_kstack_offset();",
    "TIF_SECCOMP",
    "/* rust binding */",
    "csky_flush();",
];

/// Picks the -f cases: every k-th file of the tree, files matched by N:
/// names, files likely to contain K: keywords, and files no entry covers.
fn sample(tree: &Tree, m: &Maintainers) -> Vec<String> {
    let sources: Vec<&String> = tree
        .files
        .iter()
        .filter(|f| !f.starts_with('.') && !f.contains("/."))
        .collect();
    let mut picked: BTreeSet<String> = BTreeSet::new();
    let step = sources.len() / 230;
    picked.extend(sources.iter().step_by(step).map(|s| s.to_string()));
    for tokens in [N_TOKENS, K_PATH_TOKENS] {
        for t in tokens {
            let hits: Vec<&&String> = sources
                .iter()
                .filter(|f| f.contains(t) && (f.ends_with(".c") || f.ends_with(".h")))
                .collect();
            picked.extend(
                hits.iter()
                    .step_by((hits.len() / 2).max(1))
                    .take(2)
                    .map(|s| s.to_string()),
            );
        }
    }
    let rest_only: Vec<&&String> = sources
        .iter()
        .step_by(37)
        .filter(|f| {
            m.matching_entries(f)
                .iter()
                .all(|(e, _)| e.name == "THE REST")
        })
        .collect();
    picked.extend(
        rest_only
            .iter()
            .step_by((rest_only.len() / 15).max(1))
            .take(15)
            .map(|s| s.to_string()),
    );
    picked.into_iter().collect()
}

/// A unified-diff hunk changing line `at` of `text`.
fn hunk(path: &str, text: &str, at: usize, added: &[String]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        let mut s = format!(
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
            added.len()
        );
        for a in added {
            s += &format!("+{a}\n");
        }
        return s;
    }
    let at = at % lines.len();
    let lo = at.saturating_sub(2);
    let hi = (at + 3).min(lines.len());
    let old = hi - lo;
    let new = old - 1 + added.len();
    let mut s = format!("diff --git a/{path} b/{path}\nindex 0123456..89abcde 100644\n--- a/{path}\n+++ b/{path}\n@@ -{},{old} +{},{new} @@\n", lo + 1, lo + 1);
    for (i, l) in lines[lo..hi].iter().enumerate() {
        if lo + i == at {
            s += &format!("-{l}\n");
            for a in added {
                s += &format!("+{a}\n");
            }
        } else {
            s += &format!(" {l}\n");
        }
    }
    s
}

/// Generates patches across the sample: one to three files each, some
/// adding keyword lines, some with keywords only in the subject or in
/// context, new files, renames and mode changes.
fn patches(tree: &Tree, files: &[String]) -> Vec<String> {
    let mut rng = Lcg(0x5eed);
    let mut out = Vec::new();
    for i in 0..64 {
        let nfiles = 1 + rng.next(3);
        let kw = K_SNIPPETS[i % K_SNIPPETS.len()];
        let subject = if i % 5 == 0 {
            format!("{kw}: fix")
        } else {
            "fix a thing".to_string()
        };
        let mut p = format!(
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A Developer <dev@example.org>\nSubject: [PATCH] {subject}\n\nBody line {i}.\n\nSigned-off-by: A Developer <dev@example.org>\n---\n"
        );
        for j in 0..nfiles {
            let path = &files[rng.next(files.len())];
            let text =
                String::from_utf8_lossy(&std::fs::read(tree.root.join(path)).unwrap()).into_owned();
            let mut added = vec![format!("\t/* change {i}.{j} */")];
            if i % 3 == 1 {
                added.push(format!("\t{kw}"));
            }
            match (i + j) % 11 {
                3 => p += &format!("diff --git a/{path} b/{path}\nold mode 100644\nnew mode 100755\n mode change 100644 => 100755 {path}\n"),
                5 => {
                    let new = format!("{path}.new");
                    p += &format!("diff --git a/{path} b/{new}\nsimilarity index 100%\nrename from {path}\nrename to {new}\n");
                }
                7 => p += &format!("diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,1 @@\n+{}\n", added[0]),
                _ => p += &hunk(path, &text, rng.next(10_000), &added),
            }
        }
        p += "-- \n2.30.2\n";
        out.push(p);
    }
    out
}

fn perl(tree: &Path, script: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new("perl")
        .arg(script)
        .args(["--nogit", "--nogit-fallback"])
        .args(args)
        .current_dir(tree)
        .env("PERL_HASH_SEED", "0")
        .env("PERL_PERTURB_KEYS", "0")
        .output()
        .expect("perl runs");
    assert!(
        out.status.success(),
        "get_maintainer.pl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

struct Case {
    label: String,
    args: Vec<String>,
    ours: Vec<String>,
    tie: bool,
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    exact: usize,
    ties: usize,
    ties_exact_unmodified: usize,
}

fn compare(tree: &Path, ordered: &Path, cases: &[Case]) -> Tally {
    let script = tree.join("scripts/get_maintainer.pl");
    let next = AtomicUsize::new(0);
    let results: Vec<(usize, bool, bool)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(c) = cases.get(i) else { break };
                        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
                        let theirs = perl(tree, &script, &args);
                        let same = theirs == c.ours;
                        if c.tie {
                            let tie_broken = perl(tree, ordered, &args);
                            assert_eq!(c.ours, tie_broken, "{} (tie-broken script)", c.label);
                        } else {
                            assert_eq!(c.ours, theirs, "{}", c.label);
                        }
                        got.push((i, same, c.tie));
                    }
                    got
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut t = Tally {
        cases: results.len(),
        ..Tally::default()
    };
    for (_, same, tie) in results {
        t.exact += usize::from(same);
        t.ties += usize::from(tie);
        t.ties_exact_unmodified += usize::from(tie && same);
    }
    t
}

fn has_tie(m: &Maintainers, files: &[String]) -> bool {
    files.iter().any(|f| {
        let depths: Vec<i32> = m.matching_entries(f).iter().map(|(_, d)| *d).collect();
        depths.windows(2).any(|w| w[0] == w[1])
    })
}

#[test]
fn matches_get_maintainer_pl_on_files_and_patches() {
    let Some(tree) = tree() else { return };
    let mut base: BTreeSet<String> = [
        "MAINTAINERS",
        ".mailmap",
        ".get_maintainer.ignore",
        "scripts/get_maintainer.pl",
        "COPYING",
        "CREDITS",
        "Kbuild",
        "Makefile",
        "README",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    extract(&tree, &base);
    let m = Maintainers::load(&tree.root).unwrap().expect("MAINTAINERS");
    let files = sample(&tree, &m);
    base.extend(files.iter().cloned());
    extract(&tree, &base);

    let tmp = tempfile::tempdir().unwrap();
    let script_text = std::fs::read_to_string(tree.root.join("scripts/get_maintainer.pl")).unwrap();
    assert_eq!(
        script_text.matches(SORT_LINE).count(),
        1,
        "get_maintainer.pl changed shape"
    );
    let ordered = tmp.path().join("get_maintainer_ordered.pl");
    std::fs::write(&ordered, script_text.replace(SORT_LINE, SORT_TIE_BREAK)).unwrap();

    let (mut n_cases, mut k_cases, mut rest_only) = (0, 0, 0);
    let mut file_cases = Vec::new();
    for f in &files {
        let ours = m.lookup_paths(&tree.root, &[PathBuf::from(f)]).unwrap();
        let matched = m.matching_entries(f);
        n_cases += usize::from(matched.iter().any(|(_, d)| *d == 0));
        let names: BTreeSet<String> = matched.iter().map(|(e, _)| e.name.clone()).collect();
        let from_k = ours.iter().any(|r| {
            !names
                .iter()
                .any(|n| r.entry == *n || n.starts_with(r.entry.trim_end_matches("...")))
        });
        k_cases += usize::from(from_k);
        rest_only += usize::from(!from_k && names.iter().all(|n| n == "THE REST"));
        file_cases.push(Case {
            label: format!("-f {f}"),
            args: vec!["-f".into(), f.clone()],
            ours: ours.iter().map(|r| r.to_string()).collect(),
            tie: has_tie(&m, std::slice::from_ref(f)),
        });
    }
    let mut patch_cases = Vec::new();
    let mut k_patches = 0;
    for (i, p) in patches(&tree, &files).iter().enumerate() {
        let path = tmp.path().join(format!("{i:04}.patch"));
        std::fs::write(&path, p).unwrap();
        let ours = m.lookup(&[Input::Patch(p.as_bytes())]).unwrap();
        let pf = patch_files(p.as_bytes());
        let names: BTreeSet<String> = pf
            .iter()
            .flat_map(|f| m.matching_entries(f))
            .map(|(e, _)| e.name.clone())
            .collect();
        k_patches += usize::from(ours.iter().any(|r| {
            !names
                .iter()
                .any(|n| r.entry == *n || n.starts_with(r.entry.trim_end_matches("...")))
        }));
        patch_cases.push(Case {
            label: format!("patch {}:\n{p}", path.display()),
            args: vec![path.to_string_lossy().into_owned()],
            ours: ours.iter().map(|r| r.to_string()).collect(),
            tie: has_tie(&m, &pf),
        });
    }
    let ft = compare(&tree.root, &ordered, &file_cases);
    let pt = compare(&tree.root, &ordered, &patch_cases);
    eprintln!(
        "get_maintainer.pl comparison: files {ft:?} (N:-matched {n_cases}, K:-matched {k_cases}, THE REST only {rest_only}); patches {pt:?} (K:-matched {k_patches})"
    );
    assert!(ft.cases >= 200 && pt.cases >= 50);
    assert!(
        n_cases >= 10 && k_cases >= 5 && rest_only >= 5 && k_patches >= 10,
        "sample lacks targeted cases"
    );
}
