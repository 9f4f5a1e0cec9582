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

use crate::backend::builders::CommandBuilders;
use crate::backend::command::CommandBackend;
use crate::backend::kernel::{
    self, KernelBackend, KernelBuilders, KernelSettings, Pool, TreeChoice,
};
use crate::backend::slurm::Executor;
use crate::campaign::{Event, Machine, Plan, Record, Sink, WalkEnd};
use crate::cli::paths::{default_build_tree, default_workdir};
use crate::cli::test_backend::{backend_for, check_executor, Place};
use crate::hint::{Hinter, NoHints, StackHinter};
use crate::journal::Journal;
use crate::print::jsonl::JsonLines;
use crate::print::text::TextLog;
use crate::result;
use crate::spec::{content_id, CampaignSpec, Experiment, Mode};

mod exec;
mod lock;
mod mail;
mod setup;
mod walk;
pub use exec::Exec;
pub use lock::WorkdirLock;
pub use setup::{setup, Setup};

fn timeout(name: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        Some(s) if !(s > 0.0 && s.is_finite() && s <= 1e7) => {
            bail!("{name} must be a positive number of seconds (up to 10^7), not {s}")
        }
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

/// Runs of one round at most: more VMs than this on one campaign is a
/// typo, and the engine's planning grows with their square.
pub const MAX_VMS: u32 = 128;
/// Runs on the bad commit at most before giving up.
pub const MAX_VERIFY_RUNS: u32 = 10_000;

/// The engine's configuration, checked.
fn engine_config(spec: &CampaignSpec) -> Result<Config> {
    let s = &spec.search;
    if !(0.5..1.0).contains(&s.confidence) {
        bail!(
            "--confidence must be at least 0.5 and below 1 (got {})",
            s.confidence
        );
    }
    if !(1..=MAX_VMS).contains(&s.vms) {
        bail!(
            "--vms must be between 1 and {MAX_VMS} (got {}): the runs of one round",
            s.vms
        );
    }
    if !(1..=MAX_VERIFY_RUNS).contains(&s.verify_runs) {
        bail!(
            "--verify-runs must be between 1 and {MAX_VERIFY_RUNS} (got {})",
            s.verify_runs
        );
    }
    for (name, v) in [("--max-builds", s.max_builds), ("--max-runs", s.max_runs)] {
        if v == Some(0) {
            bail!("{name} must be at least 1");
        }
    }
    Ok(Config {
        confidence: s.confidence,
        vms: s.vms,
        max_builds: s.max_builds,
        max_runs: s.max_runs,
        verify_runs: s.verify_runs,
        fix: spec.fix,
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
    exec::check_builders(spec)?;
    check_executor(&spec.mode, &spec.executor)?;
    if let Mode::Generic(g) = &spec.mode {
        timeout("--run-timeout", g.run_timeout)?;
        timeout("--build-timeout", g.build_timeout)?;
    }
    if let Mode::Kernel(k) = &spec.mode {
        k.validate()?;
    }
    if spec.fix && spec.good.is_empty() {
        bail!("--fix needs --good: an old commit where the crash shows (--bad is the new one, where it is gone)");
    }
    let s = setup(&spec.repo, &spec.bad, &spec.good)?;
    if !spec.good.is_empty() && spec.search.oldest.is_some() {
        bail!("--oldest bounds the walk back over releases, which only runs without --good: drop one of them");
    }
    let chain = if s.goods.is_empty() {
        Some(walk::chain(
            &s.repo,
            &s.bad,
            spec.search.max_releases,
            spec.search.oldest.as_deref(),
        )?)
    } else {
        None
    };
    if let Mode::Kernel(k) = &spec.mode {
        let has = |f: &str| matches!(s.repo.file_at(&s.bad, f), Ok(Some(_)));
        if !kernel::is_kernel_tree(&has) {
            bail!(
                "{} is not a Linux kernel tree at {} (no Kconfig, Makefile and arch/x86/Kconfig): kernel mode bisects Linux; drop --kernel and give --build and --test for other projects",
                spec.repo.display(),
                s.bad
            );
        }
        // On Slurm the nodes need the tools; their jobs check them.
        if spec.executor == Executor::Local {
            kernel::preflight(k)?;
        }
    }
    let (mode_name, settings) = settings_identity(&spec.mode)?;
    let key = Experiment {
        mode: mode_name,
        bad: &s.bad,
        goods: &s.goods,
        fix: spec.fix,
        target: spec.target.as_deref(),
        settings,
    }
    .identity();
    for (p, what) in [
        (&spec.output.json, "the JSON result"),
        (&spec.output.report, "the report e-mail"),
    ] {
        if let Some(p) = p {
            check_writable(p, what)?;
        }
    }
    let workdir = make_workdir(spec, &key)?;
    // Two processes on one workdir would share its checkout and journal.
    let _lock = WorkdirLock::take(&workdir)?;
    // Every child of this campaign carries its label, so that a resumed
    // campaign first stops whatever a dead run of it left behind.
    let label = format!("campaign-{}", &key[..16]);
    let cancel = crate::procs::root()
        .with_label(&label)
        .context("labelling the campaign's processes")?;
    match culprit_proc::kill_leftovers(&label) {
        Ok(pids) if !pids.is_empty() => tracing::warn!(
            "stopped {} processes left by an earlier run of this campaign",
            pids.len()
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot look for processes of an earlier run: {e}"),
    }
    let mut out = Printers::open(spec, &workdir)?;
    let repo = s.repo.with_cancel(&cancel);
    // The campaign notices a cancel by itself (its next build or run fails):
    // Ctrl-C must not end the process in the middle of a checkout or a
    // journal write between two jobs.
    let _observing = cancel.observe();
    let code = (|| {
        let mut progress = |text: String| {
            out.event(&Event::Progress {
                commit: String::new(),
                text,
            })
        };
        let mut backend: Exec = match &spec.mode {
            // On Slurm one commit builds at a time (check_builders).
            _ if spec.executor != Executor::Local => {
                let place = Place {
                    repo: &repo,
                    repo_path: &spec.repo,
                    start: &s.bad,
                    workdir: &workdir,
                    vms: spec.search.vms,
                };
                Exec::One(backend_for(
                    &spec.mode,
                    &spec.executor,
                    &place,
                    cancel.clone(),
                    &mut progress,
                )?)
            }
            Mode::Generic(g) if spec.search.concurrent() => {
                Exec::Many(Box::new(CommandBuilders::new(
                    &repo,
                    &s.bad,
                    &workdir,
                    exec::command_settings(spec, g)?,
                    spec.search.builders,
                    cancel.clone(),
                    &mut progress,
                )?))
            }
            Mode::Generic(g) => Exec::One(Box::new(CommandBackend::new(
                &repo,
                &s.bad,
                &workdir,
                exec::command_settings(spec, g)?,
                cancel.clone(),
                &mut progress,
            )?)),
            Mode::Kernel(k) => {
                let (settings, pool) = kernel_pool(spec, k)?;
                let b = spec.search.builders;
                if spec.search.concurrent() {
                    Exec::Many(Box::new(
                        KernelBuilders::new(
                            &repo,
                            &s.bad,
                            &workdir,
                            settings,
                            pool,
                            b,
                            cancel.clone(),
                            &mut progress,
                        )
                        .context("preparing the kernel builders")?,
                    ))
                } else {
                    Exec::One(Box::new(
                        KernelBackend::new(
                            &repo,
                            &s.bad,
                            &workdir,
                            settings,
                            pool,
                            cancel.clone(),
                            &mut progress,
                        )
                        .context("preparing the kernel backend")?,
                    ))
                }
            }
        };
        let product = match spec.mode {
            Mode::Generic(_) => "build",
            Mode::Kernel(_) => "kernel",
        };
        let base = Plan {
            bad: 0,
            commits: Vec::new(),
            config,
            target_title: spec.target.clone(),
            key,
            product: product.to_string(),
            hints: spec.search.hints,
            verify: spec.search.verify,
            workdir: Some(workdir.clone()),
            notes: s.notes.clone(),
            walk: None,
            after_walk: false,
            docs_only: Vec::new(),
        };
        match &chain {
            None => {
                let (docs_only, notes) = docs_only(spec, &s)?;
                let plan = Plan {
                    bad: s.commits.len() as u32 - 1,
                    commits: s.commits.clone(),
                    docs_only,
                    notes,
                    ..base
                };
                let c = Campaign {
                    spec,
                    s: &s,
                    repo: &repo,
                    workdir: &workdir,
                };
                c.run(plan, Vec::new(), None, &mut backend, &mut out)
            }
            Some(chain) => {
                let c = Campaign {
                    spec,
                    s: &s,
                    repo: &repo,
                    workdir: &workdir,
                };
                c.walk_then_bisect(chain, base, &mut backend, &mut out)
            }
        }
    })();
    if cancel.is_cancelled() {
        return code.and_then(|_| bail!("interrupted")).with_context(|| {
            format!(
                "campaign stopped; the journal in {} is intact: rerun the same command to resume",
                workdir.display()
            )
        });
    }
    code
}

/// The kernel settings and the VMs and build tree of a campaign.
fn kernel_pool(spec: &CampaignSpec, k: &KernelSettings) -> Result<(KernelSettings, Pool)> {
    let tree = if k.private_tree {
        TreeChoice::Private
    } else if let Some(d) = &k.build_tree {
        TreeChoice::Shared(d.clone())
    } else {
        TreeChoice::SharedOrPrivate(default_build_tree(&spec.repo)?)
    };
    let pool = Pool {
        vms: spec.search.vms,
        tree,
    };
    Ok((k.clone(), pool))
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

/// Fails early when an output (`what`) could not be written at the end.
pub fn check_writable(p: &Path, what: &str) -> Result<()> {
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {what} to {}: {} is not a directory",
            p.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Where a campaign's events go: the text log, and the event stream when
/// asked for.
struct Printers {
    log: TextLog,
    jsonl: Option<JsonLines>,
}

impl Printers {
    fn open(spec: &CampaignSpec, workdir: &Path) -> Result<Printers> {
        let jsonl = match &spec.output.events {
            Some(p) => Some(JsonLines::new(std::fs::File::create(p).with_context(
                || format!("creating the event stream {}", p.display()),
            )?)),
            None => None,
        };
        let log = TextLog::new(Some(&workdir.join("bisect.log")), spec.output.quiet)
            .context("opening the log file")?;
        Ok(Printers { log, jsonl })
    }
}

impl Sink for Printers {
    fn event(&mut self, e: &Event) {
        self.log.event(e);
        if let Some(j) = self.jsonl.as_mut() {
            j.event(e);
        }
    }
}

/// What a campaign's phases share.
struct Campaign<'a> {
    spec: &'a CampaignSpec,
    s: &'a Setup,
    repo: &'a Repo,
    workdir: &'a Path,
}

/// What the engine is told of commits that cannot change the binary, and
/// the range's notes with a line about them: for a kernel, the commits that
/// touch only paths no build reads ([`culprit_kernel::tree`]); for a
/// generic project nothing (its tests may live anywhere).
fn docs_only(spec: &CampaignSpec, s: &Setup) -> Result<(Vec<bool>, Vec<String>)> {
    let mut notes = s.notes.clone();
    match spec.mode {
        Mode::Kernel(_) => {
            let (flags, note) = s.docs_only(culprit_kernel::tree::DOCS_ONLY_PATHS)?;
            notes.extend(note);
            Ok((flags, notes))
        }
        Mode::Generic(_) => Ok((Vec::new(), notes)),
    }
}

impl Campaign<'_> {
    /// Walks back to a good end, then bisects from it; or reports what the
    /// walk found when it found no good end.
    fn walk_then_bisect(
        &self,
        chain: &walk::Chain,
        base: Plan,
        backend: &mut Exec,
        out: &mut Printers,
    ) -> Result<i32> {
        let s = self.s;
        let wplan = walk::plan(&s.repo, chain, &s.bad, base.clone())?;
        let path = walk::journal_path(self.workdir);
        let (mut journal, past) = Journal::open(&path)?;
        let machine = Machine::new(wplan.clone())?;
        let finish = backend.drive(
            machine,
            &past,
            &mut journal,
            out,
            &mut NoHints,
            &mut crate::drive::NoReverts,
        )?;
        drop(journal);
        let walked = walk::doc(&wplan, &finish);
        match finish.walk_end(&wplan) {
            WalkEnd::Good { commit, .. } => {
                let range = s.with_good(&commit)?;
                let (_, records) = Journal::open(&path)?;
                let seed = walk::carried(&records, &range.commits);
                let (docs_only, notes) = docs_only(self.spec, &range)?;
                let plan = Plan {
                    bad: range.commits.len() as u32 - 1,
                    commits: range.commits.clone(),
                    notes,
                    docs_only,
                    after_walk: true,
                    ..base
                };
                let c = Campaign { s: &range, ..*self };
                c.run(plan, seed, Some(walked), backend, out)
            }
            WalkEnd::Oldest {
                label, root: true, ..
            } => bail!(
                "the bug shows on the first commit of history ({label}): there is no older commit to bisect from; if some commit is known to be good, give it with --good"
            ),
            WalkEnd::Oldest { .. } => {
                // "The oldest step introduced it": older than every step.
                let mut finish = finish;
                finish.outcome.verdict = culprit_bisect::Verdict::Older;
                finish.culprit = None;
                self.report(&wplan, &finish, Some(walked), out)
            }
            WalkEnd::Undecided => self.report(&wplan, &finish, Some(walked), out),
        }
    }

    /// Drives a bisection to its end and reports the result. `seed`: the
    /// walk's records on this range, to start a new journal with.
    fn run(
        &self,
        plan: Plan,
        seed: Vec<Record>,
        walked: Option<result::WalkDoc>,
        backend: &mut Exec,
        out: &mut Printers,
    ) -> Result<i32> {
        let (spec, s) = (self.spec, self.s);
        let (mut journal, mut past) = Journal::open(&self.workdir.join("journal.jsonl"))?;
        if past.is_empty() && !seed.is_empty() {
            past.push(Machine::new(plan.clone())?.start_record());
            past.extend(seed);
            for r in &past {
                journal.append(r)?;
            }
            journal.sync()?;
        }
        let mut stack_hinter;
        let hints: &mut dyn Hinter = if spec.search.hints {
            stack_hinter = StackHinter::new(&s.repo, &s.bad, &plan.commits);
            &mut stack_hinter
        } else {
            &mut NoHints
        };
        let machine = Machine::new(plan.clone())?;
        // The revert runs git under the campaign's token, like every build.
        let mut repo = self.repo.clone();
        let finish = backend.drive(machine, &past, &mut journal, out, hints, &mut repo)?;
        self.report(&plan, &finish, walked, out)
    }

    /// Prints and writes the result; returns the exit status.
    fn report(
        &self,
        plan: &Plan,
        finish: &crate::campaign::Finish,
        walked: Option<result::WalkDoc>,
        out: &mut Printers,
    ) -> Result<i32> {
        let spec = self.spec;
        let mut summary = result::summarize(&self.s.repo, plan, finish)?;
        summary.result.walk = walked;
        out.log.result(&summary);
        if let Some(p) = &spec.output.json {
            let text = serde_json::to_string_pretty(&summary.result)?;
            std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
        }
        match &spec.output.report {
            // No answer, nothing to tell a maintainer.
            Some(p) if summary.infrastructure.is_some() => eprintln!(
                "warning: no e-mail written to {}: the campaign has no answer",
                p.display()
            ),
            Some(p) => {
                let mail = mail::maintainer_mail(spec, self.repo, self.workdir, &summary)?;
                std::fs::write(p, mail).with_context(|| format!("writing {}", p.display()))?;
            }
            None => {}
        }
        if let Some(j) = out.jsonl.as_mut() {
            j.result(&summary.result);
            if let Some(e) = j.error.take() {
                eprintln!("warning: the event stream could not be written: {e}");
            }
        }
        if let Some(m) = summary
            .not_reproduced
            .as_ref()
            .or(summary.infrastructure.as_ref())
        {
            eprintln!("error: {m}");
        }
        Ok(summary.result.exit_code)
    }
}
