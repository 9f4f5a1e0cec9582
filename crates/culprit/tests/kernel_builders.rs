//! Kernel mode with two builders, end to end on the demo history (real
//! builds, real QEMU): the same answer as with one builder, each builder
//! building in its own checkout, and builds going on while VMs run.
//!
//! The machine's kernel builds are serialised by `/tmp/kernel-build.lock`
//! (one kernel build at a time on a machine others build kernels on too),
//! which this test takes around its campaign; do not run it under
//! `flock /tmp/kernel-build.lock` yourself (it would wait for itself).
//! When the kernel source or QEMU is missing it fails and says what to
//! install, unless CULPRIT_SKIP_KERNEL=1.

mod common;

use common::kernel::{demo_or_skip, fresh_workdir, machine_lock, DemoArgs};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;

/// Kernel tests in this binary run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// What the event stream says about the builders: per builder, the
/// commits it started and those it built, in order; and the builds during
/// which at least one VM run ended.
struct Builders {
    started: BTreeMap<u64, Vec<String>>,
    built: BTreeMap<u64, Vec<String>>,
    overlapped: Vec<String>,
}

fn read_builders(events: &str) -> Builders {
    let mut started: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut built: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    // Builds in flight: commit -> runs that ended since it started.
    let mut building: BTreeMap<String, u32> = BTreeMap::new();
    let mut overlapped = Vec::new();
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let commit = e["commit"].as_str().unwrap_or_default().to_string();
        match e["event"].as_str().unwrap() {
            "builder_started" => {
                let b = e["builder"].as_u64().unwrap();
                started.entry(b).or_default().push(commit.clone());
                building.insert(commit, 0);
            }
            // A VM run takes seconds, and the driver reports a build's
            // start in the loop iteration that started it: a run ending
            // after that report and before the build's end was running
            // while the build went on.
            "run_finished" => building.values_mut().for_each(|n| *n += 1),
            "builder_finished" => {
                if building.remove(&commit).unwrap_or(0) > 0 {
                    overlapped.push(commit.clone());
                }
                if e["ok"] == true {
                    let b = e["builder"].as_u64().unwrap();
                    built.entry(b).or_default().push(commit);
                }
            }
            _ => {}
        }
    }
    Builders {
        started,
        built,
        overlapped,
    }
}

#[test]
fn two_kernel_builders_name_the_injected_commit_building_while_vms_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(d) = demo_or_skip() else { return };
    let work = fresh_workdir("work-builders");
    let json = work.join("result.json");
    let events = work.join("events.jsonl");
    let out = {
        let _machine = machine_lock();
        Command::new(env!("CARGO_BIN_EXE_culprit"))
            .args(["bisect", "--kernel"])
            .demo(&d)
            .args(["--bad", &d.bad, "--good", &d.good])
            // One execution per boot: the bug shows in about half of the
            // runs, so commits take several rounds, and builds have runs
            // to overlap.
            .args(["--vms", "2", "--repro-repeat", "1", "--builders", "2"])
            // The builders' trees in the workdir, where this test looks.
            .arg("--private-tree")
            .arg("--workdir")
            .arg(&work)
            .arg("--json")
            .arg(&json)
            .arg("--events")
            .arg(&events)
            .output()
            .unwrap()
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "culprit failed:\n{stdout}\n{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["culprit"], d.injected.as_str(), "{stdout}");
    assert!(
        stdout.contains(&format!("{} is the first bad commit", d.injected)),
        "{stdout}"
    );
    assert!(stdout.contains("2 builders (make -j"), "{stdout}");

    let b = read_builders(&std::fs::read_to_string(&events).unwrap());
    assert_eq!(
        b.built.keys().copied().collect::<Vec<_>>(),
        vec![1, 2],
        "both builders built: {:?}\n{stdout}",
        b.built
    );
    // Each builder's checkout holds the last commit it started, and the
    // store the kernel of the last one it built: they built in their own
    // trees. A speculative build still going when the answer is known is
    // abandoned, possibly after its checkout and before its start was
    // reported: then the checkout holds a commit no builder reported.
    let reported: Vec<&String> = b.started.values().flatten().collect();
    for (k, tree, build) in [
        (1, work.join("tree"), work.join("build")),
        (2, work.join("builder-2/tree"), work.join("builder-2/build")),
    ] {
        let head = std::fs::read_to_string(tree.with_file_name("tree.culprit-head")).unwrap();
        let head = head.trim().to_string();
        let started = b.started[&k].last().unwrap();
        let last = b.built[&k].last().unwrap();
        assert!(
            head == *started || !reported.contains(&&head),
            "builder {k}'s checkout {} holds {head}, which builder {k} did not start last \
             ({started}) and another builder started",
            tree.display()
        );
        if head == *last {
            assert!(build.join("vmlinux").is_file(), "{}", build.display());
        }
        assert!(
            work.join("kernels").join(last).join("bzImage").is_file(),
            "builder {k}'s kernel is in the store"
        );
    }
    assert!(
        !b.overlapped.is_empty(),
        "no build overlapped a VM run:\n{stdout}"
    );
    eprintln!(
        "builds per builder: {:?}; {} builds overlapped VM runs",
        b.built
            .iter()
            .map(|(k, c)| (k, c.len()))
            .collect::<Vec<_>>(),
        b.overlapped.len()
    );
}

/// The event reading above, on a stream written by hand.
#[test]
fn overlap_is_a_run_ending_inside_a_build() {
    let ev = |s: &str| s.to_string();
    let lines = [
        ev(r#"{"event":"round_started","round":0,"jobs":[{"commit":"a","runs":2}]}"#),
        ev(r#"{"event":"builder_started","builder":1,"commit":"b"}"#),
        ev(r#"{"event":"run_finished","commit":"a","run":0}"#),
        ev(r#"{"event":"builder_finished","builder":1,"commit":"b","ok":true,"secs":3}"#),
        ev(r#"{"event":"builder_started","builder":2,"commit":"c"}"#),
        ev(r#"{"event":"builder_finished","builder":2,"commit":"c","ok":false,"secs":1}"#),
        ev(r#"{"event":"run_finished","commit":"a","run":1}"#),
    ];
    let b = read_builders(&lines.join("\n"));
    assert_eq!(b.overlapped, vec!["b".to_string()]);
    assert_eq!(b.built.get(&1), Some(&vec!["b".to_string()]));
    assert_eq!(b.started.get(&2), Some(&vec!["c".to_string()]));
    assert!(!b.built.contains_key(&2), "a failed build built nothing");
}
