//! Frames of memory-leak reports (mm/kmemleak.c): the allocation
//! backtrace starts in the allocator and its wrappers; the leak is named
//! after the first function outside them, the one that asked for memory.

use regex::Regex;
use std::sync::OnceLock;

fn re(pats: &[&str]) -> Regex {
    Regex::new(&format!("^(?:{})$", pats.join("|"))).expect("leak regex")
}

/// Words that mark a function as allocation plumbing wherever they appear
/// in its name (`sk_prot_alloc`, `kmem_cache_alloc_node`, `kstrdup_const`,
/// `__kmalloc_node_track_caller`, `pcpu_alloc`): allocator entry points
/// and the many subsystem helpers that only wrap them.
const ALLOC_WORDS: &[&str] = &[
    "alloc",
    "kmem",
    "slab",
    "create_object",
    "strdup",
    "strndup",
    "memdup",
    "kasprintf",
    "kvasprintf",
    "idr_get",
    "list_lru_init",
    "pcpu_create_chunk",
];

fn alloc_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(&[
            r"create_object.*",
            r"kmemleak_.*",
            r"__kmemleak_.*",
            r"kvasprintf.*",
            r"kasprintf",
            r"kstrdup_const",
            r"alloc_inode",
            r"new_inode",
            r"__alloc_skb",
            r"alloc_skb.*",
            r"__netdev_alloc_skb",
            r"sk_prot_alloc",
            r"sk_alloc",
            r"__register_sysctl_table",
            r"register_net_sysctl.*",
            r"kobject_set_name.*",
            r"kobject_add.*",
            r"kobject_init_and_add",
            r"__kobject_.*",
            r"dev_set_name",
            r"__kernfs_.*",
            r"kernfs_.*",
            r"__d_alloc",
            r"d_alloc.*",
            r"pcpu_.*",
            r"__alloc_percpu.*",
            r"alloc_percpu.*",
            r"idr_.*",
            r"ida_.*",
            r"xa_.*",
            r"__xa_.*",
            r"radix_tree_.*",
            r"mempool_.*",
            // bpf_map_ops.map_alloc constructors: map_create asked for it.
            r"\w+_map_alloc",
            r"bpf_map_area_alloc",
            r"bpf_map_kmalloc_node",
            r"__bpf_map_area_alloc",
            r"__vmalloc_node.*",
            r"kmem_cache_zalloc",
            r"kmalloc_trace.*",
            r"alloc_slab_obj_exts",
        ])
    })
}

/// Allocation plumbing at the top of a leaked object's backtrace.
pub fn is_alloc_infra(f: &str) -> bool {
    ALLOC_WORDS.iter().any(|w| f.contains(w)) || alloc_re().is_match(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_wrappers_are_plumbing() {
        for f in [
            "kmalloc_trace",
            "sk_prot_alloc",
            "kmem_cache_alloc_node",
            "kstrdup_const",
            "__kobject_add",
            "idr_get_free",
            "kvasprintf",
        ] {
            assert!(is_alloc_infra(f), "{f}");
        }
        for f in ["inet6_create", "map_create", "ext4_mb_init", "tcp_connect"] {
            assert!(!is_alloc_infra(f), "{f}");
        }
    }
}
