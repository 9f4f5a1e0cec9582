#[test]
fn make_progress_counts_kbuild_steps_as_the_log_grows() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("build.log");
    let mut f = std::fs::File::create(&log).unwrap();
    let mut steps = super::Steps::default();
    steps.read(&log);
    assert_eq!(steps.describe(3), "make: 3 s, no compile step yet");
    write!(
        f,
        "make[1]: Entering directory '/b'\n  SYNC    include/config/auto.conf\n  CC      kernel/sys.o\n  CC      mm/mm"
    )
    .unwrap();
    steps.read(&log);
    assert_eq!(
        steps.describe(5),
        "make: 5 s, 2 steps, last: CC kernel/sys.o"
    );
    // The rest of a line cut mid-write counts once it is whole.
    writeln!(
        f,
        "ap.o\nkernel/sys.c:12:1: error: expected ';'\n  LD [M]  fs/x.ko"
    )
    .unwrap();
    steps.read(&log);
    assert_eq!(
        steps.describe(9),
        "make: 9 s, 4 steps, last: LD [M]  fs/x.ko"
    );
    assert!(super::kbuild_step(b"   indented more").is_none());
    assert!(super::kbuild_step(b"  lowercase word").is_none());
}

use super::*;

#[test]
fn first_error_prefers_the_compiler_diagnostic() {
    let log = "  CC      kernel/sys.o\n\
        kernel/sys.c: In function 'f':\n\
        kernel/sys.c:10:5: warning: unused variable 'x'\n\
        kernel/sys.c:12:9: error: 'y' undeclared (first use in this function)\n\
        kernel/sys.c:13:9: error: expected ';' before '}' token\n\
        make[3]: *** [scripts/Makefile.build:250: kernel/sys.o] Error 1\n";
    assert_eq!(
        first_error(log).unwrap(),
        "kernel/sys.c:12:9: error: 'y' undeclared (first use in this function)"
    );
}

#[test]
fn first_error_falls_back_to_make_then_last_line() {
    let log = "something\nmake[1]: *** No rule to make target 'x'.  Stop.\n";
    assert!(first_error(log).unwrap().contains("No rule to make target"));
    assert_eq!(first_error("a\nb\n\n").unwrap(), "b");
    assert_eq!(first_error(""), None);
}

/// The object of an `.incbin` source must follow the file it pulls in
/// when compiled as make compiles it, even from a cache that depend
/// mode filled: a cached piggy.o boots another commit's kernel.
#[test]
fn ccache_never_serves_an_incbin_object() {
    if !crate::have_tool("ccache") {
        eprintln!("skipped: ccache is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = Builder {
        ccache_dir: Some(dir.path().join("ccache")),
        ..Builder::new(
            dir.path(),
            &dir.path().join("out"),
            Compiler {
                cc: "gcc".into(),
                ccache: true,
            },
        )
        .unwrap()
    };
    std::fs::create_dir_all(&b.build_dir).unwrap();
    b.write_cc_guard().unwrap();
    let make = b.command(&[]);
    std::fs::write(
        dir.path().join("piggy.S"),
        ".section .rodata\n.incbin \"payload.bin\"\n",
    )
    .unwrap();
    let compile = |cc: &str, payload: &str, depend: bool| {
        std::fs::write(dir.path().join("payload.bin"), payload).unwrap();
        let words: Vec<&str> = cc.split_whitespace().collect();
        let mut c = Job::new(words[0]);
        c.cwd(dir.path()).args(&words[1..]);
        // As Kbuild compiles it: depend mode needs the -MMD.
        c.args(["-Wp,-MMD,.piggy.o.d", "-c", "piggy.S", "-o", "piggy.o"]);
        for (k, v) in make.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if depend {
            c.env_remove("CCACHE_NODEPEND").env("CCACHE_DEPEND", "1");
        }
        assert!(c.output(&Cancel::new()).unwrap().success());
        std::fs::read(dir.path().join("piggy.o")).unwrap()
    };
    // What an earlier culprit in depend mode left in the cache.
    compile("ccache gcc", "stale kernel", true);
    for payload in ["first kernel", "other kernel", "first kernel"] {
        let obj = compile(&b.cc(), payload, false);
        assert!(
            obj.windows(payload.len()).any(|w| w == payload.as_bytes()),
            "piggy.o does not hold {payload:?}"
        );
    }
}

#[test]
fn a_bzimage_must_hold_the_newest_payload() {
    let dir = tempfile::tempdir().unwrap();
    let comp = dir.path().join("arch/x86/boot/compressed");
    std::fs::create_dir_all(&comp).unwrap();
    // No payload yet: nothing to check.
    check_bzimage(dir.path()).unwrap();
    let image = dir.path().join("arch/x86/boot/bzImage");
    std::fs::write(comp.join("vmlinux.bin.all"), b"not compressed").unwrap();
    std::fs::write(comp.join("vmlinux.bin.gz"), b"kernel two").unwrap();
    std::fs::write(&image, b"setup|kernel two|tail").unwrap();
    check_bzimage(dir.path()).unwrap();
    std::fs::write(&image, b"setup|kernel one|tail").unwrap();
    let e = check_bzimage(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("does not hold") && e.contains("vmlinux.bin.gz"),
        "{e}"
    );
    // After a switch to zstd the newer payload is the one to find.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(comp.join("vmlinux.bin.zst"), b"kernel one").unwrap();
    check_bzimage(dir.path()).unwrap();
}

#[test]
fn relative_paths_as_ccache_spells_them() {
    let r = |a: &str, b: &str| relative_path(Path::new(a), Path::new(b));
    assert_eq!(r("/w/build", "/w/tree"), Some(PathBuf::from("../tree")));
    assert_eq!(
        r("/w/x/build", "/w/tree"),
        Some(PathBuf::from("../../tree"))
    );
    assert_eq!(
        r("/w/build/", "/w/./build/../tree"),
        Some(PathBuf::from("../tree"))
    );
    assert_eq!(r("w/build", "/w/tree"), None);
}

#[test]
fn the_macro_prefix_map_follows_the_ccache_rewrite() {
    let kcflags = |src: &str, build: &str, ccache: bool| {
        let b = Builder::new(
            Path::new(src),
            Path::new(build),
            Compiler {
                cc: "gcc".into(),
                ccache,
            },
        )
        .unwrap();
        b.command(&["bzImage"])
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .find(|a| a.starts_with("KCFLAGS="))
    };
    let k = kcflags("/w/root/tree", "/w/root/build", true).unwrap();
    assert!(k.ends_with("-fmacro-prefix-map=../tree/="), "{k}");
    // Without ccache gcc sees absolute paths: the kernel's map works.
    assert_eq!(kcflags("/w/root/tree", "/w/root/build", false), None);
    // A tree outside ccache's base_dir keeps its absolute paths.
    assert_eq!(kcflags("/src/linux", "/w/root/build", true), None);
}

#[test]
fn reproducible_environment_and_absolute_o() {
    let b = Builder::new(
        Path::new("src"),
        Path::new("out"),
        Compiler {
            cc: "gcc".into(),
            ccache: true,
        },
    )
    .unwrap();
    assert!(b.build_dir.is_absolute());
    let c = b.command(&["bzImage"]);
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(args.contains(&format!("O={}", b.build_dir.display())));
    let guard = b.build_dir.join(".culprit-ccache");
    assert!(args.contains(&format!("CC={} gcc", guard.display())));
    let envs: Vec<(String, String)> = c
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.into(), v?.to_str()?.into())))
        .collect();
    for k in [
        "KBUILD_BUILD_USER",
        "KBUILD_BUILD_HOST",
        "KBUILD_BUILD_TIMESTAMP",
        "KBUILD_BUILD_VERSION",
    ] {
        assert!(envs.iter().any(|(n, v)| n == k && !v.is_empty()), "{k}");
    }
}
