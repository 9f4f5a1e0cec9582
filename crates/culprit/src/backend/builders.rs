//! The generic backend with several builders on this machine
//! (`culprit bisect --builders B`): B checkouts under the workdir (`tree`,
//! the one-builder backend's, then `tree-2` ... `tree-B`, all kept across
//! runs and on resume), up to B builds at once, each in its own checkout,
//! while up to `--vms` runs go on.
//!
//! Each build and each run is one thread around the blocking calls the
//! one-builder backend uses (`super::command`), reporting over a channel.
//! Their processes are crates/proc jobs under this backend's own token (a
//! child of the campaign's), so [`Concurrent::stop`] and Ctrl-C kill them;
//! the thread of a killed job still reports, so stopping waits for every
//! one of them. It must never start a build in a checkout that another
//! build or a run is using: a commit's runs execute in the checkout it was
//! built in (as with one builder), and that checkout takes no new build
//! until they end.

use anyhow::{bail, Context, Result};
use culprit_git::{Repo, Worktree};
use culprit_proc::Cancel;
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::command::{
    artifact_copy, build_in, kept_artifacts, run_env, run_one, run_output, run_result,
    CommandSettings, Spawn,
};
use super::threads::{caught, Step, Threads};
use super::{BuildResult, Completion, Concurrent, Progress, RunJob, RunResult};

/// Builders at most: each is a full checkout.
pub const MAX_BUILDERS: u32 = 64;

/// The checkout of builder `k` (from 1) under `workdir`.
pub fn tree_dir(workdir: &Path, k: u32) -> PathBuf {
    if k <= 1 {
        workdir.join("tree")
    } else {
        workdir.join(format!("tree-{k}"))
    }
}

/// Cores each of `builders` builders gets on a machine with `cores`.
pub fn jobs_per_builder(cores: u32, builders: u32) -> u32 {
    (cores / builders.max(1)).max(1)
}

/// One builder's checkout.
struct Slot {
    tree: Worktree,
    /// The commit whose build the checkout holds (it built there last and
    /// no build started since).
    holds: Option<String>,
    building: bool,
    /// Runs in flight in this checkout.
    runs: u32,
    /// When its last build ended (a counter), to reuse the stalest first.
    used: u64,
}

/// How a thread ends.
enum Msg {
    Built {
        slot: usize,
        commit: String,
        result: Result<BuildResult>,
    },
    Ran {
        slot: Option<usize>,
        job: RunJob,
        result: Result<RunResult>,
    },
}

/// See the module docs.
pub struct CommandBuilders {
    settings: CommandSettings,
    workdir: PathBuf,
    campaign: Cancel,
    /// Every build and run runs under it; [`Concurrent::stop`] cancels it
    /// and makes a new one.
    work: Cancel,
    slots: Vec<Slot>,
    /// Commits whose artifact is kept (with `--artifact`).
    kept: HashSet<String>,
    /// Environment of every build (CULPRIT_BUILD_JOBS, MAKEFLAGS).
    build_env: Vec<(String, String)>,
    /// Builds accepted and waiting for a free builder.
    waiting: VecDeque<String>,
    runs: u32,
    tick: u64,
    threads: Threads<Msg>,
}

impl CommandBuilders {
    /// Opens (or creates, at `bad`) the checkouts of `builders` builders.
    pub fn new(
        repo: &Repo,
        bad: &str,
        workdir: &Path,
        settings: CommandSettings,
        builders: u32,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        if !(1..=MAX_BUILDERS).contains(&builders) {
            bail!("--builders must be between 1 and {MAX_BUILDERS} (got {builders})");
        }
        let mut slots = Vec::new();
        for k in 1..=builders {
            let dir = tree_dir(workdir, k);
            let tree = Worktree::ensure(repo, &dir, bad, progress)
                .with_context(|| format!("creating the checkout of builder {k}"))?;
            slots.push(Slot {
                tree,
                holds: None,
                building: false,
                runs: 0,
                used: 0,
            });
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let jobs = jobs_per_builder(cores, builders);
        let mut build_env = vec![
            ("CULPRIT_BUILD_JOBS".to_string(), jobs.to_string()),
            ("CULPRIT_BUILDER".to_string(), String::new()),
        ];
        // The user's own MAKEFLAGS wins.
        if std::env::var_os("MAKEFLAGS").is_none() {
            build_env.push(("MAKEFLAGS".into(), format!("-j{jobs}")));
        }
        let kept = kept_artifacts(&settings, workdir)?;
        Ok(CommandBuilders {
            settings,
            workdir: workdir.to_path_buf(),
            work: cancel.child(),
            campaign: cancel,
            slots,
            kept,
            build_env,
            waiting: VecDeque::new(),
            runs: 0,
            tick: 0,
            threads: Threads::new(),
        })
    }

    fn idle(s: &Slot) -> bool {
        !s.building && s.runs == 0
    }

    /// Starts waiting builds on idle builders: first the checkouts that
    /// hold nothing, then the ones whose build ended longest ago (the
    /// least likely to be tested again).
    fn dispatch(&mut self) -> Result<()> {
        while !self.waiting.is_empty() {
            let Some(i) = (0..self.slots.len())
                .filter(|&i| Self::idle(&self.slots[i]))
                .min_by_key(|&i| (self.slots[i].holds.is_some(), self.slots[i].used))
            else {
                break;
            };
            let commit = self.waiting.pop_front().unwrap_or_default();
            self.spawn_build(i, commit)?;
        }
        Ok(())
    }

    fn spawn_build(&mut self, i: usize, commit: String) -> Result<()> {
        let slot = &mut self.slots[i];
        // Its old build is overwritten from now on.
        if let Some(old) = slot.holds.take() {
            if self.settings.artifact.is_none() {
                self.kept.remove(&old);
            }
        }
        slot.building = true;
        let tree = slot.tree.clone();
        let settings = self.settings.clone();
        let workdir = self.workdir.clone();
        let cancel = self.work.clone();
        let mut env = self.build_env.clone();
        for (k, v) in env.iter_mut() {
            if k == "CULPRIT_BUILDER" {
                *v = (i + 1).to_string();
            }
        }
        let c = commit.clone();
        self.threads
            .spawn(format!("builder-{}", i + 1), "build", move |r| {
                let mut progress = |text: String| r.progress(&c, text);
                let result = caught("build", || {
                    build_in(&tree, &settings, &workdir, &c, &env, &cancel, &mut progress)
                });
                Msg::Built {
                    slot: i,
                    commit: c,
                    result,
                }
            })?;
        self.threads.push(Completion::Started {
            builder: i as u32 + 1,
            commit,
        });
        Ok(())
    }

    /// Takes in what a thread reported.
    fn absorb(&mut self, msg: Msg) -> Result<()> {
        match msg {
            Msg::Built {
                slot,
                commit,
                result,
            } => {
                self.tick += 1;
                let s = &mut self.slots[slot];
                s.building = false;
                s.used = self.tick;
                if result.as_ref().is_ok_and(|r| r.ok) {
                    s.holds = Some(commit.clone());
                    self.kept.insert(commit.clone());
                }
                self.threads.push(Completion::Built {
                    builder: slot as u32 + 1,
                    commit,
                    result,
                });
                self.dispatch()?;
            }
            Msg::Ran { slot, job, result } => {
                self.runs -= 1;
                if let Some(i) = slot {
                    self.slots[i].runs -= 1;
                }
                self.threads.push(Completion::Ran { job, result });
                self.dispatch()?;
            }
        }
        Ok(())
    }
}

impl Concurrent for CommandBuilders {
    fn free_builders(&self) -> u32 {
        let idle = self.slots.iter().filter(|s| Self::idle(s)).count();
        idle.saturating_sub(self.waiting.len()) as u32
    }

    fn free_vms(&self) -> u32 {
        self.settings.vms.max(1).saturating_sub(self.runs)
    }

    fn is_available(&self, commit: &str) -> bool {
        self.kept.contains(commit)
    }

    fn start_build(&mut self, commit: &str) -> Result<()> {
        self.waiting.push_back(commit.to_string());
        self.dispatch()
    }

    fn start_run(&mut self, job: RunJob) -> Result<()> {
        if !self.kept.contains(&job.commit) {
            bail!(
                "run {} of {} asked before it was built",
                job.run,
                job.commit
            );
        }
        let output = run_output(&self.workdir, &job)?;
        // In the checkout it was built in while that holds it (the test
        // may use more than the artifact); else beside its outputs.
        let slot = self
            .slots
            .iter()
            .position(|s| s.holds.as_deref() == Some(job.commit.as_str()));
        let cwd = match slot {
            Some(i) => self.slots[i].tree.dir().to_path_buf(),
            None => output.parent().unwrap_or(&self.workdir).to_path_buf(),
        };
        let env = run_env(
            &job,
            artifact_copy(&self.settings, &self.workdir, &job.commit).as_deref(),
        );
        let script = self.settings.test.clone();
        let timeout = self.settings.run_timeout;
        let cancel = self.work.clone();
        self.threads.spawn("run".into(), "run", move |_| {
            let spawn = Spawn {
                script: &script,
                cwd: &cwd,
                env,
                output: &output,
                timeout,
            };
            let result = caught("run", || run_result(&spawn, run_one(&spawn, &cancel)));
            Msg::Ran { slot, job, result }
        })?;
        if let Some(i) = slot {
            self.slots[i].runs += 1;
        }
        self.runs += 1;
        Ok(())
    }

    fn busy(&self) -> bool {
        self.threads.busy() || !self.waiting.is_empty()
    }

    fn next(&mut self) -> Result<Completion> {
        loop {
            match self.threads.next()? {
                Step::Ready(c) => return Ok(c),
                Step::Ended(msg) => self.absorb(msg)?,
            }
        }
    }

    fn stop(&mut self) {
        self.work.cancel();
        self.waiting.clear();
        let slots = &mut self.slots;
        self.threads.stop(|msg| match msg {
            Msg::Built { slot, .. } => slots[slot].building = false,
            Msg::Ran { slot, .. } => {
                if let Some(i) = slot {
                    slots[i].runs -= 1;
                }
            }
        });
        self.runs = 0;
        self.work = self.campaign.child();
    }
}

impl Drop for CommandBuilders {
    fn drop(&mut self) {
        if self.busy() {
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_are_shared_and_never_zero() {
        assert_eq!(jobs_per_builder(8, 3), 2);
        assert_eq!(jobs_per_builder(2, 3), 1);
        assert_eq!(jobs_per_builder(16, 1), 16);
        assert_eq!(jobs_per_builder(4, 0), 4);
    }

    #[test]
    fn builder_one_keeps_the_one_builder_checkout() {
        let w = Path::new("/w");
        assert_eq!(tree_dir(w, 1), w.join("tree"));
        assert_eq!(tree_dir(w, 3), w.join("tree-3"));
    }
}
