//! The `Code:` bytes of an oops, disassembled with the trapping
//! instruction marked, as syzkaller's "Code disassembly (best guess)"
//! block shows them:
//!
//! ```text
//! (tabs shown as spaces)
//!   26:   48 c1 ea 03             shr    $0x3,%rdx
//! * 2a:   80 3c 02 00             cmpb   $0x0,(%rdx,%rax,1) <-- trapping instruction
//! ```
//!
//! x86-64 is decoded by iced-x86 and spelled like objdump (binutils 2.40,
//! `-m i386 -M x86-64` as syzkaller runs it); arm64, arm and Thumb by
//! yaxpeax-arm, adjusted to objdump's spelling of branch targets and ARM
//! immediates; objdump's `// #...` and `@ 0x...` value comments are not
//! reproduced (see `tests/disasm_syzkaller.rs`).
//!
//! The bytes before the trapping one are a guess: the line starts at a
//! fixed distance before the faulting address, often inside an
//! instruction. Decoding starts at the first byte; when no instruction
//! then starts at the trapping byte, the first bytes are skipped, the
//! fewest that make one start there (those bytes are not shown).
//! Offsets stay those of the `Code:` line.
//!
//! Pure text and bytes: no I/O, no panic on any input.

mod arm;
mod code;
mod x86;

pub use code::{parse as parse_code, Code};

/// Instruction sets whose `Code:` line this module decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
    /// 32-bit ARM, ARM state.
    Arm,
    /// 32-bit ARM, Thumb state.
    Thumb,
}

impl Arch {
    /// The architecture a report comes from, from its register dump.
    pub fn guess(report: &str) -> Option<Arch> {
        if report.contains("RIP: ") {
            Some(Arch::X86_64)
        } else if report.contains("pstate: ") || report.contains("x29: ") {
            Some(Arch::Arm64)
        } else if report.contains("ISA Thumb") {
            Some(Arch::Thumb)
        } else if report.contains("PC is at ") || report.contains(" psr: ") {
            Some(Arch::Arm)
        } else {
            None
        }
    }
}

/// Why a `Code:` line was not disassembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the Code: line has no bytes")]
    NoCode,
    #[error("the kernel could not read the code bytes: {0:?}")]
    Unreadable(String),
    #[error("malformed Code: line: {0}")]
    Malformed(String),
}

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insn {
    /// Offset of its first byte in the `Code:` line.
    pub offset: usize,
    pub bytes: Vec<u8>,
    /// With prefixes (`lock cmpxchg`); `.byte 0x0f` for a cut-off
    /// instruction, `(bad)` for an invalid one.
    pub mnemonic: String,
    pub operands: String,
    /// objdump's `# 0x...` target of a RIP-relative operand, if any.
    pub comment: String,
}

/// A decoded `Code:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disassembly {
    pub code: Code,
    pub insns: Vec<Insn>,
    /// Index in `insns` of the trapping instruction, when one starts at
    /// the trapping byte.
    pub trapping: Option<usize>,
}

impl Disassembly {
    /// The trapping instruction.
    pub fn trapping_insn(&self) -> Option<&Insn> {
        self.insns.get(self.trapping?)
    }

    /// Whether the trapping instruction is one the kernel executes on
    /// purpose (BUG()/WARN()'s `ud2`, arm64's `brk`): disassembling it
    /// tells nothing the report's header does not.
    pub fn traps_on_purpose(&self) -> bool {
        self.trapping_insn().is_some_and(|i| match self.code.arch {
            Arch::X86_64 => x86::deliberate_trap(&i.mnemonic),
            _ => arm::deliberate_trap(&i.mnemonic),
        })
    }

    /// The objdump-like lines, the trapping one marked.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (n, i) in self.insns.iter().enumerate() {
            let marked = Some(n) == self.trapping;
            render_insn(self.code.arch, i, marked, &mut out);
        }
        out
    }
}

/// Decodes a parsed `Code:` line.
pub fn disassemble(code: &Code) -> Disassembly {
    let decode = |start: usize| match code.arch {
        Arch::X86_64 => x86::decode(&code.bytes, start),
        arch => arm::decode(arch, &code.bytes, start),
    };
    let find = |insns: &[Insn]| insns.iter().position(|i| i.offset == code.trap);
    // Fixed-width sets are aligned by construction; x86 may need a skip.
    let max_skip = match code.arch {
        Arch::X86_64 => code.trap.min(15),
        _ => 0,
    };
    for skip in 0..=max_skip {
        let insns = decode(skip);
        if let Some(t) = find(&insns) {
            return Disassembly {
                code: code.clone(),
                insns,
                trapping: Some(t),
            };
        }
    }
    Disassembly {
        code: code.clone(),
        insns: decode(0),
        trapping: None,
    }
}

/// `bytes` as objdump shows them: x86 bytes 7 to a line, ARM words and
/// Thumb halfwords as numbers.
fn render_insn(arch: Arch, i: &Insn, marked: bool, out: &mut String) {
    let head = |offset: usize| {
        let h = format!("{offset:>4x}:");
        if marked && offset == i.offset {
            format!("*{}", &h[1..])
        } else {
            h
        }
    };
    let mut asm = if i.operands.is_empty() {
        i.mnemonic.clone()
    } else {
        match arch {
            Arch::X86_64 => format!("{:<6} {}", i.mnemonic, i.operands),
            _ => format!("{}\t{}", i.mnemonic, i.operands),
        }
    };
    if !i.comment.is_empty() {
        asm.push_str(&format!("        # {}", i.comment));
    }
    if marked {
        asm.push_str(" <-- trapping instruction");
    }
    match arch {
        Arch::X86_64 => {
            let mut chunks = i.bytes.chunks(7);
            let first: String = chunks
                .next()
                .unwrap_or_default()
                .iter()
                .map(|b| format!("{b:02x} "))
                .collect();
            out.push_str(&format!("{}\t{first:<21}\t{asm}\n", head(i.offset)));
            for (n, rest) in chunks.enumerate() {
                let hex: Vec<String> = rest.iter().map(|b| format!("{b:02x}")).collect();
                out.push_str(&format!(
                    "{}\t{}\n",
                    head(i.offset + 7 * (n + 1)),
                    hex.join(" ")
                ));
            }
        }
        Arch::Thumb => {
            let hex: Vec<String> = i
                .bytes
                .chunks(2)
                .map(|h| {
                    format!(
                        "{:04x}",
                        u16::from_le_bytes([h[0], *h.get(1).unwrap_or(&0)])
                    )
                })
                .collect();
            out.push_str(&format!(
                "{}\t{:<10}\t{asm}\n",
                head(i.offset),
                hex.join(" ")
            ));
        }
        Arch::Arm | Arch::Arm64 => {
            let mut w = [0u8; 4];
            w[..i.bytes.len().min(4)].copy_from_slice(&i.bytes[..i.bytes.len().min(4)]);
            out.push_str(&format!(
                "{}\t{:08x} \t{asm}\n",
                head(i.offset),
                u32::from_le_bytes(w)
            ));
        }
    }
}

/// The first `Code:` line of the report's first oops, when disassembling
/// it helps: the report is an exception the kernel died on (its header
/// carries the `[#N]` oops count that die() prints; a WARNING, a stall's
/// NMI backtrace or a dump_stack() prints none, and their code is not
/// where anything trapped), the code is kernel code (x86 prints user-mode
/// `Code:` after a `RIP: 0033:`), and the trapping instruction is not a
/// deliberate BUG()/breakpoint.
pub fn report_code(report: &str) -> Option<Disassembly> {
    let arch = Arch::guess(report)?;
    let oops = report.lines().position(is_oops_header)?;
    let lines: Vec<&str> = report.lines().collect();
    let mut user_rip = false;
    for l in &lines[oops..] {
        if let Some(rest) = l.split("RIP: ").nth(1) {
            // Kernel code segments are 0010 (64-bit) and 0060 (32-bit).
            user_rip = !(rest.starts_with("0010:") || rest.starts_with("0060:"));
        }
        let Some(at) = l.find("Code: ") else {
            continue;
        };
        if user_rip {
            continue;
        }
        let d = disassemble(&code::parse(&l[at..], arch).ok()?);
        return (d.trapping.is_some() && !d.traps_on_purpose()).then_some(d);
    }
    None
}

/// die()'s header: `...: 0000 [#1] PREEMPT SMP KASAN` (x86),
/// `Internal error: Oops: 96000005 [#1] PREEMPT SMP` (arm, arm64).
fn is_oops_header(line: &str) -> bool {
    let Some(at) = line.find(" [#") else {
        return false;
    };
    let rest = &line[at + 3..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with(']')
}

/// The "Code disassembly (best guess):" block for a report, if
/// [`report_code`] finds code worth showing.
pub fn report_block(report: &str) -> Option<String> {
    let d = report_code(report)?;
    Some(format!("Code disassembly (best guess):\n{}", d.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86(line: &str) -> Disassembly {
        disassemble(&parse_code(line, Arch::X86_64).unwrap())
    }

    #[test]
    fn the_trapping_line_is_starred_and_annotated() {
        // mov %rdi,%rdx; shr $0x3,%rdx; cmpb $0x0,(%rdx,%rax,1); jne
        let d = x86("Code: 48 89 fa 48 c1 ea 03 <80> 3c 02 00 75 02");
        assert_eq!(
            d.render(),
            "   0:\t48 89 fa             \tmov    %rdi,%rdx\n\
             \x20  3:\t48 c1 ea 03          \tshr    $0x3,%rdx\n\
             *  7:\t80 3c 02 00          \tcmpb   $0x0,(%rdx,%rax,1) <-- trapping instruction\n\
             \x20  b:\t75 02                \tjne    0xf\n"
        );
    }

    #[test]
    fn long_instructions_wrap_and_cut_ones_are_bytes() {
        // movabs $0xdffffc0000000000,%rax (10 bytes), then a cut jne rel32.
        let d = x86("<48> b8 00 00 00 00 00 fc ff df 0f 84");
        assert_eq!(
            d.render(),
            "*  0:\t48 b8 00 00 00 00 00 \tmovabs $0xdffffc0000000000,%rax <-- trapping instruction\n\
             \x20  7:\tfc ff df\n\
             \x20  a:\t0f                   \t.byte 0xf\n\
             \x20  b:\t84                   \t.byte 0x84\n"
        );
    }

    #[test]
    fn decoding_skips_bytes_until_the_trap_starts_an_instruction() {
        // From byte 0, "b8 .. .. .. .." (mov imm32) swallows the marked
        // byte; skipping one byte aligns on "90" (nop) then the trap.
        let d = x86("b8 90 90 90 <c3> 90");
        let t = d.trapping_insn().unwrap();
        assert_eq!((t.offset, t.mnemonic.as_str()), (4, "ret"));
        assert_eq!(d.insns[0].offset, 1);
        assert!(!d.traps_on_purpose());
    }

    #[test]
    fn an_operand_size_prefix_that_changes_nothing_is_named() {
        let first = |line: &str| {
            let i = &x86(line).insns[0];
            format!("{} {}", i.mnemonic, i.operands)
        };
        // Byte operations and conditional jumps have no 16-bit form.
        assert_eq!(first("<66> 08 ff"), "data16 or %bh,%bh");
        assert_eq!(first("<66> 7b 08"), "data16 jnp 0xb");
        assert_eq!(first("<66> e3 ff"), "data16 jrcxz 0x2");
        // objdump decodes as AMD does: 0x66 makes a call's offset 16 bits.
        assert_eq!(first("<66> e8 4d 8b"), "callw 0x8b51");
        // REX.W wins over 0x66.
        assert_eq!(first("<66> 48 89 c0"), "data16 mov %rax,%rax");
        // Where it makes the operand 16 bits, or selects the SSE form,
        // it is part of the instruction.
        assert_eq!(first("<66> 89 c0"), "mov %ax,%ax");
        assert_eq!(first("<66> 0f 6f c1"), "movdqa %xmm1,%xmm0");
        // Every prefix past the first is padding.
        assert_eq!(first("<66> 66 89 c0"), "data16 mov %ax,%ax");
    }

    #[test]
    fn prefixes_that_do_nothing_are_named_as_objdump_names_them() {
        let first = |line: &str| {
            let i = &x86(line).insns[0];
            format!("{} {}", i.mnemonic, i.operands)
                .trim_end()
                .to_string()
        };
        // Only the last segment override counts.
        assert_eq!(
            first("<3e> 64 48 8b 04 25 28 00 00 00"),
            "ds mov %fs:0x28,%rax"
        );
        assert_eq!(first("<2e> 2e 2e 00 45 85"), "cs cs cs add %al,-0x7b(%rbp)");
        assert_eq!(first("<3e> 3e a5"), "ds movsl %ds:(%rsi),%es:(%rdi)");
        // An override of a string source is taken as %ds.
        assert_eq!(first("<2e> a5"), "movsl %ds:(%rsi),%es:(%rdi)");
        // 0x67 makes loop and jrcxz count in %ecx.
        assert_eq!(first("<67> e2 00"), "loopl 0x3");
        assert_eq!(first("<67> e3 00"), "jecxz 0x3");
        assert_eq!(first("<67> 90"), "addr32 nop");
        assert_eq!(first("<36> cf"), "ss iret");
        // In the order of their bytes.
        assert_eq!(first("<65> 67 79 6c"), "gs addr32 jns 0x70");
        assert_eq!(first("<3e> 2e 74 31"), "ds cs je 0x35");
        assert_eq!(first("<f2> eb 0b"), "bnd jmp 0xe");
        assert_eq!(first("<f2> e3 ff"), "repnz jrcxz 0x2");
        assert_eq!(first("<2e> 75 27"), "jne,pn 0x2a");
        assert_eq!(first("<2e> e3 01"), "jrcxz,pn 0x4");
        assert_eq!(first("<66> 76 f7"), "data16 jbe 0xfffffffa");
        assert_eq!(first("<66> 0f 84 00 00"), "je 0x5");
        assert_eq!(first("<66> e9 ff ff"), "jmpw 0x3");
        assert_eq!(first("<f3> f3 10 00"), "repz repz adc %al,(%rax)");
        assert_eq!(
            first("<f2> f2 a4"),
            "repnz repnz movsb %ds:(%rsi),%es:(%rdi)"
        );
        assert_eq!(first("<0f> 1e fa"), "nop %edx");
        assert_eq!(first("<0f> 1e 00"), "nopl (%rax)");
        assert_eq!(first("<f3> 2e 00 0f"), "repz cs add %cl,(%rdi)");
        assert_eq!(first("<f3> 48 63 d0"), "repz movslq %eax,%rdx");
        assert_eq!(first("<f3> a4"), "rep movsb %ds:(%rsi),%es:(%rdi)");
        assert_eq!(first("<67> de ff"), "addr32 fdivrp %st,%st(7)");
        assert_eq!(first("<f3> f2 ff 48 8b"), "repz repnz decl -0x75(%rax)");
        assert_eq!(first("<67> ed"), "addr32 in (%dx),%eax");
        assert_eq!(first("<0f> 23 ff"), "mov %rdi,%db7");
        // ud0 takes a ModRM byte.
        assert_eq!(first("<0f> ff ff"), "ud0 %edi,%edi");
        // The lock elision hints.
        assert_eq!(first("<f3> 48 89 03"), "xrelease mov %rax,(%rbx)");
        assert_eq!(first("<f0> f3 48 01 03"), "lock xrelease add %rax,(%rbx)");
    }

    #[test]
    fn x87_names_its_default_register() {
        let ops = |line: &str| x86(line).insns[0].operands.clone();
        assert_eq!(ops("<d9> c9"), "%st(1)"); // fxch
        assert_eq!(ops("<de> c1"), "%st,%st(1)"); // faddp
        assert_eq!(ops("<de> fa"), "%st,%st(2)"); // fdivrp
        assert_eq!(ops("<d8> d9"), "%st(1)"); // fcomp
        assert_eq!(ops("<de> d9"), ""); // fcompp
        assert_eq!(x86("<db> e4").insns[0].mnemonic, "fnsetpm(287 only)");
    }

    #[test]
    fn branch_targets_are_32_bit_like_objdump() {
        // call rel32 backwards from offset 0x5: objdump prints 0xfffffffb.
        let d = x86("<e8> f6 ff ff ff");
        assert_eq!(d.insns[0].operands, "0xfffffffb");
    }

    #[test]
    fn bug_and_warn_traps_are_not_worth_showing() {
        assert!(x86("e8 4a a8 b0 fd <0f> 0b e9 97").traps_on_purpose());
        let a = disassemble(&parse_code("35fffc20 (d4210000)", Arch::Arm64).unwrap());
        assert_eq!(a.trapping_insn().unwrap().mnemonic, "brk");
        assert!(a.traps_on_purpose());
    }

    #[test]
    fn oops_headers_carry_the_die_count() {
        assert!(is_oops_header("general protection fault, probably for non-canonical address 0xdffffc0000000102: 0000 [#1] PREEMPT SMP KASAN"));
        assert!(is_oops_header(
            "Internal error: Oops: a07 [#12] PREEMPT SMP ARM"
        ));
        assert!(!is_oops_header(
            "WARNING: CPU: 0 PID: 2468 at block/genhd.c:523 __device_add_disk+0xb76/0xd10"
        ));
        assert!(!is_oops_header("x [#] y"));
    }

    #[test]
    fn report_rules() {
        let oops = "BUG: kernel NULL pointer dereference, address: 0000000000000000\n\
                    Oops: 0002 [#1] SMP\n\
                    RIP: 0010:f+0x1/0x10\n\
                    Code: 48 89 fa <c6> 02 00 c3\n";
        let block = report_block(oops).unwrap();
        assert!(
            block.starts_with("Code disassembly (best guess):\n"),
            "{block}"
        );
        assert!(block.contains("*  3:\tc6 02 00"), "{block}");
        assert!(block.contains("movb   $0x0,(%rdx)"), "{block}");
        // The same code in a WARNING (no [#N]) is not shown.
        assert_eq!(report_block(&oops.replace(" [#1]", "")), None);
        // User-mode code after a kernel oops is skipped.
        let user = "Oops: 0002 [#1] SMP\nRIP: 0033:0x4665f9\nCode: 0f 05 <48> 3d 01 f0 ff ff\n";
        assert_eq!(report_block(user), None);
        let unreadable = "Oops: 0002 [#1] SMP\nRIP: 0010:f+0x1/0x10\nCode: Bad RIP value.\n";
        assert_eq!(report_block(unreadable), None);
    }
}
