//! Running a [`CampaignSpec`]: resolve and check the range, prepare the
//! workdir and the backend, drive the campaign machine, print and write the
//! result. The CLI and the demo come here; so will a server.
//!
//! Everything that can be checked is checked before anything is created.

use anyhow::{bail, Context, Result};
use culprit_bisect::Config;
use culprit_git::Repo;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::command::{CommandBackend, CommandSettings};
use crate::backend::kernel::{self, KernelBackend, KernelSettings, Pool, TreeChoice};
use crate::backend::Backend;
use crate::campaign::{Commit, Fanout, Machine, Plan, Sink};
use crate::cli::paths::{default_build_tree, default_workdir};
use crate::hint::{Hinter, NoHints, StackHinter};
use crate::journal::Journal;
use crate::print::jsonl::JsonLines;
use crate::print::text::TextLog;
use crate::result;
use crate::spec::{content_id, CampaignSpec, Experiment, Mode};

/// The validated range: bad, goods (after merge-base substitution), commits.
pub struct Setup {
    pub repo: Repo,
    pub bad: String,
    pub goods: Vec<String>,
    pub commits: Vec<Commit>,
    pub notes: Vec<String>,
}

/// Resolves and checks the revisions, and loads the range.
pub fn setup(repo_path: &Path, bad: &str, goods: &[String]) -> Result<Setup> {
    let repo = Repo::open(repo_path)
        .with_context(|| format!("opening the repository {}", repo_path.display()))?;
    let bad_sha = repo.resolve(bad).context("resolving --bad")?;
    if goods.is_empty() {
        bail!("give at least one --good commit (one where the bug does not show)");
    }
    let mut notes = Vec::new();
    let mut good_shas: Vec<String> = Vec::new();
    for g in goods {
        let sha = repo.resolve(g).context("resolving --good")?;
        if sha == bad_sha {
            bail!("--good {g} and --bad {bad} are the same commit {sha}: nothing to bisect");
        }
        let good = if repo.is_ancestor(&sha, &bad_sha)? {
            sha
        } else if repo.is_ancestor(&bad_sha, &sha)? {
            bail!(
                "--bad {bad} is an ancestor of --good {g}: the range is empty. \
                 Did you swap them?"
            );
        } else {
            let Some(base) = repo.merge_base(&sha, &bad_sha)? else {
                bail!("--good {g} and --bad {bad} share no history; pick a good commit that bad descends from");
            };
            notes.push(format!(
                "good commit {sha} is not an ancestor of bad; using their merge base {base} as the good end, as git bisect does (it is tested like any other commit)"
            ));
            base
        };
        if !good_shas.contains(&good) {
            good_shas.push(good);
        }
    }
    let range = repo
        .range(&bad_sha, &good_shas)
        .context("loading the commit range")?;
    if range.candidates() == 0 {
        bail!("no commits between the good commits and {bad_sha}: the range is empty");
    }
    let commits = range
        .commits
        .into_iter()
        .map(|c| Commit {
            sha: c.sha,
            parents: c.parents,
            good: c.good,
            subject: c.subject,
        })
        .collect();
    Ok(Setup {
        repo,
        bad: bad_sha,
        goods: good_shas,
        commits,
        notes,
    })
}

fn timeout(name: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        Some(s) if !(s > 0.0 && s.is_finite() && s <= 1e7) => {
            bail!("{name} must be a positive number of seconds (up to 10^7), not {s}")
        }
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

/// The engine's configuration, checked.
fn engine_config(spec: &CampaignSpec) -> Result<Config> {
    let s = &spec.search;
    if !(0.5..1.0).contains(&s.confidence) {
        bail!(
            "--confidence must be at least 0.5 and below 1 (got {})",
            s.confidence
        );
    }
    if s.vms == 0 {
        bail!("--vms must be at least 1");
    }
    if s.verify_runs == 0 {
        bail!("--verify-runs must be at least 1");
    }
    Ok(Config {
        confidence: s.confidence,
        vms: s.vms,
        max_builds: s.max_builds,
        max_runs: s.max_runs,
        verify_runs: s.verify_runs,
        ..Config::default()
    })
}

/// What changes what a run shows, for the campaign identity.
fn settings_identity(mode: &Mode) -> Result<(&'static str, serde_json::Value)> {
    Ok(match mode {
        Mode::Generic(g) => (
            "generic",
            serde_json::json!({
                "build": g.build,
                "test": g.test,
                "artifact": g.artifact,
            }),
        ),
        Mode::Kernel(k) => (
            "kernel",
            serde_json::json!({
                "config": content_id(k.config.as_deref())?,
                "reproducer": content_id(k.reproducer.as_deref())?,
                "repro_repeat": k.repro_repeat,
                "cmdline": k.cmdline,
                "compiler": k.compiler,
            }),
        ),
    })
}

/// Runs the campaign a spec describes; returns the exit status.
pub fn run(spec: &CampaignSpec) -> Result<i32> {
    let config = engine_config(spec)?;
    if let Mode::Generic(g) = &spec.mode {
        timeout("--run-timeout", g.run_timeout)?;
        timeout("--build-timeout", g.build_timeout)?;
    }
    if let Mode::Kernel(k) = &spec.mode {
        k.validate()?;
    }
    let s = setup(&spec.repo, &spec.bad, &spec.good)?;
    if let Mode::Kernel(k) = &spec.mode {
        let has = |f: &str| matches!(s.repo.file_at(&s.bad, f), Ok(Some(_)));
        if !kernel::is_kernel_tree(&has) {
            bail!(
                "{} is not a Linux kernel tree at {} (no Kconfig, Makefile and arch/x86/Kconfig): kernel mode bisects Linux; drop --kernel and give --build and --test for other projects",
                spec.repo.display(),
                s.bad
            );
        }
        kernel::preflight(k)?;
    }
    let (mode_name, settings) = settings_identity(&spec.mode)?;
    let key = Experiment {
        mode: mode_name,
        bad: &s.bad,
        goods: &s.goods,
        target: spec.target.as_deref(),
        settings,
    }
    .identity();
    let workdir = make_workdir(spec, &key)?;
    let events_file = match &spec.output.events {
        Some(p) => Some(
            std::fs::File::create(p)
                .with_context(|| format!("creating the event stream {}", p.display()))?,
        ),
        None => None,
    };
    if let Some(p) = &spec.output.json {
        check_writable(p)?;
    }
    let mut backend: Box<dyn Backend> = match &spec.mode {
        Mode::Generic(g) => Box::new(CommandBackend::new(
            &s.repo,
            &s.bad,
            &workdir,
            CommandSettings {
                build: g.build.clone(),
                test: g.test.clone(),
                artifact: g.artifact.clone(),
                vms: spec.search.vms,
                run_timeout: timeout("--run-timeout", g.run_timeout)?,
                build_timeout: timeout("--build-timeout", g.build_timeout)?,
            },
        )?),
        Mode::Kernel(k) => Box::new(kernel_backend(spec, k, &s, &workdir)?),
    };
    let product = match spec.mode {
        Mode::Generic(_) => "build",
        Mode::Kernel(_) => "kernel",
    };
    drive(
        spec,
        s,
        key,
        config,
        &workdir,
        backend.as_mut(),
        product,
        events_file,
    )
}

fn kernel_backend(
    spec: &CampaignSpec,
    k: &KernelSettings,
    s: &Setup,
    workdir: &Path,
) -> Result<KernelBackend> {
    let tree = if k.private_tree {
        TreeChoice::Private
    } else if let Some(d) = &k.build_tree {
        TreeChoice::Shared(d.clone())
    } else {
        TreeChoice::SharedOrPrivate(default_build_tree(&spec.repo)?)
    };
    KernelBackend::new(
        &s.repo,
        &s.bad,
        workdir,
        k.clone(),
        Pool {
            vms: spec.search.vms,
            tree,
        },
    )
    .context("preparing the kernel backend")
}

fn make_workdir(spec: &CampaignSpec, key: &str) -> Result<PathBuf> {
    let workdir = spec
        .output
        .workdir
        .clone()
        .unwrap_or_else(|| default_workdir(key));
    std::fs::create_dir_all(&workdir)
        .with_context(|| format!("creating the workdir {}", workdir.display()))?;
    Ok(workdir.canonicalize()?)
}

/// Fails early when the JSON result could not be written at the end.
fn check_writable(p: &Path) -> Result<()> {
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write the JSON result to {}: {} is not a directory",
            p.display(),
            dir.display()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn drive(
    spec: &CampaignSpec,
    s: Setup,
    key: String,
    config: Config,
    workdir: &Path,
    backend: &mut dyn Backend,
    product: &str,
    events_file: Option<std::fs::File>,
) -> Result<i32> {
    let (mut journal, past) = Journal::open(&workdir.join("journal.jsonl"))?;
    let mut log = TextLog::new(Some(&workdir.join("bisect.log")), spec.output.quiet)
        .context("opening the log file")?;
    let bad = s.commits.len() as u32 - 1;
    let plan = Plan {
        commits: s.commits,
        bad,
        config,
        target_title: spec.target.clone(),
        key,
        product: product.to_string(),
        hints: spec.search.hints,
        workdir: Some(workdir.to_path_buf()),
        notes: s.notes,
    };
    let mut stack_hinter;
    let hints: &mut dyn Hinter = if spec.search.hints {
        stack_hinter = StackHinter::new(&s.repo, &s.bad, &plan.commits);
        &mut stack_hinter
    } else {
        &mut NoHints
    };
    let mut jsonl = events_file.map(JsonLines::new);
    let mut sinks: Vec<&mut dyn Sink> = vec![&mut log];
    if let Some(j) = jsonl.as_mut() {
        sinks.push(j);
    }
    let machine = Machine::new(plan.clone())?;
    let mut fan = Fanout(sinks);
    let finished = crate::drive::drive(machine, &past, backend, &mut journal, &mut fan, hints);
    drop(fan);
    let finish = finished.map_err(|e| {
        if crate::procs::interrupted() {
            e.context(format!(
                "campaign stopped; the journal in {} is intact: rerun the same command to resume",
                workdir.display()
            ))
        } else {
            e
        }
    })?;
    let summary = result::summarize(&s.repo, &plan, &finish)?;
    log.result(&summary);
    if let Some(p) = &spec.output.json {
        let text = serde_json::to_string_pretty(&summary.result)?;
        std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(j) = jsonl.as_mut() {
        j.result(&summary.result);
        if let Some(e) = j.error.take() {
            eprintln!("warning: the event stream could not be written: {e}");
        }
    }
    if let Some(m) = &summary.not_reproduced {
        eprintln!("error: {m}");
    }
    Ok(summary.result.exit_code)
}
