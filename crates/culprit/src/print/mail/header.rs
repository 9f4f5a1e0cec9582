//! RFC 5322 header fields: addresses quoted as the grammar demands,
//! non-ASCII text as RFC 2047 encoded words, long fields folded at 78
//! columns, and nothing from the input able to start a new header line.

/// A mailbox: an address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

impl Address {
    pub fn new(email: impl Into<String>) -> Address {
        Address {
            name: None,
            email: email.into(),
        }
    }

    pub fn named(name: impl Into<String>, email: impl Into<String>) -> Address {
        Address {
            name: Some(name.into()),
            email: email.into(),
        }
    }
}

/// Lines are folded before this many characters where they can be.
pub const LINE: usize = 78;
/// Encoded words are kept this short (RFC 2047 allows 75), so that one
/// fits after the longest field name we write on the field's first line.
const ENCODED_WORD: usize = 60;

/// RFC 5322 `atext`: what an atom may hold unquoted.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Control characters (CR and LF among them) become spaces: no input can
/// end a header line or start another.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A `quoted-string`: `"` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    q.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// RFC 2047 "Q" encoded words for `text`, each at most 60 characters,
/// never splitting a character. Only the characters allowed in a phrase
/// stay as they are, so the words are valid in display names and in
/// unstructured fields alike.
pub fn encoded_words(text: &str) -> Vec<String> {
    const OPEN: &str = "=?UTF-8?Q?";
    const CLOSE: &str = "?=";
    let room = ENCODED_WORD - OPEN.len() - CLOSE.len();
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        let enc = if c == ' ' {
            "_".to_string()
        } else if c.is_ascii_alphanumeric() || "!*+-/".contains(c) {
            c.to_string()
        } else {
            let mut buf = [0u8; 4];
            c.encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("={b:02X}"))
                .collect()
        };
        if cur.len() + enc.len() > room {
            words.push(format!("{OPEN}{cur}{CLOSE}"));
            cur.clear();
        }
        cur.push_str(&enc);
    }
    if !cur.is_empty() || words.is_empty() {
        words.push(format!("{OPEN}{cur}{CLOSE}"));
    }
    words
}

/// A display name as a phrase: atoms as they are, other ASCII text
/// quoted, non-ASCII text encoded. Returned as the tokens it may be
/// folded between.
fn phrase(name: &str) -> Vec<String> {
    if !name.is_ascii() {
        return encoded_words(name);
    }
    let words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
    if !words.is_empty() && words.iter().all(|w| w.chars().all(is_atext)) {
        words.into_iter().map(str::to_string).collect()
    } else {
        vec![quoted(name.trim())]
    }
}

/// `local@domain`, the local part quoted unless it is a dot-atom.
fn addr_spec(email: &str) -> String {
    let email = clean(email);
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return quoted(email);
    };
    let dot_atom = !local.is_empty()
        && local
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(is_atext));
    if dot_atom {
        format!("{local}@{domain}")
    } else {
        format!("{}@{domain}", quoted(local))
    }
}

/// The tokens of one mailbox: `name <addr>` or the bare address.
fn mailbox(a: &Address) -> Vec<String> {
    let spec = addr_spec(&a.email);
    match a.name.as_deref().map(clean) {
        Some(n) if !n.trim().is_empty() => {
            let mut t = phrase(n.trim());
            t.push(format!("<{spec}>"));
            t
        }
        _ => vec![spec],
    }
}

/// Folds tokens into header lines: a token goes on the current line when
/// it fits within [`LINE`], else on a continuation line starting with a
/// space. `glue[i]` is put before token i when on the same line.
fn fold(name: &str, tokens: &[(String, &str)]) -> String {
    let mut out = format!("{name}:");
    let mut line_len = out.len();
    for (i, (tok, glue)) in tokens.iter().enumerate() {
        let glue = if i == 0 { " " } else { glue };
        if i > 0 && line_len + glue.len() + tok.len() > LINE {
            // A glue ending in a space (", ") keeps its comma on the line.
            let keep = glue.trim_end();
            out.push_str(keep);
            out.push_str("\n ");
            line_len = 1;
        } else {
            out.push_str(glue);
            line_len += glue.len();
        }
        out.push_str(tok);
        line_len += tok.len();
    }
    out.push('\n');
    out
}

/// An address-list field (`To`, `Cc`, `From`), folded between mailboxes
/// and between the words of a long display name.
pub fn address_field(name: &str, list: &[Address]) -> String {
    let mut tokens: Vec<(String, &str)> = Vec::new();
    for (i, a) in list.iter().enumerate() {
        for (j, t) in mailbox(a).into_iter().enumerate() {
            let glue = if j > 0 {
                " "
            } else if i > 0 {
                ", "
            } else {
                " "
            };
            tokens.push((t, glue));
        }
    }
    fold(name, &tokens)
}

/// Whether a word of unstructured text must be encoded: not ASCII, or
/// it would be taken for an encoded word.
fn needs_encoding(w: &str) -> bool {
    !w.is_ascii() || (w.starts_with("=?") && w.ends_with("?="))
}

/// An unstructured field (`Subject`): folded at spaces. Runs of words
/// that are not ASCII become encoded words, a run at a time: the space
/// between two encoded words is dropped by readers, so spaces inside a
/// run are encoded with it.
pub fn text_field(name: &str, text: &str) -> String {
    let text = clean(text);
    let mut words: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        if needs_encoding(w) {
            run.push(w);
            continue;
        }
        if !run.is_empty() {
            words.extend(encoded_words(&run.join(" ")));
            run.clear();
        }
        words.push(w.to_string());
    }
    if !run.is_empty() {
        words.extend(encoded_words(&run.join(" ")));
    }
    let tokens: Vec<(String, &str)> = words.into_iter().map(|w| (w, " ")).collect();
    fold(name, &tokens)
}

/// A field whose value is one token (`Date`, `Message-ID`,
/// `In-Reply-To`): control characters removed, not folded.
pub fn token_field(name: &str, value: &str) -> String {
    format!("{name}: {}\n", clean(value).trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_quoted_where_the_grammar_needs_it() {
        let f = |a: Address| address_field("To", &[a]);
        assert_eq!(f(Address::new("a@x.org")), "To: a@x.org\n");
        assert_eq!(
            f(Address::named("Jens Axboe", "axboe@kernel.dk")),
            "To: Jens Axboe <axboe@kernel.dk>\n"
        );
        assert_eq!(
            f(Address::named("Doe, John (ACME)", "j@x.org")),
            "To: \"Doe, John (ACME)\" <j@x.org>\n"
        );
        assert_eq!(
            f(Address::named("say \"hi\" \\o/", "j@x.org")),
            "To: \"say \\\"hi\\\" \\\\o/\" <j@x.org>\n"
        );
        assert_eq!(
            f(Address::new("syzbot+abc@syzkaller.appspotmail.com")),
            "To: syzbot+abc@syzkaller.appspotmail.com\n"
        );
        assert_eq!(
            f(Address::new("john doe@x.org")),
            "To: \"john doe\"@x.org\n"
        );
        assert_eq!(f(Address::new(".a@x.org")), "To: \".a\"@x.org\n");
        assert_eq!(
            f(Address::named("Jürgen", "j@x.org")),
            "To: =?UTF-8?Q?J=C3=BCrgen?= <j@x.org>\n"
        );
        assert_eq!(
            f(Address::named("Evil\r\nBcc: x@y", "j@x.org")),
            "To: \"Evil  Bcc: x@y\" <j@x.org>\n"
        );
    }

    #[test]
    fn long_fields_fold_at_78_columns() {
        let list: Vec<Address> = (0..12)
            .map(|i| Address::new(format!("person{i}@example.org")))
            .collect();
        let f = address_field("Cc", &list);
        assert!(f.lines().count() > 2, "{f}");
        for l in f.lines() {
            assert!(l.len() <= LINE, "{l:?}");
        }
        assert!(f.lines().skip(1).all(|l| l.starts_with(' ')), "{f}");
        let unfolded = f.replace("\n ", " ");
        assert_eq!(unfolded.matches(", ").count(), 11, "{unfolded}");
        let s = text_field("Subject", &"word ".repeat(40));
        assert!(s.lines().all(|l| l.len() <= LINE), "{s}");
        assert_eq!(
            s.replace("\n ", " ").trim_end(),
            format!("Subject: {}", "word ".repeat(40).trim_end())
        );
    }

    #[test]
    fn encoded_words_stay_short_and_whole() {
        let text = "ü".repeat(40);
        let words = encoded_words(&text);
        assert!(words.len() > 1);
        for w in &words {
            assert!(w.len() <= ENCODED_WORD, "{w}");
            assert!(w.starts_with("=?UTF-8?Q?") && w.ends_with("?="));
            // Whole characters only: every word decodes on its own.
            let body = &w[10..w.len() - 2];
            assert_eq!(body.len() % 6, 0, "{w}");
        }
        assert_eq!(encoded_words("a b_c"), ["=?UTF-8?Q?a_b=5Fc?="]);
        // Only the words that need it, a run at a time.
        assert_eq!(
            text_field("Subject", "fix Jürgen Groß's bug =?x?="),
            "Subject: fix =?UTF-8?Q?J=C3=BCrgen_Gro=C3=9F=27s?= bug\n =?UTF-8?Q?=3D=3Fx=3F=3D?=\n"
        );
    }
}
