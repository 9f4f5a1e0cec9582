//! Commit message trailers (`Signed-off-by:`, `Reviewed-by:`, `Cc:`,
//! `Fixes:`, `Link:` ...) and the recipients of a bisection result.
//!
//! Recipients follow syzbot's rule (brief, section 2), with MAINTAINERS
//! always consulted rather than only "if few":
//! - To: the commit author and every Signed-off-by / Reviewed-by /
//!   Acked-by / Tested-by address; the maintainers (`M:`), the addresses a
//!   touched binding names, and the lists (`L:`) of the matching entries.
//! - Cc: the reviewers (`R:`) and the catch-all list of "THE REST"
//!   (linux-kernel@vger.kernel.org), which syzbot's reference result also
//!   puts in Cc. `Cc:` trailers are ignored.
//! - Composite keys count as their parts: `Reviewed-and-tested-by:` is a
//!   `Reviewed-by:` and a `Tested-by:`, `Reported-and-tested-by:` a
//!   `Tested-by:` (and a `Reported-by:`, which alone names no recipient).
//! - [`result_recipients`] adds, in Cc, everyone the MAINTAINERS entries
//!   of the crash's guilty file name: they look after the code that
//!   crashed, whoever wrote the culprit.
//!
//! Addresses are lower-cased, sorted and de-duplicated; an address in To
//! is not repeated in Cc. Nothing here reads git or the file system,
//! except [`commit_recipients`] through [`Maintainers`].

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use crate::maintainers::{Input, Maintainers, MaintainersError, Recipient, RecipientKind};

/// One `Key: value` trailer line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trailer {
    pub key: String,
    pub value: String,
}

impl Trailer {
    /// The e-mail address in the value, lower-cased, if there is one.
    pub fn email(&self) -> Option<String> {
        email_address(&self.value)
    }

    /// The keys this trailer stands for (see [`key_parts`]).
    pub fn parts(&self) -> Vec<String> {
        key_parts(&self.key)
    }

    /// Whether it names someone who stood behind the change (one of
    /// [`SIGNER_KEYS`], alone or as part of a composite key).
    pub fn is_signer(&self) -> bool {
        self.parts()
            .iter()
            .any(|k| SIGNER_KEYS.contains(&k.as_str()))
    }
}

/// Keys whose values name people who stood behind the change.
pub const SIGNER_KEYS: &[&str] = &["signed-off-by", "reviewed-by", "acked-by", "tested-by"];

/// The keys a trailer key stands for, lower-cased: a composite `*-by` key
/// joined with `-and-` gives each part with `-by` (`Reviewed-and-tested-by`
/// -> `reviewed-by`, `tested-by`); any other key gives itself.
pub fn key_parts(key: &str) -> Vec<String> {
    let k = key.to_ascii_lowercase();
    match k.strip_suffix("-by") {
        Some(stem) if stem.contains("-and-") => stem
            .split("-and-")
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}-by"))
            .collect(),
        _ => vec![k],
    }
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

fn trailer_line(line: &str) -> Option<Trailer> {
    static LINE: OnceLock<Regex> = OnceLock::new();
    let c = re(&LINE, r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]+(\S.*?)\s*$").captures(line)?;
    Some(Trailer {
        key: c[1].to_string(),
        value: c[2].to_string(),
    })
}

/// Whether a key is one that kernel commits carry outside the final block
/// too (e.g. before a `[maintainer: note]` paragraph).
fn is_known_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with("-by") || matches!(k.as_str(), "cc" | "fixes" | "link" | "closes")
}

/// The trailers of a commit message, in order. Lines of the last paragraph
/// that look like `Key: value` count, and so do `*-by:`, `Cc:`, `Fixes:`,
/// `Link:` and `Closes:` lines at column 0 anywhere after the subject
/// (indented lines are quotes, not trailers).
pub fn parse(message: &str) -> Vec<Trailer> {
    let mut lines: Vec<&str> = message.lines().collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let body_start = lines
        .iter()
        .position(|l| l.trim().is_empty())
        .unwrap_or(lines.len());
    let last_para_start = lines
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(lines.len(), |i| i + 1);
    lines
        .iter()
        .enumerate()
        .skip(body_start)
        .filter_map(|(i, l)| {
            let t = trailer_line(l)?;
            (i >= last_para_start || is_known_key(&t.key)).then_some(t)
        })
        .collect()
}

/// The address in "Name <addr>", "<addr> # note" or a bare "addr",
/// lower-cased.
pub fn email_address(value: &str) -> Option<String> {
    static ANGLE: OnceLock<Regex> = OnceLock::new();
    static BARE: OnceLock<Regex> = OnceLock::new();
    let c = re(&ANGLE, r"<([^<>\s]+@[^<>\s]+)>")
        .captures(value)
        .or_else(|| re(&BARE, r#"([^\s<>()\[\]"',;]+@[^\s<>()\[\]"',;]+)"#).captures(value))?;
    Some(c[1].trim_end_matches('.').to_ascii_lowercase())
}

/// Who a bisection result goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// Combines the commit's people with its MAINTAINERS result (as computed
/// by [`Maintainers::lookup`]) by the rules in the module documentation.
pub fn recipients(author_email: &str, message: &str, maintainers: &[Recipient]) -> Recipients {
    let mut to = BTreeSet::new();
    let mut cc = BTreeSet::new();
    if let Some(a) = email_address(author_email) {
        to.insert(a);
    }
    for t in parse(message) {
        if t.is_signer() {
            to.extend(t.email());
        }
    }
    for r in maintainers {
        let addr = r.address.to_ascii_lowercase();
        match r.kind {
            RecipientKind::Reviewer => cc.insert(addr),
            RecipientKind::List if r.entry == "THE REST" || !r.role.contains(':') => {
                cc.insert(addr)
            }
            _ => to.insert(addr),
        };
    }
    let cc = cc.into_iter().filter(|a| !to.contains(a)).collect();
    Recipients {
        to: to.into_iter().collect(),
        cc,
    }
}

/// [`recipients`] of the culprit, plus in Cc everyone the MAINTAINERS
/// entries of the crash's guilty file name (`guilty`, as computed by
/// [`Maintainers::lookup`] for that file) who is not in To already.
pub fn result_recipients(
    author_email: &str,
    message: &str,
    maintainers: &[Recipient],
    guilty: &[Recipient],
) -> Recipients {
    let mut r = recipients(author_email, message, maintainers);
    let mut cc: BTreeSet<String> = r.cc.into_iter().collect();
    cc.extend(guilty.iter().map(|g| g.address.to_ascii_lowercase()));
    r.cc = cc.into_iter().filter(|a| !r.to.contains(a)).collect();
    r
}

/// Recipients of a commit: its trailers plus the MAINTAINERS entries of the
/// patch (`git format-patch` text, which also lets `K:` keywords match) or,
/// without a patch, of the changed files. No MAINTAINERS: trailers only.
pub fn commit_recipients(
    maintainers: Option<&Maintainers>,
    author_email: &str,
    message: &str,
    changed_files: &[String],
    patch: Option<&[u8]>,
) -> Result<Recipients, MaintainersError> {
    let found = match (maintainers, patch) {
        (None, _) => Vec::new(),
        (Some(m), Some(p)) => m.lookup(&[Input::Patch(p)])?,
        (Some(m), None) => {
            let inputs: Vec<Input<'_>> = changed_files
                .iter()
                .map(|f| Input::File {
                    path: f,
                    content: None,
                })
                .collect();
            m.lookup(&inputs)?
        }
    };
    Ok(recipients(author_email, message, &found))
}

/// The two lines of a bisection result, in syzbot's format:
/// `recipients (to): ["a@x" "b@y"]`.
pub fn format_lines(r: &Recipients) -> String {
    let quote = |v: &[String]| {
        v.iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "recipients (to): [{}]\nrecipients (cc): [{}]\n",
        quote(&r.to),
        quote(&r.cc)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO_URING_FIX: &str = "io_uring: ensure IORING_REGISTER_IOWQ_MAX_WORKERS works with SQPOLL

SQPOLL has a different thread doing submissions, we need to check for
that and use the right task context when updating the worker values.
Note: this line is prose, not a trailer.

Link: https://github.com/axboe/liburing/issues/420
Fixes: 2e480058ddc2 (\"io-wq: provide a way to limit max number of workers\")
Reported-by: Johannes Lundberg <johalun0@gmail.com>
Tested-by: Johannes Lundberg <johalun0@gmail.com>
Cc: Someone Else <someone@example.org>
Signed-off-by: Jens Axboe <axboe@kernel.dk>
";

    #[test]
    fn parses_trailers_but_not_prose() {
        let t = parse(IO_URING_FIX);
        let keys: Vec<&str> = t.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Link",
                "Fixes",
                "Reported-by",
                "Tested-by",
                "Cc",
                "Signed-off-by"
            ]
        );
        assert_eq!(t[5].email().as_deref(), Some("axboe@kernel.dk"));
        assert_eq!(
            email_address("<stable@vger.kernel.org> # 5.10").as_deref(),
            Some("stable@vger.kernel.org")
        );
        assert_eq!(
            email_address("Foo Bar <Foo.Bar@Example.ORG>").as_deref(),
            Some("foo.bar@example.org")
        );
    }

    fn rec(address: &str, role: &str, kind: RecipientKind, entry: &str) -> Recipient {
        Recipient {
            email: address.to_string(),
            address: address.to_string(),
            role: role.to_string(),
            kind,
            entry: entry.to_string(),
        }
    }

    #[test]
    fn reproduces_the_reference_result() {
        let found = [
            rec(
                "axboe@kernel.dk",
                "maintainer:IO_URING",
                RecipientKind::Maintainer,
                "IO_URING",
            ),
            rec(
                "asml.silence@gmail.com",
                "reviewer:IO_URING",
                RecipientKind::Reviewer,
                "IO_URING",
            ),
            rec(
                "io-uring@vger.kernel.org",
                "open list:IO_URING",
                RecipientKind::List,
                "IO_URING",
            ),
            rec(
                "linux-kernel@vger.kernel.org",
                "open list",
                RecipientKind::List,
                "THE REST",
            ),
        ];
        let r = recipients("Jens Axboe <axboe@kernel.dk>", IO_URING_FIX, &found);
        assert_eq!(
            r.to,
            [
                "axboe@kernel.dk",
                "io-uring@vger.kernel.org",
                "johalun0@gmail.com"
            ]
        );
        assert_eq!(
            r.cc,
            ["asml.silence@gmail.com", "linux-kernel@vger.kernel.org"]
        );
        assert_eq!(
            format_lines(&r),
            "recipients (to): [\"axboe@kernel.dk\" \"io-uring@vger.kernel.org\" \"johalun0@gmail.com\"]\n\
             recipients (cc): [\"asml.silence@gmail.com\" \"linux-kernel@vger.kernel.org\"]\n"
        );
    }

    #[test]
    fn composite_trailers_count_as_their_parts() {
        assert_eq!(
            key_parts("Reviewed-and-Tested-by"),
            ["reviewed-by", "tested-by"]
        );
        assert_eq!(
            key_parts("reported-and-tested-by"),
            ["reported-by", "tested-by"]
        );
        assert_eq!(
            key_parts("Acked-and-reviewed-and-tested-by"),
            ["acked-by", "reviewed-by", "tested-by"]
        );
        assert_eq!(key_parts("Signed-off-by"), ["signed-off-by"]);
        assert_eq!(key_parts("Link"), ["link"]);
        let msg = "s\n\nbody\n\n\
                   Reported-and-tested-by: syzbot+1234@syzkaller.appspotmail.com\n\
                   Reviewed-and-tested-by: Rita <rita@x.org>\n\
                   Suggested-and-reported-by: Sam <sam@x.org>\n\
                   Cc-and-reviewed-by: odd@x.org\n\
                   Signed-off-by: A <a@x.org>\n";
        let r = recipients("a@x.org", msg, &[]);
        assert_eq!(
            r.to,
            [
                "a@x.org",
                "odd@x.org",
                "rita@x.org",
                "syzbot+1234@syzkaller.appspotmail.com"
            ]
        );
        assert!(r.cc.is_empty());
    }

    #[test]
    fn the_guilty_files_people_are_in_cc() {
        let patch = [rec(
            "m@x.org",
            "maintainer:FOO",
            RecipientKind::Maintainer,
            "FOO",
        )];
        let guilty = [
            rec(
                "m@x.org",
                "maintainer:FOO",
                RecipientKind::Maintainer,
                "FOO",
            ),
            rec(
                "Bar@Y.org",
                "maintainer:BAR",
                RecipientKind::Maintainer,
                "BAR",
            ),
            rec(
                "bar-list@y.org",
                "open list:BAR",
                RecipientKind::List,
                "BAR",
            ),
            rec("rev@y.org", "reviewer:BAR", RecipientKind::Reviewer, "BAR"),
        ];
        let r = result_recipients("a@x.org", "s\n\nSigned-off-by: a@x.org\n", &patch, &guilty);
        assert_eq!(r.to, ["a@x.org", "m@x.org"]);
        assert_eq!(r.cc, ["bar-list@y.org", "bar@y.org", "rev@y.org"]);
        // Nothing guilty: the culprit's recipients alone.
        assert_eq!(
            result_recipients("a@x.org", "s", &patch, &[]),
            recipients("a@x.org", "s", &patch)
        );
    }

    #[test]
    fn reviewer_who_also_signed_is_only_in_to() {
        let found = [rec(
            "rev@x.org",
            "reviewer:FOO",
            RecipientKind::Reviewer,
            "FOO",
        )];
        let r = recipients(
            "a@x.org",
            "s\n\nbody\n\nReviewed-by: R <REV@x.org>\n\n\n",
            &found,
        );
        assert_eq!(r.to, ["a@x.org", "rev@x.org"]);
        assert!(r.cc.is_empty());
    }
}
