//! `culprit maintainers`: who to mail about files or a commit, from the
//! tree's MAINTAINERS file, printed like `scripts/get_maintainer.pl
//! --nogit --nogit-fallback` (one "Name <addr> (role)" per line) or as
//! JSON. For a commit, the recipients of a bisection result (trailers plus
//! MAINTAINERS) follow.
//!
//! File arguments need no git: a plain source tree works. `--commit` asks
//! the git CLI for the commit's patch, author and message; it never
//! changes the repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use culprit_git::maintainers::{Maintainers, Recipient};
use culprit_git::trailers::{self, Recipients};
use culprit_git::Repo;

/// Arguments of `culprit maintainers`.
#[derive(Debug, Clone, clap::Args)]
pub struct MaintainersArgs {
    /// Files or directories, relative to the top of the tree (or absolute).
    #[arg(value_name = "FILE", required_unless_present = "commit")]
    pub files: Vec<PathBuf>,
    /// Look up the files and keywords of this commit, and add its trailers.
    #[arg(long, value_name = "REV", conflicts_with = "files")]
    pub commit: Option<String>,
    /// Top of the kernel tree (a git repository for --commit).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    files: Vec<String>,
    maintainers: Vec<Recipient>,
    recipients: Recipients,
}

/// Runs the subcommand and prints its result on stdout.
pub fn run(args: &MaintainersArgs) -> Result<()> {
    print!("{}", render(args)?);
    Ok(())
}

fn render(args: &MaintainersArgs) -> Result<String> {
    let tree = &args.repo;
    let m = Maintainers::load(tree)
        .with_context(|| format!("reading {}", tree.join("MAINTAINERS").display()))?
        .with_context(|| {
            format!(
                "no MAINTAINERS file in {}: run from the top of a kernel tree or pass --repo",
                tree.display()
            )
        })?;
    let out = match &args.commit {
        Some(rev) => commit_output(&m, tree, rev)?,
        None => {
            let files = args
                .files
                .iter()
                .map(|f| tree_relative(tree, f))
                .collect::<Result<Vec<PathBuf>>>()?;
            for f in &files {
                if !tree.join(f).exists() {
                    eprintln!(
                        "warning: {} does not exist in the tree; matching by name only",
                        f.display()
                    );
                }
            }
            let maintainers = m.lookup_paths(tree, &files)?;
            Output {
                commit: None,
                files: files.iter().map(|f| f.display().to_string()).collect(),
                recipients: trailers::recipients("", "", &maintainers),
                maintainers,
            }
        }
    };
    if args.json {
        return Ok(serde_json::to_string_pretty(&out)? + "\n");
    }
    let mut text: String = out.maintainers.iter().map(|r| format!("{r}\n")).collect();
    if out.commit.is_some() {
        text.push('\n');
        text.push_str(&trailers::format_lines(&out.recipients));
    }
    Ok(text)
}

/// `f` relative to the top of the tree: absolute paths and `..` are
/// resolved lexically (as the shell would write them), and a path outside
/// the tree is an error rather than a match of the catch-all entry only.
fn tree_relative(tree: &Path, f: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("the current directory")?;
    let abs = |p: &Path| {
        lexical(&if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        })
    };
    let top = abs(tree);
    // A relative file is relative to the tree (as get_maintainer.pl run
    // from its top reads it).
    let full = if f.is_absolute() {
        lexical(f)
    } else {
        lexical(&top.join(f))
    };
    full.strip_prefix(&top).map(Path::to_path_buf).map_err(|_| {
        anyhow::anyhow!(
            "{} is outside the tree {} (give files of the tree, or --repo the tree they are in)",
            f.display(),
            top.display()
        )
    })
}

/// `.` and `..` removed without looking at the file system.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn commit_output(m: &Maintainers, repo: &Path, rev: &str) -> Result<Output> {
    let r = Repo::open(repo)?;
    let hash = r.resolve(rev)?;
    let meta = r.commit(&hash)?;
    let author = format!("{} <{}>", meta.author_name, meta.author_email);
    let patch = r.format_patch(&hash)?;
    let patch = patch.as_bytes();
    let maintainers = m.lookup(&[culprit_git::maintainers::Input::Patch(patch)])?;
    let files = culprit_git::maintainers::patch_files(patch);
    let recipients = trailers::recipients(&author, &meta.message, &maintainers);
    Ok(Output {
        commit: Some(hash),
        files,
        maintainers,
        recipients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const MAINTAINERS: &str = "Header\n\nIO_URING\nM:\tJens Axboe <axboe@kernel.dk>\nR:\tPavel Begunkov <asml.silence@gmail.com>\nL:\tio-uring@vger.kernel.org\nS:\tMaintained\nF:\tio_uring/\n\nTHE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nL:\tlinux-kernel@vger.kernel.org\nS:\tBuried alive in reporters\nF:\t*\nF:\t*/\n";

    #[test]
    fn files_are_taken_relative_to_the_tree() {
        let t = Path::new("/src/linux");
        assert_eq!(
            tree_relative(t, Path::new("io_uring/x.c")).unwrap(),
            Path::new("io_uring/x.c")
        );
        assert_eq!(
            tree_relative(t, Path::new("/src/linux/io_uring/x.c")).unwrap(),
            Path::new("io_uring/x.c")
        );
        assert_eq!(
            tree_relative(t, Path::new("mm/../io_uring/./x.c")).unwrap(),
            Path::new("io_uring/x.c")
        );
        let e = tree_relative(t, Path::new("/etc/passwd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the tree"), "{e}");
        assert!(tree_relative(t, Path::new("../other/x.c")).is_err());
    }

    fn sh(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    }

    fn args(repo: &Path, files: &[&str], commit: Option<&str>, json: bool) -> MaintainersArgs {
        MaintainersArgs {
            files: files.iter().map(PathBuf::from).collect(),
            commit: commit.map(str::to_string),
            repo: repo.to_path_buf(),
            json,
        }
    }

    #[test]
    fn files_in_a_plain_tree_need_no_git() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("MAINTAINERS"), MAINTAINERS).unwrap();
        std::fs::create_dir(dir.path().join("io_uring")).unwrap();
        std::fs::write(dir.path().join("io_uring/rw.c"), "int x;\n").unwrap();
        let text = render(&args(dir.path(), &["io_uring/rw.c"], None, false)).unwrap();
        assert_eq!(
            text,
            "Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)\n\
             Pavel Begunkov <asml.silence@gmail.com> (reviewer:IO_URING)\n\
             io-uring@vger.kernel.org (open list:IO_URING)\n\
             linux-kernel@vger.kernel.org (open list)\n"
        );
        let json: serde_json::Value = serde_json::from_str(
            &render(&args(dir.path(), &["io_uring/rw.c"], None, true)).unwrap(),
        )
        .unwrap();
        assert_eq!(json["maintainers"][1]["kind"], "reviewer");
        assert_eq!(json["recipients"]["cc"][1], "linux-kernel@vger.kernel.org");
        let err = render(&args(&dir.path().join("io_uring"), &["rw.c"], None, false)).unwrap_err();
        assert!(format!("{err:#}").contains("no MAINTAINERS"), "{err:#}");
    }

    #[test]
    fn commit_combines_trailers_and_maintainers() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        sh(d, &["init", "-q"]);
        std::fs::write(d.join("MAINTAINERS"), MAINTAINERS).unwrap();
        std::fs::create_dir(d.join("io_uring")).unwrap();
        std::fs::write(d.join("io_uring/rw.c"), "int x;\n").unwrap();
        let id = [
            "-c",
            "user.name=Jens Axboe",
            "-c",
            "user.email=axboe@kernel.dk",
        ];
        sh(d, &[&id[..], &["add", "."]].concat());
        sh(d, &[&id[..], &["commit", "-q", "-m", "init"]].concat());
        std::fs::write(d.join("io_uring/rw.c"), "int y;\n").unwrap();
        let msg = "io_uring: fix\n\nBody.\n\nTested-by: Johannes Lundberg <johalun0@gmail.com>\nCc: nobody@example.org\nSigned-off-by: Jens Axboe <axboe@kernel.dk>\n";
        sh(d, &[&id[..], &["commit", "-q", "-a", "-m", msg]].concat());
        let text = render(&args(d, &[], Some("HEAD"), false)).unwrap();
        assert!(
            text.starts_with("Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)\n"),
            "{text}"
        );
        assert!(text.ends_with(
            "recipients (to): [\"axboe@kernel.dk\" \"io-uring@vger.kernel.org\" \"johalun0@gmail.com\"]\n\
             recipients (cc): [\"asml.silence@gmail.com\" \"linux-kernel@vger.kernel.org\"]\n"
        ), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&args(d, &[], Some("HEAD"), true)).unwrap()).unwrap();
        assert_eq!(json["files"], serde_json::json!(["io_uring/rw.c"]));
        assert!(render(&args(d, &[], Some("no-such-rev"), false)).is_err());
    }
}
