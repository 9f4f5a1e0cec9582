//! Title normalisation and the title -> crash type table.
//!
//! Titles are used for de-duplication, so everything that varies between
//! two occurrences of the same bug (addresses, numbers, IPs, line numbers,
//! executor names) is replaced by a placeholder.

use regex::Regex;
use std::sync::OnceLock;

/// Maximum title length in bytes.
pub const MAX_TITLE: usize = 120;

struct Rules {
    offset: Regex,
    executor: Regex,
    ip: Regex,
    file_line: Regex,
    hex: Regex,
    long_hex: Regex,
    long_dec: Regex,
    num: Regex,
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| Rules {
        offset: Regex::new(r"\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+").unwrap(),
        executor: Regex::new(r"syz-executor[0-9.]*(?:/[0-9]+)?").unwrap(),
        ip: Regex::new(r"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b").unwrap(),
        file_line: Regex::new(r"(\.[a-zA-Z]{1,3}):[0-9]+").unwrap(),
        hex: Regex::new(r"0x[0-9a-fA-F]+").unwrap(),
        long_hex: Regex::new(r"\b[0-9a-f]*[a-f][0-9a-f]*\b").unwrap(),
        long_dec: Regex::new(r"[0-9]{5,}").unwrap(),
        num: Regex::new(r"(^|[^a-zA-Z0-9_])[0-9]+").unwrap(),
    })
}

/// Normalises a raw title as the corpus expects.
pub fn normalize(raw: &str) -> String {
    let r = rules();
    let s = r.offset.replace_all(raw, "");
    let s = r.executor.replace_all(&s, "syz-executor");
    let s = r.ip.replace_all(&s, "IP");
    let s = r.file_line.replace_all(&s, "${1}:LINE");
    let s = r.hex.replace_all(&s, "ADDR");
    let s = r.long_hex.replace_all(&s, |c: &regex::Captures| {
        let m = &c[0];
        if m.len() >= 8 && m.bytes().any(|b| b.is_ascii_digit()) {
            "ADDR".to_string()
        } else {
            m.to_string()
        }
    });
    // Long numbers glued to an identifier tail (ieee80211_rx) stay.
    let s = {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in r.long_dec.find_iter(&s) {
            let next = s[m.end()..].chars().next();
            if next.is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                continue;
            }
            out.push_str(&s[last..m.start()]);
            out.push_str("NUM");
            last = m.end();
        }
        out.push_str(&s[last..]);
        out
    };
    // Digits glued to a preceding identifier character (x25_connect) stay.
    let s = r.num.replace_all(&s, "${1}NUM");
    clean_title(&s)
}

/// Tabs to spaces, drop non-printable/non-ASCII, collapse spaces, cut to
/// [`MAX_TITLE`] bytes and trim.
pub fn clean_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c == '\t' { ' ' } else { c };
        if !(' '..='~').contains(&c) {
            continue;
        }
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim().to_string();
    if out.len() > MAX_TITLE {
        out.truncate(MAX_TITLE);
    }
    out.trim().to_string()
}

/// Crash type for a final title (a prefix table; first match wins).
pub fn kind_of(title: &str) -> String {
    if let Some(rest) = title.strip_prefix("KASAN: ") {
        return kasan_kind(rest);
    }
    if let Some(rest) = title.strip_prefix("KFENCE: ") {
        return kfence_kind(rest);
    }
    const TABLE: &[(&str, &str)] = &[
        ("KMSAN: uninit-value", "KMSAN-UNINIT-VALUE"),
        ("KMSAN: kernel-infoleak", "KMSAN-INFO-LEAK"),
        ("KMSAN: kernel-usb-infoleak", "KMSAN-INFO-LEAK"),
        ("KMSAN: ", "KMSAN"),
        ("KCSAN: data-race", "KCSAN-DATARACE"),
        ("KCSAN: assert: race", "KCSAN-ASSERT"),
        ("KCSAN: ", "KCSAN"),
        ("UBSAN: array-index-out-of-bounds", "MEMORY_SAFETY_UBSAN"),
        ("UBSAN: ", "UBSAN"),
        ("BUG: scheduling while atomic", "ATOMIC_SLEEP"),
        (
            "BUG: sleeping function called from invalid context",
            "ATOMIC_SLEEP",
        ),
        ("BUG: bad usercopy", "BUG"),
        ("BUG: corrupted list", "MEMORY_SAFETY_BUG"),
        (
            "BUG: unable to handle kernel paging request",
            "MEMORY_SAFETY_BUG",
        ),
        (
            "BUG: unable to handle kernel NULL pointer dereference",
            "NULL-POINTER-DEREFERENCE",
        ),
        ("BUG: soft lockup", "HANG"),
        ("BUG: bad unlock balance", "LOCKDEP"),
        ("BUG: held lock freed", "LOCKDEP"),
        ("BUG: spinlock", "LOCKDEP"),
        ("BUG: rwlock", "LOCKDEP"),
        ("BUG: using ", "LOCKDEP"),
        ("BUG: still has locks held", "LOCKDEP"),
        ("BUG: lock held when returning", "LOCKDEP"),
        ("BUG: memory leak", "LEAK"),
        ("memory leak in", "LEAK"),
        ("kernel BUG", "BUG"),
        ("WARNING: refcount bug", "REFCOUNT_WARNING"),
        ("WARNING: bad unlock balance", "LOCKDEP"),
        ("WARNING: held lock freed", "LOCKDEP"),
        ("WARNING: locking bug", "LOCKDEP"),
        ("WARNING: lock held", "LOCKDEP"),
        ("WARNING: nested lock was not taken", "LOCKDEP"),
        ("WARNING: still has locks held", "LOCKDEP"),
        ("WARNING: suspicious RCU usage in", "LOCKDEP"),
        ("WARNING: kernel stack", "UNKNOWN"),
        ("WARNING", "WARNING"),
        ("possible deadlock", "LOCKDEP"),
        ("inconsistent lock state", "LOCKDEP"),
        ("INFO: rcu detected stall", "HANG"),
        ("INFO: task hung", "HANG"),
        ("INFO: task can't die", "HANG"),
        ("general protection fault", "DoS"),
        ("kernel panic", "DoS"),
        ("PANIC: ", "DoS"),
        ("divide error", "DoS"),
        ("int3", "DoS"),
        ("invalid opcode", "DoS"),
        ("stack segment", "DoS"),
        ("double fault", "DoS"),
        ("Internal error", "DoS"),
        ("Unhandled fault", "DoS"),
        ("Alignment trap", "DoS"),
        ("trusty: ", "DoS"),
        ("unregister_netdevice: waiting for", "DoS"),
        ("VFS: Busy inodes", "DoS"),
        ("VFS: Close: file count is zero", "DoS"),
        ("kernel stack overflow", "DoS"),
        ("SYZFAIL", "SYZ_FAILURE"),
        ("SYZFATAL", "SYZ_FAILURE"),
        ("unexpected kernel reboot", "REBOOT"),
        ("lost connection to test machine", "LOST_CONNECTION"),
    ];
    for (prefix, kind) in TABLE {
        if title.starts_with(prefix) {
            return (*kind).to_string();
        }
    }
    "UNKNOWN".to_string()
}

fn kasan_kind(rest: &str) -> String {
    let write = rest.contains(" Write");
    let dir = if write { "WRITE" } else { "READ" };
    let what = rest.split([' ']).next().unwrap_or("");
    match what {
        "use-after-free" | "slab-use-after-free" => format!("KASAN-USE-AFTER-FREE-{dir}"),
        "null-ptr-deref" => format!("KASAN-NULL-POINTER-DEREFERENCE-{dir}"),
        "invalid-free" | "double-free" => "KASAN-INVALID-FREE".to_string(),
        _ => format!("KASAN-{dir}"),
    }
}

fn kfence_kind(rest: &str) -> String {
    let write = rest.contains(" write");
    let dir = if write { "WRITE" } else { "READ" };
    if rest.starts_with("use-after-free") {
        format!("KFENCE-USE-AFTER-FREE-{dir}")
    } else if rest.starts_with("memory corruption") {
        "KFENCE-MEMORY-CORRUPTION".to_string()
    } else if rest.starts_with("invalid free") {
        "KFENCE-INVALID-FREE".to_string()
    } else {
        format!("KFENCE-{dir}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(
            normalize("KASAN: slab-out-of-bounds in ip6_fragment at addr ffff8801c75ea0f8"),
            "KASAN: slab-out-of-bounds in ip6_fragment at addr ADDR"
        );
        assert_eq!(
            normalize("INFO: Freed in fasync_free_rcu age=624 cpu=0 pid=3"),
            "INFO: Freed in fasync_free_rcu age=NUM cpu=NUM pid=NUM"
        );
        assert_eq!(
            normalize("mkdir ./syzkaller-testdir264563108: x"),
            "mkdir ./syzkaller-testdirNUM: x"
        );
        assert_eq!(
            normalize("general protection fault in x25_connect"),
            "general protection fault in x25_connect"
        );
        assert_eq!(normalize("unknown-block(8,1)"), "unknown-block(NUM,NUM)");
        assert_eq!(
            normalize("at net/foo.c:123 in 10.0.0.1"),
            "at net/foo.c:LINE in IP"
        );
        assert_eq!(
            normalize("task syz-executor.3/1234 x"),
            "task syz-executor x"
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(
            kind_of("KASAN: use-after-free Read in f"),
            "KASAN-USE-AFTER-FREE-READ"
        );
        assert_eq!(kind_of("KASAN: slab-out-of-bounds in f"), "KASAN-READ");
        assert_eq!(kind_of("WARNING: suspicious RCU usage"), "WARNING");
        assert_eq!(kind_of("WARNING: suspicious RCU usage in f"), "LOCKDEP");
        assert_eq!(kind_of("KFENCE: out-of-bounds write in f"), "KFENCE-WRITE");
        assert_eq!(kind_of("something else"), "UNKNOWN");
    }
}
