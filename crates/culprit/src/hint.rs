//! Crash-stack hints for the bisection prior: which commits of a range touch
//! the files that define the functions at the top of the crash's stack.
//!
//! Kernel developers know that the culprit very often changes code that
//! shows up in the crash stack, so the campaign gives those commits a larger
//! share of the engine's prior. This module is only the lookup: report text
//! -> function names -> defining files (`git grep` at one revision) ->
//! indices of commits touching them (one `git diff-tree --stdin`).
//!
//! It never writes to the repository (no checkout, no index refresh) and
//! never decides weights: that is the caller's business.

use anyhow::{bail, Context, Result};
use culprit_git::Repo;
use culprit_report::{lines, stack, Report};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};

/// A function defined in more files than this is too common a name to say
/// anything about the culprit (e.g. per-driver `probe` functions).
const MAX_DEFINITIONS: usize = 3;

/// Entry, interrupt and thread-start frames that sit at the bottom of every
/// stack; `stack::is_infra` does not cover them all.
const BOILERPLATE: &str = "\
    do_syscall_64 do_syscall_x64 x64_sys_call do_syscall_32_irqs_on do_fast_syscall_32 \
    __do_fast_syscall_32 do_int80_syscall_32 __do_sys_ni_syscall \
    syscall_enter_from_user_mode syscall_exit_to_user_mode exit_to_user_mode_prepare \
    exit_to_user_mode_loop kthread worker_thread process_one_work \
    process_scheduled_works smpboot_thread_fn common_interrupt __do_softirq \
    handle_softirqs do_softirq invoke_softirq run_ksoftirqd irq_exit_rcu __irq_exit_rcu \
    invoke_syscall __invoke_syscall el0_svc_common do_el0_svc start_kernel rest_init \
    kernel_init cpu_startup_entry do_idle secondary_startup_64";

/// Prefixes of the same kind of frames.
const BOILERPLATE_PREFIXES: &str = "\
    entry_SYSCALL entry_SYSENTER entry_INT80 ret_from_fork asm_ sysvec_ __sysvec_ exc_ \
    irqentry_ el0t_ el1h_ el0_ el1_ secondary_startup x86_64_start_";

/// Lines after which the text is no longer the crash stack (allocation
/// stacks of KASAN, the tail of an oops, lock dumps).
const STACK_END: &[&str] = &[
    "Allocated by task",
    "Freed by task",
    "Last potentially related",
    "The buggy address",
    "Memory state around",
    "---[ end trace",
    "Kernel panic",
    "Showing all locks",
    "other info that might help",
    "Uninit was created",
    "Uninit was stored",
    "Local variable",
];

fn is_boilerplate(f: &str) -> bool {
    BOILERPLATE.split_whitespace().any(|b| b == f)
        || BOILERPLATE_PREFIXES
            .split_whitespace()
            .any(|p| f.starts_with(p))
}

/// A C identifier: the only names worth (and safe) to put into a pattern.
fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The function of an instruction-pointer line (`RIP: 0010:f+0x1/0x2`,
/// `pc : f+0x1/0x2`, `IP: f+0x1/0x2`), if the line is one.
fn ip_function(text: &str) -> Option<stack::Frame> {
    let t = text.trim_start();
    let rest = if let Some(r) = t.strip_prefix("RIP: ").or_else(|| t.strip_prefix("EIP: ")) {
        // `0010:` code segment.
        r.split_once(':')?.1
    } else {
        ["pc : ", "IP: ", "PC is at ", "epc : "]
            .iter()
            .find_map(|p| t.strip_prefix(p))?
    };
    stack::parse_frame(rest)
}

/// The reliable, non-infrastructure frames of the report's first stack
/// (the instruction-pointer line and the call trace, in text order).
fn crash_frames(report: &Report) -> Vec<stack::Frame> {
    let mut out = Vec::new();
    let mut in_stack = false;
    for raw in report.report.lines() {
        let text = lines::clean(raw.as_bytes());
        let t = text.trim_start();
        if in_stack && STACK_END.iter().any(|m| t.starts_with(m)) {
            break;
        }
        let Some(frame) = ip_function(&text).or_else(|| stack::parse_frame(&text)) else {
            continue;
        };
        in_stack = true;
        let f = frame.func();
        if !(frame.unreliable || stack::is_infra(f) || is_boilerplate(f)) && is_ident(f) {
            out.push(frame);
        }
    }
    out
}

/// The functions of a crash report worth looking up: the report's own
/// `frame` first, then the reliable frames of its first stack (the
/// instruction-pointer line and the call trace, in order), skipping
/// infrastructure and entry boilerplate; de-duplicated, at most `max` in all.
pub fn stack_functions(report: &Report, max: usize) -> Vec<String> {
    let frames = crash_frames(report);
    let title = report.frame.as_deref().map(stack::func_name);
    let mut out: Vec<String> = Vec::new();
    for f in title.into_iter().chain(frames.iter().map(|f| f.func())) {
        if out.len() < max && is_ident(f) && !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    }
    out
}

/// The (function, file) pairs the report states itself: frames of
/// `functions` annotated with a `*.c` `file:line` (syzkaller-style
/// reports). Those need no `git grep`; pass only the rest to
/// [`defining_files`].
pub fn report_files(report: &Report, functions: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for frame in crash_frames(report) {
        let Some(file) = frame.file.as_ref().filter(|f| f.ends_with(".c")) else {
            continue;
        };
        let func = frame.func();
        if functions.iter().any(|f| f == func) {
            let pair = (func.to_string(), file.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

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
    let f = stack::func_name(function);
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

/// git in the repository, never taking optional locks (no index refresh:
/// the user's checkout is only read).
fn git(repo: &Repo) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(repo.path())
        .env("LC_ALL", "C")
        .env("GIT_OPTIONAL_LOCKS", "0");
    c
}

/// Is the repository's work tree a checkout of `sha` with no change to the
/// searched sources? Plumbing `diff-index` never refreshes the index, so a
/// file whose stat data merely changed counts as changed (the slow path
/// stays correct).
fn worktree_at(repo: &Repo, sha: &str) -> Result<bool> {
    let head = git(repo)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .output()
        .context("cannot run git rev-parse")?;
    if !head.status.success() || String::from_utf8_lossy(&head.stdout).trim() != sha {
        return Ok(false);
    }
    // Fails in a bare repository, which has no work tree to read.
    let clean = git(repo)
        .args(["diff-index", "--quiet", "HEAD", "--"])
        .args(SOURCES)
        .output()
        .context("cannot run git diff-index")?;
    Ok(clean.status.success())
}

/// Where each function is defined at revision `rev`: (function, file)
/// pairs in the order of `functions`, files repo-relative and sorted.
/// Looks only at `*.c` files outside tools/, scripts/, samples/ and
/// Documentation/ with a single `git grep`. Functions defined in more than
/// three files, or nowhere, are left out.
pub fn defining_files(
    repo: &Repo,
    rev: &str,
    functions: &[String],
) -> Result<Vec<(String, String)>> {
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
    let mut args = vec!["grep", "-F", "-I", "-z", "--no-color", "--full-name"];
    let strings = grep_strings(&all);
    for s in &strings {
        args.extend(["-e", s.as_str()]);
    }
    // A clean checkout of `rev` reads from the page cache instead of
    // inflating every blob: about 0.4 s instead of 2 s on a kernel tree.
    if !worktree_at(repo, &sha)? {
        args.push(&sha);
    }
    args.push("--");
    args.extend(SOURCES);
    let out = git(repo)
        .args(&args)
        .output()
        .context("cannot run git grep")?;
    // Exit status 1 means no line matched.
    if !out.status.success() && out.status.code() != Some(1) {
        bail!(
            "git grep for stack functions at {rev} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("{sha}:");
    let mut files: HashMap<&Target, BTreeSet<String>> = HashMap::new();
    for line in text.lines() {
        let Some((path, code)) = line.split_once('\0') else {
            continue;
        };
        let path = path.strip_prefix(&prefix).unwrap_or(path);
        for t in line_targets(code, &all) {
            files.entry(t).or_default().insert(path.to_string());
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

/// Indices into `shas` (full hashes) of the commits whose own change
/// against their first parent touches one of `files`. Merges count as
/// touching nothing. One `git diff-tree --stdin` for the whole list.
pub fn commits_touching(repo: &Repo, shas: &[String], files: &[String]) -> Result<Vec<u32>> {
    if shas.is_empty() || files.is_empty() {
        return Ok(Vec::new());
    }
    let mut index: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, s) in shas.iter().enumerate() {
        index.entry(s.as_str()).or_default().push(i as u32);
    }
    // Without -m/-c diff-tree prints nothing for a merge, which is what we
    // want: a merge's own change is the sum of its branch's commits.
    let mut child = git(repo)
        .args(["diff-tree", "--stdin", "-r", "--root", "--name-only", "--"])
        .args(files.iter().map(|f| format!(":(top,literal){f}")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run git diff-tree")?;
    let mut stdin = child.stdin.take().context("no stdin for git diff-tree")?;
    let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
    // Feed from another thread: git writes as it reads, and a full stdout
    // pipe would otherwise block both sides.
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .context("cannot read git diff-tree output")?;
    let fed = feeder.join();
    if !out.status.success() {
        bail!(
            "git diff-tree --stdin failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    match fed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e).context("cannot write commits to git diff-tree"),
        Err(_) => bail!("writing commits to git diff-tree panicked"),
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut hits: BTreeSet<u32> = BTreeSet::new();
    for line in text.lines() {
        if let Some(ix) = index.get(line.trim()) {
            hits.extend(ix);
        }
    }
    Ok(hits.into_iter().collect())
}

/// One line for the log, e.g.
/// "crash stack hint: 7 commits touch kernel/sys.c (__x64_sys_prctl)".
pub fn describe(pairs: &[(String, String)], hinted: usize) -> String {
    if pairs.is_empty() {
        return "crash stack hint: no defining source files found for the stack".to_string();
    }
    let mut by_file: Vec<(&str, Vec<&str>)> = Vec::new();
    for (func, file) in pairs {
        match by_file.iter_mut().find(|(f, _)| f == file) {
            Some((_, funcs)) => funcs.push(func),
            None => by_file.push((file, vec![func])),
        }
    }
    const SHOWN: usize = 4;
    let mut parts: Vec<String> = by_file
        .iter()
        .take(SHOWN)
        .map(|(file, funcs)| format!("{file} ({})", funcs.join(", ")))
        .collect();
    if by_file.len() > SHOWN {
        parts.push(format!("{} more files", by_file.len() - SHOWN));
    }
    let (noun, verb) = if hinted == 1 {
        ("commit", "touches")
    } else {
        ("commits", "touch")
    };
    format!(
        "crash stack hint: {hinted} {noun} {verb} {}",
        parts.join(", ")
    )
}

mod hinter;
pub use hinter::{Hinter, NoHints, StackHinter};

#[cfg(test)]
mod tests;
