//! Containment with cgroups where this machine allows them (see
//! contain_marker.rs for the marker alone): no descendant survives a job's
//! end, its timeout, its token's cancel, or culprit's SIGKILL.

mod common;

use common::*;
use culprit_proc::Config;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn cgroups_are_used_where_writable() {
    // A cgroup2 directory we can create a cgroup in must be used.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let cg2 = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.starts_with("cgroup2 ")).then(|| left.split_whitespace().nth(4).unwrap().to_string())
    });
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let ours = ours
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .to_string();
    let st = culprit_proc::status();
    let Some(mount) = cg2 else {
        eprintln!("no cgroup2 mount: marker only ({st:?})");
        assert!(st.cgroup.is_none());
        return;
    };
    let probe = std::path::Path::new(&mount)
        .join(ours.trim_start_matches('/'))
        .join(format!("culprit-probe-{}", std::process::id()));
    let writable = std::fs::create_dir(&probe).is_ok() && probe.join("cgroup.kill").exists();
    let _ = std::fs::remove_dir(&probe);
    eprintln!("{st:?}");
    if writable {
        let cg = st
            .cgroup
            .expect("a writable cgroup2 hierarchy was not used");
        assert!(cg.join("cgroup.kill").exists());
        assert!(cg
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("culprit-"));
    } else {
        assert!(st.cgroup.is_none());
    }
    assert!(st.watchdog.is_some());
}

#[test]
fn normal_end_kills_setsid_and_double_forked_descendants() {
    normal_end(dir().path());
}

#[test]
fn timeout_kills_setsid_and_double_forked_descendants() {
    timeout(dir().path());
}

#[test]
fn cancel_kills_only_its_own_tokens_descendants() {
    cancel_is_scoped(dir().path(), dir().path());
}

#[test]
fn parent_sigkill_leaves_no_descendant() {
    play_role();
    parent_sigkill(
        "parent_sigkill_leaves_no_descendant",
        dir().path(),
        &Config::default(),
    );
}

#[test]
fn kill_leftovers_ends_a_dead_campaign() {
    play_role();
    let cgroups = Config::default().cgroups;
    leftovers(
        "kill_leftovers_ends_a_dead_campaign",
        dir().path(),
        dir().path(),
        cgroups,
    );
}
