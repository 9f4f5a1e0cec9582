//! Which QEMU accelerator really works here.
//!
//! The /dev/kvm node alone proves nothing: on nested machines it can be a
//! device that creates VMs whose guests hang early in boot. KVM is used only
//! when the CPU advertises hardware virtualisation (vmx/svm) and /dev/kvm is
//! usable; otherwise TCG, and the reason is said in the log.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// The accelerator to use and a sentence for the log explaining the choice.
pub fn detect() -> (Accel, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    decide(&cpuinfo, kvm_usable())
}

fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

fn has_virt_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

fn decide(cpuinfo: &str, dev_ok: bool) -> (Accel, String) {
    match (has_virt_flag(cpuinfo), dev_ok) {
        (true, true) => (Accel::Kvm, "accelerator: kvm".into()),
        (false, true) => (
            Accel::Tcg,
            "accelerator: tcg (no KVM: /dev/kvm exists but the CPU has no vmx/svm flag, \
             so guests would hang; booting is slower)"
                .into(),
        ),
        (true, false) => (
            Accel::Tcg,
            "accelerator: tcg (no KVM: /dev/kvm is missing or not accessible; \
             booting is slower)"
                .into(),
        ),
        (false, false) => (
            Accel::Tcg,
            "accelerator: tcg (no KVM: the CPU has no vmx/svm flag; booting is slower)".into(),
        ),
    }
}

/// Parses a user choice: "auto", "kvm" or "tcg".
pub fn choose(setting: &str) -> Result<(Accel, String), String> {
    match setting {
        "auto" | "" => Ok(detect()),
        "kvm" => Ok((Accel::Kvm, "accelerator: kvm (as configured)".into())),
        "tcg" => Ok((Accel::Tcg, "accelerator: tcg (as configured)".into())),
        other => Err(format!(
            "unknown accelerator {other:?}: use auto, kvm or tcg"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_node_alone_is_not_kvm() {
        let no_flag = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr\n";
        let (a, why) = decide(no_flag, true);
        assert_eq!(a, Accel::Tcg);
        assert!(why.contains("vmx/svm"), "{why}");
        let with_flag = "flags\t\t: fpu vmx sse\n";
        assert_eq!(decide(with_flag, true).0, Accel::Kvm);
        assert_eq!(decide(with_flag, false).0, Accel::Tcg);
        // "vmx" inside another flag name is not the flag.
        assert_eq!(decide("flags : vmxfoo\n", true).0, Accel::Tcg);
    }

    #[test]
    fn choices() {
        assert_eq!(choose("tcg").unwrap().0, Accel::Tcg);
        assert!(choose("hvf").is_err());
    }
}
