//! Bounded capture of one output stream: the head is kept as it comes, the
//! tail in a ring, and what falls between is replaced by one marker line.
//! Memory is bounded by the tail size; a file sink holds at most head +
//! marker + tail bytes.

use crate::job::Bound;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// The marker that replaces elided output: on a line of its own, saying how
/// much was cut and where the kept parts come from.
pub fn elision_marker(elided: u64, head: u64, tail: u64) -> String {
    format!(
        "\n[culprit: {elided} bytes of output elided here; kept the first {head} and the last {tail} bytes]\n"
    )
}

/// Where captured bytes end up.
pub(crate) enum Store {
    Memory(Vec<u8>),
    File(File, PathBuf),
}

pub(crate) struct Capture {
    bound: Bound,
    store: Store,
    head_len: u64,
    tail: VecDeque<u8>,
    total: u64,
    /// Needles watched in this stream, and whether each was seen.
    watches: Vec<(Vec<u8>, bool)>,
    /// The last bytes of the previous chunk, so a needle split across two
    /// reads is still found.
    carry: Vec<u8>,
    /// First write error to the file; reported when the job ends.
    error: Option<std::io::Error>,
}

/// What a finished capture kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The kept bytes (with the marker if something was elided), for an
    /// in-memory sink; empty for a file or null sink.
    pub bytes: Vec<u8>,
    /// The file the output went to, for a file sink.
    pub path: Option<PathBuf>,
    /// Bytes the program wrote in all.
    pub total: u64,
    /// Bytes not kept (replaced by the marker).
    pub elided: u64,
}

impl Capture {
    pub fn new(bound: Bound, store: Store, watches: Vec<Vec<u8>>) -> Capture {
        Capture {
            bound,
            store,
            head_len: 0,
            tail: VecDeque::new(),
            total: 0,
            watches: watches.into_iter().map(|w| (w, false)).collect(),
            carry: Vec::new(),
            error: None,
        }
    }

    pub fn seen(&self, i: usize) -> bool {
        self.watches.get(i).is_some_and(|w| w.1)
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        self.watch(data);
        let room = self.bound.head.saturating_sub(self.head_len);
        if room > 0 {
            let n = (room.min(data.len() as u64)) as usize;
            self.write_head(&data[..n]);
            self.head_len += n as u64;
            data = &data[n..];
        }
        if data.is_empty() {
            return;
        }
        let cap = self.bound.tail.min(usize::MAX as u64) as usize;
        if data.len() >= cap {
            self.tail.clear();
            self.tail.extend(&data[data.len() - cap..]);
        } else {
            let excess = (self.tail.len() + data.len()).saturating_sub(cap);
            self.tail.drain(..excess);
            self.tail.extend(data);
        }
    }

    fn watch(&mut self, data: &[u8]) {
        if self.watches.iter().all(|w| w.1) {
            return;
        }
        let longest = self.watches.iter().map(|w| w.0.len()).max().unwrap_or(0);
        let mut hay = std::mem::take(&mut self.carry);
        hay.extend_from_slice(data);
        for (needle, seen) in &mut self.watches {
            if !*seen && memchr::memmem::find(&hay, needle).is_some() {
                *seen = true;
            }
        }
        let keep = longest.saturating_sub(1).min(hay.len());
        self.carry = hay[hay.len() - keep..].to_vec();
    }

    fn write_head(&mut self, bytes: &[u8]) {
        match &mut self.store {
            Store::Memory(v) => v.extend_from_slice(bytes),
            Store::File(f, _) => {
                if self.error.is_none() {
                    if let Err(e) = f.write_all(bytes) {
                        self.error = Some(e);
                    }
                }
            }
        }
    }

    /// Writes the marker and the tail; returns what was kept.
    pub fn finish(mut self) -> (Captured, Option<std::io::Error>) {
        let elided = self.total - self.head_len - self.tail.len() as u64;
        if elided > 0 {
            let m = elision_marker(elided, self.head_len, self.tail.len() as u64);
            self.write_head(m.as_bytes());
        }
        let (a, b) = self.tail.as_slices();
        let (a, b) = (a.to_vec(), b.to_vec());
        self.write_head(&a);
        self.write_head(&b);
        let (bytes, path) = match self.store {
            Store::Memory(v) => (v, None),
            Store::File(mut f, p) => {
                if let Err(e) = f.flush() {
                    self.error.get_or_insert(e);
                }
                (Vec::new(), Some(p))
            }
        };
        let c = Captured {
            bytes,
            path,
            total: self.total,
            elided,
        };
        (c, self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(head: u64, tail: u64) -> Capture {
        Capture::new(Bound { head, tail }, Store::Memory(Vec::new()), vec![])
    }

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = mem(4, 4);
        c.push(b"abc");
        c.push(b"defgh");
        let (k, e) = c.finish();
        assert!(e.is_none());
        assert_eq!(k.bytes, b"abcdefgh");
        assert_eq!((k.total, k.elided), (8, 0));
    }

    #[test]
    fn the_middle_is_replaced_by_the_marker() {
        let mut c = mem(3, 4);
        // Chunks of every size, so head, ring overflow and ring replacement
        // are all exercised.
        let data: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let mut rest = &data[..];
        for n in [1, 2, 5, 1, 40, 3, 48] {
            c.push(&rest[..n]);
            rest = &rest[n..];
        }
        assert!(rest.is_empty());
        let (k, _) = c.finish();
        let mut want = data[..3].to_vec();
        want.extend_from_slice(elision_marker(93, 3, 4).as_bytes());
        want.extend_from_slice(&data[96..]);
        assert_eq!(
            String::from_utf8_lossy(&k.bytes),
            String::from_utf8_lossy(&want)
        );
        assert_eq!((k.total, k.elided), (100, 93));
    }

    #[test]
    fn a_file_sink_holds_head_marker_and_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out");
        let f = File::create(&p).unwrap();
        let mut c = Capture::new(
            Bound { head: 2, tail: 2 },
            Store::File(f, p.clone()),
            vec![],
        );
        c.push(b"0123456789");
        let (k, e) = c.finish();
        assert!(e.is_none() && k.bytes.is_empty());
        assert_eq!(k.path.as_deref(), Some(p.as_path()));
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, format!("01{}89", elision_marker(6, 2, 2)));
    }

    #[test]
    fn watches_find_needles_split_across_reads_even_when_elided() {
        let mut c = Capture::new(
            Bound { head: 1, tail: 1 },
            Store::Memory(Vec::new()),
            vec![b"needle".to_vec(), b"absent".to_vec()],
        );
        c.push(b"xxxne");
        assert!(!c.seen(0));
        c.push(b"ed");
        c.push(b"lezz");
        assert!(c.seen(0) && !c.seen(1) && !c.seen(7));
    }
}
