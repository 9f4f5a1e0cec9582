//! x86-64 decoding with iced-x86, formatted like GNU objdump's AT&T
//! output (`objdump -D -b binary -m i386:x86-64`).

use super::Insn;
use iced_x86::{
    Decoder, DecoderError, DecoderOptions, Formatter, GasFormatter, Instruction, OpKind, Register,
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
        let (insn, d) = decode_one(&bytes[pos..], pos as u64);
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

/// One instruction as objdump decodes it: Intel's encodings with MPX (ud0 takes
/// a ModRM byte), except that 0x66 shortens a branch's offset to 16 bits
/// as on AMD, objdump's default.
fn decode_one(bytes: &[u8], ip: u64) -> (Instruction, Decoder<'_>) {
    let mut d = Decoder::with_ip(64, bytes, ip, DecoderOptions::MPX);
    let insn = d.decode();
    let prefixes = bytes.iter().take_while(|&&b| prefix_name(b).is_some());
    if (insn.is_invalid() || is_branch(&insn)) && prefixes.clone().any(|&b| b == 0x66) {
        let mut amd = Decoder::with_ip(64, bytes, ip, DecoderOptions::AMD | DecoderOptions::MPX);
        let other = amd.decode();
        // Only where the offset itself shrinks; a short jump's 0x66 stays
        // the prefix that does nothing.
        if !other.is_invalid()
            && is_branch(&other)
            && (insn.is_invalid() || other.len() != insn.len())
        {
            return (other, amd);
        }
    }
    (insn, d)
}

fn is_branch(insn: &Instruction) -> bool {
    use iced_x86::Mnemonic as M;
    let relative = (0..insn.op_count()).any(|k| {
        matches!(
            insn.op_kind(k),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        )
    });
    relative || matches!(insn.mnemonic(), M::Ret | M::Call | M::Jmp)
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
    // iced writes a 0x66 it cannot place as a byte; it does nothing.
    *mnemonic = mnemonic.replace(IGNORED_66, "");
    // A jcc with a 16-bit offset is plain `je` to objdump.
    if code.ends_with("_rel16") {
        *mnemonic = mnemonic.replacen("data16 ", "", 1);
        if code == "Jmp_rel16" {
            mnemonic.push('w');
        }
    }
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
    // iced leaves out an x87 operand that is %st(1) by default; objdump
    // writes it, the other register first (AT&T order).
    if operands.is_empty() && base.starts_with('f') && insn.op_count() == 2 {
        let st = |r: Register| {
            let n = r as u32 - Register::ST0 as u32;
            if n == 0 {
                "%st".to_string()
            } else {
                format!("%st({n})")
            }
        };
        let (a, b) = (insn.op_register(0), insn.op_register(1));
        if b == Register::ST0 && a != Register::ST0 {
            *operands = format!("%st,{}", st(a));
        } else if a == Register::ST0 && b != Register::ST0 {
            *operands = st(b);
        }
    }
    // The reserved nops (0f 19..0f 1f) name only their r/m operand, and
    // the size of the register they leave out.
    if base.starts_with("nop") {
        let mut depth = 0i32;
        let top_comma = operands.char_indices().rev().find(|&(_, c)| {
            depth += i32::from(c == ')') - i32::from(c == '(');
            c == ',' && depth == 0
        });
        if let Some((reg, rm)) = top_comma.map(|(at, _)| (&operands[..at], &operands[at + 1..])) {
            let rm = rm.to_string();
            if rm.contains('(') && base == "nop" {
                let size = match reg.as_bytes().get(1) {
                    Some(b'r') => "q",
                    Some(b'e') => "l",
                    _ => "w",
                };
                mnemonic.push_str(size);
            }
            *operands = rm;
        }
    }
    // The x87 controls later chips ignore carry objdump's note.
    for (old, note) in [
        ("fneni", "(8087 only)"),
        ("fndisi", "(8087 only)"),
        ("fnsetpm", "(287 only)"),
        ("frstpm", "(287 only)"),
    ] {
        if base == old {
            mnemonic.push_str(note);
        }
    }
    // Debug registers are %db0..%db7.
    *operands = operands.replace("%dr", "%db");
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
    // each (`data16 data16 cs nopw`, gcc's long nops). The first does
    // nothing either when the instruction reads the same without it: a
    // byte operation, a conditional jump, a REX.W operand.
    let size_prefixes = prefixes.iter().filter(|&&b| b == 0x66).count();
    let used = usize::from(size_prefixes > 0 && size_prefix_matters(insn, bytes, prefixes.len()));
    if size_prefixes > used {
        *mnemonic = format!("{}{mnemonic}", "data16 ".repeat(size_prefixes - used));
    }
    let segments: Vec<&str> = prefixes
        .iter()
        .filter(|&&b| matches!(b, 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65))
        .filter_map(|&b| prefix_name(b))
        .collect();
    // On a conditional jump a lone cs or ds is a branch hint (`jne,pn`);
    // among other segment prefixes objdump names it as one.
    if segments.len() > 1 {
        for (hint, seg) in [(",pn", "cs"), (",pt", "ds")] {
            if let Some(rest) = mnemonic.strip_suffix(hint) {
                *mnemonic = format!("{seg} {rest}");
            }
        }
    }
    let cx_jump =
        base.starts_with("jrcxz") || base.starts_with("jecxz") || base.starts_with("loop");
    if segments.len() == 1 && cx_jump {
        for (seg, hint) in [("cs ", ",pn"), ("ds ", ",pt")] {
            if let Some(rest) = mnemonic.strip_prefix(seg) {
                *mnemonic = format!("{rest}{hint}");
            }
        }
    }
    // Only the last segment prefix counts; objdump names the ones before.
    if let Some((_, earlier)) = segments.split_last() {
        if !earlier.is_empty() {
            *mnemonic = format!("{} {mnemonic}", earlier.join(" "));
        }
    }
    // An address-size prefix without a memory operand does nothing,
    // unless the instruction counts in %ecx instead of %rcx.
    let counts_in_cx = base.starts_with("loop") || base.starts_with("jecxz");
    let memory = {
        let o = operands.replace("(%dx)", "");
        o.contains("(%") || o.contains("(,%")
    };
    if prefixes.contains(&0x67) && !memory && !counts_in_cx {
        *mnemonic = format!("addr32 {mnemonic}");
    }
    // `rep` before the string moves, `repz`/`repnz` anywhere else.
    let string_move = ["stos", "movs", "lods", "ins", "outs"].iter().any(|m| {
        base.strip_prefix(m)
            .is_some_and(|size| ["", "b", "w", "l", "q"].contains(&size))
    });
    *mnemonic = mnemonic
        .split(' ')
        .map(|w| match w {
            "rep" if !string_move => "repz",
            "repe" => "repz",
            "repne" => "repnz",
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ");
    // Before a locked or memory-writing instruction, 0xf2/0xf3 are the
    // lock elision hints, and objdump names only the hint.
    for hint in ["xacquire ", "xrelease "] {
        if mnemonic.contains(hint) {
            *mnemonic = mnemonic
                .split(' ')
                .filter(|w| !["rep", "repe", "repne", "repz", "repnz"].contains(w))
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    // On a branch, 0xf2 is MPX's bnd (not on the %rcx-counting ones).
    if is_branch(insn) && !counts_in_cx && !base.starts_with("jrcxz") {
        *mnemonic = mnemonic
            .split(' ')
            .map(|w| {
                if w == "repne" || w == "repnz" {
                    "bnd"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
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
    if base == "iretl" || base == "lretl" {
        mnemonic.pop();
    }
    // The /6 encoding of shl is shl to objdump, sal to iced.
    if let Some(size) = mnemonic.strip_prefix("sal") {
        *mnemonic = format!("shl{size}");
    }
    // Of 0xf2 and 0xf3 only the last counts; objdump names the ones before.
    let reps: Vec<&str> = prefixes
        .iter()
        .filter_map(|&b| match b {
            0xf2 => Some("repnz"),
            0xf3 => Some("repz"),
            _ => None,
        })
        .collect();
    if let Some((_, earlier)) = reps.split_last() {
        if !earlier.is_empty() {
            *mnemonic = format!("{} {mnemonic}", earlier.join(" "));
        }
    }
    *mnemonic = in_byte_order(mnemonic, prefixes);
}

/// objdump names prefixes in the order of their bytes; iced and the rules
/// above put them in their own order.
fn in_byte_order(mnemonic: &str, prefixes: &[u8]) -> String {
    let bytes_of = |w: &str| -> &'static [u8] {
        match w {
            "data16" => &[0x66],
            "addr32" => &[0x67],
            "cs" => &[0x2e],
            "ds" => &[0x3e],
            "es" => &[0x26],
            "ss" => &[0x36],
            "fs" => &[0x64],
            "gs" => &[0x65],
            "lock" => &[0xf0],
            "rep" | "repz" | "xrelease" => &[0xf3],
            "repnz" | "xacquire" | "bnd" => &[0xf2],
            _ => &[],
        }
    };
    let words: Vec<&str> = mnemonic.split(' ').collect();
    let named = words.iter().take_while(|w| !bytes_of(w).is_empty()).count();
    let mut taken = vec![false; prefixes.len()];
    let mut keyed: Vec<(usize, &str)> = Vec::new();
    for w in &words[..named] {
        let at = prefixes
            .iter()
            .enumerate()
            .position(|(i, b)| !taken[i] && bytes_of(w).contains(b));
        let Some(at) = at else {
            // A word with no byte of its own: leave the order alone.
            return mnemonic.to_string();
        };
        taken[at] = true;
        keyed.push((at, w));
    }
    keyed.sort_by_key(|(at, _)| *at);
    keyed
        .iter()
        .map(|(_, w)| *w)
        .chain(words[named..].iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

const IGNORED_66: &str = ".byte 0x66; ";

/// Whether the instruction decodes differently once its 0x66 prefixes are
/// gone. The rest is decoded where it would end at the same address, so
/// relative branch and RIP-relative targets compare equal.
fn size_prefix_matters(insn: &Instruction, bytes: &[u8], prefix_len: usize) -> bool {
    let stripped: Vec<u8> = bytes[..prefix_len]
        .iter()
        .copied()
        .filter(|&b| b != 0x66)
        .chain(bytes[prefix_len..].iter().copied())
        .collect();
    let removed = (bytes.len() - stripped.len()) as u64;
    let mut d = Decoder::with_ip(64, &stripped, insn.ip() + removed, DecoderOptions::MPX);
    let other = d.decode();
    if other.is_invalid() || other.len() != stripped.len() {
        return true;
    }
    let mut f = formatter();
    let (mut a, mut b) = (String::new(), String::new());
    f.format(insn, &mut a);
    f.format(&other, &mut b);
    a.replace(IGNORED_66, "") != b
}

/// objdump's segment spelling. In 64-bit mode a cs/ds/es/ss override
/// does nothing, and objdump prints it as a prefix word (`cs nopw
/// 0x0(%rax,%rax,1)`, the padding gcc emits) where iced writes
/// `%cs:0x0(...)`; and it names the implicit %ds of string sources
/// (`lods %ds:(%rsi),%eax`), which iced leaves out.
fn objdump_segments(insn: &Instruction, mnemonic: &mut String, operands: &mut String) {
    let name = match insn.segment_prefix() {
        Register::CS => Some("cs"),
        Register::DS => Some("ds"),
        Register::ES => Some("es"),
        Register::SS => Some("ss"),
        _ => None,
    };
    if let Some(seg) = name {
        let inline = format!("%{seg}:");
        // A string destination's %es stays written, and is named once.
        if operands.contains(&inline) && !mnemonic.starts_with(&format!("{seg} ")) {
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
    if string_source && !matches!(insn.segment_prefix(), Register::FS | Register::GS) {
        // An ignored override of the source counts as used: objdump
        // writes the %ds the CPU takes instead of naming the prefix.
        if let Some(seg) = name {
            if let Some(rest) = mnemonic.strip_prefix(&format!("{seg} ")) {
                *mnemonic = rest.to_string();
            }
        }
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
