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
}

impl Symbols {
    pub fn from_object(obj: &object::File<'_>) -> Symbols {
        let mut raw: Vec<(String, u64, u64)> = Vec::new();
        for sym in obj.symbols() {
            if matches!(sym.kind(), SymbolKind::Section | SymbolKind::File) {
                continue;
            }
            let Some(idx) = sym.section_index() else {
                continue;
            };
            // Assembly entry points are STT_NOTYPE: keep whatever lives in
            // an executable section.
            let in_text = obj
                .section_by_index(idx)
                .is_ok_and(|s| s.kind() == SectionKind::Text);
            let Ok(name) = sym.name() else { continue };
            if !in_text || name.is_empty() {
                continue;
            }
            raw.push((name.to_string(), sym.address(), sym.size()));
        }
        let mut addrs: Vec<u64> = raw.iter().map(|r| r.1).collect();
        addrs.sort_unstable();
        addrs.dedup();
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
        Symbols { by_name }
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
