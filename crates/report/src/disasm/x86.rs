//! x86-64 decoding with iced-x86, formatted like GNU objdump's AT&T
//! output (`objdump -D -b binary -m i386:x86-64`).

use super::Insn;
use iced_x86::{
    Decoder, DecoderError, DecoderOptions, Formatter, GasFormatter, Instruction, OpKind,
    SymbolResolver, SymbolResult,
};

/// objdump decodes the bytes as a raw binary whose addresses are 32 bits
/// wide: a branch before offset 0 prints as `0xfe148f0f`, not
/// `0xfffffffffe148f0f`.
struct ObjdumpTargets;

impl SymbolResolver for ObjdumpTargets {
    fn symbol(
        &mut self,
        instruction: &Instruction,
        operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        let branch = matches!(
            instruction.op_kind(operand),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        );
        branch.then(|| SymbolResult::with_string(address, format!("0x{:x}", address & 0xffff_ffff)))
    }
}

fn formatter() -> GasFormatter {
    let mut f = GasFormatter::with_options(Some(Box::new(ObjdumpTargets)), None);
    let o = f.options_mut();
    o.set_uppercase_hex(false);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_small_hex_numbers_in_decimal(false);
    o.set_leading_zeros(false);
    o.set_rip_relative_addresses(true);
    o.set_branch_leading_zeros(false);
    o.set_space_after_operand_separator(false);
    o.set_show_branch_size(false);
    f
}

/// Decodes `bytes` from offset `start` to the end. Bytes that do not make
/// a whole instruction (the line cut one) come out as `.byte 0x..`, one
/// per line, as objdump prints them; an invalid opcode as `(bad)`.
pub fn decode(bytes: &[u8], start: usize) -> Vec<Insn> {
    let mut out = Vec::new();
    let mut f = formatter();
    let mut pos = start;
    while pos < bytes.len() {
        let mut d = Decoder::with_ip(64, &bytes[pos..], pos as u64, DecoderOptions::NONE);
        let insn = d.decode();
        if insn.is_invalid() {
            let text = match d.last_error() {
                DecoderError::NoMoreBytes => format!(".byte 0x{:x}", bytes[pos]),
                _ => "(bad)".to_string(),
            };
            out.push(Insn {
                offset: pos,
                bytes: vec![bytes[pos]],
                mnemonic: text,
                operands: String::new(),
                comment: String::new(),
            });
            pos += 1;
            continue;
        }
        let len = insn.len();
        let mut mnemonic = String::new();
        f.format_mnemonic(&insn, &mut mnemonic);
        let mut operands = String::new();
        f.format_all_operands(&insn, &mut operands);
        let operands = show_scale_one(&operands);
        let comment = if insn.is_ip_rel_memory_operand() {
            format!("0x{:x}", insn.ip_rel_memory_address() & 0xffff_ffff)
        } else {
            String::new()
        };
        out.push(Insn {
            offset: pos,
            bytes: bytes[pos..pos + len].to_vec(),
            mnemonic,
            operands,
            comment,
        });
        pos += len;
    }
    out
}

/// objdump writes a scale of 1 (`(%rdx,%rax,1)`); iced omits it (its
/// always-show-scale option also puts a stray comma after a lone base).
fn show_scale_one(operands: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"\(([^(),]*),(%[a-z0-9]+)\)").expect("scale regex"));
    re.replace_all(operands, "($1,$2,1)").into_owned()
}

/// The mnemonics of instructions a kernel executes on purpose to stop:
/// BUG()/WARN() (`ud2`, `ud1`) and breakpoints. Their disassembly tells a
/// reader nothing the report header does not.
pub fn deliberate_trap(mnemonic: &str) -> bool {
    matches!(mnemonic, "ud2" | "ud1" | "ud0" | "int3")
}
