//! The append-only journal of a campaign: every build and every run, one JSON
//! object per line, flushed as it happens.
//!
//! Replaying it into a fresh engine restores the exact state (the engine is
//! deterministic), which is how a killed campaign resumes without building
//! or running anything twice. A torn last line (killed mid-write) is ignored.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::campaign::Record;

/// Where records go. `None` path: kept in memory only (the bench).
pub struct Journal {
    file: Option<File>,
    path: Option<PathBuf>,
}

impl Journal {
    /// A journal that writes nothing (simulations).
    pub fn in_memory() -> Journal {
        Journal {
            file: None,
            path: None,
        }
    }

    /// Opens (creating if needed) the journal at `path` and returns the
    /// records already in it. The file is read as bytes, each line decoded
    /// leniently (a byte that is not UTF-8 inside a title does not lose the
    /// record). A last line that is torn or does not decode (a kill in the
    /// middle of a write, even inside a multi-byte character) is cut off
    /// and kept aside in `PATH.torn-N` before anything is appended, so the
    /// next record starts on a line of its own. A bad line followed by good
    /// ones means the file is damaged: an error, nothing is changed.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>)> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let (records, good_len) = parse(&bytes).map_err(|(line, e)| {
            anyhow::anyhow!(
                "{} line {line} is not a journal record ({e}); the file is damaged: \
                 move it away to start the campaign afresh",
                path.display()
            )
        })?;
        if good_len < bytes.len() {
            keep_aside(path, &bytes[good_len..])?;
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            f.set_len(good_len as u64)
                .and_then(|_| f.sync_data())
                .with_context(|| format!("cutting the torn end off {}", path.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {} for appending", path.display()))?;
        Ok((
            Journal {
                file: Some(file),
                path: Some(path.to_path_buf()),
            },
            records,
        ))
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one record (one `write` of a whole line: a kill leaves
    /// either the line or a torn tail that the next open cuts off). It is
    /// in the file, though not yet on disk, when this returns.
    pub fn append(&mut self, r: &Record) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_string(r).context("encoding a journal record")?;
        line.push('\n');
        f.write_all(line.as_bytes())
            .context("writing the journal")?;
        Ok(())
    }

    /// Puts what was appended on disk (at the end of a build or a round).
    pub fn sync(&mut self) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.sync_data().context("writing the journal to disk")?;
        }
        Ok(())
    }
}

/// The records of a journal's bytes and the length of the part that holds
/// them (whole lines). Err: (1-based line, why) of a bad line that is not
/// the last one.
fn parse(bytes: &[u8]) -> std::result::Result<(Vec<Record>, usize), (usize, String)> {
    let mut records = Vec::new();
    let mut good = 0;
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let (line, next, whole) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[start..start + i], start + i + 1, true),
            None => (&bytes[start..], bytes.len(), false),
        };
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            if whole {
                good = next;
            }
            start = next;
            continue;
        }
        match serde_json::from_str::<Record>(&text) {
            Ok(r) if whole => {
                records.push(r);
                good = next;
            }
            // A record without its newline was cut before the end of its
            // write: as torn as a half line.
            Ok(_) => break,
            Err(e) => {
                let rest = &bytes[next..];
                if rest.iter().all(|b| b.is_ascii_whitespace()) {
                    break;
                }
                return Err((line_no, e.to_string()));
            }
        }
        start = next;
    }
    Ok((records, good))
}

/// Saves a torn tail beside the journal (`PATH.torn-N`, a new N each time).
fn keep_aside(path: &Path, tail: &[u8]) -> Result<()> {
    for n in 1.. {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".torn-{n}"));
        let p = PathBuf::from(name);
        match OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(mut f) => {
                return f
                    .write_all(tail)
                    .with_context(|| format!("keeping the torn end in {}", p.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
        }
    }
    unreachable!("an unbounded range ends only by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let (mut j, old) = Journal::open(&p).unwrap();
        assert!(old.is_empty());
        let recs = vec![
            Record::Start {
                bad: "b".into(),
                goods: vec!["g".into()],
                key: "k".into(),
            },
            Record::Run {
                commit: "b".into(),
                run: 0,
                round: 0,
                status: crate::campaign::RunStatus::crashed("BUG: x"),
                secs: 1.5,
                output: None,
            },
        ];
        for r in &recs {
            j.append(r).unwrap();
        }
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"type\":\"bui").unwrap();
        let (_, back) = Journal::open(&p).unwrap();
        assert_eq!(back, recs);
    }

    fn run(title: &str) -> Record {
        Record::Run {
            commit: "b".into(),
            run: 0,
            round: 0,
            status: crate::campaign::RunStatus::crashed(title),
            secs: 1.0,
            output: None,
        }
    }

    #[test]
    fn a_tear_inside_a_character_is_cut_off_kept_aside_and_resumes_twice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let (mut j, _) = Journal::open(&p).unwrap();
        let first = run("BUG: ünïcode in a title");
        j.append(&first).unwrap();
        drop(j);
        // Killed in the middle of the next line, inside a two-byte char.
        let whole = serde_json::to_string(&run("BUG: é")).unwrap();
        let cut = whole.find('é').unwrap() + 1;
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&whole.as_bytes()[..cut]).unwrap();
        drop(f);
        for round in 0..2 {
            let (mut j, back) = Journal::open(&p).unwrap();
            assert_eq!(back.len(), 1 + round, "round {round}: {back:?}");
            assert_eq!(back[0], first);
            // The next record starts on a line of its own.
            j.append(&run("BUG: next")).unwrap();
        }
        let (_, back) = Journal::open(&p).unwrap();
        assert_eq!(back.len(), 3);
        let aside = std::fs::read(dir.path().join("journal.jsonl.torn-1")).unwrap();
        assert_eq!(aside, &whole.as_bytes()[..cut]);
    }

    #[test]
    fn invalid_bytes_in_a_title_keep_the_record_and_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let line = serde_json::to_string(&run("BUG: XX in f")).unwrap();
        let mut bytes = line.replace("XX", "\u{1}").into_bytes();
        // A raw byte that is not UTF-8 inside the string.
        let at = bytes.iter().position(|&b| b == 1).unwrap();
        bytes[at] = 0xff;
        bytes.push(b'\n');
        std::fs::write(&p, &bytes).unwrap();
        let (_, back) = Journal::open(&p).unwrap();
        assert_eq!(back.len(), 1);
        // A damaged line followed by a good one: refused, file unchanged.
        let mut damaged = b"{\"type\":\"run\" garbage\n".to_vec();
        damaged.extend_from_slice(line.as_bytes());
        damaged.push(b'\n');
        std::fs::write(&p, &damaged).unwrap();
        let e = Journal::open(&p).err().unwrap().to_string();
        assert!(e.contains("line 1") && e.contains("damaged"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), damaged);
    }
}
