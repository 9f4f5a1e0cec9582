//! Minimal symbol demangling for stack frames: Rust v0 (`_R...`) paths,
//! Rust legacy / C++ Itanium nested names (`_ZN3foo3barE`) and plain C++
//! function names (`_Z8fakeNameiii` -> `fakeName`). Only the path is
//! produced (no argument types); anything unexpected yields `None`.

/// Demangled form of `sym`, if it is a mangled name we understand.
pub fn demangle(sym: &str) -> Option<String> {
    if let Some(rest) = sym.strip_prefix("_R") {
        let mut p = V0 {
            s: rest.as_bytes(),
            i: 0,
            depth: 0,
        };
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        let out = p.path()?;
        return Some(out);
    }
    if let Some(rest) = sym.strip_prefix("_Z") {
        return itanium(rest.as_bytes());
    }
    None
}

fn itanium(s: &[u8]) -> Option<String> {
    let nested = s.first() == Some(&b'N');
    let mut i = usize::from(nested);
    let mut parts: Vec<String> = Vec::new();
    loop {
        while matches!(s.get(i), Some(b'K' | b'V' | b'r' | b'L')) {
            i += 1;
        }
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if start == i {
            break;
        }
        let len: usize = std::str::from_utf8(&s[start..i]).ok()?.parse().ok()?;
        let name = s.get(i..i.checked_add(len)?)?;
        parts.push(String::from_utf8_lossy(name).into_owned());
        i += len;
        if !nested {
            break;
        }
    }
    // Rust legacy symbols end in a `h<16 hex>` hash component.
    if parts.len() > 1
        && parts.last().is_some_and(|p| {
            p.len() == 17 && p.starts_with('h') && p[1..].bytes().all(|b| b.is_ascii_hexdigit())
        })
    {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("::"))
}

struct V0<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl V0<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn base62(&mut self) -> Option<u64> {
        if self.eat(b'_') {
            return Some(0);
        }
        let mut v: u64 = 0;
        loop {
            let c = self.next()?;
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'z' => c - b'a' + 10,
                b'A'..=b'Z' => c - b'A' + 36,
                b'_' => return v.checked_add(1),
                _ => return None,
            };
            v = v.checked_mul(62)?.checked_add(u64::from(d))?;
        }
    }

    fn disambiguator(&mut self) -> Option<()> {
        if self.eat(b's') {
            self.base62()?;
        }
        Some(())
    }

    fn ident(&mut self) -> Option<String> {
        self.disambiguator()?;
        let punycode = self.eat(b'u');
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let len: usize = std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        self.eat(b'_');
        let bytes = self.s.get(self.i..self.i.checked_add(len)?)?;
        self.i += len;
        if punycode {
            return None;
        }
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < 64).then_some(())
    }

    fn backref<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let pos = usize::try_from(self.base62()?).ok()?;
        if pos >= self.i {
            return None;
        }
        let saved = self.i;
        self.i = pos;
        let r = f(self);
        self.i = saved;
        r
    }

    fn path(&mut self) -> Option<String> {
        self.enter()?;
        let r = match self.next()? {
            b'C' => self.ident(),
            b'N' => {
                let ns = self.next()?;
                let p = self.path()?;
                let id = self.ident()?;
                Some(if ns == b'C' {
                    format!("{p}::{{closure}}")
                } else if id.is_empty() {
                    p
                } else {
                    format!("{p}::{id}")
                })
            }
            b'M' => {
                self.disambiguator()?;
                self.path()?;
                let ty = self.ty()?;
                Some(format!("<{ty}>"))
            }
            b'X' => {
                self.disambiguator()?;
                self.path()?;
                let ty = self.ty()?;
                let tr = self.path()?;
                Some(format!("<{ty} as {tr}>"))
            }
            b'Y' => {
                let ty = self.ty()?;
                let tr = self.path()?;
                Some(format!("<{ty} as {tr}>"))
            }
            b'I' => {
                let p = self.path()?;
                let mut args = Vec::new();
                while !self.eat(b'E') {
                    if let Some(a) = self.generic_arg()? {
                        args.push(a);
                    }
                }
                Some(if args.is_empty() {
                    p
                } else {
                    format!("{p}<{}>", args.join(", "))
                })
            }
            b'B' => self.backref(|p| p.path()),
            _ => None,
        };
        self.depth -= 1;
        r
    }

    fn generic_arg(&mut self) -> Option<Option<String>> {
        if self.eat(b'L') {
            self.base62()?;
            return Some(None);
        }
        if self.eat(b'K') {
            self.konst()?;
            return Some(None);
        }
        self.ty().map(Some)
    }

    fn konst(&mut self) -> Option<()> {
        if self.eat(b'p') {
            return Some(());
        }
        if self.eat(b'B') {
            return self.backref(|p| p.konst());
        }
        self.next()?; // type tag
        self.eat(b'n');
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.i += 1;
        }
        self.eat(b'_').then_some(())
    }

    fn ty(&mut self) -> Option<String> {
        self.enter()?;
        let basic = |c: u8| -> Option<&'static str> {
            Some(match c {
                b'a' => "i8",
                b'b' => "bool",
                b'c' => "char",
                b'd' => "f64",
                b'e' => "str",
                b'f' => "f32",
                b'h' => "u8",
                b'i' => "isize",
                b'j' => "usize",
                b'l' => "i32",
                b'm' => "u32",
                b'n' => "i128",
                b'o' => "u128",
                b's' => "i16",
                b't' => "u16",
                b'u' => "()",
                b'v' => "...",
                b'x' => "i64",
                b'y' => "u64",
                b'z' => "!",
                b'p' => "_",
                _ => return None,
            })
        };
        let c = self.peek()?;
        let r = if let Some(b) = basic(c) {
            self.i += 1;
            Some(b.to_string())
        } else {
            match c {
                b'R' | b'Q' => {
                    self.i += 1;
                    if self.eat(b'L') {
                        self.base62()?;
                    }
                    let t = self.ty()?;
                    Some(if c == b'R' {
                        format!("&{t}")
                    } else {
                        format!("&mut {t}")
                    })
                }
                b'P' | b'O' => {
                    self.i += 1;
                    let t = self.ty()?;
                    Some(if c == b'P' {
                        format!("*const {t}")
                    } else {
                        format!("*mut {t}")
                    })
                }
                b'S' => {
                    self.i += 1;
                    Some(format!("[{}]", self.ty()?))
                }
                b'A' => {
                    self.i += 1;
                    let t = self.ty()?;
                    self.konst()?;
                    Some(format!("[{t}; _]"))
                }
                b'T' => {
                    self.i += 1;
                    let mut ts = Vec::new();
                    while !self.eat(b'E') {
                        ts.push(self.ty()?);
                    }
                    Some(format!("({})", ts.join(", ")))
                }
                b'B' => {
                    self.i += 1;
                    self.backref(|p| p.ty())
                }
                _ => self.path(),
            }
        };
        self.depth -= 1;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_v0() {
        assert_eq!(
            demangle("_RNvXs1_CscPPBqWtAqum_11ashmem_rustNtB5_6AshmemNtNtCs43vyB533jt3_6kernel10miscdevice10MiscDevice4mmap")
                .as_deref(),
            Some("<ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap")
        );
        assert_eq!(
            demangle("_RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt").as_deref(),
            Some("core::panicking::panic_fmt")
        );
    }

    #[test]
    fn itanium_and_legacy() {
        assert_eq!(demangle("_Z8fakeNameiii").as_deref(), Some("fakeName"));
        assert_eq!(demangle("_ZN3foo3barEv").as_deref(), Some("foo::bar"));
        assert_eq!(
            demangle("_ZN4core9panicking5panic17h0123456789abcdefE").as_deref(),
            Some("core::panicking::panic")
        );
        assert_eq!(demangle("plain"), None);
        assert_eq!(demangle("_RB_"), None);
    }
}
