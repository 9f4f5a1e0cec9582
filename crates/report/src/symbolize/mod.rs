//! Crash reports symbolised to `function file:line`, inlined frames
//! included, from a vmlinux with DWARF.
//!
//! A kernel prints `RIP: 0010:__do_sys_io_uring_register+0xb73/0x2380`;
//! a maintainer wants to read
//!
//! ```text
//! RIP: 0010:io_register_iowq_max_workers fs/io_uring.c:10341 [inline]
//! RIP: 0010:__io_uring_register fs/io_uring.c:10546 [inline]
//! RIP: 0010:__do_sys_io_uring_register+0xb73/0x2380 fs/io_uring.c:10581
//! ```
//!
//! as `addr2line -i -f` and syzkaller print it: innermost inlined function
//! first, the function that contains them last. Each `func+0xoff/0xsize`
//! is resolved through the ELF symbol table ([`symbols`]), then looked up
//! in the DWARF with the `addr2line` crate; a frame's address is a return
//! address, so it is looked up at `address - 1` (the call instruction),
//! as the kernel's decode_stacktrace.sh does; the interrupted instruction
//! (`RIP:`, `pc :`) is looked up as is. Paths come out relative to the
//! kernel tree ([`paths`]).
//!
//! It never does I/O: the caller passes the vmlinux bytes (or a parsed
//! object). It never panics on input: an unknown symbol or an address
//! without line info leaves its line as it was.

mod parse;
pub mod paths;
mod symbols;

pub use parse::{find as find_token, Token};

use gimli::{EndianArcSlice, RunTimeEndian};
use object::{Object, ObjectSection};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

type Reader = EndianArcSlice<RunTimeEndian>;

/// Why a symbolizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the kernel image as an ELF object: {0}")]
    Object(#[from] object::Error),
    #[error(
        "the kernel image has no DWARF line information (.debug_info/.debug_line missing): \
         rebuild it with CONFIG_DEBUG_INFO_DWARF5=y (or DWARF4) to get file:line"
    )]
    NoDebugInfo,
    #[error("the kernel image's DWARF cannot be read: {0}")]
    Dwarf(#[from] gimli::Error),
}

/// One source location of an address: a function and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function's DWARF name; `None` when the DWARF has no function
    /// there (assembly), as `addr2line` prints `??`.
    pub function: Option<String>,
    /// Relative to the kernel tree when the file is in it.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// An inlined function (every frame but the last of an address).
    pub inline: bool,
}

impl Frame {
    /// `file:line`, as the reports show it.
    pub fn location(&self) -> Option<String> {
        Some(format!("{}:{}", self.file.as_ref()?, self.line?))
    }
}

/// A line of a report with a symbolised `func+0xoff/0xsize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolizedLine {
    /// Index of the line in the report text (0-based).
    pub index: usize,
    /// The line as it was.
    pub original: String,
    pub token: Token,
    /// `function + offset`: the address printed.
    pub address: u64,
    /// The address looked up: `address`, or `address - 1` for a return
    /// address.
    pub lookup: u64,
    /// Innermost first; the last one is the function containing the
    /// address (not inline).
    pub frames: Vec<Frame>,
}

/// Resolves addresses of one kernel image. Built once per image (copying
/// the DWARF sections and indexing the units is the costly part: 0.2 s
/// for a tinyconfig vmlinux with DWARF5, in a test build); lookups are
/// cached per address. Not `Sync` (the DWARF is parsed lazily): one per
/// thread, or behind a Mutex.
pub struct Symbolizer {
    ctx: addr2line::Context<Reader>,
    symbols: symbols::Symbols,
    prefixes: paths::Prefixes,
    cache: RefCell<HashMap<u64, Vec<Frame>>>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

impl Symbolizer {
    /// From the bytes of an ELF image with DWARF.
    pub fn new(elf: &[u8]) -> Result<Symbolizer, Error> {
        let obj = object::File::parse(elf)?;
        Symbolizer::from_object(&obj)
    }

    /// From an already-parsed object. The DWARF sections are copied (and
    /// decompressed if needed), so the result does not borrow `obj`.
    pub fn from_object(obj: &object::File<'_>) -> Result<Symbolizer, Error> {
        if obj.section_by_name(".debug_info").is_none()
            || obj.section_by_name(".debug_line").is_none()
        {
            return Err(Error::NoDebugInfo);
        }
        let endian = if obj.is_little_endian() {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let load = |id: gimli::SectionId| -> Result<Reader, Error> {
            let data = match obj.section_by_name(id.name()) {
                Some(s) => s.uncompressed_data()?,
                None => std::borrow::Cow::Borrowed(&[][..]),
            };
            Ok(EndianArcSlice::new(Arc::from(&*data), endian))
        };
        let dwarf = gimli::Dwarf::load(load)?;
        let prefixes = prefixes_of(&dwarf)?;
        let ctx = addr2line::Context::from_dwarf(dwarf)?;
        Ok(Symbolizer {
            ctx,
            symbols: symbols::Symbols::from_object(obj),
            prefixes,
            cache: RefCell::new(HashMap::new()),
        })
    }

    /// Also shows paths under `dir` relative to it (for a tree the
    /// automatic detection cannot find).
    pub fn strip_prefix(&mut self, dir: &str) {
        self.prefixes.add(dir);
        self.cache.borrow_mut().clear();
    }

    /// The address of `function+offset`, for a symbol printed with `size`.
    pub fn resolve(&self, function: &str, offset: u64, size: u64) -> Option<u64> {
        self.symbols.resolve(function, offset, size)
    }

    /// The frames at `addr`, innermost inlined function first. Empty when
    /// the DWARF knows nothing of the address.
    pub fn frames_at(&self, addr: u64) -> Vec<Frame> {
        if let Some(f) = self.cache.borrow().get(&addr) {
            return f.clone();
        }
        let frames = self.lookup(addr).unwrap_or_default();
        self.cache.borrow_mut().insert(addr, frames.clone());
        frames
    }

    fn lookup(&self, addr: u64) -> Result<Vec<Frame>, gimli::Error> {
        let mut out = Vec::new();
        let mut iter = self.ctx.find_frames(addr).skip_all_loads()?;
        while let Some(f) = iter.next()? {
            let function = match &f.function {
                Some(n) => Some(n.raw_name()?.into_owned()),
                None => None,
            };
            let (file, line) = match &f.location {
                Some(l) => (l.file.map(|p| self.prefixes.relative(p)), l.line),
                None => (None, None),
            };
            out.push(Frame {
                function,
                file,
                line,
                inline: true,
            });
        }
        // No DWARF at all there (code without debug info): the symbol
        // alone, as binutils' addr2line prints it.
        if out.is_empty() {
            if let Some((name, file)) = self.symbols.containing(addr) {
                out.push(Frame {
                    function: Some(name.to_string()),
                    file: file.map(|f| self.prefixes.relative(f)),
                    line: None,
                    inline: false,
                });
            }
        }
        if let Some(last) = out.last_mut() {
            last.inline = false;
            // No DWARF function (assembly): the symbol table's.
            if last.function.is_none() {
                last.function = self.symbols.containing(addr).map(|s| s.0.to_string());
            }
        }
        Ok(out)
    }

    /// Symbolises one line, if it carries a resolvable frame.
    pub fn line(&self, index: usize, line: &str) -> Option<SymbolizedLine> {
        let token = parse::find(line)?;
        let address = self.resolve(&token.function, token.offset, token.size)?;
        // A return address points after the call; offset 0 is a function
        // entry (an exception frame), not a return address.
        let lookup = if token.exact || token.offset == 0 {
            address
        } else {
            address - 1
        };
        let frames = self.frames_at(lookup);
        if frames.is_empty() {
            return None;
        }
        Some(SymbolizedLine {
            index,
            original: line.to_string(),
            token,
            address,
            lookup,
            frames,
        })
    }

    /// Every symbolisable line of `report`, in order.
    pub fn lines(&self, report: &str) -> Vec<SymbolizedLine> {
        report
            .lines()
            .enumerate()
            .filter_map(|(i, l)| self.line(i, l))
            .collect()
    }

    /// `report` with every frame symbolised: inlined functions as extra
    /// `function file:line [inline]` lines before the frame's line, which
    /// gets its own `file:line` appended after the `func+0xoff/0xsize`.
    pub fn symbolize(&self, report: &str) -> String {
        let mut out = String::with_capacity(report.len() * 2);
        for (i, l) in report.split_inclusive('\n').enumerate() {
            let (body, eol) = split_eol(l);
            match self.line(i, body) {
                Some(s) => render(&s, eol, &mut out),
                None => out.push_str(l),
            }
        }
        out
    }
}

fn split_eol(l: &str) -> (&str, &str) {
    let body = l.trim_end_matches(['\n', '\r']);
    (body, &l[body.len()..])
}

/// The lines for one symbolised frame.
fn render(s: &SymbolizedLine, eol: &str, out: &mut String) {
    let line = &s.original;
    let (head, tail) = (&line[..s.token.start], &line[s.token.end..]);
    let token = &line[s.token.start..s.token.end];
    let eol = if eol.is_empty() { "\n" } else { eol };
    let Some((outer, inlined)) = s.frames.split_last() else {
        out.push_str(line);
        out.push_str(eol);
        return;
    };
    for f in inlined {
        let name = f.function.as_deref().unwrap_or("??");
        let loc = f.location().unwrap_or_else(|| "??:?".into());
        out.push_str(&format!("{head}{name} {loc} [inline]{tail}{eol}"));
    }
    match outer.location() {
        Some(loc) => out.push_str(&format!("{head}{token} {loc}{tail}{eol}")),
        None => out.push_str(&format!("{line}{eol}")),
    }
}

/// The directories to show paths relative to: every unit's compilation
/// directory (the build directory, for generated files) and the kernel
/// tree as seen from it. The tree is spelled the way the `init/main.c`
/// unit names it (`../tree/` under ccache's base_dir, `/src/linux/`
/// without), and that spelling is applied to every compilation
/// directory: with ccache's hash_dir off, objects served from the cache
/// keep the compilation directory of the worktree that first built them,
/// so one vmlinux can name several build directories, each with its tree.
fn prefixes_of(dwarf: &gimli::Dwarf<Reader>) -> Result<paths::Prefixes, gimli::Error> {
    use gimli::Reader as _;
    let mut p = paths::Prefixes::default();
    let mut comp_dirs: Vec<String> = Vec::new();
    let mut tree: Option<String> = None;
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let dir = match &unit.comp_dir {
            Some(d) => d.to_string_lossy()?.into_owned(),
            None => String::new(),
        };
        if let (None, Some(name)) = (&tree, &unit.name) {
            tree = paths::kernel_tree_of(&name.to_string_lossy()?);
        }
        if !dir.is_empty() && !comp_dirs.contains(&dir) {
            comp_dirs.push(dir);
        }
    }
    for d in &comp_dirs {
        p.add(d);
        match &tree {
            Some(t) if t.starts_with('/') => p.add(t),
            Some(t) => p.add(&format!("{d}/{t}")),
            None => {}
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sline(line: &str, frames: Vec<Frame>) -> SymbolizedLine {
        let token = parse::find(line).unwrap();
        SymbolizedLine {
            index: 0,
            original: line.into(),
            token,
            address: 0,
            lookup: 0,
            frames,
        }
    }

    fn f(func: &str, file: &str, line: u32, inline: bool) -> Frame {
        Frame {
            function: Some(func.into()),
            file: Some(file.into()),
            line: Some(line),
            inline,
        }
    }

    #[test]
    fn inlined_frames_come_first_with_the_line_prefix() {
        let s = sline(
            "RIP: 0010:__do_sys_io_uring_register+0xb73/0x2380",
            vec![
                f("io_register_iowq_max_workers", "fs/io_uring.c", 10341, true),
                f("__io_uring_register", "fs/io_uring.c", 10546, true),
                f("__do_sys_io_uring_register", "fs/io_uring.c", 10581, false),
            ],
        );
        let mut out = String::new();
        render(&s, "\n", &mut out);
        assert_eq!(
            out,
            "RIP: 0010:io_register_iowq_max_workers fs/io_uring.c:10341 [inline]\n\
             RIP: 0010:__io_uring_register fs/io_uring.c:10546 [inline]\n\
             RIP: 0010:__do_sys_io_uring_register+0xb73/0x2380 fs/io_uring.c:10581\n"
        );
    }

    #[test]
    fn arm_parentheses_keep_their_closing() {
        let s = sline(
            "[<8095bdfc>] (do_unblank_screen) from [<809535a8>] (vt_ioctl+0x197c/0x1be8)",
            vec![
                f("vt_kdsetmode", "drivers/tty/vt/vt_ioctl.c", 276, true),
                f("vt_ioctl", "drivers/tty/vt/vt_ioctl.c", 713, false),
            ],
        );
        let mut out = String::new();
        render(&s, "\r\n", &mut out);
        assert_eq!(
            out,
            "[<8095bdfc>] (do_unblank_screen) from [<809535a8>] (vt_kdsetmode drivers/tty/vt/vt_ioctl.c:276 [inline])\r\n\
             [<8095bdfc>] (do_unblank_screen) from [<809535a8>] (vt_ioctl+0x197c/0x1be8 drivers/tty/vt/vt_ioctl.c:713)\r\n"
        );
    }

    #[test]
    fn an_unknown_outer_location_keeps_the_line() {
        let mut outer = f("entry", "x", 1, false);
        outer.file = None;
        let s = sline(" ? entry_SYSCALL_64+0x10/0x20", vec![outer]);
        let mut out = String::new();
        render(&s, "", &mut out);
        assert_eq!(out, " ? entry_SYSCALL_64+0x10/0x20\n");
    }

    #[test]
    fn not_an_elf_is_a_clear_error() {
        let e = Symbolizer::new(b"not an elf").unwrap_err();
        assert!(matches!(e, Error::Object(_)), "{e}");
        assert!(e.to_string().contains("ELF"), "{e}");
    }
}
