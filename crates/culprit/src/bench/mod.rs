//! `culprit bench`: accuracy and cost of culprit against syzbot's rules and
//! plain git bisect, on simulated campaigns over real and synthetic history.
//!
//! Each trial is one (scenario, seed): a history, a culprit drawn from the
//! seed, and a noise model (`world`). Three strategies face the same world,
//! and a run numbered i on commit c shows the same thing to each of them:
//! 1. `culprit`: the real campaign code and engine (`crate::campaign::run`)
//!    over a simulated backend (`sim::SimBackend`): no processes, no clock.
//! 2. `syzbot`: syzbot's rules from the brief (`syzbot`).
//! 3. `git`: git bisect with one run per commit, any crash = bad (`gitbisect`).
//! 4. `true-q`: culprit again, its engine told the world's true q (a prior
//!    concentrated there): the reference for the runs culprit needs.
//!
//! Time: syzbot and git bisect build and test one commit after another.
//! culprit does too unless the scenario sets `builders`; then `timeline`
//! models B builders and the VMs as resources on a clock, with build/test
//! overlap and speculative builds.
//!
//! Results depend only on the scenarios and seeds, never on the number of
//! threads or the order trials finish in.
//!
//! Scenarios file (`--scenarios FILE`), TOML:
//!
//! ```toml
//! [[scenario]]
//! name = "git q=0.2"        # label in the tables
//! history = "git"           # git | tsv:PATH | cut:PATH:BAD:GOOD[,GOOD] | repo:PATH:BAD:GOOD[,GOOD] | linear:N | kernel:N
//! q = 0.2                   # reproduction rate on commits with the bug (default 1)
//! unrelated = 0.02          # per run: a crash that is not the bug (default 0)
//! untestable = 0.05         # per run: boot failure (default 0)
//! build_fail = 0.05         # fraction of commits failing to build, in clusters (default 0)
//! false_target = 0.0        # per run on a clean commit: the target crash (default 0)
//! false_region = 20         # false_target only on the culprit's 20 first-parent
//!                           # predecessors (an older bug, same title; default 0: everywhere)
//! q_old = 0.1               # drift: rate on old commits with the bug (default: none)
//! drift = "step"            # step | gradual | merge (see `world`; default step)
//! drift_at = 0.5            # drift point: fraction of the way culprit -> bad (default 0.5)
//! build_min = 6.5           # minutes per build (default: the reference log's)
//! round_min = 8.7           # minutes per test round (default: the reference log's)
//! vms = 10                  # runs per round (default 10)
//! builders = 4              # culprit builds this many commits at once, with
//!                           # build/test overlap (default: none, the one-
//!                           # action-at-a-time model)
//! mix = "syzbot"            # draw q and unrelated crashes per seed from
//!                           # syzbot's record (`mix`), overriding q/unrelated
//! merge_culprits = false    # may a merge be the culprit (default false)
//! ```
//!
//! The bench must never touch a real repository beyond reading one with git,
//! and never measure anything with a clock: all times are modelled.

pub mod gitbisect;
pub mod graph;
pub mod history;
pub mod mix;
pub mod plot;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod synth;
pub mod syzbot;
pub mod timeline;
pub mod world;

use crate::campaign::{event::Discard, Sink};
use crate::print::text::TextLog;
use anyhow::{bail, Context};
use report::Trial;
use scenario::{HistorySpec, Scenario};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use world::World;

/// Arguments of `culprit bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Scenarios file (TOML; keys in the README); default: the built-in set.
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Seeds per scenario (0..N).
    #[arg(long, default_value_t = 20)]
    pub seeds: u32,
    /// Also write the rows, target checks and every trial as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Strategies to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "culprit,syzbot,git,true-q"
    )]
    pub strategies: Vec<Strategy>,
    /// Use this DAG file as every scenario's history; with --bad and
    /// --good, only its range BAD --not GOOD... (another, smaller graph).
    #[arg(long, value_name = "FILE", conflicts_with = "repo")]
    pub dag: Option<PathBuf>,
    /// Use this repository's range BAD --not GOOD... as every scenario's history.
    #[arg(long, value_name = "PATH", requires_all = ["bad", "good"])]
    pub repo: Option<PathBuf>,
    /// The bad end of the range, with --repo or --dag.
    #[arg(long, value_name = "REV")]
    pub bad: Option<String>,
    /// A good end of the range (repeat for several), with --repo or --dag.
    #[arg(long, value_name = "REV")]
    pub good: Vec<String>,
    /// Worker threads (default: available cores). Does not change results.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write a reliability diagram and the runs-vs-q chart (SVG) here.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Write the log of culprit's campaign in every trial here, one file
    /// per scenario and seed (`<scenario>-seed<N>.log`, in the format of a
    /// real campaign's log): to read why a seed went wrong.
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// culprit's campaign and engine.
    Culprit,
    /// syzbot's rules.
    Syzbot,
    /// git bisect, one run per commit.
    Git,
    /// culprit's engine told the true q (a reference for its runs).
    TrueQ,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Culprit => "culprit",
            Strategy::Syzbot => "syzbot",
            Strategy::Git => "git",
            Strategy::TrueQ => "true-q",
        }
    }
}

/// What one strategy did on one trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    /// The single culprit reported (published), if any.
    pub answer: Option<u32>,
    /// The strategy's own confidence in its answer, if it states one.
    pub confidence: Option<f64>,
    /// How it ended: culprit, inconclusive, not-reproduced, unpublished, ...
    pub outcome: &'static str,
    pub builds: u32,
    pub runs: u32,
    /// Of `runs`, those on reverts (culprit's verification, which is also
    /// evidence for its search).
    pub revert_runs: u32,
    pub rounds: u32,
    pub build_secs: f64,
    pub test_secs: f64,
    /// Modelled time spent verifying the answer after it was named (part
    /// of the totals, not of the time to the answer).
    pub verify_secs: f64,
    /// The time model with builders (`timeline`), when the scenario has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Timing>,
}

impl Tally {
    /// Whether the campaign answered where the bug came from: a commit, or
    /// "older than every good commit". The bench's worlds always put the
    /// bug inside the range, so "older" is a wrong answer, and a confident
    /// one must count against calibration like a wrong commit.
    pub fn answered(&self) -> bool {
        self.answer.is_some() || self.outcome == "older"
    }
}

/// Modelled use of the resources of one campaign with builders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// From the start to the end (the answer's verification included).
    pub wall_secs: f64,
    pub builders: u32,
    pub vms: u32,
    /// Builder time spent, abandoned builds included.
    pub builder_secs: f64,
    /// VM time spent by runs.
    pub vm_secs: f64,
    /// Builder time on commits never tested (speculation that did not pay).
    pub untested_build_secs: f64,
}

impl Tally {
    pub fn new(outcome: &'static str) -> Tally {
        Tally {
            answer: None,
            confidence: None,
            outcome,
            builds: 0,
            runs: 0,
            revert_runs: 0,
            rounds: 0,
            build_secs: 0.0,
            test_secs: 0.0,
            verify_secs: 0.0,
            time: None,
        }
    }

    /// Modelled wall time to the answer: with builders the timeline's;
    /// else builds, then per round its longest run, one after another.
    /// Without the verification of the answer once named (`verify_secs`),
    /// which syzbot's rules do not do: what is compared is how soon the
    /// answer is known. A verification that sent the search on counts.
    pub fn hours(&self) -> f64 {
        let total = match &self.time {
            Some(t) => t.wall_secs,
            None => self.build_secs + self.test_secs,
        };
        (total - self.verify_secs).max(0.0) / 3600.0
    }
}

/// Everything a bench run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub scenarios: Vec<Scenario>,
    pub rows: Vec<report::Row>,
    pub checks: Vec<report::Check>,
    pub trials: Vec<Trial>,
}

/// Run one trial: every strategy on one seed of one history; with `logs`,
/// culprit's campaign log goes to a file there (see [`log_path`]).
pub fn trial(
    sc: &Scenario,
    hist: &history::History,
    seed: u64,
    strategies: &[Strategy],
    logs: Option<&Path>,
) -> anyhow::Result<Trial> {
    if world::culprit_pool(hist, sc.merge_culprits).is_empty() {
        anyhow::bail!(
            "scenario {}: history {} has no commit that changes the binary to be the culprit",
            sc.name,
            hist.name
        );
    }
    let noise = match sc.mix {
        Some(m) => m.noise(sc.noise(), seed),
        None => sc.noise(),
    };
    let w = World::new(hist, seed, noise, sc.costs(), sc.merge_culprits);
    let mut results = Vec::new();
    for &st in strategies {
        let t = match st {
            Strategy::Culprit => {
                let log = logs.map(|dir| log_path(dir, &sc.name, seed));
                campaign(sc, &w, st, log.as_deref())?
            }
            Strategy::TrueQ => campaign(sc, &w, st, None)?,
            Strategy::Syzbot => syzbot::syzbot(&w),
            Strategy::Git => gitbisect::plain(&w),
        };
        results.push((st, t));
    }
    Ok(Trial {
        scenario: sc.name.clone(),
        seed,
        truth: w.culprit,
        truth_sha: hist.shas[w.culprit as usize].clone(),
        q: w.noise.q,
        candidates: hist.candidates(),
        results,
    })
}

/// culprit's campaign on world `w` as strategy `st` (`TrueQ`: told the
/// true q), its log written to `log` when given, ending with
/// [`verdict_line`].
fn campaign(sc: &Scenario, w: &World, st: Strategy, log: Option<&Path>) -> anyhow::Result<Tally> {
    let known_q = st == Strategy::TrueQ;
    let mut text = match log {
        Some(p) => {
            Some(TextLog::file_only(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    let sink: &mut dyn Sink = match text.as_mut() {
        Some(l) => l,
        None => &mut Discard,
    };
    let t = match sc.builders {
        Some(b) => timeline::culprit(w, b, known_q, sink),
        None => sim::culprit(w, known_q, sink),
    }
    .with_context(|| {
        format!(
            "scenario {} seed {}: {} campaign",
            sc.name,
            w.seed,
            st.name()
        )
    })?;
    if let Some(l) = text.as_mut() {
        l.note(&verdict_line(&t, w.hist, w.culprit));
    }
    Ok(t)
}

/// The last line of a trial's log: what the campaign answered, against the
/// injected culprit.
fn verdict_line(t: &Tally, hist: &history::History, truth: u32) -> String {
    let answer = match t.answer {
        Some(a) => format!("{} ({})", hist.shas[a as usize], hist.subjects[a as usize]),
        None => "no commit".to_string(),
    };
    let verdict = match t.answer {
        Some(a) if a == truth => "right",
        Some(_) => "WRONG",
        None => "no answer",
    };
    format!(
        "bench: {verdict}: {} named {answer} with confidence {:.4} after {} runs; the culprit is {} ({})",
        t.outcome,
        t.confidence.unwrap_or(0.0),
        t.runs,
        hist.shas[truth as usize],
        hist.subjects[truth as usize]
    )
}

/// The file of culprit's campaign log for one trial in `dir`: the
/// scenario's name with every run of characters other than letters and
/// digits made one `-`, then the seed.
pub fn log_path(dir: &Path, scenario: &str, seed: u64) -> PathBuf {
    let mut name = String::new();
    for c in scenario.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    dir.join(format!("{name}-seed{seed}.log"))
}

/// Run every scenario for seeds 0..seeds on `threads` workers; with `logs`,
/// culprit's campaign logs go there.
pub fn evaluate(
    scenarios: &[Scenario],
    seeds: u32,
    strategies: &[Strategy],
    threads: usize,
    logs: Option<&Path>,
) -> anyhow::Result<Report> {
    // Fixed histories are loaded once and shared by all their seeds.
    let mut fixed: BTreeMap<String, Arc<history::History>> = BTreeMap::new();
    let mut specs = Vec::new();
    for sc in scenarios {
        sc.validate()?;
        let spec = HistorySpec::parse(&sc.history)?;
        if !spec.per_seed() && !fixed.contains_key(&sc.history) {
            let h = spec
                .load(0)
                .with_context(|| format!("loading history {}", sc.history))?;
            fixed.insert(sc.history.clone(), h);
        }
        specs.push(spec);
    }
    let jobs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|i| (0..seeds as u64).map(move |s| (i, s)))
        .collect();
    let slots: Mutex<Vec<Option<anyhow::Result<Trial>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let progress = std::io::stderr().is_terminal();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, seed)) = jobs.get(k) else { break };
                let sc = &scenarios[i];
                let r = match fixed.get(&sc.history) {
                    Some(h) => trial(sc, h, seed, strategies, logs),
                    None => specs[i]
                        .load(seed)
                        .and_then(|h| trial(sc, &h, seed, strategies, logs)),
                };
                slots.lock().unwrap()[k] = Some(r);
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if progress {
                    eprint!("\rbench: {d}/{} trials", jobs.len());
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let trials = slots
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect::<anyhow::Result<Vec<Trial>>>()?;
    let rows = report::rows(scenarios, &trials, strategies);
    let checks = report::checks(scenarios, &rows, &trials);
    Ok(Report {
        scenarios: scenarios.to_vec(),
        rows,
        checks,
        trials,
    })
}

/// `culprit bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let mut scenarios = match &args.scenarios {
        Some(p) => scenario::load(p)?,
        None => scenario::builtin(),
    };
    let history = if let Some(d) = &args.dag {
        Some(match &args.bad {
            None if args.good.is_empty() => format!("tsv:{}", d.display()),
            None => bail!("--good with --dag needs --bad: the range is BAD --not GOOD..."),
            Some(_) if args.good.is_empty() => {
                bail!("--bad with --dag needs --good: the range is BAD --not GOOD...")
            }
            Some(bad) => format!("cut:{}:{bad}:{}", d.display(), args.good.join(",")),
        })
    } else if let Some(r) = &args.repo {
        let bad = args.bad.as_deref().context("--repo needs --bad")?;
        Some(format!(
            "repo:{}:{bad}:{}",
            r.display(),
            args.good.join(",")
        ))
    } else {
        None
    };
    if let Some(h) = history {
        for s in &mut scenarios {
            s.history = h.clone();
        }
    }
    let mut strategies = args.strategies.clone();
    strategies.sort();
    strategies.dedup();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if let Some(dir) = &args.logs {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the log directory {}", dir.display()))?;
    }
    let rep = evaluate(
        &scenarios,
        args.seeds,
        &strategies,
        threads,
        args.logs.as_deref(),
    )?;
    print!("{}", report::table(&scenarios, &rep.trials, &rep.rows));
    print!("{}", mix::table(&scenarios, &rep.trials, &strategies));
    print!("{}", report::checks_text(&rep.checks));
    print!(
        "{}",
        plot::reliability_text(&plot::reliability(&rep.trials, &strategies))
    );
    if let Some(dir) = &args.plot {
        for p in plot::write(dir, &scenarios, &rep.trials, &rep.rows, &strategies)? {
            println!("wrote {}", p.display());
        }
    }
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&rep).context("encoding the JSON report")?;
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_are_named_after_the_scenario_and_seed() {
        let d = Path::new("/x");
        assert_eq!(
            log_path(d, "drift 0.9->0.1", 4),
            Path::new("/x/drift-0-9-0-1-seed4.log")
        );
        assert_eq!(log_path(d, "(q=1)", 0), Path::new("/x/q-1-seed0.log"));
    }

    #[test]
    fn a_trial_with_logs_writes_culprits_campaign_and_its_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let sc = Scenario {
            q: 0.5,
            untestable: 0.05,
            ..Scenario::new("line q=0.5", "linear:80")
        };
        let h = HistorySpec::parse(&sc.history).unwrap().load(0).unwrap();
        let strategies = [Strategy::Culprit, Strategy::TrueQ];
        for seed in 0..2 {
            let t = trial(&sc, &h, seed, &strategies, Some(dir.path())).unwrap();
            let text = std::fs::read_to_string(log_path(dir.path(), &sc.name, seed)).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let bad = &h.shas[h.bad as usize];
            assert_eq!(
                lines[0],
                format!("bisecting cause commit starting from {bad}")
            );
            let tested = lines
                .iter()
                .filter(|l| l.starts_with("testing commit"))
                .count();
            assert!(tested >= 2, "{text}");
            let last = lines.last().unwrap();
            let culprit = &t.results[0].1;
            let right = culprit.answer == Some(t.truth);
            assert_eq!(last.starts_with("bench: right:"), right, "{last}");
            assert!(
                last.ends_with(&format!(
                    "after {} runs; the culprit is {} ({})",
                    culprit.runs, t.truth_sha, h.subjects[t.truth as usize]
                )),
                "{last}"
            );
        }
        // Only culprit's own campaign is logged, not the reference told q.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
