//! The JSON-lines event stream: one [`Event`] per line, as it happens
//! (`--events FILE`; the schema is docs/events.md).

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::campaign::{Event, Sink};
use crate::result::BisectResult;

/// Writes every event as one JSON object per line, flushed per event so a
/// reader following the file sees each as it happens.
pub struct JsonLines {
    out: BufWriter<File>,
    /// The first write error; later events are dropped.
    pub error: Option<std::io::Error>,
}

impl JsonLines {
    pub fn new(file: File) -> JsonLines {
        JsonLines {
            out: BufWriter::new(file),
            error: None,
        }
    }
}

impl JsonLines {
    /// The last line: `{"event":"result","result":{...}}` with the JSON
    /// result (the `--json` file's content).
    pub fn result(&mut self, r: &BisectResult) {
        let v = serde_json::json!({"event": "result", "result": r});
        self.line(&v.to_string());
    }

    fn line(&mut self, line: &str) {
        if self.error.is_some() {
            return;
        }
        let r = writeln!(self.out, "{line}").and_then(|_| self.out.flush());
        if let Err(err) = r {
            self.error = Some(err);
        }
    }
}

impl Sink for JsonLines {
    fn event(&mut self, e: &Event) {
        let line = serde_json::to_string(e).unwrap_or_else(|err| {
            format!(
                "{{\"event\":\"unencodable\",\"error\":{:?}}}",
                err.to_string()
            )
        });
        self.line(&line);
    }
}
