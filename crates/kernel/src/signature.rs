//! Kernel signature: a hash of what the kernel executes, not of how it was
//! described. SHA-256 over the SHA-256 of every allocated, non-empty,
//! non-NOBITS, non-NOTE section of vmlinux, in section order. Debug info,
//! symbol tables, build-id notes and .bss sizes do not count, so two builds
//! of equivalent source sign the same.

use crate::{Error, Result};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object, ObjectSection};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Signature of the ELF image in `data`.
pub fn of_bytes(data: &[u8]) -> Result<[u8; 32]> {
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| Error::Elf(e.to_string()))?;
    let endian = file.endian();
    let mut outer = Sha256::new();
    let mut counted = 0;
    for section in file.sections() {
        let hdr = section.elf_section_header();
        let flags = hdr.sh_flags(endian);
        let kind = hdr.sh_type(endian);
        if flags & u64::from(elf::SHF_ALLOC) == 0
            || kind == elf::SHT_NOBITS
            || kind == elf::SHT_NOTE
            || hdr.sh_size(endian) == 0
        {
            continue;
        }
        let bytes = section.data().map_err(|e| Error::Elf(e.to_string()))?;
        outer.update(Sha256::digest(bytes));
        counted += 1;
    }
    if counted == 0 {
        return Err(Error::Elf("no allocated sections with contents".into()));
    }
    let _ = file.elf_header().e_machine(endian);
    Ok(outer.finalize().into())
}

/// Signature of the vmlinux at `path`.
pub fn of_file(path: &Path) -> Result<[u8; 32]> {
    of_bytes(&crate::read(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use culprit_proc::{Cancel, Job};

    /// Compiles a tiny object with gcc (always present where kernels build).
    fn compile(dir: &Path, name: &str, src: &str) -> Vec<u8> {
        let c = dir.join(format!("{name}.c"));
        let o = dir.join(format!("{name}.o"));
        std::fs::write(&c, src).unwrap();
        let mut gcc = Job::new("gcc");
        gcc.args(["-c", "-O2", "-g", "-o"]).arg(&o).arg(&c);
        assert!(gcc.output(&Cancel::new()).unwrap().success());
        std::fs::read(&o).unwrap()
    }

    #[test]
    fn code_changes_the_signature_debug_info_and_bss_do_not() {
        let d = tempfile::tempdir().unwrap();
        let base = "int f(int x) { return x * 3; }\nconst char s[] = \"hello\";\n";
        let a = of_bytes(&compile(d.path(), "a", base)).unwrap();
        // Same code, different line numbers (debug info) and a bigger .bss.
        let b = of_bytes(&compile(
            d.path(),
            "b",
            &format!("\n\n\n{base}static int unused_bss[100] __attribute__((used));\n"),
        ))
        .unwrap();
        let c = of_bytes(&compile(
            d.path(),
            "c",
            "int f(int x) { return x * 5; }\nconst char s[] = \"hello\";\n",
        ))
        .unwrap();
        let e = of_bytes(&compile(
            d.path(),
            "e",
            "int f(int x) { return x * 3; }\nconst char s[] = \"hellO\";\n",
        ))
        .unwrap();
        assert_eq!(a, b, "debug info or .bss changed the signature");
        assert_ne!(a, c, "code change not seen");
        assert_ne!(a, e, "rodata change not seen");
    }

    #[test]
    fn not_elf_is_an_error() {
        assert!(of_bytes(b"not an elf file").is_err());
    }
}
