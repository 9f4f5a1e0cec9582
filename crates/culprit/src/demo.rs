//! The built-in example: a small git history with a flaky bug, an unrelated
//! crash, flaky "boots" and a cluster of commits that do not build, bisected
//! with the generic command backend.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

use crate::spec::{CampaignSpec, Generic, Mode, Output, Search};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the example repository and the campaign's workdir
    /// (default: a new directory under the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Probability (0-255 scale of one random byte) that a run on a buggy
    /// commit crashes: 77 is about 30%.
    #[arg(long, default_value_t = 77)]
    pub crash_byte: u8,
}

/// What the example history holds.
pub struct DemoRepo {
    pub path: PathBuf,
    pub good: String,
    pub bad: String,
    /// The commit that introduced the bug.
    pub culprit: String,
}

const BUILD: &str = r#"#!/bin/sh
# Builds out/prog from the sources; a source containing BROKEN does not build.
set -e
mkdir -p out
if grep -l BROKEN src/*.c >/dev/null 2>&1; then
  echo "src/$(grep -l BROKEN src/*.c | head -n1 | xargs basename): error: expected ';' before '}' token" >&2
  exit 2
fi
cat prog.head src/*.c > out/prog
chmod +x out/prog
"#;

fn prog_head(crash_byte: u8) -> String {
    r#"#!/bin/sh
# A stand-in for a booted kernel running a reproducer.
r() { od -An -N1 -tu1 /dev/urandom | tr -d ' '; }
[ "$(r)" -lt 13 ] && { echo "boot failed: no init found"; exit 125; }
if [ "$(r)" -lt 8 ]; then
  echo "WARNING: CPU: 0 PID: 1 at lib/demo_unrelated.c:42 unrelated_warn+0x1c/0x30"
  echo "Call Trace:"
  echo " unrelated_warn+0x1c/0x30"
  echo "---[ end trace 0000000000000000 ]---"
  exit 1
fi
BUG_ENABLED=0
# --- sources follow ---
"#
    .to_string()
        + &format!(
            r#"crash() {{
  if [ "$BUG_ENABLED" = 1 ] && [ "$(r)" -lt {crash_byte} ]; then
    echo "BUG: KASAN: use-after-free in demo_release+0x1a/0x40"
    echo "Read of size 8 at addr ffff888012345678 by task repro/1234"
    echo "Call Trace:"
    echo " demo_release+0x1a/0x40 drivers/demo/demo.c:120"
    echo " __fput+0x20/0x80 fs/file_table.c:320"
    echo "==================================================================" 
    exit 1
  fi
}}
trap crash EXIT
"#
        )
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let mut job = culprit_proc::Job::new("git");
    job.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Demo Developer")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "Demo Developer")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org");
    let out = job
        .output(crate::procs::root())
        .context("running git (is it installed?)")?;
    if !out.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit(dir: &Path, file: &str, text: &str, msg: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::create_dir_all(p.parent().unwrap())?;
    std::fs::write(&p, text)?;
    git(dir, &["add", file])?;
    git(dir, &["commit", "-q", "-m", msg])?;
    git(dir, &["rev-parse", "HEAD"])
}

/// The example history made earlier in `dir`.
fn existing_repo(dir: &Path) -> Result<DemoRepo> {
    if !dir.join("build.sh").exists() || !dir.join("prog.head").exists() {
        bail!("{} is not a demo repository", dir.display());
    }
    let good = git(dir, &["rev-parse", "v1.0"])?;
    let bad = git(dir, &["rev-parse", "main"])?;
    let culprit = git(
        dir,
        &[
            "log",
            "--format=%H",
            "--fixed-strings",
            "--grep=demo: free the buffer in release",
            "main",
        ],
    )?;
    if culprit.is_empty() || culprit.contains('\n') {
        bail!("{} has no single injected commit", dir.display());
    }
    Ok(DemoRepo {
        path: dir.to_path_buf(),
        good,
        bad,
        culprit,
    })
}

/// Creates the example history in `dir` (which must not exist yet).
pub fn make_repo(dir: &Path, crash_byte: u8) -> Result<DemoRepo> {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q", "-b", "main"])?;
    std::fs::write(dir.join("build.sh"), BUILD)?;
    std::fs::write(dir.join("prog.head"), prog_head(crash_byte))?;
    git(dir, &["add", "."])?;
    let good = commit(dir, "src/000_base.c", "# base\n", "base: initial import")?;
    git(dir, &["tag", "v1.0"])?;
    let mut culprit = String::new();
    for i in 1..=120u32 {
        if i % 30 == 0 {
            // A topic branch forked from an older commit, merged back.
            let base = git(dir, &["rev-parse", &format!("HEAD~{}", 12)])?;
            let topic = format!("topic{i}");
            git(dir, &["checkout", "-q", "-b", &topic, &base])?;
            for j in 0..6 {
                commit(
                    dir,
                    &format!("src/{topic}_{j}.c"),
                    &format!("# {topic} part {j}\n"),
                    &format!("{topic}: part {j}"),
                )?;
            }
            git(dir, &["checkout", "-q", "main"])?;
            git(
                dir,
                &[
                    "merge",
                    "-q",
                    "--no-ff",
                    "-m",
                    &format!("Merge branch '{topic}'"),
                    &topic,
                ],
            )?;
        }
        let (file, text, msg) = match i {
            77 => (
                "src/077_release.c".to_string(),
                "BUG_ENABLED=1 # release path frees too early\n".to_string(),
                "demo: free the buffer in release".to_string(),
            ),
            50 => (
                "src/050_broken.c".into(),
                "# BROKEN half-done\n".into(),
                "demo: start refactor".into(),
            ),
            53 => (
                "src/050_broken.c".into(),
                "# refactor done\n".into(),
                "demo: finish refactor".into(),
            ),
            _ => (
                format!("src/{i:03}_mod.c"),
                format!("# module {i}\n"),
                format!("demo: module {i}"),
            ),
        };
        let sha = commit(dir, &file, &text, &msg)?;
        if i == 77 {
            culprit = sha;
        }
        if i % 10 == 5 {
            commit(
                dir,
                &format!("docs/note{i}.txt"),
                "docs only\n",
                &format!("docs: note {i}"),
            )?;
        }
    }
    let bad = git(dir, &["rev-parse", "HEAD"])?;
    Ok(DemoRepo {
        path: dir.to_path_buf(),
        good,
        bad,
        culprit,
    })
}

pub fn run(args: &DemoArgs) -> Result<i32> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("culprit-demo-{}", std::process::id())),
    };
    // A demo that was interrupted is resumed: same repository, same
    // workdir, and the campaign replays its journal.
    let demo = if dir.join("repo").exists() {
        let d = existing_repo(&dir.join("repo")).with_context(|| {
            format!(
                "{} holds something that is not a culprit demo; give another --dir",
                dir.display()
            )
        })?;
        println!("resuming the demo in {}", dir.display());
        d
    } else {
        make_repo(&dir.join("repo"), args.crash_byte)?
    };
    println!(
        "demo repository: {} ({} is the commit that introduced the bug)",
        demo.path.display(),
        demo.culprit
    );
    let spec = CampaignSpec {
        repo: demo.path.clone(),
        bad: demo.bad.clone(),
        good: vec![demo.good.clone()],
        fix: false,
        target: None,
        mode: Mode::Generic(Generic {
            build: "sh build.sh".into(),
            test: "sh \"$CULPRIT_ARTIFACT\"".into(),
            artifact: Some(PathBuf::from("out/prog")),
            run_timeout: Some(30.0),
            build_timeout: None,
        }),
        search: Search {
            vms: 4,
            ..Search::default()
        },
        output: Output {
            workdir: Some(dir.join("work")),
            json: args.json.clone(),
            ..Output::default()
        },
        executor: Default::default(),
    };
    crate::execute::run(&spec)
}
