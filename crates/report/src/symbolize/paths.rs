//! Source paths as a kernel developer reads them: relative to the kernel
//! tree (`mm/mmap.c`), whatever directory the kernel was built in.
//!
//! DWARF names files relative to the compilation directory (the `O=` build
//! directory), so a path comes out as `/build/../tree/mm/mmap.c` when ccache's
//! base_dir made gcc see `../tree/mm/mmap.c`, as `/src/mm/mmap.c` without
//! it, and as `/build/include/generated/x.h` for generated files. Pure
//! string work: nothing here touches the file system.

/// Resolves `.` and `..` lexically. A `..` above the root of an absolute
/// path is dropped; above the start of a relative path it is kept.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&p) if p != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// The prefixes to cut from source paths, longest first, each ending in '/'.
#[derive(Debug, Clone, Default)]
pub struct Prefixes(Vec<String>);

impl Prefixes {
    /// Adds a directory (normalised) whose content is shown relative to it.
    pub fn add(&mut self, dir: &str) {
        let d = normalize(dir);
        if d.is_empty() || d == "/" {
            return;
        }
        let d = format!("{d}/");
        if !self.0.contains(&d) {
            self.0.push(d);
            self.0.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
    }

    /// `path` normalised, with the longest matching prefix cut.
    pub fn relative(&self, path: &str) -> String {
        let n = normalize(path);
        for p in &self.0 {
            if let Some(rest) = n.strip_prefix(p.as_str()) {
                return rest.to_string();
            }
        }
        n
    }
}

/// The kernel tree as a unit names its source: every kernel has
/// `init/main.c`, so the unit named `<tree>/init/main.c` gives the tree's
/// spelling, relative to the unit's compilation directory (`../tree`, or
/// empty for an in-tree build) or absolute (`/src/linux`).
pub fn kernel_tree_of(name: &str) -> Option<String> {
    let tree = name.strip_suffix("init/main.c")?;
    (tree.is_empty() || tree.ends_with('/')).then(|| tree.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize("/w/A/build/../tree/mm/mmap.c"),
            "/w/A/tree/mm/mmap.c"
        );
        assert_eq!(
            normalize("/w/build/./include/generated/x.h"),
            "/w/build/include/generated/x.h"
        );
        assert_eq!(normalize("../tree/mm/mmap.c"), "../tree/mm/mmap.c");
        assert_eq!(normalize("a/../../b"), "../b");
        assert_eq!(normalize("/../x"), "/x");
        assert_eq!(normalize("a//b/"), "a/b");
    }

    #[test]
    fn longest_prefix_wins() {
        let mut p = Prefixes::default();
        p.add("/w/A/build");
        p.add("/w/A/tree/");
        p.add("/w/A");
        assert_eq!(p.relative("/w/A/build/../tree/mm/mmap.c"), "mm/mmap.c");
        assert_eq!(
            p.relative("/w/A/build/include/generated/bounds.h"),
            "include/generated/bounds.h"
        );
        assert_eq!(p.relative("/w/A/other/x.c"), "other/x.c");
        assert_eq!(
            p.relative("/usr/lib/gcc/include/stddef.h"),
            "/usr/lib/gcc/include/stddef.h"
        );
        // A prefix matches whole directory names only.
        assert_eq!(p.relative("/w/Ab/x.c"), "/w/Ab/x.c");
    }

    #[test]
    fn the_tree_is_where_init_main_is() {
        assert_eq!(
            kernel_tree_of("../tree/init/main.c").as_deref(),
            Some("../tree")
        );
        assert_eq!(kernel_tree_of("init/main.c").as_deref(), Some(""));
        assert_eq!(
            kernel_tree_of("/src/linux/init/main.c").as_deref(),
            Some("/src/linux")
        );
        assert_eq!(kernel_tree_of("/src/linux/xinit/main.c"), None);
        assert_eq!(kernel_tree_of("/src/linux/mm/mmap.c"), None);
    }
}
