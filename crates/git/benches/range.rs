//! Loading the DAG of a 100,000-commit range with merges from git.
//! Target: <= 2 s. The repository is made once with `git fast-import`
//! (kernel-like: a mainline merging topic branches forked from older commits).

use criterion::{criterion_group, criterion_main, Criterion};
use culprit_git::Repo;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const COMMITS: u32 = 100_000;

fn make_repo(dir: &Path) -> (String, String) {
    if !dir.join("done").exists() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(ok.success());
        let mut child = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["fast-import", "--quiet"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
        let mut mark = 0u32;
        let mut mainline: Vec<u32> = Vec::new();
        let mut commit =
            |w: &mut dyn Write, branch: &str, from: Option<u32>, merge: Option<u32>| {
                mark += 1;
                writeln!(w, "commit refs/heads/{branch}\nmark :{mark}").unwrap();
                writeln!(
                    w,
                    "committer T <t@example.org> {} +0000",
                    1_600_000_000 + mark
                )
                .unwrap();
                let msg = format!("change {mark}");
                writeln!(w, "data {}\n{msg}", msg.len()).unwrap();
                if let Some(f) = from {
                    writeln!(w, "from :{f}").unwrap();
                }
                if let Some(m) = merge {
                    writeln!(w, "merge :{m}").unwrap();
                }
                writeln!(w).unwrap();
                mark
            };
        let root = commit(&mut w, "main", None, None);
        mainline.push(root);
        let mut n = 1;
        let mut topic = 0u32;
        while n < COMMITS {
            // A topic of 1..12 commits forked from a mainline commit up to
            // 300 merges back, then merged.
            topic += 1;
            let back = (topic * 7919) as usize % mainline.len().min(300);
            let base = mainline[mainline.len() - 1 - back];
            let len = 1 + topic % 12;
            let mut tip = base;
            for _ in 0..len {
                tip = commit(&mut w, "topic", Some(tip), None);
                n += 1;
            }
            let head = *mainline.last().unwrap();
            let m = commit(&mut w, "main", Some(head), Some(tip));
            mainline.push(m);
            n += 1;
        }
        drop(w);
        assert!(child.wait().unwrap().success());
        std::fs::write(dir.join("done"), "").unwrap();
    }
    let repo = Repo::open(dir).unwrap();
    let bad = repo.resolve("main").unwrap();
    let good = repo
        .git(&["rev-list", "--max-parents=0", "main"])
        .unwrap()
        .trim()
        .to_string();
    (bad, good)
}

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("range-100k.git");
    let (bad, good) = make_repo(&dir);
    let repo = Repo::open(&dir).unwrap();
    let n = repo
        .range(&bad, std::slice::from_ref(&good))
        .unwrap()
        .commits
        .len();
    println!("range of {n} commits (incl. the good end)");
    let mut g = c.benchmark_group("range");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("load_100k_with_merges", |b| {
        b.iter(|| repo.range(&bad, std::slice::from_ref(&good)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
