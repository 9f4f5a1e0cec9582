//! What a user of the command line sees: quiet output, closed pipes, help,
//! exit codes per outcome, where the crash and build files are, a target
//! that never matches, kernel mode on a tree that is not Linux.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn quiet_prints_the_result_block_only() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 12, 5);
    let mut args = always_args(&bad, &good, &[]);
    args.push("--quiet");
    let (out, v) = bisect(t.path(), &repo, &args);
    assert_eq!(v["culprit"], want.as_str());
    assert!(
        out.contains(&format!("{want} is the first bad commit")),
        "{out}"
    );
    assert!(out.contains("posterior probability of the answer"), "{out}");
    assert!(!out.contains("testing commit"), "{out}");
    assert!(!out.contains("bisecting cause commit"), "{out}");
    // The whole log is still in the workdir.
    let log = std::fs::read_to_string(t.path().join("w/bisect.log")).unwrap();
    assert!(log.contains("testing commit"), "{log}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let t = tempfile::tempdir().unwrap();
    let console = t.path().join("console.txt");
    let one = "BUG: unable to handle page fault for address: 0000000000000008\nRIP: 0010:demo_crash+0x5/0x10\n\n";
    std::fs::write(&console, one.repeat(2000)).unwrap();
    for args in [
        vec![
            "report".to_string(),
            "--all".into(),
            console.display().to_string(),
        ],
        vec![
            "demo".into(),
            "--dir".into(),
            t.path().join("demo").display().to_string(),
        ],
    ] {
        let mut child = culprit()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        lines.next().unwrap().unwrap();
        drop(lines);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.signal() == Some(libc::SIGPIPE) || out.status.success(),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}

#[test]
fn help_shows_defaults_and_a_kernel_heading() {
    let o = culprit().args(["bisect", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for needle in [
        "Kernel mode:",
        "Search:",
        "Output:",
        "[default: 2]",
        "[default: 0.99]",
        "[default: 10]",
        "--events <FILE>",
        "Exit status:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    // Every exit status is explained, in --help and in the README's table.
    use culprit::result::exit;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for code in [
        exit::CULPRIT,
        exit::ERROR,
        exit::USAGE,
        exit::INCONCLUSIVE,
        exit::OLDER,
        exit::NOT_REPRODUCED,
        exit::REVERT_PERSISTS,
        exit::INFRASTRUCTURE,
        exit::INTERRUPTED,
    ] {
        let tail = &help[help.find("Exit status:").unwrap()..];
        assert!(
            [" ", "\n"]
                .iter()
                .any(|before| tail.contains(&format!("{before}{code} "))),
            "--help does not explain exit status {code}:\n{tail}"
        );
        assert!(
            readme.contains(&format!("| {code} |")),
            "README lacks exit status {code}"
        );
    }
    // Kernel options come after the kernel heading, generic ones before it.
    let kernel = help.find("Kernel mode:").unwrap();
    assert!(help.find("--repro-repeat").unwrap() > kernel);
    assert!(help.find("--build <CMD>").unwrap() < kernel);
}

/// Runs bisect and returns (exit code, stdout, stderr, JSON if written).
fn outcome(
    t: &std::path::Path,
    repo: &std::path::Path,
    args: &[&str],
) -> (i32, String, String, Option<Value>) {
    let j = t.join("r.json");
    let _ = std::fs::remove_file(&j);
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(repo)
        .args(args)
        .arg("--workdir")
        .arg(t.join("w"))
        .arg("--json")
        .arg(&j)
        .output()
        .unwrap();
    let v = std::fs::read_to_string(&j)
        .ok()
        .map(|s| serde_json::from_str(&s).unwrap());
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
        v,
    )
}

#[test]
fn each_outcome_has_its_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 20, 7);
    // The bug shows on the good end too: older.
    let d = t.path().join("older");
    std::fs::create_dir_all(&d).unwrap();
    let (code, out, err, v) = outcome(
        &d,
        &repo,
        &[
            "--bad",
            &bad,
            "--good",
            &good,
            "--build",
            BUILD,
            "--test",
            "echo 'BUG: always here'; exit 1",
        ],
    );
    assert_eq!(code, 4, "{out}\n{err}");
    assert_eq!(v.unwrap()["verdict"], "older");
    assert!(
        out.contains("the bug is older than every good commit"),
        "{out}"
    );
    // Out of builds before the answer: inconclusive.
    let d = t.path().join("inconclusive");
    std::fs::create_dir_all(&d).unwrap();
    let (code, out, err, v) = outcome(&d, &repo, &always_args(&bad, &good, &["--max-builds", "2"]));
    assert_eq!(code, 3, "{out}\n{err}");
    let v = v.unwrap();
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(v["exit_code"], 3);
    assert!(out.contains("could be any of"), "{out}");
}

#[test]
fn the_result_names_the_crash_console_and_the_build_log() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, want, bad) = linear(t.path(), 16, 9);
    let (out, v) = bisect(t.path(), &repo, &always_args(&bad, &good, &[]));
    assert_eq!(v["culprit"], want.as_str());
    let console = v["files"]["console"].as_str().expect("a console");
    let text = std::fs::read_to_string(console).unwrap();
    assert!(text.contains("BUG: unable to handle page fault"), "{text}");
    let build_log = v["files"]["build_log"].as_str().expect("a build log");
    assert!(std::path::Path::new(build_log).exists());
    assert!(build_log.contains(&want), "{build_log}");
    assert!(out.contains(&format!("crash console: {console}")), "{out}");
    assert!(out.contains(&format!("build log: {build_log}")), "{out}");
}

#[test]
fn a_target_that_never_matches_lists_what_was_seen() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 16, 9);
    let (code, _, err, v) = outcome(
        t.path(),
        &repo,
        &always_args(&bad, &good, &["--target", "BUG: something else entirely"]),
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("seen instead"), "{err}");
    assert!(err.contains("in demo_crash\" ("), "{err}");
    let v = v.unwrap();
    assert_eq!(v["verdict"], "not_reproduced");
    // It gave up early instead of burning --verify-runs (40) runs.
    assert!(v["counts"]["runs"].as_u64().unwrap() <= 12, "{v}");
    assert!(v["seen_on_bad"][0]["count"].as_u64().unwrap() >= 10, "{v}");
}

#[test]
fn kernel_mode_on_another_project_creates_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (repo, good, _, bad) = linear(t.path(), 4, 2);
    let repro = t.path().join("repro.sh");
    std::fs::write(&repro, "true\n").unwrap();
    let cache = t.path().join("cache");
    let work = t.path().join("work");
    let o = culprit()
        .env("XDG_CACHE_HOME", &cache)
        .args(["bisect", "--kernel", "--repo"])
        .arg(&repo)
        .args(["--bad", &bad, "--good", &good, "--repro"])
        .arg(&repro)
        .arg("--workdir")
        .arg(&work)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a Linux kernel tree"),
        "{}",
        stderr(&o)
    );
    assert!(!cache.exists(), "a build tree was created");
    assert!(!work.exists(), "a workdir was created");
    // And options of one mode are refused in the other, not ignored.
    let o = culprit()
        .args(["bisect", "--repo"])
        .arg(&repo)
        .args([
            "--bad", &bad, "--good", &good, "--build", "true", "--test", "true",
        ])
        .args(["--repro-repeat", "3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--repro-repeat is a kernel-mode option"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_campaign_file_gives_kernel_options_by_name_and_flags_win() {
    let t = tempfile::tempdir().unwrap();
    let (_, good, _, bad) = linear(t.path(), 4, 2);
    std::fs::write(t.path().join("repro.sh"), "true\n").unwrap();
    let file = t.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "repo = \"repo\"\nbad = \"{bad}\"\ngood = [\"{good}\"]\nworkdir = \"w\"\n\n[kernel]\nreproducer = \"repro.sh\"\nrepro_repeat = 0\nmemory = 384\n"
        ),
    )
    .unwrap();
    // The file's repro_repeat = 0 is refused...
    let o = culprit().arg("bisect").arg(&file).output().unwrap();
    assert!(stderr(&o).contains("--repro-repeat"), "{}", stderr(&o));
    // ...unless the command line overrides it; then the tree check speaks.
    let o = culprit()
        .arg("bisect")
        .arg(&file)
        .args(["--repro-repeat", "2"])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("not a Linux kernel tree"),
        "{}",
        stderr(&o)
    );
    // An unknown key in [kernel] is named.
    std::fs::write(&file, "[kernel]\nrepro_repaet = 3\n").unwrap();
    let o = culprit().arg("bisect").arg(&file).output().unwrap();
    assert!(stderr(&o).contains("repro_repaet"), "{}", stderr(&o));
    // A campaign file that is not one is refused without reading it all.
    let o = culprit().args(["bisect", "/dev/zero"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a campaign file") || stderr(&o).contains("larger than"),
        "{}",
        stderr(&o)
    );
}
