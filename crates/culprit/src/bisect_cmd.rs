//! `culprit bisect`: from arguments (or a campaign file) to a finished
//! campaign, its log and its JSON result.

use anyhow::{bail, Context, Result};
use clap::Args;
use culprit_bisect::Config;
use culprit_git::Repo;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::command::{CommandBackend, CommandSettings};
use crate::backend::kernel::{KernelBackend, KernelSettings};
use crate::backend::Backend;
use crate::campaign::{self, Commit, Events, Hinter, NoHints, Plan};
use crate::hint::StackHinter;
use crate::journal::Journal;
use crate::log::TextLog;
use crate::result;

mod paths;
use paths::{default_build_tree, default_workdir};

#[derive(Debug, Clone, Args, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BisectArgs {
    /// A campaign file (TOML) with the same keys as the long options
    /// (repo, bad, good = [...], build, test, ...); options given on the
    /// command line win.
    #[arg(value_name = "CAMPAIGN.toml")]
    #[serde(skip)]
    pub campaign: Option<PathBuf>,

    /// The repository to bisect (a git checkout; it is never modified:
    /// culprit checks out commits in its own worktree).
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,

    /// A commit where the bug shows (the newest end of the range).
    #[arg(long, value_name = "REV")]
    pub bad: Option<String>,

    /// A commit where the bug does not show; repeat for several. A good
    /// commit that is not an ancestor of bad is replaced by the merge base.
    #[arg(long, value_name = "REV")]
    #[serde(default)]
    pub good: Vec<String>,

    /// Shell command that builds the checked-out commit (cwd: the worktree;
    /// env CULPRIT_COMMIT). Exit 0 = built, anything else = untestable commit.
    #[arg(long, value_name = "CMD")]
    pub build: Option<String>,

    /// Shell command for one run (env CULPRIT_COMMIT, CULPRIT_RUN,
    /// CULPRIT_ARTIFACT). Exit 0 = clean, 125 = untestable, 1-127 = failure,
    /// >= 128 or a signal stops the campaign.
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,

    /// The build product, relative to the checkout. It is kept per commit so
    /// later runs need no rebuild, and its signature dedupes identical builds
    /// (SHA-256, or for ELF files the hash of the loaded sections).
    #[arg(long, value_name = "PATH")]
    pub artifact: Option<PathBuf>,

    /// Runs executed in parallel (one test round).
    #[arg(long, value_name = "K")]
    pub vms: Option<u32>,

    /// Stop when one commit holds this posterior probability.
    #[arg(long, value_name = "P")]
    pub confidence: Option<f64>,

    /// Stop after this many builds and report the credible range.
    #[arg(long, value_name = "N")]
    pub max_builds: Option<u32>,

    /// Stop after this many runs and report the credible range.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u32>,

    /// Kill a run (and everything it started) after this many seconds and
    /// count it untestable.
    #[arg(long, value_name = "SECS")]
    pub run_timeout: Option<f64>,

    /// Kill a build after this many seconds (the commit is then untestable).
    #[arg(long, value_name = "SECS")]
    pub build_timeout: Option<f64>,

    /// The crash title that is the bug. Default: the most frequent failure
    /// on the bad commit.
    #[arg(long, value_name = "TITLE")]
    pub target: Option<String>,

    /// Where culprit keeps its worktree, builds, run outputs, journal and
    /// log. Default: ~/.cache/culprit/<id of this campaign>. Rerunning the
    /// same command resumes from the journal there.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// Also write the result as JSON to FILE (schema in the README).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Runs on the bad commit without any failure before giving up.
    #[arg(long, value_name = "N")]
    pub verify_runs: Option<u32>,

    /// Bisect a Linux kernel: build each commit reproducibly and boot it in
    /// QEMU with the reproducer (no --build/--test needed). A campaign file
    /// with a [kernel] section implies it.
    #[arg(long)]
    #[serde(skip)]
    pub kernel: bool,

    /// Kernel mode: the kernel config, completed with `make olddefconfig`
    /// on every commit. Default: tinyconfig plus what the VM needs.
    #[arg(long, value_name = "FILE")]
    pub kernel_config: Option<PathBuf>,

    /// Kernel mode: the reproducer, run only inside the VM: C source
    /// (compiled statically on the host), a static binary or a shell script.
    #[arg(long, value_name = "FILE")]
    pub repro: Option<PathBuf>,

    /// Kernel mode: seconds the reproducer runs in each VM.
    #[arg(long, value_name = "SECS")]
    pub repro_time: Option<f64>,

    /// Kernel mode: executions of the reproducer per boot, one after the
    /// other until the kernel crashes or --repro-time is over (default 10).
    /// A boot costs far more than an execution; give 1 for a reproducer
    /// that must run once per boot.
    #[arg(long, value_name = "N")]
    pub repro_repeat: Option<u32>,

    /// Kernel mode: extra kernel command line.
    #[arg(long, value_name = "ARGS")]
    pub cmdline: Option<String>,

    /// Kernel mode: memory per VM in MiB.
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u32>,

    /// Kernel mode: CPUs per VM.
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,

    /// Kernel mode: seconds until the VM's init must have started.
    #[arg(long, value_name = "SECS")]
    pub boot_timeout: Option<f64>,

    /// Kernel mode: where the kernel checkout and build directory live.
    /// Later campaigns on the same repository reuse them: no new checkout
    /// and no first full build. One campaign at a time per DIR. Default:
    /// ~/.cache/culprit/trees/<repository> (if another campaign is using it,
    /// a private tree in the workdir).
    #[arg(long, value_name = "DIR", conflicts_with = "private_tree")]
    #[serde(skip)]
    pub build_tree: Option<PathBuf>,

    /// Kernel mode: check out and build in the workdir, in a tree of this
    /// campaign's own (a full checkout and a first full build), instead of
    /// the shared build tree.
    #[arg(long)]
    #[serde(default)]
    pub private_tree: bool,

    /// The [kernel] section of a campaign file.
    #[arg(skip)]
    #[serde(rename = "kernel")]
    pub kernel_section: Option<KernelSettings>,

    /// Do not favour the commits that touch the code in the crash's stack.
    /// By default, once the target crash is known, the files defining its
    /// top stack functions are looked up at the bad commit and the commits
    /// touching them get half of the prior, so they are tested first.
    #[arg(long)]
    #[serde(default)]
    pub no_hint: bool,

    /// Print only the result, not the bisection log.
    #[arg(long, short)]
    #[serde(default)]
    pub quiet: bool,
}

impl BisectArgs {
    /// Fills unset options from the campaign file.
    fn merged(&self) -> Result<BisectArgs> {
        let Some(path) = &self.campaign else {
            return Ok(self.clone());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the campaign file {}", path.display()))?;
        let file: BisectArgs = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid campaign file", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: Option<PathBuf>| p.map(|p| if p.is_absolute() { p } else { base.join(p) });
        let a = self.clone();
        Ok(BisectArgs {
            campaign: a.campaign,
            repo: a.repo.or(rel(file.repo)),
            bad: a.bad.or(file.bad),
            good: if a.good.is_empty() { file.good } else { a.good },
            build: a.build.or(file.build),
            test: a.test.or(file.test),
            artifact: a.artifact.or(file.artifact),
            vms: a.vms.or(file.vms),
            confidence: a.confidence.or(file.confidence),
            max_builds: a.max_builds.or(file.max_builds),
            max_runs: a.max_runs.or(file.max_runs),
            run_timeout: a.run_timeout.or(file.run_timeout),
            build_timeout: a.build_timeout.or(file.build_timeout),
            target: a.target.or(file.target),
            workdir: a.workdir.or(rel(file.workdir)),
            json: a.json.or(rel(file.json)),
            verify_runs: a.verify_runs.or(file.verify_runs),
            quiet: a.quiet || file.quiet,
            no_hint: a.no_hint || file.no_hint,
            kernel: a.kernel || file.kernel_section.is_some(),
            kernel_config: a.kernel_config,
            repro: a.repro,
            repro_time: a.repro_time,
            repro_repeat: a.repro_repeat,
            cmdline: a.cmdline,
            memory: a.memory,
            cpus: a.cpus,
            boot_timeout: a.boot_timeout,
            build_tree: a.build_tree,
            private_tree: a.private_tree || file.private_tree,
            kernel_section: file.kernel_section.map(|mut k| {
                k.config = rel(k.config);
                k.build_tree = rel(k.build_tree);
                if !k.reproducer.as_os_str().is_empty() {
                    k.reproducer = rel(Some(k.reproducer)).unwrap_or_default();
                }
                k
            }),
        })
    }
}

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
                 Did you swap them? (a bug that went away needs a fix bisection)"
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

fn secs(v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        Some(s) if !(s > 0.0 && s.is_finite()) => bail!("timeouts must be positive seconds"),
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

pub fn run(args: &BisectArgs) -> Result<i32> {
    let a = args.merged()?;
    let repo_path = a.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let bad = a
        .bad
        .as_deref()
        .context("give --bad REV (a commit where the bug shows)")?;
    if a.kernel {
        return run_kernel(&a, repo_path, bad);
    }
    let build = a
        .build
        .clone()
        .context("give --build 'CMD' (how to build a commit)")?;
    let test = a
        .test
        .clone()
        .context("give --test 'CMD' (how to run the test once)")?;
    let vms = a.vms.unwrap_or(2);

    let s = setup(&repo_path, bad, &a.good)?;
    let key = format!(
        "generic\nbad={}\ngoods={}\nbuild={build}\ntest={test}\nartifact={:?}\ntarget={:?}",
        s.bad,
        s.goods.join(","),
        a.artifact,
        a.target
    );
    let workdir = make_workdir(&a, &key)?;
    let config = engine_config(&a, vms)?;
    let settings = CommandSettings {
        build,
        test,
        artifact: a.artifact.clone(),
        vms,
        run_timeout: secs(a.run_timeout)?,
        build_timeout: secs(a.build_timeout)?,
    };
    let mut backend = CommandBackend::new(&s.repo, &s.bad, &workdir, settings)?;
    execute(&a, s, key, config, &workdir, &mut backend, "build")
}

fn make_workdir(a: &BisectArgs, key: &str) -> Result<PathBuf> {
    let workdir = a.workdir.clone().unwrap_or_else(|| default_workdir(key));
    std::fs::create_dir_all(&workdir)
        .with_context(|| format!("creating the workdir {}", workdir.display()))?;
    Ok(workdir.canonicalize()?)
}

fn engine_config(a: &BisectArgs, vms: u32) -> Result<Config> {
    let confidence = a.confidence.unwrap_or(0.99);
    if !(0.5..1.0).contains(&confidence) {
        bail!("--confidence must be at least 0.5 and below 1 (got {confidence})");
    }
    if vms == 0 {
        bail!("--vms must be at least 1");
    }
    Ok(Config {
        confidence,
        vms,
        max_builds: a.max_builds,
        max_runs: a.max_runs,
        verify_runs: a.verify_runs.unwrap_or(Config::default().verify_runs),
        ..Config::default()
    })
}

/// Hash of a file's contents, so a changed config or reproducer is a new
/// campaign rather than a resumed one.
fn content_id(p: Option<&Path>) -> Result<String> {
    match p {
        None => Ok("none".into()),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(hex::encode(&Sha256::digest(&bytes)[..8]))
        }
    }
}

fn run_kernel(a: &BisectArgs, repo_path: PathBuf, bad: &str) -> Result<i32> {
    let mut ks = a.kernel_section.clone().unwrap_or_default();
    if let Some(c) = &a.kernel_config {
        ks.config = Some(c.clone());
    }
    if let Some(r) = &a.repro {
        ks.reproducer = r.clone();
    }
    if ks.reproducer.as_os_str().is_empty() {
        bail!("kernel mode needs a reproducer: give --repro FILE (C source, static binary or shell script)");
    }
    if let Some(v) = a.vms {
        ks.vms = v;
    }
    let set = |v: Option<f64>, d: &mut f64| {
        if let Some(v) = v {
            *d = v;
        }
    };
    set(a.run_timeout, &mut ks.run_timeout);
    set(a.build_timeout, &mut ks.build_timeout);
    set(a.boot_timeout, &mut ks.boot_timeout);
    set(a.repro_time, &mut ks.repro_time);
    if let Some(n) = a.repro_repeat {
        ks.repro_repeat = n;
    }
    if ks.repro_repeat == 0 {
        bail!("the reproducer must run at least once per boot: give --repro-repeat (or [kernel] repro_repeat) of 1 or more");
    }
    if let Some(m) = a.memory {
        ks.memory = m;
    }
    if let Some(c) = a.cpus {
        ks.cpus = c;
    }
    if let Some(c) = &a.cmdline {
        ks.cmdline = c.clone();
    }
    if let Some(d) = &a.build_tree {
        ks.build_tree = Some(d.clone());
    }
    let s = setup(&repo_path, bad, &a.good)?;
    if a.private_tree {
        ks.build_tree = None;
    } else if ks.build_tree.is_none() {
        ks.build_tree = Some(default_build_tree(&repo_path)?);
        ks.build_tree_fallback = true;
    }
    let key = format!(
        "kernel\nbad={}\ngoods={}\nconfig={}\nrepro={}\nrepeat={}\ncmdline={}\ncompiler={}\ntarget={:?}",
        s.bad,
        s.goods.join(","),
        content_id(ks.config.as_deref())?,
        content_id(Some(&ks.reproducer))?,
        ks.repro_repeat,
        ks.cmdline,
        ks.compiler,
        a.target
    );
    let workdir = make_workdir(a, &key)?;
    let config = engine_config(a, ks.vms)?;
    let mut backend = KernelBackend::new(&s.repo, &s.bad, &workdir, ks)
        .context("preparing the kernel backend")?;
    execute(a, s, key, config, &workdir, &mut backend, "kernel")
}

/// Runs a prepared campaign with any backend and reports its result.
pub fn execute(
    a: &BisectArgs,
    s: Setup,
    key: String,
    config: Config,
    workdir: &Path,
    backend: &mut dyn Backend,
    product: &str,
) -> Result<i32> {
    let (mut journal, past) = Journal::open(&workdir.join("journal.jsonl"))?;
    let mut log = TextLog::new(Some(&workdir.join("bisect.log")), !a.quiet)
        .context("opening the log file")?;
    log.line(&format!("bisecting cause commit starting from {}", s.bad));
    for n in &s.notes {
        log.line(n);
    }
    log.line(&format!(
        "good: {}; {} candidate commits; workdir: {}",
        s.goods.join(", "),
        s.commits.iter().filter(|c| !c.good).count(),
        workdir.display()
    ));
    let bad = s.commits.len() as u32 - 1;
    let plan = Plan {
        commits: s.commits,
        bad,
        config,
        target_title: a.target.clone(),
        key,
        product: product.to_string(),
    };
    let mut stack_hinter;
    let hints: &mut dyn Hinter = if a.no_hint {
        &mut NoHints
    } else {
        stack_hinter = StackHinter::new(&s.repo, &s.bad, &plan.commits);
        &mut stack_hinter
    };
    // The campaign notices a cancel by itself (its next build or run
    // fails): Ctrl-C must not end the process in the middle of a checkout
    // or a journal write between two jobs.
    let _observing = crate::procs::root().observe();
    let finish =
        campaign::run(&plan, backend, &mut journal, &past, &mut log, hints).map_err(|e| {
            if crate::procs::interrupted() {
                e.context(format!(
                "campaign stopped; the journal in {} is intact: rerun the same command to resume",
                workdir.display()
            ))
            } else {
                e
            }
        })?;
    log.finish();
    result::report(&s.repo, &plan, &finish, &mut log, a.json.as_deref())
}
