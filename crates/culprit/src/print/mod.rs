//! Printers: typed events and results in, text out.
//!
//! - [`text`]: the syzbot-format log (stdout and `WORKDIR/bisect.log`) and
//!   the closing result block;
//! - [`progress`]: the spinner on a terminal;
//! - [`jsonl`]: the JSON-lines event stream (`--events FILE`);
//! - [`trial`]: the text of `culprit test`;
//! - [`mail`]: the e-mail a maintainer receives about a result.
//!
//! Producers never format these texts, and nothing here decides anything.

pub mod jsonl;
pub mod mail;
pub mod progress;
pub mod text;
pub mod trial;

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
