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

/// Text from a repository or a console, made safe for a terminal and a log
/// file: control characters (all but tab), DEL, C1 controls and the
/// Unicode controls that reorder text are written as escapes (`\x1b`,
/// `\n`, `\u{202e}`), so a commit subject cannot clear the screen, move
/// the cursor, set the window title, add a link or print a line of its
/// own. The JSON outputs keep the raw text.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !bad(c) {
            out.push(c);
        } else if c == '\n' {
            out.push_str("\\n");
        } else if c == '\r' {
            out.push_str("\\r");
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
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

/// A commit hash shortened for people (12 hex digits, like git's log).
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(super::escape("plain\ttext"), "plain\ttext");
        let subject = "fix\u{1b}]0;pwned\u{7}\u{1b}[2J\nabc is the first bad commit\u{202e}";
        let e = super::escape(subject);
        assert!(!e.chars().any(|c| c.is_control() && c != '\t'), "{e}");
        assert_eq!(
            e,
            "fix\\x1b]0;pwned\\x07\\x1b[2J\\nabc is the first bad commit\\u{202e}"
        );
        assert_eq!(super::escape("\u{9b}31m"), "\\x9b31m");
    }

    #[test]
    fn durations_read_like_the_reference() {
        assert_eq!(super::duration(12899.0), "3h34m59s");
        assert_eq!(super::duration(725.0), "12m5s");
        assert_eq!(super::duration(4.25), "4.2s");
    }
}
