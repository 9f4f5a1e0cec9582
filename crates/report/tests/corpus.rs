//! Accuracy on the syzkaller Linux report corpus (../shared/testdata/syzkaller).
//!
//! Parses the corpus header format itself, runs the parser on every log
//! and prints the mismatches and aggregate accuracies. It asserts the
//! floors below (the targets); targets are printed alongside the
//! measured accuracies.

use std::path::{Path, PathBuf};

/// Issue targets.
const TARGET_TITLE: f64 = 0.98;
const TARGET_TYPE: f64 = 0.98;
const TARGET_CORRUPTED: f64 = 0.95;
const TARGET_GUILTY: f64 = 0.95;

/// Asserted floors: the issue targets.
const FLOOR_TITLE: f64 = TARGET_TITLE;
const FLOOR_TYPE: f64 = TARGET_TYPE;
const FLOOR_CORRUPTED: f64 = TARGET_CORRUPTED;
const FLOOR_GUILTY: f64 = TARGET_GUILTY;

/// The corpus beside the repository (`../shared`), or under
/// `$CULPRIT_SHARED/testdata/syzkaller` when that is set (worktrees that
/// do not sit next to `shared/`).
fn corpus_dir() -> PathBuf {
    match std::env::var_os("CULPRIT_SHARED") {
        Some(shared) => Path::new(&shared).join("testdata/syzkaller"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/syzkaller"),
    }
}

struct Case {
    name: String,
    title: Option<String>,
    kind: String,
    corrupted: bool,
    log: Vec<u8>,
}

fn numbered(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n: u64 = e.file_name().to_str()?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

fn read_case(path: &Path) -> Case {
    let raw: Vec<u8> = std::fs::read(path)
        .expect("read corpus file")
        .into_iter()
        .filter(|&b| b != b'\r')
        .collect();
    let mut case = Case {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        title: None,
        kind: "UNKNOWN".into(),
        corrupted: false,
        log: Vec::new(),
    };
    let mut body = raw.as_slice();
    if raw.ends_with(b"\n") {
        body = &raw[..raw.len() - 1];
    }
    let mut in_header = true;
    let mut prev_empty = false;
    for line in body.split(|&b| b == b'\n') {
        if in_header {
            if line.is_empty() {
                in_header = false;
                prev_empty = true;
                continue;
            }
            let l = String::from_utf8_lossy(line);
            if let Some(v) = l.strip_prefix("TITLE: ") {
                case.title = (!v.is_empty()).then(|| v.to_string());
            } else if let Some(v) = l.strip_prefix("TYPE: ") {
                case.kind = v.to_string();
            } else if l == "CORRUPTED: Y" {
                case.corrupted = true;
            }
            continue;
        }
        if prev_empty && line == b"REPORT:" {
            break;
        }
        case.log.extend_from_slice(line);
        case.log.push(b'\n');
        prev_empty = line.is_empty();
    }
    case
}

fn guilty_case(path: &Path) -> (String, Vec<u8>) {
    let raw = std::fs::read(path).expect("read guilty file");
    let split = raw.windows(2).position(|w| w == b"\n\n").expect("header");
    let header = String::from_utf8_lossy(&raw[..split]).into_owned();
    let file = header
        .lines()
        .find_map(|l| l.strip_prefix("FILE:"))
        .map(|f| f.trim().to_string())
        .unwrap_or_default();
    (file, raw[split + 2..].to_vec())
}

fn rate(hits: usize, n: usize) -> f64 {
    if n == 0 {
        1.0
    } else {
        hits as f64 / n as f64
    }
}

#[test]
fn corpus_accuracy() {
    let root = corpus_dir();
    let reports_dir = root.join("linux-reports");
    if !reports_dir.is_dir() {
        eprintln!("SKIP: corpus not found at {}", reports_dir.display());
        return;
    }
    let (mut title_ok, mut n) = (0, 0);
    let (mut type_ok, mut corr_ok, mut crashes) = (0, 0, 0);
    for path in numbered(&reports_dir) {
        let case = read_case(&path);
        let got = culprit_report::parse(&case.log);
        n += 1;
        let got_title = got.as_ref().map(|r| r.title.clone());
        if got_title == case.title {
            title_ok += 1;
        } else {
            println!(
                "{}: title: want {:?} got {:?}",
                case.name, case.title, got_title
            );
        }
        if case.title.is_none() {
            continue;
        }
        crashes += 1;
        let (kind, corrupted) = got.as_ref().map_or(("<none>".to_string(), false), |r| {
            (r.kind.clone(), r.corrupted)
        });
        if kind == case.kind {
            type_ok += 1;
        } else {
            println!("{}: type: want {} got {}", case.name, case.kind, kind);
        }
        if got.is_some() && corrupted == case.corrupted {
            corr_ok += 1;
        } else if got.is_some() {
            println!(
                "{}: corrupted: want {} got {}",
                case.name, case.corrupted, corrupted
            );
        }
    }
    let (mut guilty_ok, mut guilty_n) = (0, 0);
    for path in numbered(&root.join("linux-guilty")) {
        let (want, log) = guilty_case(&path);
        let got = culprit_report::parse(&log).and_then(|r| r.guilty_file);
        guilty_n += 1;
        if got.as_deref() == Some(want.as_str()) {
            guilty_ok += 1;
        } else {
            println!("guilty {}: want {want} got {got:?}", path.display());
        }
    }
    let rows = [
        ("title", rate(title_ok, n), TARGET_TITLE, FLOOR_TITLE),
        ("type", rate(type_ok, crashes), TARGET_TYPE, FLOOR_TYPE),
        (
            "corrupted",
            rate(corr_ok, crashes),
            TARGET_CORRUPTED,
            FLOOR_CORRUPTED,
        ),
        (
            "guilty",
            rate(guilty_ok, guilty_n),
            TARGET_GUILTY,
            FLOOR_GUILTY,
        ),
    ];
    for (name, got, target, floor) in rows {
        println!(
            "{name:>9}: {:.2}% (target {:.0}%{}; floor {:.0}%)",
            got * 100.0,
            target * 100.0,
            if got >= target { ", met" } else { ", NOT met" },
            floor * 100.0
        );
    }
    for (name, got, _, floor) in rows {
        assert!(
            got >= floor,
            "{name} accuracy {got:.4} fell below the floor {floor}"
        );
    }
}
