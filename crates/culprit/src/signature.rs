//! Signature of a build product: equal signatures mean the same binary.

use sha2::{Digest, Sha256};

/// For an ELF file, the brief's section signature (debug info and build ids
/// ignored, so rebuilding the same code gives the same signature); for
/// anything else, or an ELF file that does not parse, SHA-256 of the bytes.
pub fn of_file(bytes: &[u8]) -> [u8; 32] {
    if bytes.starts_with(b"\x7fELF") {
        if let Ok(s) = culprit_kernel::signature::of_bytes(bytes) {
            return s;
        }
    }
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::of_file;
    use sha2::Digest;

    #[test]
    fn elf_files_are_signed_by_their_sections() {
        // The test binary itself is an ELF file: its section signature is not
        // the plain hash of its bytes, and it is stable.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let plain: [u8; 32] = sha2::Sha256::digest(&me).into();
        assert_ne!(of_file(&me), plain);
        assert_eq!(of_file(&me), of_file(&me));
        let text = b"not an elf";
        assert_eq!(of_file(text), <[u8; 32]>::from(sha2::Sha256::digest(text)));
    }
}
