//! ARCHITECTURE.md's invariants, checked against the sources so the
//! document cannot go stale: the dependencies between our crates, and the
//! sans-IO code that must not touch processes, files, clocks, threads or
//! hash-ordered collections.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
}

/// The bullet lines of the section whose heading is `title`.
fn section<'a>(doc: &'a str, title: &str) -> Vec<&'a str> {
    doc.split("\n## ")
        .find(|s| s.starts_with(title))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {title:?}"))
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("- "))
        .collect()
}

/// The names in backquotes on a line.
fn quoted(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Our crates a crate depends on (normal dependencies, not dev ones).
fn deps_of(krate: &str) -> BTreeSet<String> {
    let toml =
        std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for l in toml.lines() {
        if l.starts_with('[') {
            in_deps = l.trim() == "[dependencies]";
            continue;
        }
        if let Some(name) = l.strip_prefix("culprit-") {
            if in_deps {
                out.insert(name.split(['.', ' ', '=']).next().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn crate_dependencies_are_the_documented_ones() {
    let doc = architecture();
    let lines = section(&doc, "Dependencies between our crates");
    let mut documented = Vec::new();
    for l in lines {
        let (from, to) = l.split_once("->").expect("`a` -> `b`, `c` lines");
        let from = quoted(from).pop().expect("a crate name");
        let to: BTreeSet<String> = quoted(to).into_iter().collect();
        documented.push(from.clone());
        assert_eq!(
            deps_of(&from),
            to,
            "crates/{from}/Cargo.toml vs ARCHITECTURE.md"
        );
    }
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    documented.sort();
    assert_eq!(crates, documented, "every crate has its line");
    // The engine depends on nothing of ours.
    assert!(deps_of("bisect").is_empty());
}

/// Every .rs file under `dir`, tests excluded.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.is_file() {
            out.push(d);
            continue;
        }
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() || (name.ends_with(".rs") && name != "tests.rs") {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The file's text before its `#[cfg(test)]` module, comments removed.
fn code(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What sans-IO code must not name.
const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::process",
    "std::thread",
    "std::net",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "Instant",
    "SystemTime",
    "HashMap",
    "HashSet",
    "println!",
    "eprintln!",
    "print!",
    "rand::",
    "culprit_proc",
    "culprit_git",
    "culprit_kernel",
    "File::",
];

#[test]
fn sans_io_code_does_no_io() {
    let doc = architecture();
    let dirs: Vec<String> = section(&doc, "Sans-IO code")
        .iter()
        .flat_map(|l| quoted(l))
        .collect();
    assert!(dirs.iter().any(|d| d == "crates/bisect/src"), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.contains("campaign")), "{dirs:?}");
    let mut checked = 0;
    for d in &dirs {
        let files = sources(&root().join(d));
        assert!(!files.is_empty(), "{d} has no sources");
        for f in files {
            let c = code(&f);
            for bad in FORBIDDEN {
                assert!(
                    !c.contains(bad),
                    "{} names {bad}: sans-IO code does no I/O and iterates in a fixed order",
                    f.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files checked");
}

/// External crates a Cargo.toml declares, dev ones included.
fn external_deps(toml: &str) -> BTreeSet<String> {
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for l in toml.lines() {
        if l.starts_with('[') {
            in_deps = l.trim().ends_with("dependencies]");
            continue;
        }
        let name = l.split(['.', ' ', '=']).next().unwrap_or("").trim();
        if in_deps && !name.is_empty() && !name.starts_with('#') && !name.starts_with("culprit") {
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn every_dependency_says_why_it_is_there() {
    let doc = architecture();
    let table = doc
        .split("\n## Dependencies and why")
        .nth(1)
        .expect("ARCHITECTURE.md has a dependency table");
    let explained: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|names| names.split(", ").map(str::to_string).collect::<Vec<_>>())
        .collect();
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let toml = std::fs::read_to_string(entry.unwrap().path().join("Cargo.toml")).unwrap();
        used.extend(external_deps(&toml));
    }
    assert!(used.len() >= 10, "{used:?}");
    let missing: Vec<_> = used.difference(&explained).collect();
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md's table: {missing:?}"
    );
    // And the workspace declares nothing that no crate uses.
    let ws = external_deps(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap());
    let unused: Vec<_> = ws.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "declared but used by no crate: {unused:?}"
    );
}

#[test]
fn the_code_map_names_every_module_of_the_binary_crate() {
    let doc = architecture();
    let listed: BTreeSet<String> = doc
        .split("### crates/culprit")
        .nth(1)
        .expect("ARCHITECTURE.md describes crates/culprit")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_end_matches('/').to_string())
        .collect();
    let src = root().join("crates/culprit/src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        let stem = name.trim_end_matches(".rs");
        assert!(
            // A directory beside its module file is listed as the file.
            listed.contains(&name)
                || listed.contains(stem)
                || listed.contains(&format!("{stem}.rs")),
            "crates/culprit/src/{name} is missing from ARCHITECTURE.md's layout"
        );
    }
}

#[test]
fn documents_hold_no_merge_conflicts() {
    let mut docs = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    for dir in ["docs"] {
        if let Ok(rd) = std::fs::read_dir(root().join(dir)) {
            docs.extend(rd.map(|e| e.unwrap().path()));
        }
    }
    for d in docs
        .iter()
        .filter(|d| d.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(d).unwrap();
        for marker in ["<<<<<<< ", "\n=======\n", ">>>>>>> "] {
            assert!(
                !text.contains(marker),
                "{} holds a merge conflict marker {marker:?}",
                d.display()
            );
        }
    }
}
