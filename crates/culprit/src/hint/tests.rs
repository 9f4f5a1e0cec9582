//! Tests of the crash-stack hint on real console text and a real git
//! repository built in a temporary directory.

use super::*;
use culprit_git::Repo;
use culprit_kernel::symbols::defining_files;

const DEMO_OOPS: &str = include_str!("../../../report/tests/data/demo-oops.txt");
const SYZ_WARNING: &str = include_str!("../../../report/tests/data/syz-warning.txt");
const SYZ_KASAN: &str = include_str!("../../../report/tests/data/syz-kasan.txt");

fn report_of(text: &str) -> culprit_report::Report {
    culprit_report::parse(text.as_bytes()).expect("the excerpt is a crash report")
}

#[test]
fn describe_names_files_and_functions() {
    let pairs = vec![
        ("__x64_sys_prctl".to_string(), "kernel/sys.c".to_string()),
        ("__do_sys_prctl".to_string(), "kernel/sys.c".to_string()),
        (
            "ovl_fill_super".to_string(),
            "fs/overlayfs/super.c".to_string(),
        ),
    ];
    assert_eq!(
        describe(&pairs[..1], 7),
        "crash stack hint: 7 commits touch kernel/sys.c (__x64_sys_prctl)"
    );
    assert_eq!(
        describe(&pairs, 1),
        "crash stack hint: 1 commit touches kernel/sys.c (__x64_sys_prctl, __do_sys_prctl), \
         fs/overlayfs/super.c (ovl_fill_super)"
    );
    assert!(describe(&[], 0).contains("no defining source files"));
}

/// The whole lookup on a real kernel tree, with timings. Needs the culprit
/// demo (or any kernel) checkout, so it only runs when asked:
/// `CULPRIT_HINT_REPO=/tmp/culprit-demo-v3/linux CULPRIT_HINT_RANGE=c8fbbddb61bd..619de85e42c8
///  cargo test -p culprit --lib hint::tests::kernel_repo -- --ignored --nocapture`
#[test]
#[ignore]
fn kernel_repo() {
    let (Ok(path), Ok(range)) = (
        std::env::var("CULPRIT_HINT_REPO"),
        std::env::var("CULPRIT_HINT_RANGE"),
    ) else {
        panic!("set CULPRIT_HINT_REPO and CULPRIT_HINT_RANGE");
    };
    let repo = Repo::open(&path).unwrap();
    let (_, bad) = range.split_once("..").unwrap();
    let t = std::time::Instant::now();
    let funcs = stack_functions(&report_of(DEMO_OOPS), 8);
    println!("stack_functions: {funcs:?} in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let pairs = defining_files(&repo, bad, &funcs).unwrap();
    println!("defining_files: {pairs:?} in {:?}", t.elapsed());
    assert!(pairs.contains(&("__x64_sys_prctl".into(), "kernel/sys.c".into())));
    let shas: Vec<String> = repo
        .git(&["rev-list", &range])
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let files: Vec<String> = pairs.iter().map(|(_, f)| f.clone()).collect();
    let t = std::time::Instant::now();
    let hinted = repo.commits_touching(&shas, &files).unwrap();
    println!(
        "commits_touching: {} of {} commits in {:?}",
        hinted.len(),
        shas.len(),
        t.elapsed()
    );
    println!("{}", describe(&pairs, hinted.len()));
    for text in [SYZ_WARNING, SYZ_KASAN] {
        let funcs = stack_functions(&report_of(text), 8);
        let t = std::time::Instant::now();
        let pairs = defining_files(&repo, bad, &funcs).unwrap();
        println!("defining_files: {pairs:?} in {:?}", t.elapsed());
    }
}
