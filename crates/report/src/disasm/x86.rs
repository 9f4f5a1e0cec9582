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
    // objdump prints an encoded zero displacement (`nopw 0x0(%rax,%rax,1)`)
    // and the prefixes an instruction ignores (`fs add ...`): padding and
    // misaligned bytes look like objdump's only with both.
    o.set_show_zero_displacements(true);
    o.set_show_useless_prefixes(true);
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
                DecoderError::NoMoreBytes => prefix_name(bytes[pos])
                    .map_or_else(|| format!(".byte 0x{:x}", bytes[pos]), str::to_string),
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
        objdump_spelling(&insn, &bytes[pos..pos + len], &mut mnemonic, &mut operands);
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

/// Where iced's GAS syntax and objdump's differ on the same instruction,
/// objdump's spelling (binutils 2.40; checked by tests/disasm_objdump.rs).
fn objdump_spelling(
    insn: &Instruction,
    bytes: &[u8],
    mnemonic: &mut String,
    operands: &mut String,
) {
    let code = format!("{:?}", insn.code());
    *operands = show_scale_one(operands);
    // The indirect call/jmp and push/pop size suffix: binutils dropped it
    // in 2.37 (iced keeps `callq *0x10(%rax)`).
    for (with, without) in [
        ("callq", "call"),
        ("jmpq", "jmp"),
        ("pushq", "push"),
        ("popq", "pop"),
        ("lcalll", "lcall"),
        ("ljmpl", "ljmp"),
    ] {
        if let Some(p) = mnemonic.strip_suffix(with) {
            *mnemonic = format!("{p}{without}");
        }
    }
    let base = mnemonic.rsplit(' ').next().unwrap_or_default().to_string();
    // No implicit 1 in the shift-by-one forms (d0/d1: `shr %r15`).
    if code.ends_with("_1") {
        if let Some(rest) = operands.strip_prefix("$0x1,") {
            *operands = rest.to_string();
        }
    }
    // The port of in/out is written (%dx).
    if ["in", "out", "ins", "outs"]
        .iter()
        .any(|m| base.starts_with(m))
    {
        *operands = operands.replace("%dx", "(%dx)");
    }
    objdump_segments(insn, mnemonic, operands);
    let prefixes = &bytes[..bytes
        .iter()
        .take_while(|b| prefix_name(**b).is_some() && !(0x40..=0x4f).contains(*b))
        .count()];
    // Operand-size prefixes beyond the first do nothing; objdump names
    // each (`data16 data16 cs nopw`, gcc's long nops).
    // One is used, unless REX.W overrides it (and it is no SSE
    // mandatory prefix).
    let size_prefixes = prefixes.iter().filter(|&&b| b == 0x66).count();
    let rex_w = bytes
        .get(prefixes.len())
        .is_some_and(|b| (0x48..=0x4f).contains(b));
    let used = usize::from(!rex_w || operands.contains("%xmm"));
    if size_prefixes > used {
        *mnemonic = format!("{}{mnemonic}", "data16 ".repeat(size_prefixes - used));
    }
    // An address-size prefix without a memory operand does nothing.
    if prefixes.contains(&0x67) && !operands.contains('(') {
        *mnemonic = format!("addr32 {mnemonic}");
    }
    // `rep` before the string moves, `repz`/`repnz` anywhere else.
    let string_move = ["stos", "movs", "lods", "ins", "outs"]
        .iter()
        .any(|m| base.starts_with(m));
    if !string_move && mnemonic.starts_with("rep ") {
        mnemonic.insert(3, 'z');
    }
    for (iced, objdump) in [("repne ", "repnz "), ("repe ", "repz ")] {
        if let Some(rest) = mnemonic.strip_prefix(iced) {
            *mnemonic = format!("{objdump}{rest}");
        }
    }
    // The three-operand imul keeps its three operands.
    if code.starts_with("Imul_r")
        && insn.op_count() == 3
        && !operands.contains('(')
        && operands.split(',').count() == 2
    {
        let last = operands.rsplit(',').next().unwrap_or_default().to_string();
        *operands = format!("{operands},{last}");
    }
    if mnemonic == "iretl" || mnemonic == "lretl" {
        mnemonic.pop();
    }
    // The /6 encoding of shl is shl to objdump, sal to iced.
    if let Some(size) = mnemonic.strip_prefix("sal") {
        *mnemonic = format!("shl{size}");
    }
}

/// objdump's segment spelling. In 64-bit mode a cs/ds/es/ss override
/// does nothing, and objdump prints it as a prefix word (`cs nopw
/// 0x0(%rax,%rax,1)`, the padding gcc emits) where iced writes
/// `%cs:0x0(...)`; and it names the implicit %ds of string sources
/// (`lods %ds:(%rsi),%eax`), which iced leaves out.
fn objdump_segments(insn: &Instruction, mnemonic: &mut String, operands: &mut String) {
    use iced_x86::Register;
    let name = match insn.segment_prefix() {
        Register::CS => Some("cs"),
        Register::DS => Some("ds"),
        Register::ES => Some("es"),
        Register::SS => Some("ss"),
        _ => None,
    };
    if let Some(seg) = name {
        let inline = format!("%{seg}:");
        if operands.contains(&inline) {
            *operands = operands.replacen(&inline, "", 1);
            *mnemonic = format!("{seg} {mnemonic}");
        }
    }
    let code = format!("{:?}", insn.code());
    let string_source = ["Lods", "Outs", "Xlat"].iter().any(|p| code.starts_with(p))
        || (["Movs", "Cmps"].iter().any(|p| code.starts_with(p))
            && ["_m8_m8", "_m16_m16", "_m32_m32", "_m64_m64"]
                .iter()
                .any(|s| code.ends_with(s)));
    // ...and the implicit %es of string destinations (`stos %eax,%es:(%rdi)`).
    let string_dest = ["Stos", "Scas", "Ins"].iter().any(|p| code.starts_with(p))
        || (["Movs", "Cmps"].iter().any(|p| code.starts_with(p))
            && ["_m8_m8", "_m16_m16", "_m32_m32", "_m64_m64"]
                .iter()
                .any(|s| code.ends_with(s)));
    if string_dest {
        for reg in ["(%rdi)", "(%edi)"] {
            if let Some(at) = operands
                .find(reg)
                .filter(|&a| !operands[..a].ends_with(':'))
            {
                operands.insert_str(at, "%es:");
                break;
            }
        }
    }
    if string_source && name.is_none() {
        for reg in ["(%rsi)", "(%esi)", "(%rbx)", "(%ebx)"] {
            let at = operands.find(reg);
            if let Some(at) = at.filter(|&a| !operands[..a].ends_with(':')) {
                operands.insert_str(at, "%ds:");
                break;
            }
        }
    }
}

/// What objdump prints for a prefix byte the code line cuts off from its
/// instruction.
fn prefix_name(b: u8) -> Option<&'static str> {
    const REX: [&str; 16] = [
        "rex", "rex.B", "rex.X", "rex.XB", "rex.R", "rex.RB", "rex.RX", "rex.RXB", "rex.W",
        "rex.WB", "rex.WX", "rex.WXB", "rex.WR", "rex.WRB", "rex.WRX", "rex.WRXB",
    ];
    Some(match b {
        0x40..=0x4f => REX[usize::from(b - 0x40)],
        0x26 => "es",
        0x2e => "cs",
        0x36 => "ss",
        0x3e => "ds",
        0x64 => "fs",
        0x65 => "gs",
        0x66 => "data16",
        0x67 => "addr32",
        0xf0 => "lock",
        0xf2 => "repnz",
        0xf3 => "repz",
        _ => return None,
    })
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
