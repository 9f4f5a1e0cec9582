//! Kernel mode with builds and VM runs in flight at once (`culprit bisect
//! --kernel [--builders B]`): B builders, each with its own checkout and
//! build directory in the build tree (see `super::build`), make's jobs
//! split between them, all keeping their kernels in the one store
//! `WORKDIR/kernels/<sha>/`; up to `--vms` VM runs boot any kernel of the
//! store. A run reads no checkout, so builds and runs never wait for each
//! other: with one builder the next commit builds while the current one's
//! VMs run.
//!
//! Each build and each run is one thread around the blocking calls the
//! one-action backend makes ([`TreeBuild::build`], [`Vm::run_one`]),
//! reporting over a channel (`crate::backend::threads`), as
//! `crate::backend::builders` does for the generic mode. Their processes
//! (make, gcc, QEMU) are crates/proc jobs under this backend's own token,
//! a child of the campaign's, so
//! [`Concurrent::stop`] and Ctrl-C kill them; the thread of a killed job
//! still reports, so stopping waits for every one. A builder's checkout
//! moves into the thread that builds in it and comes back with the result:
//! two builds can never share a checkout.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_proc::Cancel;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::build::TreeBuild;
use super::tree::TreeLock;
use super::vm::{is_built, Vm};
use super::{jobs_of, KernelSettings, Pool, Shared};
use crate::backend::builders::MAX_BUILDERS;
use crate::backend::threads::{caught, Step, Threads};
use crate::backend::{BuildResult, Completion, Concurrent, Progress, RunJob, RunResult};

/// How a thread ends.
enum Msg {
    Built {
        slot: usize,
        tree: Box<TreeBuild>,
        commit: String,
        result: Result<BuildResult>,
    },
    Ran {
        job: RunJob,
        result: Result<RunResult>,
    },
}

/// See the module docs.
pub struct KernelBuilders {
    vm: Arc<Vm>,
    vms: u32,
    campaign: Cancel,
    /// Every build and run runs under it; [`Concurrent::stop`] cancels it
    /// and makes a new one.
    work: Cancel,
    /// The builders' checkouts; `None` while its thread builds in it.
    slots: Vec<Option<Box<TreeBuild>>>,
    /// Builds accepted and waiting for a free builder.
    waiting: VecDeque<String>,
    /// Runs in flight.
    runs: u32,
    /// Said once, with the first kernel built.
    notes: Vec<String>,
    threads: Threads<Msg>,
    /// Held while a shared build tree is ours.
    _lock: Option<TreeLock>,
}

impl KernelBuilders {
    /// Checks tools and input, builds the initramfs and opens (or creates,
    /// at `bad`) the checkouts of `builders` builders.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        repo: &Repo,
        bad: &str,
        workdir: &Path,
        s: KernelSettings,
        pool: Pool,
        builders: u32,
        cancel: Cancel,
        progress: Progress,
    ) -> Result<Self> {
        if !(1..=MAX_BUILDERS).contains(&builders) {
            bail!("--builders must be between 1 and {MAX_BUILDERS} (got {builders})");
        }
        let jobs = jobs_of(&s, builders);
        let shared = Shared::new(workdir, s, &pool, &cancel)?;
        let mut slots = Vec::new();
        for k in 1..=builders {
            slots.push(Some(Box::new(
                shared.builder(repo, bad, k, jobs, progress)?,
            )));
        }
        let mut notes = shared.notes;
        if builders == 1 {
            notes.push("one builder, building while VMs run (--overlap)".to_string());
        } else {
            let dirs: Vec<String> = slots
                .iter()
                .flatten()
                .map(|t| t.dir().display().to_string())
                .collect();
            notes.push(format!(
                "{builders} builders (make -j{jobs} each), checkouts {}",
                dirs.join(", ")
            ));
        }
        Ok(KernelBuilders {
            vm: Arc::new(shared.vm),
            vms: pool.vms.max(1),
            work: cancel.child(),
            campaign: cancel,
            slots,
            waiting: VecDeque::new(),
            runs: 0,
            notes,
            threads: Threads::new(),
            _lock: shared.lock,
        })
    }

    /// The checkout of each builder, builder 1 first (`None` while it
    /// builds).
    pub fn checkouts(&self) -> Vec<Option<PathBuf>> {
        self.slots
            .iter()
            .map(|s| s.as_ref().map(|t| t.dir().to_path_buf()))
            .collect()
    }

    /// Starts waiting builds on free builders, lowest number first.
    fn dispatch(&mut self) -> Result<()> {
        while !self.waiting.is_empty() {
            let Some(i) = self.slots.iter().position(Option::is_some) else {
                break;
            };
            let commit = self.waiting.pop_front().unwrap_or_default();
            self.spawn_build(i, commit)?;
        }
        Ok(())
    }

    fn spawn_build(&mut self, i: usize, commit: String) -> Result<()> {
        let Some(mut tree) = self.slots[i].take() else {
            bail!("builder {} is busy", i + 1);
        };
        let cancel = self.work.clone();
        let c = commit.clone();
        // If the spawn fails, the closure (and the checkout in it) is gone
        // with it: the builder cannot be used again.
        self.threads
            .spawn(format!("kernel-builder-{}", i + 1), "build", move |r| {
                let mut progress = |text: String| r.progress(&c, text);
                let result = caught("build", || tree.build(&c, &cancel, &mut progress));
                Msg::Built {
                    slot: i,
                    tree,
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
                tree,
                commit,
                mut result,
            } => {
                self.slots[slot] = Some(tree);
                match result.as_mut() {
                    Ok(r) if r.ok => r.info.append(&mut self.notes),
                    _ => {}
                }
                self.threads.push(Completion::Built {
                    builder: slot as u32 + 1,
                    commit,
                    result,
                });
                self.dispatch()?;
            }
            Msg::Ran { job, result } => {
                self.runs -= 1;
                self.threads.push(Completion::Ran { job, result });
            }
        }
        Ok(())
    }
}

impl Concurrent for KernelBuilders {
    fn free_builders(&self) -> u32 {
        let idle = self.slots.iter().filter(|s| s.is_some()).count();
        idle.saturating_sub(self.waiting.len()) as u32
    }

    fn free_vms(&self) -> u32 {
        self.vms.saturating_sub(self.runs)
    }

    fn is_available(&self, commit: &str) -> bool {
        is_built(&self.vm.workdir, commit)
    }

    fn start_build(&mut self, commit: &str) -> Result<()> {
        self.waiting.push_back(commit.to_string());
        self.dispatch()
    }

    fn start_run(&mut self, job: RunJob) -> Result<()> {
        if !self.is_available(&job.commit) {
            bail!(
                "run {} of {} asked before its kernel was built",
                job.run,
                job.commit
            );
        }
        let vm = self.vm.clone();
        let cancel = self.work.clone();
        self.threads.spawn("vm".into(), "run", move |_| {
            let result = caught("run", || vm.run_one(&job, &cancel))
                .with_context(|| format!("run #{} on {}", job.run, job.commit));
            Msg::Ran { job, result }
        })?;
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
        self.threads.stop(|msg| {
            if let Msg::Built { slot, tree, .. } = msg {
                slots[slot] = Some(tree);
            }
        });
        self.runs = 0;
        self.work = self.campaign.child();
    }
}

impl Drop for KernelBuilders {
    fn drop(&mut self) {
        if self.busy() {
            self.stop();
        }
    }
}
