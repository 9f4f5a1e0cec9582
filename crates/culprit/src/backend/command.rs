//! The generic backend: the user's shell commands build a commit in a
//! worktree culprit owns and test it, with `git bisect run`'s exit codes.

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Backend, BuildResult, RunJob, RunResult, RunStatus, Untestable};
use crate::procs::{self, Exit, Spawn};

/// Settings of the command backend.
#[derive(Debug, Clone)]
pub struct CommandSettings {
    pub build: String,
    pub test: String,
    /// Build product, relative to the checkout.
    pub artifact: Option<PathBuf>,
    pub vms: u32,
    pub run_timeout: Option<Duration>,
    pub build_timeout: Option<Duration>,
}

pub struct CommandBackend {
    settings: CommandSettings,
    tree: Worktree,
    workdir: PathBuf,
    /// Commits whose product is kept (with an artifact: copied aside).
    kept: HashSet<String>,
}

impl CommandBackend {
    pub fn new(repo: &Repo, bad: &str, workdir: &Path, settings: CommandSettings) -> Result<Self> {
        let tree = Worktree::ensure(repo, &workdir.join("tree"), bad)
            .context("creating culprit's worktree")?;
        let mut kept = HashSet::new();
        if let Some(a) = &settings.artifact {
            let name = a.file_name().context("--artifact must name a file")?;
            if let Ok(rd) = std::fs::read_dir(workdir.join("artifacts")) {
                for e in rd.flatten() {
                    if e.path().join(name).exists() {
                        kept.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        Ok(CommandBackend {
            settings,
            tree,
            workdir: workdir.to_path_buf(),
            kept,
        })
    }

    fn artifact_copy(&self, commit: &str) -> Option<PathBuf> {
        let a = self.settings.artifact.as_ref()?;
        Some(
            self.workdir
                .join("artifacts")
                .join(commit)
                .join(a.file_name()?),
        )
    }
}

/// First line that looks like an error, else the last non-empty line.
pub fn first_error(output: &str) -> Option<String> {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| {
            let low = l.to_ascii_lowercase();
            low.contains("error") || low.contains("fatal") || low.contains("undefined reference")
        })
        .or(lines.last())
        .map(|l| l.chars().take(300).collect())
}

impl Backend for CommandBackend {
    fn build(&mut self, commit: &str) -> Result<BuildResult> {
        let start = Instant::now();
        self.tree
            .checkout(commit)
            .with_context(|| format!("checking out {commit} in {}", self.tree.dir().display()))?;
        let logs = self.workdir.join("builds");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{commit}.log"));
        let spawn = Spawn {
            script: &self.settings.build,
            cwd: self.tree.dir(),
            env: vec![("CULPRIT_COMMIT".into(), commit.into())],
            output: &log,
            timeout: self.settings.build_timeout,
        };
        let exit = procs::run_all(std::slice::from_ref(&spawn))?
            .pop()
            .context("no build result")?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let secs = start.elapsed().as_secs_f64();
        if let Exit::Code(c @ (126 | 127)) = exit {
            bail!(
                "the build command `{}` could not be started (exit status {c}): {}",
                self.settings.build,
                first_error(&text).unwrap_or_default()
            );
        }
        let ok = matches!(exit, Exit::Code(0));
        let mut res = BuildResult {
            ok,
            signature: None,
            secs,
            first_error: None,
            log: Some(log.clone()),
            info: Vec::new(),
        };
        if !ok {
            res.first_error = match exit {
                Exit::Timeout => Some("build timed out".into()),
                Exit::Signal(s) => Some(format!("build killed by signal {s}")),
                _ => first_error(&text).or_else(|| Some(format!("{exit}"))),
            };
            return Ok(res);
        }
        if let (Some(rel), Some(copy)) = (&self.settings.artifact, self.artifact_copy(commit)) {
            let src = self.tree.dir().join(rel);
            let bytes = std::fs::read(&src).with_context(|| {
                format!(
                    "the build of {commit} succeeded but produced no artifact at {} (check --artifact)",
                    src.display()
                )
            })?;
            res.signature = Some(crate::signature::of_file(&bytes));
            std::fs::create_dir_all(copy.parent().unwrap())?;
            std::fs::copy(&src, &copy)
                .with_context(|| format!("keeping the artifact in {}", copy.display()))?;
            self.kept.insert(commit.to_string());
        } else {
            self.kept.clear();
            self.kept.insert(commit.to_string());
        }
        Ok(res)
    }

    fn run(&mut self, jobs: &[RunJob]) -> Result<Vec<RunResult>> {
        let mut spawns = Vec::new();
        let mut outputs = Vec::new();
        for j in jobs {
            let dir = self.workdir.join("runs").join(&j.commit);
            std::fs::create_dir_all(&dir)?;
            outputs.push(dir.join(format!("{}.log", j.run)));
        }
        let artifacts: Vec<Option<PathBuf>> =
            jobs.iter().map(|j| self.artifact_copy(&j.commit)).collect();
        for ((j, out), art) in jobs.iter().zip(&outputs).zip(&artifacts) {
            let mut env = vec![
                ("CULPRIT_COMMIT".to_string(), j.commit.clone()),
                ("CULPRIT_RUN".to_string(), j.run.to_string()),
            ];
            if let Some(a) = art {
                env.push(("CULPRIT_ARTIFACT".into(), a.to_string_lossy().into_owned()));
            }
            spawns.push(Spawn {
                script: &self.settings.test,
                cwd: self.tree.dir(),
                env,
                output: out,
                timeout: self.settings.run_timeout,
            });
        }
        let mut results = Vec::new();
        for chunk in spawns.chunks(self.settings.vms.max(1) as usize) {
            let start = Instant::now();
            let exits = procs::run_all(chunk)?;
            let secs = start.elapsed().as_secs_f64();
            for (s, exit) in chunk.iter().zip(exits) {
                let text = std::fs::read(s.output).unwrap_or_default();
                let status = classify(exit, &text).with_context(|| {
                    format!(
                        "the test command stopped the campaign; its output ({}):\n{}",
                        s.output.display(),
                        tail(&text, 20)
                    )
                })?;
                results.push(RunResult {
                    status,
                    secs,
                    output: Some(s.output.to_path_buf()),
                });
            }
        }
        Ok(results)
    }

    fn is_available(&self, commit: &str) -> bool {
        self.kept.contains(commit)
    }
}

/// Maps a test's exit to a run status with `git bisect run`'s conventions.
pub fn classify(exit: Exit, output: &[u8]) -> Result<RunStatus> {
    Ok(match exit {
        Exit::Code(0) => RunStatus::Ok,
        Exit::Code(125) => RunStatus::Untestable {
            why: Untestable::Infra,
            reason: "test exited with 125".into(),
        },
        Exit::Code(c @ (126 | 127)) => bail!(
            "the test command could not be started (exit status {c}: {})",
            if c == 127 {
                "command not found"
            } else {
                "not executable"
            }
        ),
        Exit::Code(c) if (1..128).contains(&c) => {
            let title = culprit_report::parse(output)
                .map(|r| r.title)
                .unwrap_or_else(|| format!("exit status {c}"));
            RunStatus::Crashed { title }
        }
        Exit::Timeout => RunStatus::Untestable {
            why: Untestable::Timeout,
            reason: "timeout".into(),
        },
        Exit::Code(c) => bail!("the test exited with status {c} (>= 128 stops the campaign)"),
        Exit::Signal(s) => bail!("the test was killed by signal {s}"),
    })
}

fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
