//! Commit histories for the simulation: loaded from a DAG file or a local git
//! repository, or generated (see `synth`).
//!
//! A history is a bisection range in topological order (parents first). Node 0
//! is the single good node standing for everything outside the range: every
//! parent outside the range becomes an edge to it. Each node knows whether it
//! changes the binary; one that does not (only docs or tests touched) shares
//! its first parent's build signature.
//!
//! Rule for "changes the binary", from the top-level entries a commit touches
//! (first-parent diff): it does not if it touches nothing, or only the
//! directories in [`NON_BINARY_DIRS`] and top-level files that are dotfiles,
//! `*.md`, `*.txt`, `*.adoc`, `*.rst` or one of [`NON_BINARY_FILES`]. A merge
//! changes the binary iff some commit it brings in (an ancestor of the merge
//! that is not an ancestor of its first parent) does.

use super::graph::{Ancestry, MAX_NODES};
use anyhow::{bail, Context};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Top-level directories whose changes never reach the binary under test.
pub const NON_BINARY_DIRS: &[&str] = &[
    "Documentation/",
    "t/",
    "po/",
    "contrib/",
    "ci/",
    ".github/",
    "LICENSES/",
    "tools/",
];

/// Top-level files whose changes never reach the binary under test.
pub const NON_BINARY_FILES: &[&str] = &[
    "RelNotes",
    "INSTALL",
    "COPYING",
    "README",
    "CREDITS",
    "MAINTAINERS",
];

/// Whether a commit touching these top-level entries changes the binary.
pub fn touches_binary(entries: &[&str]) -> bool {
    entries.iter().any(|e| {
        if e.ends_with('/') {
            !NON_BINARY_DIRS.contains(e)
        } else {
            let doc = e.starts_with('.')
                || [".md", ".txt", ".adoc", ".rst"]
                    .iter()
                    .any(|x| e.ends_with(x))
                || NON_BINARY_FILES.contains(e);
            !doc
        }
    })
}

/// A bisection range with everything the simulation derives from its shape.
#[derive(Debug, Clone)]
pub struct History {
    pub name: String,
    pub shas: Vec<String>,
    pub subjects: Vec<String>,
    /// Parent indices, topological order (every parent index is smaller).
    pub parents: Vec<Vec<u32>>,
    /// Good nodes (node 0 for every loader here).
    pub good: Vec<u32>,
    /// The bad endpoint.
    pub bad: u32,
    /// Node changes the binary (good nodes do: they are the baseline).
    pub binary: Vec<bool>,
    /// Node whose build product this node's product equals.
    pub sig_owner: Vec<u32>,
    /// Child continuing this node's first-parent line (lowest index), if any.
    pub fp_child: Vec<Option<u32>>,
    pub anc: Ancestry,
}

impl History {
    /// `own_binary[i]`: node i's own diff changes the binary (ignored for
    /// merges and good nodes).
    pub fn new(
        name: String,
        shas: Vec<String>,
        subjects: Vec<String>,
        parents: Vec<Vec<u32>>,
        good: Vec<u32>,
        bad: u32,
        own_binary: Vec<bool>,
    ) -> anyhow::Result<History> {
        let n = parents.len();
        if n > MAX_NODES {
            bail!("history {name} has {n} commits; the bench handles at most {MAX_NODES}");
        }
        if n < 2 || bad as usize >= n || good.is_empty() {
            bail!("history {name} needs a good node and a bad node");
        }
        for (i, ps) in parents.iter().enumerate() {
            if ps.iter().any(|&p| p as usize >= i) {
                bail!("history {name}: node {i} is not after its parents");
            }
        }
        let anc = Ancestry::new(&parents);
        let mut binary = vec![false; n];
        let mut sig_owner = vec![0u32; n];
        let mut fp_child = vec![None; n];
        for i in 0..n {
            let ps = &parents[i];
            binary[i] = if good.contains(&(i as u32)) || ps.is_empty() {
                true
            } else if ps.len() > 1 {
                let mut brought = anc.of(i as u32).clone();
                brought.subtract(anc.of(ps[0]));
                brought.clear(i as u32);
                let any = brought.iter().any(|x| binary[x as usize]);
                any
            } else {
                own_binary[i]
            };
            sig_owner[i] = if binary[i] {
                i as u32
            } else {
                sig_owner[ps[0] as usize]
            };
            if let Some(&p) = ps.first() {
                fp_child[p as usize].get_or_insert(i as u32);
            }
        }
        Ok(History {
            name,
            shas,
            subjects,
            parents,
            good,
            bad,
            binary,
            sig_owner,
            fp_child,
            anc,
        })
    }

    pub fn len(&self) -> usize {
        self.parents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    pub fn is_good(&self, x: u32) -> bool {
        self.good.contains(&x)
    }

    /// Culprit candidates: nodes that are not good.
    pub fn candidates(&self) -> usize {
        self.len() - self.good.len()
    }

    pub fn merges(&self) -> usize {
        self.parents.iter().filter(|p| p.len() > 1).count()
    }
}

/// Load a DAG file: `#` header lines (optionally "bad end: SHA" and "good end:
/// SHA"), then one commit per line, newest first, tab-separated: commit,
/// parents (space-separated; outside the range = good side), author time,
/// changed paths, top-level entries touched (space-separated), subject.
pub fn load_tsv(path: &Path) -> anyhow::Result<History> {
    let (name, rows, bad_end, good_end) = read_tsv(path)?;
    from_rows(name, rows, bad_end, good_end)
}

/// Load the part of a DAG file that `git rev-list BAD --not GOOD...` would
/// list: another, smaller range of the same history, to measure the engine
/// on graphs it was not tuned on. Revisions are commit ids or unique
/// prefixes of them; a good one may be the file's own good end.
pub fn load_tsv_cut(path: &Path, bad: &str, goods: &[String]) -> anyhow::Result<History> {
    let (name, rows, bad_end, good_end) = read_tsv(path)?;
    let whole = from_rows(name.clone(), rows.clone(), bad_end, good_end)?;
    // Node 0 carries the file's good end, so it can be named like any other.
    let find = |rev: &str| -> anyhow::Result<u32> {
        if rev.len() < 4 {
            bail!(
                "{}: {rev} is too short: give a commit id or a unique prefix of at least 4 characters",
                path.display()
            );
        }
        let hits: Vec<u32> = (0..whole.len() as u32)
            .filter(|&i| whole.shas[i as usize].starts_with(rev))
            .collect();
        match hits[..] {
            [i] => Ok(i),
            [] => bail!("{}: no commit {rev} in this DAG file", path.display()),
            _ => bail!(
                "{}: {rev} names {} commits; give more of the id",
                path.display(),
                hits.len()
            ),
        }
    };
    let b = find(bad)?;
    let mut keep = whole.anc.of(b).clone();
    for g in goods {
        keep.subtract(whole.anc.of(find(g)?));
    }
    keep.clear(0);
    let kept: HashSet<&str> = keep
        .iter()
        .map(|x| whole.shas[x as usize].as_str())
        .collect();
    if kept.is_empty() {
        bail!(
            "{}: the range {bad} --not {} is empty",
            path.display(),
            goods.join(" ")
        );
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| kept.contains(r.sha.as_str()))
        .collect();
    let bad_end = Some(whole.shas[b as usize].clone());
    from_rows(
        format!("{name}:{bad}"),
        rows,
        bad_end,
        Some(goods.join(",")),
    )
}

/// The rows of a DAG file, oldest first, with its name and the ends its
/// header names.
type TsvParts = (String, Vec<Row>, Option<String>, Option<String>);

fn read_tsv(path: &Path) -> anyhow::Result<TsvParts> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bad_end = None;
    let mut good_end = None;
    let mut rows = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        if let Some(h) = line.strip_prefix('#') {
            for (label, slot) in [("bad end:", &mut bad_end), ("good end:", &mut good_end)] {
                if let Some(i) = h.find(label) {
                    let rest = h[i + label.len()..].trim_start();
                    *slot = rest.split([' ', ';', ',']).next().map(str::to_string);
                }
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 {
            bail!(
                "{}:{}: expected 6 tab-separated columns",
                path.display(),
                ln + 1
            );
        }
        let changed: u32 = f[3]
            .parse()
            .with_context(|| format!("{}:{}: changed paths", path.display(), ln + 1))?;
        let entries: Vec<&str> = f[4].split_whitespace().collect();
        rows.push(Row {
            sha: f[0].to_string(),
            parents: f[1].split_whitespace().map(str::to_string).collect(),
            subject: f[5].to_string(),
            binary: changed > 0 && touches_binary(&entries),
        });
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The file is newest first; visiting oldest first keeps the order stable.
    rows.reverse();
    Ok((name, rows, bad_end, good_end))
}

#[derive(Clone)]
struct Row {
    sha: String,
    parents: Vec<String>,
    subject: String,
    binary: bool,
}

/// Topologically sort `rows` (any order; ties keep the given order) behind a
/// good node 0.
fn from_rows(
    name: String,
    rows: Vec<Row>,
    bad_end: Option<String>,
    good_end: Option<String>,
) -> anyhow::Result<History> {
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.sha.as_str(), i))
        .collect();
    let mut order = Vec::with_capacity(rows.len());
    let mut state = vec![0u8; rows.len()]; // 0 new, 1 open, 2 done
    for start in 0..rows.len() {
        let mut stack = vec![(start, 0usize)];
        while let Some((r, k)) = stack.pop() {
            if k == 0 {
                if state[r] != 0 {
                    continue;
                }
                state[r] = 1;
            }
            let next = rows[r].parents[k..]
                .iter()
                .position(|p| index.get(p.as_str()).is_some_and(|&i| state[i] != 2));
            match next {
                Some(off) => {
                    let pi = index[rows[r].parents[k + off].as_str()];
                    if state[pi] == 1 {
                        bail!("{name}: cycle through {}", rows[r].sha);
                    }
                    stack.push((r, k + off + 1));
                    stack.push((pi, 0));
                }
                None => {
                    state[r] = 2;
                    order.push(r);
                }
            }
        }
    }
    let mut node_of = vec![0u32; rows.len()];
    for (k, &r) in order.iter().enumerate() {
        node_of[r] = k as u32 + 1;
    }
    let mut shas = vec![good_end.unwrap_or_else(|| "good-side".to_string())];
    let mut subjects = vec!["(good side of the range)".to_string()];
    let mut parents = vec![vec![]];
    let mut own_binary = vec![true];
    for &r in &order {
        let row = &rows[r];
        let mut ps = Vec::new();
        for p in &row.parents {
            let n = index.get(p.as_str()).map_or(0, |&i| node_of[i]);
            if !ps.contains(&n) {
                ps.push(n);
            }
        }
        if ps.is_empty() {
            ps.push(0);
        }
        shas.push(row.sha.clone());
        subjects.push(row.subject.clone());
        parents.push(ps);
        own_binary.push(row.binary);
    }
    let bad = match bad_end.as_deref().and_then(|b| index.get(b)) {
        Some(&i) => node_of[i],
        None => order.len() as u32, // newest in topological order
    };
    History::new(name, shas, subjects, parents, vec![0], bad, own_binary)
}

/// Load the range `bad --not good...` of a local git repository.
pub fn load_repo(path: &Path, bad: &str, goods: &[String]) -> anyhow::Result<History> {
    let repo = culprit_git::Repo::open(path)?;
    let git = |args: &[&str]| repo.git(args);
    if goods.is_empty() {
        bail!("a repository range needs at least one good commit");
    }
    let bad_sha = repo.resolve(bad)?;
    let good_sha = repo.resolve(&goods[0])?;
    let mut args = vec![
        "log",
        "--topo-order",
        "--reverse",
        "--no-renames",
        "--name-only",
        "--format=%x01%H %P%x02%s",
        &bad_sha,
        "--not",
    ];
    args.extend(goods.iter().map(String::as_str));
    let out = git(&args)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut entries: Vec<Vec<String>> = Vec::new();
    for line in out.lines() {
        if let Some(head) = line.strip_prefix('\u{1}') {
            let (ids, subject) = head.split_once('\u{2}').unwrap_or((head, ""));
            let mut ids = ids.split_whitespace().map(str::to_string);
            let sha = ids.next().context("git log: missing hash")?;
            rows.push(Row {
                sha,
                parents: ids.collect(),
                subject: subject.to_string(),
                binary: false,
            });
            entries.push(Vec::new());
        } else if !line.is_empty() {
            let top = match line.split_once('/') {
                Some((d, _)) => format!("{d}/"),
                None => line.to_string(),
            };
            if let Some(e) = entries.last_mut() {
                if !e.contains(&top) {
                    e.push(top);
                }
            }
        }
    }
    for (row, e) in rows.iter_mut().zip(&entries) {
        let e: Vec<&str> = e.iter().map(String::as_str).collect();
        row.binary = !e.is_empty() && touches_binary(&e);
    }
    if rows.is_empty() {
        bail!("the range {bad} --not {} is empty", goods.join(" "));
    }
    let name = format!("{}:{}", path.display(), bad);
    from_rows(name, rows, Some(bad_sha), Some(good_sha))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn doc_and_test_only_changes_do_not_touch_the_binary() {
        assert!(!touches_binary(&["Documentation/", "t/"]));
        assert!(!touches_binary(&["README.md", ".mailmap", "RelNotes"]));
        assert!(touches_binary(&["t/", "apply.c"]));
        assert!(touches_binary(&["GIT-VERSION-GEN"]));
        assert!(touches_binary(&["builtin/"]));
    }

    #[test]
    fn real_git_dag_loads_in_topological_order() {
        let h = load_tsv(&super::super::scenario::git_dag()).unwrap();
        assert_eq!(h.len(), 3501);
        assert_eq!(h.candidates(), 3500);
        assert_eq!(h.merges(), 998);
        assert_eq!(
            h.shas[h.bad as usize],
            "786a3e4b8d754d2b14b1208b98eeb0a554ef19a8"
        );
        assert_eq!(h.shas[0], "73876f4861cd3d187a4682290ab75c9dccadbc56");
        assert_eq!(h.anc.of(h.bad).count() as usize, h.len());
        let docs = (1..h.len()).filter(|&i| !h.binary[i]).count();
        // Roughly a third of git's commits only touch docs, tests or po/.
        assert!(docs > 500 && docs < 1800, "{docs}");
        // "Documentation/RelNotes/2.45.0.txt: fix typo" shares its parent's binary.
        let i = h
            .shas
            .iter()
            .position(|s| s.starts_with("9f32d8da7aa3"))
            .unwrap();
        assert!(!h.binary[i]);
        assert_eq!(h.sig_owner[i], h.sig_owner[h.parents[i][0] as usize]);
    }

    #[test]
    fn local_repository_range_loads() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "-b", "main"]);
        let commit = |file: &str, msg: &str| {
            std::fs::create_dir_all(dir.path().join(file).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(file), msg).unwrap();
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", msg]);
        };
        commit("main.c", "base");
        git(&["tag", "v1"]);
        commit("main.c", "code change");
        commit("Documentation/x.txt", "docs");
        git(&["checkout", "-q", "-b", "topic", "v1"]);
        commit("lib.c", "topic change");
        git(&["checkout", "-q", "main"]);
        git(&["merge", "-q", "--no-ff", "-m", "merge topic", "topic"]);
        let h = load_repo(dir.path(), "main", &["v1".to_string()]).unwrap();
        assert_eq!(h.len(), 5); // good node + 4 commits
        assert_eq!(h.merges(), 1);
        assert_eq!(h.subjects[h.bad as usize], "merge topic");
        let docs = h.subjects.iter().position(|s| s == "docs").unwrap();
        assert!(!h.binary[docs]);
        assert!(h.binary[h.bad as usize]);
        assert!(load_repo(dir.path(), "main", &["main".to_string()]).is_err());
    }

    #[test]
    fn a_cut_of_a_dag_file_is_what_rev_list_would_list() {
        // main: c1 - c2 - c3 - m1 (merge of topic: t1 - t2, forked at c1).
        let id = |n: u32| format!("abcd{n:04x}{}", "ab".repeat(16));
        let (c1, c2, c3, t1, t2, m1) = (id(1), id(2), id(3), id(4), id(5), id(6));
        let good = "f".repeat(40);
        let row = |sha: &str, parents: &str, subject: &str| {
            format!("{sha}\t{parents}\t0\t1\tsrc/\t{subject}\n")
        };
        let text = [
            format!("# bad end: {m1}; good end: {good}\n"),
            row(&m1, &format!("{c3} {t2}"), "Merge topic"),
            row(&t2, &t1, "t2"),
            row(&c3, &c2, "c3"),
            row(&t1, &c1, "t1"),
            row(&c2, &c1, "c2"),
            row(&c1, &good, "c1"),
        ]
        .concat();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dag.tsv");
        std::fs::write(&path, text).unwrap();
        let subjects = |h: &History| {
            let mut v: Vec<String> = h.subjects[1..].to_vec();
            v.sort();
            v
        };
        // m1 --not c2: the topic (forked below c2) stays, c1 and c2 go.
        let h = load_tsv_cut(&path, &m1[..8], std::slice::from_ref(&c2)).unwrap();
        assert_eq!(subjects(&h), ["Merge topic", "c3", "t1", "t2"]);
        assert_eq!(h.shas[h.bad as usize], m1);
        assert_eq!(h.merges(), 1);
        // t1's parent c1 is outside the cut: the good side.
        let t1_node = h.subjects.iter().position(|s| s == "t1").unwrap();
        assert_eq!(h.parents[t1_node], [0]);
        // The file's own good end as the good end: everything below c3.
        let h = load_tsv_cut(&path, &c3, &[good[..6].to_string()]).unwrap();
        assert_eq!(subjects(&h), ["c1", "c2", "c3"]);
        // Several good ends.
        let h = load_tsv_cut(&path, &m1, &[c3.clone(), t1.clone()]).unwrap();
        assert_eq!(subjects(&h), ["Merge topic", "t2"]);
        // Bad revisions say what was wrong.
        let err = |bad: &str, good: &str| {
            load_tsv_cut(&path, bad, &[good.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert!(err("abcd", &c1).contains("names 6 commits"));
        assert!(err("ab", &c1).contains("at least 4"));
        assert!(err(&c1, "1234567").contains("no commit 1234567"));
        assert!(err(&c2, &c3).contains("is empty"));
    }

    #[test]
    fn a_cut_to_the_files_own_ends_is_the_whole_file() {
        let path = super::super::scenario::git_dag();
        let whole = load_tsv(&path).unwrap();
        let cut = load_tsv_cut(
            &path,
            &whole.shas[whole.bad as usize],
            &[whole.shas[0].clone()],
        )
        .unwrap();
        assert_eq!(cut.shas, whole.shas);
        assert_eq!(cut.parents, whole.parents);
        assert_eq!(cut.binary, whole.binary);
    }
}
