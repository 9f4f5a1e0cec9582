//! Addresses written inside devicetree binding files (`*.yaml`), which
//! get_maintainer.pl adds with the role "in file". The script matches bytes
//! (its `À-ÿ` ranges are UTF-8 byte ranges), so this works on bytes too.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::email::{format_email, parse_email};

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// Whether get_maintainer.pl scans this file for addresses by default.
pub(crate) fn scanned(path: &str) -> bool {
    path.ends_with(".yaml") && !path.ends_with("MAINTAINERS")
}

/// The addresses of a file's text, formatted "Name <addr>".
pub(crate) fn addresses(text: &[u8]) -> Vec<String> {
    static FIND: OnceLock<Regex> = OnceLock::new();
    let find = re(
        &FIND,
        r#"(?-u)[A-Za-z\x80-\xC3"' ,.+\-]*\s*,*\s*[(<{]?[A-Za-z0-9_.+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z0-9]+[)>}]?"#,
    );
    find.find_iter(text).map(|m| clean(m.as_bytes())).collect()
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphabetic()
        || (0x80..=0xC3).contains(&b)
        || matches!(b, b'\'' | b',' | b'.' | b'+' | b'-')
}

/// get_maintainer.pl's `clean_file_emails` for one match: keep at most the
/// last three name words, drop stray commas and dots.
fn clean(raw: &[u8]) -> String {
    static ADDR: OnceLock<Regex> = OnceLock::new();
    let bracketed = re(
        &ADDR,
        r"(?-u)[(<{]?([A-Za-z0-9_.+\-]+@[A-Za-z0-9.\-]+)[)>}]?",
    )
    .replace_all(raw, &b"<$1>"[..]);
    let email = String::from_utf8_lossy(&bracketed).into_owned();
    let (mut name, address) = parse_email(&email);
    if name == "\",\"" || name == "\".\"" {
        name.clear();
    }
    let mut words: Vec<&[u8]> = name.as_bytes().split(|&b| !is_name_byte(b)).collect();
    while words.last().is_some_and(|w| w.is_empty()) {
        words.pop();
    }
    let mut name: Vec<u8> = name.as_bytes().to_vec();
    if words.len() > 2 {
        let n = words.len();
        let (first, middle, last) = (words[n - 3], words[n - 2], words[n - 1]);
        let initial = |w: &[u8]| w.len() == 1 || (w.len() == 2 && w[1] == b'.');
        let keep_first = (first.len() == 1 && first[0].is_ascii_alphabetic())
            || (first.len() == 2 && first[1] == b'.')
            || initial(middle);
        name = if keep_first {
            [first, b" ", middle, b" ", last].concat()
        } else {
            [middle, b" ", last].concat()
        };
    }
    let punct = |b: u8| b == b',' || b == b'.';
    if name.last().is_some_and(|&b| punct(b)) {
        name.pop();
    } else if name.len() >= 2 && punct(name[name.len() - 2]) && name[name.len() - 1] == b'"' {
        let n = name.len();
        name.truncate(n - 2);
        name.push(b'"');
    }
    if name.first().is_some_and(|&b| punct(b)) {
        name.remove(0);
    } else if name.len() >= 2 && name[0] == b'"' && punct(name[1]) {
        name.remove(1);
    }
    format_email(&String::from_utf8_lossy(&name), &address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_maintainers_are_found() {
        let text = b"title: X\n\nmaintainers:\n  - Robert Richter <rrichter@marvell.com>\n  - Rob Herring <robh@kernel.org>\n";
        assert_eq!(
            addresses(text),
            [
                "Robert Richter <rrichter@marvell.com>",
                "Rob Herring <robh@kernel.org>"
            ]
        );
    }

    #[test]
    fn long_names_keep_last_words() {
        assert_eq!(
            clean(b"  - Some Long Person Name <a@b.org>"),
            "Person Name <a@b.org>"
        );
        assert_eq!(
            clean(b"  - Mary J. Blige <m@b.org>"),
            "\"Mary J. Blige\" <m@b.org>"
        );
    }
}
