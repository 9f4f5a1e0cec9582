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
    if arch == Arch::Arm && ldrd_strd_pc(chunk) {
        return None;
    }
    // yaxpeax-arm 0.5 panics on a few encodings (see `ldrd_strd_pc`); a
    // report must never bring culprit down, so a panic is a `(bad)`.
    std::panic::catch_unwind(|| decode_one(arch, chunk))
        .ok()
        .flatten()
}

fn decode_one(arch: Arch, chunk: &[u8]) -> Option<String> {
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

/// LDRD/STRD (ARM state, "extra load/store" space: bits 27-25 = 000,
/// bit 7 = bit 4 = 1, op2 = 1x, L = 0) with Rt = r15: the pair would be
/// r15/r16, UNPREDICTABLE, and yaxpeax-arm 0.5 panics building r16. The
/// only panicking class a 2M random-word run found.
fn ldrd_strd_pc(chunk: &[u8]) -> bool {
    let Ok(w) = <[u8; 4]>::try_from(chunk) else {
        return false;
    };
    let w = u32::from_le_bytes(w);
    (w >> 25) & 7 == 0
        && (w >> 7) & 1 == 1
        && (w >> 4) & 1 == 1
        && (w >> 5) & 3 >= 2
        && (w >> 20) & 1 == 0
        && (w >> 12) & 0xf == 0xf
}

/// Closer to objdump: branch targets as addresses (`bls 0x50`, not
/// `$+0x50`), and on 32-bit ARM immediates as `#` and decimal (`add r3,
/// r5, #32`, `[r3, #-32]`; yaxpeax writes `0x20`). arm64 immediates are
/// already spelled as objdump spells them.
fn objdump_operands(arch: Arch, ops: &str, offset: usize) -> String {
    let parse_hex = |t: &str| -> Option<i64> {
        let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
        let v = i64::from_str_radix(t.strip_prefix("0x")?, 16).ok()?;
        Some(if neg { -v } else { v })
    };
    if let Some(rel) = ops.strip_prefix('$') {
        if let Some(v) = parse_hex(rel.trim_start_matches('+')) {
            let target = (offset as i64 + v) & 0xffff_ffff;
            return format!("0x{target:x}");
        }
    }
    if arch == Arch::Arm64 {
        return ops.to_string();
    }
    ops.split(", ")
        .map(|t| {
            let (open, t) = t.strip_prefix('[').map_or(("", t), |r| ("[", r));
            let (t, close) = t
                .strip_suffix("]!")
                .map(|r| (r, "]!"))
                .or_else(|| t.strip_suffix(']').map(|r| (r, "]")))
                .unwrap_or((t, ""));
            match parse_hex(t) {
                Some(v) => format!("{open}#{v}{close}"),
                None => format!("{open}{t}{close}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
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
                let operands = objdump_operands(arch, &operands, pos);
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
    matches!(mnemonic, "brk" | "udf" | "bkpt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encodings_yaxpeax_panics_on_are_bad() {
        // strd with Rt = r15, as found by fuzzing.
        for w in [0x71eb_f3f2_u32, 0x11e2_faf1] {
            assert!(ldrd_strd_pc(&w.to_le_bytes()));
            let d = decode(Arch::Arm, &w.to_le_bytes(), 0);
            assert_eq!(d[0].mnemonic, "(bad)");
        }
        // strd r2, r3 is fine.
        assert!(!ldrd_strd_pc(&0xe1c0_20f0_u32.to_le_bytes()));
        assert_eq!(
            decode(Arch::Arm, &0xe1c0_20f0_u32.to_le_bytes(), 0)[0].mnemonic,
            "strd"
        );
    }
}
