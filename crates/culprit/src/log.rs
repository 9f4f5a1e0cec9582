//! The text log (stdout and a file in the workdir) and the progress bar.

use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::campaign::Events;

/// Writes the campaign's log lines to standard output and to a file, with a
/// progress bar on standard error when it is a terminal.
pub struct TextLog {
    file: Option<File>,
    bar: Option<ProgressBar>,
    stdout: bool,
}

impl TextLog {
    pub fn new(path: Option<&Path>, stdout: bool) -> std::io::Result<TextLog> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        Ok(TextLog { file, bar, stdout })
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Events for TextLog {
    fn line(&mut self, text: &str) {
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(f, "{text}");
        }
        if self.stdout {
            match &self.bar {
                Some(b) => b.suspend(|| println!("{text}")),
                None => println!("{text}"),
            }
        }
    }

    fn progress(&mut self, builds: u32, runs: u32, best: f64) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "builds {builds}, runs {runs}, leading commit holds {:.1}%",
                best * 100.0
            ));
        }
    }
}

impl Drop for TextLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// "3h34m58s", "12m5s", "41.2s", as the reference log writes durations.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else {
        format!("{m}m{sec}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_the_reference() {
        assert_eq!(super::duration(12899.0), "3h34m59s");
        assert_eq!(super::duration(725.0), "12m5s");
        assert_eq!(super::duration(4.25), "4.2s");
    }
}
