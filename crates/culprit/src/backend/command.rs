//! The generic backend: the user's shell commands build a commit in a
//! worktree culprit owns and test it, with `git bisect run`'s exit codes.
//!
//! Each command runs through crates/proc: its own process group, killed with
//! everything it started on timeout, when it exits and on Ctrl-C.

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use culprit_proc::{Cancel, Job, Sink};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Backend, BuildResult, Done, Progress, RunJob, RunResult, RunStatus, Untestable};

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
    /// The campaign's token: every build and test runs under it.
    cancel: Cancel,
    tree: Worktree,
    workdir: PathBuf,
    /// Commits whose product is kept (with an artifact: copied aside).
    kept: HashSet<String>,
}

impl CommandBackend {
    pub fn new(
        repo: &Repo,
        bad: &str,
        workdir: &Path,
        settings: CommandSettings,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        let tree = Worktree::ensure(repo, &workdir.join("tree"), bad, progress)
            .context("creating culprit's worktree")?;
        let kept = kept_artifacts(&settings, workdir)?;
        Ok(CommandBackend {
            settings,
            cancel,
            tree,
            workdir: workdir.to_path_buf(),
            kept,
        })
    }

    fn artifact_copy(&self, commit: &str) -> Option<PathBuf> {
        artifact_copy(&self.settings, &self.workdir, commit)
    }
}

/// Where the artifact of `commit` is kept (with `--artifact`).
pub(crate) fn artifact_copy(
    settings: &CommandSettings,
    workdir: &Path,
    commit: &str,
) -> Option<PathBuf> {
    let a = settings.artifact.as_ref()?;
    Some(workdir.join("artifacts").join(commit).join(a.file_name()?))
}

/// The commits whose artifact a workdir keeps (with `--artifact`).
pub(crate) fn kept_artifacts(
    settings: &CommandSettings,
    workdir: &Path,
) -> Result<HashSet<String>> {
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
    Ok(kept)
}

/// Builds `commit` in `tree`: checks it out, runs the build command there
/// (with `env` added to CULPRIT_COMMIT) and keeps the artifact. The caller
/// records what the tree and the artifacts now hold.
pub(crate) fn build_in(
    tree: &Worktree,
    settings: &CommandSettings,
    workdir: &Path,
    commit: &str,
    env: &[(String, String)],
    cancel: &Cancel,
    progress: Progress,
) -> Result<BuildResult> {
    let start = Instant::now();
    tree.checkout(commit, progress)
        .with_context(|| format!("checking out {commit} in {}", tree.dir().display()))?;
    let logs = workdir.join("builds");
    std::fs::create_dir_all(&logs)?;
    let log = logs.join(format!("{commit}.log"));
    let mut all_env = vec![("CULPRIT_COMMIT".to_string(), commit.to_string())];
    all_env.extend(env.iter().cloned());
    let spawn = Spawn {
        script: &settings.build,
        cwd: tree.dir(),
        env: all_env,
        output: &log,
        timeout: settings.build_timeout,
    };
    let exit = run_all(std::slice::from_ref(&spawn), cancel)?
        .pop()
        .context("no build result")?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let secs = start.elapsed().as_secs_f64();
    // A tool that only appears later in history makes this commit
    // untestable, like any failed build; on the bad commit the campaign
    // stops with this message.
    let not_started = match exit {
        Exit::Code(c @ (126 | 127)) => Some(format!(
            "the build command `{}` could not be started (exit status {c}): {}",
            settings.build,
            first_error(&text).unwrap_or_default()
        )),
        _ => None,
    };
    let ok = matches!(exit, Exit::Code(0));
    let mut res = BuildResult {
        ok,
        signature: None,
        secs,
        first_error: None,
        log: Some(log.clone()),
        config: None,
        symbols: None,
        info: Vec::new(),
    };
    if !ok {
        res.first_error = not_started.or_else(|| match exit {
            Exit::Timeout => Some("build timed out".into()),
            Exit::Signal(s) => Some(format!("build killed by signal {s}")),
            _ => first_error(&text).or_else(|| Some(format!("{exit}"))),
        });
        return Ok(res);
    }
    if let (Some(rel), Some(copy)) = (&settings.artifact, artifact_copy(settings, workdir, commit))
    {
        let src = tree.dir().join(rel);
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
    }
    Ok(res)
}

/// The result of one run that ended with `r`, its output in `s.output`.
pub(crate) fn run_result(s: &Spawn<'_>, r: Result<(Exit, f64)>) -> Result<RunResult> {
    let (exit, secs) = r?;
    let text = std::fs::read(s.output).unwrap_or_default();
    let status = classify(exit, &text).with_context(|| {
        format!(
            "the test command stopped the campaign; its output ({}):\n{}",
            s.output.display(),
            tail(&text, 20)
        )
    })?;
    Ok(RunResult {
        status,
        secs,
        output: Some(s.output.to_path_buf()),
    })
}

/// The environment of a run of `job` (artifact: where its product is kept).
pub(crate) fn run_env(job: &RunJob, artifact: Option<&Path>) -> Vec<(String, String)> {
    let mut env = vec![
        ("CULPRIT_COMMIT".to_string(), job.commit.clone()),
        ("CULPRIT_RUN".to_string(), job.run.to_string()),
    ];
    if let Some(a) = artifact {
        env.push(("CULPRIT_ARTIFACT".into(), a.to_string_lossy().into_owned()));
    }
    env
}

/// Where the output of a run of `job` goes (its directory is created).
pub(crate) fn run_output(workdir: &Path, job: &RunJob) -> Result<PathBuf> {
    let dir = workdir.join("runs").join(&job.commit);
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(format!("{}.log", job.run)))
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
    fn build(&mut self, commit: &str, progress: Progress) -> Result<BuildResult> {
        let res = build_in(
            &self.tree,
            &self.settings,
            &self.workdir,
            commit,
            &[],
            &self.cancel,
            progress,
        )?;
        if res.ok {
            if self.settings.artifact.is_none() {
                self.kept.clear();
            }
            self.kept.insert(commit.to_string());
        }
        Ok(res)
    }

    fn run(&mut self, jobs: &[RunJob], _progress: Progress, done: Done) -> Result<()> {
        let mut spawns = Vec::new();
        let outputs = jobs
            .iter()
            .map(|j| run_output(&self.workdir, j))
            .collect::<Result<Vec<PathBuf>>>()?;
        for (j, out) in jobs.iter().zip(&outputs) {
            spawns.push(Spawn {
                script: &self.settings.test,
                cwd: self.tree.dir(),
                env: run_env(j, self.artifact_copy(&j.commit).as_deref()),
                output: out,
                timeout: self.settings.run_timeout,
            });
        }
        if self.cancel.is_cancelled() {
            bail!(INTERRUPTED);
        }
        // Up to --vms runs at once; each result is handed over as soon as
        // its run ends, so an interrupted round keeps what finished.
        let mut first_error: Option<anyhow::Error> = None;
        let vms = self.settings.vms.max(1) as usize;
        let cancel = &self.cancel;
        let started = culprit_proc::pool_each(
            cancel,
            &spawns,
            vms,
            |s| run_one(s, cancel),
            |i, r| match run_result(&spawns[i], r) {
                Ok(r) => done(i, r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            },
        );
        if let Some(e) = first_error {
            return Err(e);
        }
        if started.iter().any(|s| !s) {
            bail!(INTERRUPTED);
        }
        Ok(())
    }

    fn is_available(&self, commit: &str) -> bool {
        self.kept.contains(commit)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    Timeout,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::Timeout => write!(f, "timed out"),
        }
    }
}

/// One shell command to run.
pub struct Spawn<'a> {
    pub script: &'a str,
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    /// Standard output and error both go here.
    pub output: &'a Path,
    pub timeout: Option<Duration>,
}

pub(crate) const INTERRUPTED: &str = "interrupted by a signal (Ctrl-C)";

pub(crate) fn run_one(s: &Spawn<'_>, cancel: &Cancel) -> Result<(Exit, f64)> {
    let mut job = Job::shell(s.script);
    job.cwd(s.cwd).stdout(Sink::file(s.output)).merge_stderr();
    for (k, v) in &s.env {
        job.env(k, v);
    }
    if let Some(t) = s.timeout {
        job.timeout(t);
    }
    let out = match job.run(cancel) {
        Err(culprit_proc::Error::Cancelled) => bail!(INTERRUPTED),
        r => r.with_context(|| format!("cannot start `{}` in {}", s.script, s.cwd.display()))?,
    };
    let exit = match out.exit {
        culprit_proc::Exit::Cancelled => bail!(INTERRUPTED),
        culprit_proc::Exit::TimedOut => Exit::Timeout,
        culprit_proc::Exit::Code(c) => Exit::Code(c),
        culprit_proc::Exit::Signal(sig) => Exit::Signal(sig),
    };
    Ok((exit, out.secs))
}

/// Runs all commands at once (one thread each, through crates/proc's pool)
/// and waits for all of them.
pub fn run_all(spawns: &[Spawn<'_>], cancel: &Cancel) -> Result<Vec<Exit>> {
    if cancel.is_cancelled() {
        bail!(INTERRUPTED);
    }
    culprit_proc::pool(cancel, spawns, spawns.len(), |s| run_one(s, cancel))
        .into_iter()
        .map(|slot| {
            slot.done()
                .unwrap_or_else(|| bail!(INTERRUPTED))
                .map(|r| r.0)
        })
        .collect()
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
        Exit::Code(c) if (1..128).contains(&c) => match culprit_report::parse(output) {
            Some(r) => RunStatus::of_report(&r),
            None => RunStatus::crashed(format!("exit status {c}")),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn<'a>(script: &'a str, dir: &'a Path, out: &'a Path, t: Option<f64>) -> Spawn<'a> {
        Spawn {
            script,
            cwd: dir,
            env: vec![("CULPRIT_RUN".into(), "7".into())],
            output: out,
            timeout: t.map(Duration::from_secs_f64),
        }
    }

    #[test]
    fn exits_output_and_env_of_parallel_commands() {
        let d = tempfile::tempdir().unwrap();
        let outs: Vec<PathBuf> = (0..5).map(|i| d.path().join(format!("{i}.log"))).collect();
        let scripts = [
            "echo out $CULPRIT_RUN; echo err >&2; exit 0",
            "exit 125",
            "exit 3",
            "exit 200",
            "echo dying; kill -9 $$",
        ];
        let spawns: Vec<Spawn> = scripts
            .iter()
            .zip(&outs)
            .map(|(s, o)| spawn(s, d.path(), o, Some(30.0)))
            .collect();
        let exits = run_all(&spawns, &Cancel::new()).unwrap();
        assert_eq!(
            exits,
            vec![
                Exit::Code(0),
                Exit::Code(125),
                Exit::Code(3),
                Exit::Code(200),
                Exit::Signal(9)
            ]
        );
        assert_eq!(std::fs::read_to_string(&outs[0]).unwrap(), "out 7\nerr\n");
        assert_eq!(std::fs::read_to_string(&outs[4]).unwrap(), "dying\n");
        // git bisect run's conventions.
        assert!(matches!(classify(exits[0], b""), Ok(RunStatus::Ok)));
        assert!(matches!(
            classify(exits[1], b""),
            Ok(RunStatus::Untestable {
                why: Untestable::Infra,
                ..
            })
        ));
        assert!(
            matches!(classify(exits[2], b""), Ok(RunStatus::Crashed { title, .. }) if title == "exit status 3")
        );
        assert!(classify(exits[3], b"").is_err());
        assert!(classify(exits[4], b"").is_err());
        assert!(classify(Exit::Code(127), b"").is_err());
    }

    #[test]
    fn timeout_kills_the_command_and_what_it_started() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("t.log");
        let pidfile = d.path().join("pid");
        let script = format!(
            "trap '' TERM; sleep 60 & echo $! > {}; wait",
            pidfile.display()
        );
        let start = Instant::now();
        let exits = run_all(&[spawn(&script, d.path(), &out, Some(0.5))], &Cancel::new()).unwrap();
        assert_eq!(exits, vec![Exit::Timeout]);
        assert!(start.elapsed() < Duration::from_secs(30));
        assert!(matches!(
            classify(exits[0], b""),
            Ok(RunStatus::Untestable {
                why: Untestable::Timeout,
                ..
            })
        ));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            culprit_proc::wait_exited(pid, Duration::from_secs(2)),
            "the timed-out command's child {pid} survived"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_not_an_exit() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("x.log");
        let missing = d.path().join("missing");
        let err = run_all(&[spawn("true", &missing, &out, None)], &Cancel::new()).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot start `true`"),
            "{err:#}"
        );
    }
}
