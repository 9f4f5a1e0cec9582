//! Stack frames: parsing frame lines of x86/arm call traces and the lists
//! of generic infrastructure functions (sanitizer reporting, dump_stack,
//! panic, locking, allocators, string helpers, ...) that never name a bug.

use regex::Regex;
use std::sync::OnceLock;

/// One parsed frame line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Symbol as printed, e.g. `ep_unregister_pollwait.isra.7`.
    pub symbol: String,
    /// `path/file.c` when the line carries `file:line`.
    pub file: Option<String>,
    /// `? ` frames are unreliable leftovers on the stack.
    pub unreliable: bool,
    /// Taken from an instruction-pointer line (RIP/pc), not a call trace.
    pub from_ip: bool,
}

impl Frame {
    /// The function name used in titles: the symbol up to the first '.'
    /// (drops `.isra.N`, `.constprop.N`, `.cold`, ...).
    pub fn func(&self) -> &str {
        func_name(&self.symbol)
    }
}

/// Title form of a symbol.
pub fn func_name(sym: &str) -> &str {
    if sym.starts_with('<') || sym.contains("::") {
        // Rust: `<a::B as c::D>::f` keeps its path.
        return sym;
    }
    let s = sym.split('.').next().unwrap_or(sym);
    if s.trim_start_matches('_').is_empty() {
        sym
    } else {
        s
    }
}

struct Pats {
    offset: Regex,
    inline: Regex,
    arm32: Regex,
    file: Regex,
}

fn pats() -> &'static Pats {
    static P: OnceLock<Pats> = OnceLock::new();
    P.get_or_init(|| Pats {
        offset: Regex::new(r"^(.+?)\+0x[0-9a-fA-F]+(?:/0x[0-9a-fA-F]+)?(?:\s|$)").unwrap(),
        inline: Regex::new(r"^(\S+) ([\w./+-]+\.\w+):\d+(?::\d+)? \[inline\]").unwrap(),
        arm32: Regex::new(r"\) from \[<[0-9a-f]+>\] \(([^()+\s]+)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\)")
            .unwrap(),
        file: Regex::new(r"(?:^|\s)([\w./+-]+\.(?:c|h|S|rs|s|cc)):\d+").unwrap(),
    })
}

/// Parses a frame line (text already stripped of console prefixes).
pub fn parse_frame(text: &str) -> Option<Frame> {
    let p = pats();
    let mut t = text.trim_start();
    if t.is_empty() || t.len() > 400 {
        return None;
    }
    if let Some(c) = p.arm32.captures(t) {
        return Some(Frame {
            symbol: c[1].to_string(),
            file: None,
            unreliable: false,
            from_ip: false,
        });
    }
    // Old style `[<ffffffff81234567>] func+0x1/0x2`, possibly twice;
    // powerpc `[c000000049a87a10] [c0000000005f7dc8] func+0x1/0x2`.
    while let Some(rest) = t.strip_prefix('[') {
        let close = rest.find(']')?;
        let inner = rest[..close].trim_start_matches('<').trim_end_matches('>');
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        t = rest[close + 1..].trim_start();
    }
    let mut unreliable = false;
    if let Some(rest) = t.strip_prefix("? ") {
        unreliable = true;
        t = rest.trim_start();
    }
    let (symbol, tail) = if let Some(c) = p.offset.captures(t) {
        let m = c.get(0).unwrap();
        (c[1].to_string(), &t[m.end()..])
    } else if let Some(c) = p.inline.captures(t) {
        (c[1].to_string(), &t[c.get(1).unwrap().end()..])
    } else {
        return None;
    };
    let symbol = if symbol.starts_with("_R") || symbol.starts_with("_Z") {
        crate::demangle::demangle(&symbol).unwrap_or(symbol)
    } else {
        symbol
    };
    if !valid_symbol(&symbol) {
        return None;
    }
    let file = p.file.captures(tail).map(|c| clean_path(&c[1]));
    let unreliable = unreliable || tail.trim_end().ends_with("(unreliable)");
    Some(Frame {
        symbol,
        file,
        unreliable,
        from_ip: false,
    })
}

fn valid_symbol(s: &str) -> bool {
    if s.starts_with('<') || s.contains("::") {
        return s.len() < 300 && (s.contains(" as ") || !s.contains(' '));
    }
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'))
        && !s.bytes().all(|b| b.is_ascii_digit())
}

/// Drops build-directory prefixes so paths are source-tree relative and
/// resolves `..` components (`arch/x86/kvm/../../../virt/kvm/x.c`).
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    let joined = parts.join("/");
    let mut p = joined.as_str();
    for marker in ["/linux/", "/kernel/src/", "/src/"] {
        if let Some(i) = p.rfind(marker) {
            let rest = &p[i + marker.len()..];
            if rest.contains('/') {
                p = rest;
            }
        }
    }
    p.to_string()
}

use crate::skiplist::SKIP_ALWAYS;

fn skip_always() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(&format!("^(?:{})$", SKIP_ALWAYS.join("|"))).unwrap())
}

/// Is `func` (title form) generic infrastructure?
pub fn is_infra(func: &str) -> bool {
    skip_always().is_match(func)
}

/// Source paths that are infrastructure for the guilty-file search.
const INFRA_FILES: &[&str] = &[
    r"^include/",
    r"^lib/(?:dump_stack|bug|string|vsprintf|list_debug|debugobjects|refcount|ubsan|stackdepot|iov_iter|usercopy|fault-inject|bitmap|find_bit|crc32|string_helpers|idr|radix-tree|xarray|kobject|memcpy_kunit|stackinit|kstrtox|timerqueue|rbtree|percpu-refcount|percpu_counter|scatterlist|sort|strncpy_from_user|strnlen_user|uaccess|hexdump|maple_tree|errseq|llist|lockref|cpumask|math/.*)\.c$",
    r"^kernel/(?:panic|softirq|locking/.*|sched/.*|rcu/.*|time/.*|irq/.*|irq_work|smp|workqueue|kthread|exit|fork|signal|stacktrace|printk/.*|entry/.*|context_tracking|cpu|task_work|stop_machine|hung_task|watchdog|watchdog_hld|kcov|module/.*|module|notifier|async|up|kallsyms|panic)\.c$",
    r"^lib/",
    r"^virt/lib/",
    r"^kernel/rcu/",
    r"^mm/(?:kasan|kmsan|kfence)/",
    r"^mm/mempool\.c$",
    r"^drivers/usb/core/(?:urb|message|hcd)\.c$",
    r"^net/core/(?:sock|dev)\.c$",
    r"^net/netlink/af_netlink\.c$",
    r"^fs/fs-writeback\.c$",
    r"^mm/(?:slab|slub|slab_common|slob|page_alloc|vmalloc|util|memory|mempolicy|kmemleak|failslab|usercopy|maccess|percpu|debug|gup|mmap|page_owner|swap|rmap|filemap|migrate|compaction|vmscan|huge_memory|internal)\.c$",
    r"^arch/[^/]+/(?:kernel|entry|mm|lib|include)/",
    r"^arch/[^/]+/[^/]+\.[ch]$",
];

fn infra_files() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(&format!("(?:{})", INFRA_FILES.join("|"))).unwrap())
}

/// Is the source path generic infrastructure (never the guilty file)?
pub fn is_infra_file(path: &str) -> bool {
    infra_files().is_match(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frames() {
        let f = parse_frame(" ep_unregister_pollwait.isra.7+0x9d/0x360").unwrap();
        assert_eq!(f.func(), "ep_unregister_pollwait");
        assert!(!f.unreliable);
        let f = parse_frame(" ? __lock_acquire+0x63e/0x3cf0").unwrap();
        assert!(f.unreliable);
        let f = parse_frame(" ip6_finish_output2+0x109a/0x2540 net/ipv6/ip6_output.c:123").unwrap();
        assert_eq!(f.file.as_deref(), Some("net/ipv6/ip6_output.c"));
        assert_eq!(
            clean_path("arch/x86/kvm/../../../virt/kvm/eventfd.c"),
            "virt/kvm/eventfd.c"
        );
        let f = parse_frame(" neigh_output include/net/neighbour.h:477 [inline]").unwrap();
        assert_eq!(f.func(), "neigh_output");
        assert_eq!(f.file.as_deref(), Some("include/net/neighbour.h"));
        let f = parse_frame(" [<ffffffff8232bf0e>] blkdev_reread_part+0x1e/0x40").unwrap();
        assert_eq!(f.func(), "blkdev_reread_part");
        assert!(parse_frame("RAX: ffffffffffffffda RBX: 0000000000000400").is_none());
        assert!(parse_frame("Call Trace:").is_none());
    }

    #[test]
    fn infra() {
        assert!(is_infra("dump_stack"));
        assert!(is_infra("__asan_report_load8_noabort"));
        assert!(is_infra("_raw_spin_lock_irqsave"));
        assert!(!is_infra("remove_wait_queue"));
        assert!(is_infra_file("include/linux/seqlock.h"));
        assert!(!is_infra_file("net/ipv6/ip6_output.c"));
    }
}
