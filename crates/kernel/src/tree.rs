//! What in a kernel source tree cannot reach the built kernel.
//!
//! A commit that changes only these paths builds the same kernel as its
//! parent, so it cannot have brought a crash: the bisection engine is told
//! so (`Engine::set_docs_only`) and gives it a small prior instead of
//! spending runs on it. The list is deliberately short: only paths that no
//! Makefile or Kconfig of the tree reads into a kernel build. `tools/`,
//! `scripts/` and `samples/` are not in it (objtool, the build scripts and
//! sample modules do reach a build), nor is anything matched by extension.

/// Paths (directories with everything below them, or files) from the top
/// of a kernel tree that never reach the built kernel.
pub const DOCS_ONLY_PATHS: &[&str] = &[
    "Documentation",
    "LICENSES",
    "MAINTAINERS",
    "CREDITS",
    "README",
    "COPYING",
    ".mailmap",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_top_level_paths_that_a_build_never_reads() {
        for p in DOCS_ONLY_PATHS {
            assert!(!p.contains('/') && !p.contains('*'), "{p}");
        }
        // The build reads these; they must never be taken for docs.
        for p in ["Makefile", "Kconfig", "scripts", "tools", "include", "arch"] {
            assert!(!DOCS_ONLY_PATHS.contains(&p), "{p}");
        }
    }
}
