//! Syscall entry wrappers in titles. The kernel reaches a syscall's body
//! through generated wrappers (`__x64_sys_X`, `__arm64_sys_X`,
//! `__se_sys_X`, `__do_sys_X` from include/linux/syscalls.h and the
//! arch's asm/syscall_wrapper.h; `SyS_X`/`SYSC_X` before 4.17; `ksys_X`
//! and `__sys_X` helpers shared with compat entry points). Which wrapper
//! shows up in a stack depends on the kernel version, the architecture and
//! inlining, so titles name the syscall the way syzbot does: one pass over
//! the prefixes below in this order, each stripped at most once.
//!
//! `sys_` comes before the arch prefixes on purpose: syzbot titles
//! `__x64_sys_sendmmsg` as `sys_sendmmsg` (the arch prefix is stripped
//! after `sys_` was tried) but `__do_sys_io_uring_register` as
//! `io_uring_register`.

/// Frame prefixes stripped from title frames, in the order they are tried.
const PREFIXES: &[&str] = &[
    "SYSC_",
    "SyS_",
    "sys_",
    "__x64_",
    "__ia32_",
    "__arm64_",
    "____sys_",
    "___sys_",
    "__sys_",
    "__se_",
    "__se_sys_",
    "__do_sys_",
    "compat_SYSC_",
    "compat_SyS_",
    "ksys_",
];

/// The title form of a frame name: syscall wrapper prefixes stripped.
/// Never returns an empty name (a bare prefix stays as it is).
pub fn strip_wrappers(frame: &str) -> String {
    let mut f = frame;
    for p in PREFIXES {
        if let Some(rest) = f.strip_prefix(p) {
            if !rest.is_empty() {
                f = rest;
            }
        }
    }
    f.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_name_the_syscall() {
        assert_eq!(
            strip_wrappers("__do_sys_io_uring_register"),
            "io_uring_register"
        );
        assert_eq!(strip_wrappers("__x64_sys_sendmmsg"), "sys_sendmmsg");
        assert_eq!(strip_wrappers("__arm64_sys_ioctl"), "sys_ioctl");
        assert_eq!(strip_wrappers("__se_sys_bpf"), "sys_bpf");
        assert_eq!(strip_wrappers("SyS_rmdir"), "rmdir");
        assert_eq!(strip_wrappers("SYSC_connect"), "connect");
        assert_eq!(strip_wrappers("ksys_write"), "write");
        assert_eq!(strip_wrappers("__sys_bind"), "bind");
        assert_eq!(strip_wrappers("____sys_sendmsg"), "sendmsg");
        assert_eq!(strip_wrappers("___sys_recvmsg"), "recvmsg");
        assert_eq!(strip_wrappers("compat_SyS_ioctl"), "ioctl");
    }

    #[test]
    fn other_functions_stay() {
        assert_eq!(strip_wrappers("sysfs_create_file"), "sysfs_create_file");
        assert_eq!(strip_wrappers("io_uring_register"), "io_uring_register");
        assert_eq!(strip_wrappers("__sys_"), "__sys_");
        assert_eq!(strip_wrappers("do_syscall_64"), "do_syscall_64");
    }
}
