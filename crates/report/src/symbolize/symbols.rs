//! `function+0xoff/0xsize` to an address, through the ELF symbol table.
//!
//! Several local symbols can share a name (`static` functions of the same
//! name in different files). The size after the slash tells them apart,
//! but it is the size kallsyms computed: the distance to the next symbol,
//! which can exceed the ELF `st_size` by the alignment padding. So a
//! candidate matches when either its `st_size` or its distance to the next
//! text symbol equals the printed size; a name that still has several
//! candidates is ambiguous and is not resolved (a wrong file:line is worse
//! than none).

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    addr: u64,
    st_size: u64,
    /// Distance to the next text symbol at a higher address.
    gap: Option<u64>,
}

/// The text symbols of an object, by name.
#[derive(Debug, Default)]
pub struct Symbols {
    by_name: HashMap<String, Vec<Candidate>>,
    by_addr: Vec<Located>,
}

/// (address, size, name, source file of a local symbol, [start, end) of
/// its section); sorted by address in `Symbols`.
type Located = (u64, u64, String, Option<String>, (u64, u64));

impl Symbols {
    pub fn from_object(obj: &object::File<'_>) -> Symbols {
        let mut raw: Vec<(String, u64, u64)> = Vec::new();
        let mut by_addr: Vec<Located> = Vec::new();
        let mut file: Option<String> = None;
        for sym in obj.symbols() {
            if sym.kind() == SymbolKind::File {
                file = sym.name().ok().map(str::to_string);
                continue;
            }
            if sym.kind() == SymbolKind::Section {
                continue;
            }
            let Some(idx) = sym.section_index() else {
                continue;
            };
            // Assembly entry points are STT_NOTYPE: keep whatever lives in
            // an executable section.
            let section = obj
                .section_by_index(idx)
                .ok()
                .filter(|s| s.kind() == SectionKind::Text)
                .map(|s| (s.address(), s.address().saturating_add(s.size())));
            let in_text = section.is_some();
            let Ok(name) = sym.name() else { continue };
            if !in_text || name.is_empty() {
                continue;
            }
            raw.push((name.to_string(), sym.address(), sym.size()));
            // A local symbol belongs to the STT_FILE before it; a global
            // one to no known file.
            let f = if sym.is_local() { file.clone() } else { None };
            let section = section.unwrap_or_default();
            by_addr.push((sym.address(), sym.size(), name.to_string(), f, section));
        }
        let mut addrs: Vec<u64> = raw.iter().map(|r| r.1).collect();
        addrs.sort_unstable();
        addrs.dedup();
        by_addr.sort_by_key(|e| e.0);
        let mut by_name: HashMap<String, Vec<Candidate>> = HashMap::new();
        for (name, addr, st_size) in raw {
            let next = addrs.partition_point(|&a| a <= addr);
            let gap = addrs.get(next).map(|n| n - addr);
            let list = by_name.entry(name).or_default();
            let c = Candidate { addr, st_size, gap };
            if !list.contains(&c) {
                list.push(c);
            }
        }
        Symbols { by_name, by_addr }
    }

    /// The symbol for `addr` where the DWARF has no function (assembly),
    /// as binutils' addr2line picks it: the closest symbol at or before
    /// the address in the same section, the largest of several at that
    /// address (`startup_64`, not the size-less `_stext` label beside it).
    /// Also the symbol's source file, from the symbol table's STT_FILE.
    pub fn containing(&self, addr: u64) -> Option<(&str, Option<&str>)> {
        let end = self.by_addr.partition_point(|e| e.0 <= addr);
        // Only symbols of the section holding the address count (binutils
        // names nothing for the first byte of a section without a symbol).
        let mut before = self.by_addr[..end]
            .iter()
            .rev()
            .filter(|e| (e.4 .0..e.4 .1).contains(&addr));
        let first = before.next()?;
        let best = before
            .take_while(|e| e.0 == first.0)
            .fold(first, |best, e| if e.1 > best.1 { e } else { best });
        Some((best.2.as_str(), best.3.as_deref()))
    }

    /// The address of `name+offset` for a symbol of printed size `size`;
    /// `None` when the name is unknown, ambiguous, or the offset is past
    /// the symbol.
    pub fn resolve(&self, name: &str, offset: u64, size: u64) -> Option<u64> {
        let list = self.by_name.get(name)?;
        if offset >= size.max(1) {
            return None;
        }
        let pick = |f: &dyn Fn(&Candidate) -> bool| -> Vec<u64> {
            let mut a: Vec<u64> = list.iter().filter(|c| f(c)).map(|c| c.addr).collect();
            a.dedup();
            a
        };
        let mut found = pick(&|c| c.st_size == size);
        if found.is_empty() {
            found = pick(&|c| c.gap == Some(size));
        }
        if found.is_empty() && list.len() == 1 {
            // The only symbol of that name, sized differently (a symbol
            // kallsyms skipped, or a report from a slightly different
            // build): trust the name if the offset lies inside it.
            let c = list[0];
            if offset < c.st_size.max(c.gap.unwrap_or(0)) {
                found.push(c.addr);
            }
        }
        match found.as_slice() {
            [addr] => addr.checked_add(offset),
            _ => None,
        }
    }
}
