//! Robustness of the Code: disassembly and the frame parser: random and
//! mangled lines never panic, and a decoded line always covers its bytes.

use culprit_report::disasm::{disassemble, parse_code, report_block, Arch};
use culprit_report::symbolize::find_token;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_code_lines_never_panic_and_cover_their_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let arch = [Arch::X86_64, Arch::Arm64, Arch::Arm, Arch::Thumb][round % 4];
        let width = match arch {
            Arch::X86_64 => 2,
            Arch::Thumb => 4,
            _ => 8,
        };
        let n = 1 + (rng.next() % 64) as usize;
        let trap = (rng.next() as usize) % n;
        let mut line = String::from("Code:");
        for i in 0..n {
            let v = rng.next() & ((1u64 << (width * 4)) - 1);
            let tok = format!("{v:0width$x}");
            let (open, close) = if arch == Arch::X86_64 {
                ("<", ">")
            } else {
                ("(", ")")
            };
            if i == trap {
                line.push_str(&format!(" {open}{tok}{close}"));
            } else {
                line.push_str(&format!(" {tok}"));
            }
        }
        let code = parse_code(&line, arch).unwrap_or_else(|e| panic!("{line}: {e}"));
        let d = disassemble(&code);
        // Instructions are contiguous from where decoding started to the end.
        let start = d.insns.first().map_or(code.bytes.len(), |i| i.offset);
        let mut at = start;
        for i in &d.insns {
            assert_eq!(i.offset, at, "{line}");
            at += i.bytes.len();
        }
        assert_eq!(at, code.bytes.len(), "{line}");
        if let Some(t) = d.trapping_insn() {
            assert_eq!(t.offset, code.trap, "{line}");
        }
        let rendered = d.render();
        assert_eq!(
            rendered.matches("<-- trapping instruction").count(),
            usize::from(d.trapping.is_some())
        );
        // Mangled: cut anywhere, as a truncated console does.
        let cut = (rng.next() as usize) % line.len();
        if line.is_char_boundary(cut) {
            let _ = parse_code(&line[..cut], arch).map(|c| disassemble(&c).render());
            let report = format!(
                "Oops: 0000 [#1] SMP\nRIP: 0010:f+0x1/0x2\n{}\n",
                &line[..cut]
            );
            let _ = report_block(&report);
        }
    }
}

#[test]
fn random_frame_lines_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let alphabet: &[u8] = b"RIP: 0010:pc PC is at ?()[]<>+0x/0123456789abcdefxyz_. \t\r";
    for _ in 0..20000 {
        let len = (rng.next() % 80) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(rng.next() as usize) % alphabet.len()] as char)
            .collect();
        if let Some(t) = find_token(&s) {
            assert!(t.start < t.end && t.end <= s.len(), "{s:?}");
            assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end));
        }
    }
}
