//! Finding the `function+0xoff/0xsize` token in one report line.
//!
//! The token is what the kernel's `%pS`/`%pB` printk formats print: the
//! symbol, the offset into it, and the symbol's size as kallsyms computes
//! it. This module only reads text; it never resolves anything.

use regex::Regex;
use std::sync::OnceLock;

/// One `function+0xoff/0xsize` token found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Byte range of the token in the line.
    pub start: usize,
    pub end: usize,
    pub function: String,
    pub offset: u64,
    pub size: u64,
    /// The address is the one the CPU was executing (a `RIP:`/`pc :`
    /// line), not a return address on the stack.
    pub exact: bool,
}

fn token_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // The name starts after a space, '(' or the "CS:" of "RIP: 0010:";
        // C symbols plus the '.'-suffixes gcc adds (.cold, .isra.0, ...).
        Regex::new(r"(?:^|[\s(:])([A-Za-z_$][A-Za-z0-9_.$]*)\+0x([0-9a-fA-F]+)/0x([0-9a-fA-F]+)")
            .expect("token regex")
    })
}

/// Finds the token to symbolise in `line`, if there is one this module can
/// rewrite: not a module frame (` [ext4]` follows), not a line already
/// carrying `file:line`.
pub fn find(line: &str) -> Option<Token> {
    let caps = token_re().captures(line)?;
    let name = caps.get(1)?;
    let whole = caps.get(0)?;
    let end = whole.end();
    let rest = line[end..].trim_end();
    // A frame of the x86/arm64 traces ends the line; arm's "(f+0x1/0x2)"
    // closes a parenthesis. Anything else (a module name, a file:line
    // already there) is not ours to touch.
    if !(rest.is_empty() || rest.starts_with(')')) {
        return None;
    }
    let offset = u64::from_str_radix(caps.get(2)?.as_str(), 16).ok()?;
    let size = u64::from_str_radix(caps.get(3)?.as_str(), 16).ok()?;
    let prefix = &line[..name.start()];
    Some(Token {
        start: name.start(),
        end,
        function: name.as_str().to_string(),
        offset,
        size,
        exact: is_exact(prefix),
    })
}

/// Whether the text before the token names the interrupted instruction
/// (x86 `RIP: 0010:` / `EIP:`, arm64 `pc : `, arm `PC is at `, the
/// WARNING header's `at %pS`, printed by __warn() for the trapping pc)
/// rather than a stack frame, whose address is a return address.
fn is_exact(prefix: &str) -> bool {
    let p = prefix.trim_end();
    (p.contains("WARNING: CPU: ") && (p.contains(" at ") || p.ends_with(" at")))
        || p.contains("RIP: ")
        || p.contains("EIP: ")
        || p.ends_with("pc :")
        || p.ends_with("PC is at")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_rip_and_frames() {
        let t = find("RIP: 0010:__do_sys_io_uring_register+0xb73/0x2380").unwrap();
        assert_eq!(t.function, "__do_sys_io_uring_register");
        assert_eq!((t.offset, t.size, t.exact), (0xb73, 0x2380, true));
        let line = " do_syscall_64+0x35/0xb0";
        let t = find(line).unwrap();
        assert_eq!(&line[t.start..t.end], "do_syscall_64+0x35/0xb0");
        assert!(!t.exact);
        let t = find(" ? __schedule.cold+0x1f/0x26f0\r").unwrap();
        assert_eq!(t.function, "__schedule.cold");
        assert!(!t.exact);
    }

    #[test]
    fn the_warning_header_names_the_trapping_pc() {
        let t = find("WARNING: CPU: 0 PID: 22 at kernel/sys.c:2403 culprit_test+0x6/0x16").unwrap();
        assert_eq!(t.function, "culprit_test");
        assert!(t.exact);
        let t = find("WARNING: CPU: 1 PID: 3 at culprit_test+0x6/0x16").unwrap();
        assert!(t.exact);
    }

    #[test]
    fn console_prefixes_stay_out_of_the_name() {
        let line = "[   12.345678][ T1234]  vfs_write+0x2a0/0x9c0";
        let t = find(line).unwrap();
        assert_eq!(t.function, "vfs_write");
        assert_eq!(&line[..t.start], "[   12.345678][ T1234]  ");
    }

    #[test]
    fn arm_and_arm64_forms() {
        let t = find("pc : memory_bm_free+0x260/0x320").unwrap();
        assert!(t.exact);
        let t = find("lr : free_basic_memory_bitmaps+0x3c/0x90").unwrap();
        assert!(!t.exact);
        let t = find("PC is at bitfill_aligned+0x94/0x138").unwrap();
        assert!(t.exact);
        let line = "[<808f34c8>] (bitfill_aligned) from [<808f3340>] (sys_fillrect+0x1b0/0x338)";
        let t = find(line).unwrap();
        assert_eq!(t.function, "sys_fillrect");
        assert_eq!(&line[t.end..], ")");
    }

    #[test]
    fn lines_not_to_touch() {
        assert_eq!(find(" ext4_fill_super+0x10/0x200 [ext4]"), None);
        assert_eq!(
            find(" do_syscall_64+0x35/0xb0 arch/x86/entry/common.c:80"),
            None
        );
        assert_eq!(find("RIP: 0033:0x4665f9"), None);
        assert_eq!(find("Code: 03 80 3c 02 00"), None);
        // An offset that does not fit an address is not a frame.
        assert_eq!(find(" f+0x1ffffffffffffffff/0x10"), None);
    }
}
