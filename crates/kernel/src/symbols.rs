//! Where the kernel defines a symbol: from a function name as it appears in
//! a crash stack to the source files that define it, at one revision of a
//! kernel repository.
//!
//! Linux knowledge lives here: syscall entry symbols (`__x64_sys_foo`,
//! `__se_sys_foo`, `__do_sys_foo`, `SyS_foo`...) are defined by the
//! `SYSCALL_DEFINEn(foo, ...)` macros; definitions start at column 0 in
//! kernel style; only C files of the kernel proper count (not tools/,
//! scripts/, samples/, Documentation/). The search itself is git's
//! (`culprit_git::Repo::grep_fixed`); nothing here writes anywhere.

use culprit_git::{GitError, Repo};
use culprit_report::crash_stack::is_ident;
use std::collections::{BTreeSet, HashMap};

/// A function defined in more files than this is too common a name to say
/// anything about the culprit (e.g. per-driver `probe` functions).
const MAX_DEFINITIONS: usize = 3;

/// What to look for in the source for one stack function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    /// A plain C function definition.
    Func(String),
    /// `SYSCALL_DEFINEn(name, ...)`, or `COMPAT_SYSCALL_DEFINEn` when compat.
    Syscall { name: String, compat: bool },
}

/// The definitions that produce a symbol: syscall wrappers come from the
/// `SYSCALL_DEFINE` macros, everything else from a plain definition.
fn targets(function: &str) -> Vec<Target> {
    let f = culprit_report::stack::func_name(function);
    const COMPAT: &str = "\
        __x64_compat_sys_ __ia32_compat_sys_ __arm64_compat_sys_ __se_compat_sys_ \
        __do_compat_sys_ compat_SyS_ C_SYSC_";
    const NATIVE: &str = "\
        __x64_sys_ __ia32_sys_ __arm64_sys_ __riscv_sys_ __s390x_sys_ __se_sys_ __do_sys_ \
        SyS_ SYSC_";
    for (prefixes, compat) in [(COMPAT, true), (NATIVE, false)] {
        if let Some(name) = prefixes.split_whitespace().find_map(|p| f.strip_prefix(p)) {
            return vec![Target::Syscall {
                name: name.to_string(),
                compat,
            }];
        }
    }
    let mut v = vec![Target::Func(f.to_string())];
    // Old kernels name the syscall itself `sys_foo`; a few are real functions.
    if let Some(name) = f.strip_prefix("compat_sys_") {
        v.push(Target::Syscall {
            name: name.to_string(),
            compat: true,
        });
    } else if let Some(name) = f.strip_prefix("sys_") {
        v.push(Target::Syscall {
            name: name.to_string(),
            compat: false,
        });
    }
    v
}

/// The targets a definition line provides, out of `wanted`. Definitions
/// start at column 0 with an identifier (kernel style); statements, macro
/// bodies and comments do not.
fn line_targets<'a>(line: &str, wanted: &'a [Target]) -> Vec<&'a Target> {
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Vec::new();
    }
    let code = match line.find("/*") {
        Some(i) => &line[..i],
        None => line,
    }
    .trim_end();
    if code.ends_with(';') {
        // A prototype (or a statement), not a definition.
        return Vec::new();
    }
    let syscall = ["SYSCALL_DEFINE", "COMPAT_SYSCALL_DEFINE"]
        .iter()
        .enumerate()
        .find_map(|(i, m)| {
            let r = code.strip_prefix(m)?;
            let r = r.trim_start_matches(|c: char| c.is_ascii_digit());
            let name = r.strip_prefix('(')?.split([',', ')']).next()?.trim();
            Some((name, i == 1))
        });
    wanted
        .iter()
        .filter(|t| match (t, syscall) {
            (Target::Syscall { name, compat }, Some((n, c))) => name == n && *compat == c,
            (Target::Func(name), None) => defines(code, name),
            _ => false,
        })
        .collect()
}

/// Does `code` (a line starting at column 0) name `name(` before any other
/// parenthesis, as a definition's declarator does?
fn defines(code: &str, name: &str) -> bool {
    let Some(head) = code.split('(').next() else {
        return false;
    };
    head.strip_suffix(name).is_some_and(|before| {
        before.is_empty() || before.ends_with(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
    }) && code.len() > head.len()
}

/// Fixed strings that every definition line of `wanted` contains. Fixed
/// strings keep `git grep` close to the cost of inflating the blobs; a
/// PCRE anchored at line starts costs about a third more across a kernel.
fn grep_strings(wanted: &[Target]) -> Vec<String> {
    let mut v = Vec::new();
    for t in wanted {
        match t {
            Target::Func(n) => v.push(format!("{n}(")),
            Target::Syscall { name, .. } => {
                v.push(format!("({name},"));
                v.push(format!("({name})"));
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Where definitions are searched: C files of the kernel proper, from the
/// top of the tree whatever directory the repository was opened at.
const SOURCES: &[&str] = &[
    ":(top)*.c",
    ":(top,exclude)tools/",
    ":(top,exclude)scripts/",
    ":(top,exclude)samples/",
    ":(top,exclude)Documentation/",
];

/// Where each function is defined at revision `rev`: (function, file)
/// pairs in the order of `functions`, files repo-relative and sorted.
/// Looks only at `*.c` files outside tools/, scripts/, samples/ and
/// Documentation/ with a single `git grep`. Functions defined in more than
/// three files, or nowhere, are left out.
pub fn defining_files(
    repo: &Repo,
    rev: &str,
    functions: &[String],
) -> Result<Vec<(String, String)>, GitError> {
    let wanted: Vec<(&String, Vec<Target>)> = functions
        .iter()
        .map(|f| (f, targets(f)))
        .filter(|(_, t)| {
            t.iter().all(|t| match t {
                Target::Func(n) | Target::Syscall { name: n, .. } => is_ident(n),
            })
        })
        .collect();
    let mut all: Vec<Target> = Vec::new();
    for t in wanted.iter().flat_map(|(_, t)| t) {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let sha = repo.resolve(rev)?;
    let lines = repo.grep_fixed(&sha, &grep_strings(&all), SOURCES)?;
    let mut files: HashMap<&Target, BTreeSet<String>> = HashMap::new();
    for (path, code) in &lines {
        for t in line_targets(code, &all) {
            files.entry(t).or_default().insert(path.clone());
        }
    }
    let mut pairs = Vec::new();
    for (function, ts) in &wanted {
        let mut found: BTreeSet<&String> = BTreeSet::new();
        for t in ts {
            found.extend(files.get(t).into_iter().flatten());
        }
        if found.len() > MAX_DEFINITIONS {
            continue;
        }
        for f in found {
            let pair = ((*function).clone(), f.clone());
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn syscall_wrappers_map_to_their_define_macros() {
        let sys = |name: &str, compat| Target::Syscall {
            name: name.to_string(),
            compat,
        };
        assert_eq!(targets("__x64_sys_prctl"), vec![sys("prctl", false)]);
        assert_eq!(targets("__se_sys_bpf"), vec![sys("bpf", false)]);
        assert_eq!(targets("__do_sys_bpf"), vec![sys("bpf", false)]);
        assert_eq!(targets("__ia32_sys_foo"), vec![sys("foo", false)]);
        assert_eq!(targets("__ia32_compat_sys_foo"), vec![sys("foo", true)]);
        assert_eq!(targets("__x64_compat_sys_foo"), vec![sys("foo", true)]);
        assert_eq!(
            targets("ep_remove.isra.0"),
            vec![Target::Func("ep_remove".into())]
        );
    }

    #[test]
    fn definition_lines_and_prototypes() {
        let w = [Target::Func("alpha".into())];
        assert_eq!(line_targets("int alpha(int x)", &w).len(), 1);
        assert_eq!(line_targets("alpha(int x)", &w).len(), 1);
        assert_eq!(
            line_targets("static struct s *alpha(void) /* x */", &w).len(),
            1
        );
        assert!(line_targets("int alpha(int x);", &w).is_empty());
        assert!(line_targets("int alpha(int x); /* decl */", &w).is_empty());
        assert!(line_targets("int xalpha(int x)", &w).is_empty());
        assert!(line_targets("DEFINE_X(y, alpha(1))", &w).is_empty());
        assert!(line_targets("\tx = alpha(a,", &w).is_empty());
        assert!(line_targets(" * alpha(x) - does things", &w).is_empty());
        let sys = [Target::Syscall {
            name: "foo".into(),
            compat: false,
        }];
        assert_eq!(line_targets("SYSCALL_DEFINE0(foo)", &sys).len(), 1);
        assert_eq!(line_targets("SYSCALL_DEFINE3(foo, int, a,", &sys).len(), 1);
        assert!(line_targets("COMPAT_SYSCALL_DEFINE3(foo, int, a,", &sys).is_empty());
        assert!(line_targets("SYSCALL_DEFINE3(foobar, int, a,", &sys).is_empty());
    }

    /// A scratch repository that removes itself.
    struct Scratch {
        dir: tempfile::TempDir,
    }

    impl Scratch {
        fn new() -> Scratch {
            let s = Scratch {
                dir: tempfile::tempdir().unwrap(),
            };
            s.git(&["init", "-q", "-b", "main"]);
            s
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn git(&self, args: &[&str]) -> String {
            let out = Command::new("git")
                .arg("-C")
                .arg(self.path())
                .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        }

        fn write(&self, file: &str, text: &str) {
            let p = self.path().join(file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }

        /// Writes the files and commits them; returns the new commit's hash.
        fn commit(&self, msg: &str, files: &[(&str, &str)]) -> String {
            for (f, t) in files {
                self.write(f, t);
            }
            self.git(&["add", "-A"]);
            self.git(&["commit", "-q", "-m", msg]);
            self.git(&["rev-parse", "HEAD"]).trim().to_string()
        }
    }

    const A_C: &str = "#include \"x.h\"\n\
    int beta(int x); /* in b.c */\n\
    \n\
    int alpha(int x)\n{\n\treturn beta(x) + 1;\n}\n\
    \n\
    static void helper(void)\n{\n\talpha(1);\n}\n";

    const B_C: &str = "int\nbeta(int x)\n{\n\treturn x;\n}\n\
    \n\
    SYSCALL_DEFINE3(foo, int, a, int, b, int, c)\n{\n\treturn beta(a);\n}\n";

    const C_C: &str = "int alpha(int x);\n\
    \n\
    COMPAT_SYSCALL_DEFINE2(foo, int, a, int, b)\n{\n\treturn alpha(a);\n}\n";

    #[test]
    fn defining_files_in_a_real_repository() {
        let s = Scratch::new();
        let mut files = vec![
            ("a.c", A_C.to_string()),
            ("sub/b.c", B_C.to_string()),
            ("c.c", C_C.to_string()),
            // A header definition and a user-space tool do not count.
            (
                "include/x.h",
                "static inline int alpha(int x)\n{\n}\n".to_string(),
            ),
            ("tools/t.c", "int beta(int x)\n{\n}\n".to_string()),
        ];
        for i in 0..5 {
            files.push((
                ["d0.c", "d1.c", "d2.c", "d3.c", "d4.c"][i],
                format!("static int probe(void)\n{{\n\treturn {i};\n}}\n"),
            ));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
        s.commit("initial", &refs);
        // Definitions are looked up at the given revision, not the work tree.
        let rev = s.git(&["rev-parse", "HEAD"]).trim().to_string();
        s.commit("move alpha", &[("a.c", "int other(void)\n{\n}\n")]);
        let repo = Repo::open(s.path()).unwrap();
        let names: Vec<String> = [
            "alpha",
            "helper",
            "beta",
            "__x64_sys_foo",
            "__ia32_compat_sys_foo",
            "probe",
            "missing",
            "alpha.cold",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pairs = defining_files(&repo, &rev, &names).unwrap();
        let want: Vec<(String, String)> = [
            ("alpha", "a.c"),
            ("helper", "a.c"),
            ("beta", "sub/b.c"),
            ("__x64_sys_foo", "sub/b.c"),
            ("__ia32_compat_sys_foo", "c.c"),
            ("alpha.cold", "a.c"),
        ]
        .iter()
        .map(|(f, p)| (f.to_string(), p.to_string()))
        .collect();
        assert_eq!(pairs, want);
        // From a subdirectory, paths stay relative to the top of the tree.
        let sub = Repo::open(s.path().join("sub")).unwrap();
        assert_eq!(defining_files(&sub, &rev, &names).unwrap(), want);
        // At HEAD the clean work tree is read; a local edit makes it fall back
        // to the committed tree.
        let head = defining_files(&repo, "HEAD", &names[..1]).unwrap();
        assert!(head.is_empty(), "alpha is gone at HEAD: {head:?}");
        let other = vec!["other".to_string()];
        let at_head = vec![("other".to_string(), "a.c".to_string())];
        assert_eq!(defining_files(&repo, "HEAD", &other).unwrap(), at_head);
        assert_eq!(defining_files(&sub, "HEAD", &other).unwrap(), at_head);
        s.write("a.c", "int alpha(int x)\n{\n}\n");
        assert!(defining_files(&repo, "HEAD", &names[..1])
            .unwrap()
            .is_empty());
        assert_eq!(defining_files(&repo, "HEAD", &other).unwrap(), at_head);
        assert!(defining_files(&repo, "no-such-rev", &names).is_err());
        assert!(defining_files(&repo, "HEAD", &[]).unwrap().is_empty());
    }
}
