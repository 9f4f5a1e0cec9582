//! Sub-classes of WARNING and kernel BUG reports that name the checker
//! which fired (debugobjects, refcount, kobject, usercopy, lockdep, the
//! allocators, list debugging), found from the file of the WARN/BUG site
//! or from the checker's own message printed just before it.

use crate::lines::{clean, line_start, Line};
use regex::Regex;
use std::sync::OnceLock;

/// A checker class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Odebug,
    Refcount,
    Kobject,
    Usercopy,
    Locking,
    Kmalloc,
    ZeroVmalloc,
    ProcRegistration,
    CorruptedList,
}

impl Class {
    /// The title with the class inserted.
    pub fn retitle(self, raw: &str) -> String {
        let (bug, rest) = if let Some(r) = raw.strip_prefix("WARNING in ") {
            (false, r)
        } else if let Some(r) = raw.strip_prefix("kernel BUG in ") {
            (true, r)
        } else {
            return raw.to_string();
        };
        let name = match (self, bug) {
            (Class::Odebug, _) => "WARNING: ODEBUG bug",
            (Class::Refcount, _) => "WARNING: refcount bug",
            (Class::Kobject, _) => "WARNING: kobject bug",
            (Class::Usercopy, false) => "WARNING: bad usercopy",
            (Class::Usercopy, true) => "BUG: bad usercopy",
            (Class::Locking, _) => "WARNING: locking bug",
            (Class::Kmalloc, _) => "WARNING: kmalloc bug",
            (Class::ZeroVmalloc, _) => "WARNING: zero-size vmalloc",
            (Class::ProcRegistration, _) => "WARNING: proc registration bug",
            (Class::CorruptedList, _) => "BUG: corrupted list",
        };
        format!("{name} in {rest}")
    }

    /// Extra functions that are plumbing for this checker.
    pub fn skips(self, f: &str) -> bool {
        let re = match self {
            Class::Odebug => odebug_skip(),
            Class::Kmalloc | Class::ZeroVmalloc => alloc_skip(),
            Class::Kobject => kobject_skip(),
            _ => return false,
        };
        re.is_match(f)
    }
}

fn odebug_skip() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?:(?:__)?call_rcu.*|init_timer_key|(?:__)?init_work.*|(?:__)?(?:del|mod|add|try_to_del)_timer.*|timer_.*|__timer_.*|hrtimer_.*|__hrtimer_.*|(?:__)?free_pages.*|__free_.*|free_.*_pages|(?:__)?cancel_.*work.*|destroy_.*work.*|kthread_.*work.*|__kthread_.*|percpu_counter_destroy.*|(?:__)?flush_work)$")
            .unwrap()
    })
}

fn alloc_skip() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?:kmalloc_slab|kvmalloc_node|__kvmalloc_node.*|kvmalloc.*|__vmalloc_node.*|__vmalloc.*|vmalloc.*|vzalloc.*|kvzalloc.*|kvcalloc|kvmalloc_array|__alloc_pages.*|alloc_pages.*|kmalloc_large.*|kmalloc_order.*|__kmalloc_large.*)$").unwrap()
    })
}

fn kobject_skip() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?:kobject_.*|__kobject_.*|device_add|device_register|sysfs_.*|internal_create_group)$").unwrap()
    })
}

fn kmalloc_check() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r" (?:kmalloc_slab|__kmalloc\w*|kvmalloc_node\w*|__kvmalloc_node\w*|kmalloc_large\w*|kmalloc_order\w*)[+.]").unwrap()
    })
}

fn site_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"(?:WARNING: (?:.*?at )?|kernel BUG at )(?:\S*/)?((?:lib|mm|fs|kernel|net)/[\w/.-]+\.c):",
        )
        .unwrap()
    })
}

/// The class of a WARNING / kernel BUG report, if any.
pub fn class_of(log: &[u8], lines: &[Line], title: &str) -> Option<Class> {
    if !(title.starts_with("WARNING in ") || title.starts_with("kernel BUG in ")) {
        return None;
    }
    let header = &lines.first()?.text;
    if let Some(c) = site_re().captures(header) {
        let by_site = match &c[1] {
            "lib/debugobjects.c" => Some(Class::Odebug),
            "lib/refcount.c" => Some(Class::Refcount),
            "lib/kobject.c" => Some(Class::Kobject),
            "mm/usercopy.c" => Some(Class::Usercopy),
            "kernel/locking/lockdep.c" => Some(Class::Locking),
            "mm/slab_common.c" | "mm/slab.c" | "mm/slub.c" | "mm/util.c"
                if title.starts_with("WARNING") && kmalloc_check().is_match(header) =>
            {
                Some(Class::Kmalloc)
            }
            "mm/vmalloc.c" => Some(Class::ZeroVmalloc),
            "fs/proc/generic.c" => Some(Class::ProcRegistration),
            "lib/list_debug.c" => Some(Class::CorruptedList),
            _ => None,
        };
        if by_site.is_some() {
            return by_site;
        }
    }
    // The checker's message just before the WARNING line.
    let mut pos = lines[0].start;
    for _ in 0..3 {
        if pos == 0 {
            break;
        }
        let prev_start = line_start(log, pos - 1);
        let t = clean(&log[prev_start..pos]);
        if let Some(c) = by_message(&t) {
            return Some(c);
        }
        pos = prev_start;
    }
    None
}

fn by_message(t: &str) -> Option<Class> {
    if t.contains("ODEBUG: ") {
        Some(Class::Odebug)
    } else if t.contains("refcount_t: ") {
        Some(Class::Refcount)
    } else if t.contains("usercopy: ") || t.contains("Bad or missing usercopy whitelist") {
        Some(Class::Usercopy)
    } else if t.contains("DEBUG_LOCKS_WARN_ON") {
        Some(Class::Locking)
    } else if t.contains("kobject: ") || t.contains("kobject_add_internal failed") {
        Some(Class::Kobject)
    } else if t.contains("list_add corruption")
        || t.contains("list_del corruption")
        || t.contains("list_add double add")
    {
        Some(Class::CorruptedList)
    } else {
        None
    }
}
