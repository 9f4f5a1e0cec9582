//! Containment by the marker alone, as on a machine without a writable
//! cgroup2 hierarchy: every test configures it so before its first job.

mod common;

use common::*;
use culprit_proc::Config;

fn marker_only() {
    culprit_proc::configure(Config {
        cgroups: false,
        watchdog: true,
    })
    .unwrap();
    assert!(culprit_proc::status().cgroup.is_none());
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn normal_end_kills_setsid_and_double_forked_descendants() {
    marker_only();
    normal_end(dir().path());
}

#[test]
fn timeout_kills_setsid_and_double_forked_descendants() {
    marker_only();
    timeout(dir().path());
}

#[test]
fn cancel_kills_only_its_own_tokens_descendants() {
    marker_only();
    cancel_is_scoped(dir().path(), dir().path());
}

#[test]
fn parent_sigkill_leaves_no_descendant() {
    play_role();
    marker_only();
    parent_sigkill(
        "parent_sigkill_leaves_no_descendant",
        dir().path(),
        &Config {
            cgroups: false,
            watchdog: true,
        },
    );
}

#[test]
fn kill_leftovers_ends_a_dead_campaign() {
    play_role();
    marker_only();
    leftovers(
        "kill_leftovers_ends_a_dead_campaign",
        dir().path(),
        dir().path(),
        false,
    );
}
