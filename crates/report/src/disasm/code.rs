//! The `Code:` line of an oops: the bytes around the interrupted
//! instruction, as the kernel's show_opcodes() (x86) and dump_instr()
//! (arm, arm64) print them.
//!
//! - x86: bytes, `Code: 48 89 fa <80> 3c 02 00`, the byte at RIP in `<>`;
//! - arm64 and arm (ARM state): 32-bit words, `Code: e2422008 (e5034020)`,
//!   the word at pc in `()`;
//! - arm Thumb: 16-bit halfwords, `Code: 4770 (f8d3) 3004`.
//!
//! Words are printed as numbers, so they are stored little-endian, as the
//! CPU fetched them.

use super::{Arch, Error};

/// Bytes of a `Code:` line and where the trapping instruction starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub arch: Arch,
    pub bytes: Vec<u8>,
    /// Offset of the trapping byte/word in `bytes`.
    pub trap: usize,
}

/// Parses the text after `Code:`. `arch` decides between arm and arm64 for
/// 32-bit words (both print them the same way); bytes are x86 and
/// halfwords Thumb whatever it says.
pub fn parse(text: &str, arch: Arch) -> Result<Code, Error> {
    let body = text.trim();
    let body = body.strip_prefix("Code:").unwrap_or(body).trim();
    if body.is_empty() {
        return Err(Error::NoCode);
    }
    let mut bytes = Vec::new();
    let mut trap = None;
    let mut width = None;
    for tok in body.split_whitespace() {
        let (hex, marked) = match tok
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .or_else(|| tok.strip_prefix('(').and_then(|t| t.strip_suffix(')')))
        {
            Some(inner) => (inner, true),
            None => (tok, false),
        };
        if !(matches!(hex.len(), 2 | 4 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())) {
            // "Unable to access opcode bytes at RIP ...", "Bad RIP value.":
            // the kernel could not read the code.
            return Err(Error::Unreadable(body.chars().take(80).collect()));
        }
        if *width.get_or_insert(hex.len()) != hex.len() {
            return Err(Error::Malformed(format!(
                "{tok:?} is not {} hex digits like the tokens before it",
                width.unwrap_or(0)
            )));
        }
        if marked {
            if trap.is_some() {
                return Err(Error::Malformed("two trapping instructions marked".into()));
            }
            trap = Some(bytes.len());
        }
        let v = u32::from_str_radix(hex, 16).map_err(|e| Error::Malformed(e.to_string()))?;
        match hex.len() {
            2 => bytes.push(v as u8),
            4 => bytes.extend_from_slice(&(v as u16).to_le_bytes()),
            _ => bytes.extend_from_slice(&v.to_le_bytes()),
        }
    }
    let arch = match width {
        Some(2) => Arch::X86_64,
        Some(4) => Arch::Thumb,
        _ if arch == Arch::Arm64 => Arch::Arm64,
        _ if matches!(arch, Arch::Arm | Arch::Thumb) => Arch::Arm,
        _ => {
            return Err(Error::Malformed(
                "32-bit words but the architecture is neither arm nor arm64".into(),
            ))
        }
    };
    let trap = trap.ok_or_else(|| {
        Error::Malformed("no trapping instruction marked with <..> or (..)".into())
    })?;
    Ok(Code { arch, bytes, trap })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_bytes_and_the_marked_one() {
        let c = parse("Code: 48 89 fa 48 c1 ea 03 <80> 3c 02 00", Arch::X86_64).unwrap();
        assert_eq!(c.arch, Arch::X86_64);
        assert_eq!(
            c.bytes,
            [0x48, 0x89, 0xfa, 0x48, 0xc1, 0xea, 0x03, 0x80, 0x3c, 0x02, 0x00]
        );
        assert_eq!(c.trap, 7);
    }

    #[test]
    fn words_are_little_endian_and_arch_decides() {
        let c = parse("Code: 8b010273 (39000274) ", Arch::Arm64).unwrap();
        assert_eq!(c.bytes, [0x73, 0x02, 0x01, 0x8b, 0x74, 0x02, 0x00, 0x39]);
        assert_eq!((c.arch, c.trap), (Arch::Arm64, 4));
        let c = parse("e2422008 (e5034020)", Arch::Arm).unwrap();
        assert_eq!(c.arch, Arch::Arm);
        assert!(parse("e2422008 (e5034020)", Arch::X86_64).is_err());
        let c = parse("Code: 4770 (f8d3) 3004", Arch::Arm).unwrap();
        assert_eq!((c.arch, c.trap), (Arch::Thumb, 2));
        assert_eq!(c.bytes, [0x70, 0x47, 0xd3, 0xf8, 0x04, 0x30]);
    }

    #[test]
    fn unreadable_and_malformed_lines_are_errors() {
        let e = parse(
            "Code: Unable to access opcode bytes at RIP 0xffffffffffffffd6.",
            Arch::X86_64,
        );
        assert!(matches!(e, Err(Error::Unreadable(_))), "{e:?}");
        assert!(matches!(
            parse("Code: Bad RIP value.", Arch::X86_64),
            Err(Error::Unreadable(_))
        ));
        assert!(matches!(parse("Code: ", Arch::X86_64), Err(Error::NoCode)));
        assert!(matches!(
            parse("48 89 fa", Arch::X86_64),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            parse("48 <89> <fa>", Arch::X86_64),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            parse("48 8989 <fa>", Arch::X86_64),
            Err(Error::Malformed(_))
        ));
    }
}
