//! The append-only journal of a campaign: every build and every run, one JSON
//! object per line, flushed as it happens.
//!
//! Replaying it into a fresh engine restores the exact state (the engine is
//! deterministic), which is how a killed campaign resumes without building
//! or running anything twice. A torn last line (killed mid-write) is ignored.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
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
    /// records already in it.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>)> {
        let mut records = Vec::new();
        if path.exists() {
            let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let lines: Vec<String> = BufReader::new(f)
                .lines()
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("reading {}", path.display()))?;
            let n = lines.len();
            for (i, line) in lines.into_iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str(&line) {
                    Ok(r) => records.push(r),
                    // A campaign killed mid-write leaves a torn last line.
                    Err(_) if i + 1 == n => break,
                    Err(e) => bail!(
                        "{} line {} is not a journal record ({e}); the file is damaged: \
                         move it away to start the campaign afresh",
                        path.display(),
                        i + 1
                    ),
                }
            }
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

    /// Appends one record and flushes it to disk before returning.
    pub fn append(&mut self, r: &Record) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_string(r).context("encoding a journal record")?;
        line.push('\n');
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .context("writing the journal")?;
        Ok(())
    }
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
                status: crate::campaign::RunStatus::Crashed {
                    title: "BUG: x".into(),
                },
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
}
