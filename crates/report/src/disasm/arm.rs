//! arm64, arm and Thumb decoding with yaxpeax-arm.
//!
//! yaxpeax prints its own syntax, close to but not the same as objdump's
//! (see the crate docs of `disasm` for what differs); the instruction
//! boundaries, mnemonics and registers are the same.

use super::{Arch, Insn};
use yaxpeax_arch::{Decoder, U8Reader};

fn split(text: &str) -> (String, String) {
    match text.split_once(' ') {
        Some((m, ops)) => (m.to_string(), ops.trim().to_string()),
        None => (text.to_string(), String::new()),
    }
}

fn bad(offset: usize, bytes: &[u8]) -> Insn {
    Insn {
        offset,
        bytes: bytes.to_vec(),
        mnemonic: "(bad)".into(),
        operands: String::new(),
        comment: String::new(),
    }
}

fn one(arch: Arch, chunk: &[u8]) -> Option<String> {
    let mut r = U8Reader::new(chunk);
    match arch {
        Arch::Arm64 => yaxpeax_arm::armv8::a64::InstDecoder::default()
            .decode(&mut r)
            .ok()
            .map(|i| i.to_string()),
        Arch::Arm => yaxpeax_arm::armv7::InstDecoder::default()
            .decode(&mut r)
            .ok()
            .map(|i| i.to_string()),
        Arch::Thumb => yaxpeax_arm::armv7::InstDecoder::default_thumb()
            .decode(&mut r)
            .ok()
            .map(|i| i.to_string()),
        Arch::X86_64 => None,
    }
}

/// A Thumb instruction is 32 bits when its first halfword starts with
/// 0b11101, 0b11110 or 0b11111 (ARM ARM, "Thumb instruction set encoding").
fn thumb_len(first: u16) -> usize {
    if first >> 11 >= 0b11101 {
        4
    } else {
        2
    }
}

/// Decodes `bytes` from `start`: 4-byte instructions for arm64 and ARM,
/// 2- or 4-byte ones for Thumb.
pub fn decode(arch: Arch, bytes: &[u8], start: usize) -> Vec<Insn> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < bytes.len() {
        let len = match arch {
            Arch::Thumb => thumb_len(u16::from_le_bytes([
                bytes[pos],
                *bytes.get(pos + 1).unwrap_or(&0),
            ])),
            _ => 4,
        };
        let end = (pos + len).min(bytes.len());
        let chunk = &bytes[pos..end];
        match (end - pos == len).then(|| one(arch, chunk)).flatten() {
            Some(text) => {
                let (mnemonic, operands) = split(&text);
                out.push(Insn {
                    offset: pos,
                    bytes: chunk.to_vec(),
                    mnemonic,
                    operands,
                    comment: String::new(),
                });
            }
            None => out.push(bad(pos, chunk)),
        }
        pos = end;
    }
    out
}

/// BUG()/WARN() and breakpoints: `brk` on arm64, `udf` (and the
/// undefined encodings arm's BUG() uses) on arm.
pub fn deliberate_trap(mnemonic: &str) -> bool {
    matches!(mnemonic, "brk" | "udf" | "bkpt" | "(bad)")
}
