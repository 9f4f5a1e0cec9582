//! Name/address handling the way get_maintainer.pl prints it: splitting
//! "Name <addr>", quoting names with special characters, `.mailmap`
//! rewriting and the name-or-address de-duplication.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// Perl's `\s` on byte strings.
fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn trim(s: &str) -> &str {
    s.trim_matches(is_perl_space)
}

/// `s/^\"|\"$//g`: one quote off each end.
fn strip_quotes(s: &str) -> &str {
    let s = s.strip_prefix('"').unwrap_or(s);
    s.strip_suffix('"').unwrap_or(s)
}

/// Quotes a name holding anything but ASCII word characters, spaces and
/// dashes (Perl's `\w` is ASCII-only on undecoded input).
fn quote_name(name: &str) -> String {
    let special = name
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ' ' || c == '-'));
    if !special {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 4);
    out.push('"');
    let mut prev = '\0';
    for c in name.chars() {
        if c == '"' && prev != '\\' {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out.push('"');
    out
}

/// Splits "Name <addr>" / "<addr>" / "addr" into (quoted name, address).
pub(crate) fn parse_email(formatted: &str) -> (String, String) {
    static FULL: OnceLock<Regex> = OnceLock::new();
    static ANGLE: OnceLock<Regex> = OnceLock::new();
    static BARE: OnceLock<Regex> = OnceLock::new();
    let (mut name, mut address) = ("", "");
    if let Some(c) = re(&FULL, r"^([^<]+)<(.+@.*)>.*$").captures(formatted) {
        name = c.get(1).map_or("", |m| m.as_str());
        address = c.get(2).map_or("", |m| m.as_str());
    } else if let Some(c) = re(&ANGLE, r"^\s*<(.+@\S*)>.*$").captures(formatted) {
        address = c.get(1).map_or("", |m| m.as_str());
    } else if let Some(c) = re(&BARE, r"^(.+@\S*).*$").captures(formatted) {
        address = c.get(1).map_or("", |m| m.as_str());
    }
    let name = strip_quotes(trim(name));
    (quote_name(name), trim(address).to_string())
}

/// "Name <addr>", or the bare address when there is no name.
pub(crate) fn format_email(name: &str, address: &str) -> String {
    let name = quote_name(strip_quotes(trim(name)));
    let address = trim(address);
    if name.is_empty() {
        address.to_string()
    } else {
        format!("{name} <{address}>")
    }
}

/// The `.mailmap` of the tree: maps old names/addresses to current ones.
#[derive(Debug, Default, Clone)]
pub(crate) struct Mailmap {
    names: HashMap<String, String>,
    addresses: HashMap<String, String>,
}

impl Mailmap {
    pub(crate) fn parse(text: &str) -> Mailmap {
        static ONE: OnceLock<Regex> = OnceLock::new();
        static TWO_ADDR: OnceLock<Regex> = OnceLock::new();
        static NAME_TWO_ADDR: OnceLock<Regex> = OnceLock::new();
        static TWO_NAMES: OnceLock<Regex> = OnceLock::new();
        let mut map = Mailmap::default();
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("");
            let line = trim(line);
            if line.is_empty() {
                continue;
            }
            if let Some(c) = re(&ONE, r"^([^<]+)<([^>]+)>$").captures(line) {
                let (name, addr) = parse_email(&format!("{} <{}>", c[1].trim_end(), &c[2]));
                map.names.insert(addr, name);
            } else if let Some(c) = re(&TWO_ADDR, r"^<([^>]+)>\s*<([^>]+)>$").captures(line) {
                map.addresses.insert(c[2].to_string(), c[1].to_string());
            } else if let Some(c) =
                re(&NAME_TWO_ADDR, r"^(.+)<([^>]+)>\s*<([^>]+)>$").captures(line)
            {
                let (name, addr) = parse_email(&format!("{} <{}>", c[1].trim_end(), &c[2]));
                map.names.insert(c[3].to_string(), name);
                map.addresses.insert(c[3].to_string(), addr);
            } else if let Some(c) =
                re(&TWO_NAMES, r"^(.+)<([^>]+)>\s*(.+)\s*<([^>]+)>$").captures(line)
            {
                let (name, addr) = parse_email(&format!("{} <{}>", c[1].trim_end(), &c[2]));
                let (wname, waddr) = parse_email(&format!("{} <{}>", c[3].trim_end(), &c[4]));
                let wrong = format_email(&wname, &waddr);
                map.names.insert(wrong.clone(), name);
                map.addresses.insert(wrong, addr);
            }
        }
        map
    }

    /// get_maintainer.pl's `mailmap_email`.
    pub(crate) fn apply(&self, line: &str) -> String {
        let (name, address) = parse_email(line);
        let email = format_email(&name, &address);
        let key = if self.names.contains_key(&email) || self.addresses.contains_key(&email) {
            &email
        } else {
            &address
        };
        let real_name = self.names.get(key).unwrap_or(&name);
        let real_address = self.addresses.get(key).unwrap_or(&address);
        format_email(real_name, real_address)
    }
}

/// get_maintainer.pl's `deduplicate_email`: the first spelling seen of a
/// name (or, failing that, an address) wins for later entries.
#[derive(Default)]
pub(crate) struct Dedup {
    by_name: HashMap<String, (String, String)>,
    by_address: HashMap<String, (String, String)>,
}

impl Dedup {
    pub(crate) fn canonical(&mut self, mailmap: &Mailmap, email: &str) -> String {
        let (name, address) = parse_email(email);
        let email = mailmap.apply(&format_email(&name, &address));
        let (mut name, mut address) = parse_email(&email);
        let lname = name.to_ascii_lowercase();
        let laddr = address.to_ascii_lowercase();
        let known = if !name.is_empty() && self.by_name.contains_key(&lname) {
            self.by_name.get(&lname)
        } else {
            self.by_address.get(&laddr)
        };
        if let Some((n, a)) = known {
            (name, address) = (n.clone(), a.clone());
        } else {
            self.by_name.insert(lname, (name.clone(), address.clone()));
            self.by_address
                .insert(laddr, (name.clone(), address.clone()));
        }
        mailmap.apply(&format_email(&name, &address))
    }
}

/// Splits a maintainer value holding several comma-separated addresses;
/// a single address (commas inside quotes, parentheses or a display name
/// included) stays whole, as get_maintainer.pl's RFC 822 check leaves it.
pub(crate) fn split_address_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '<' if !quoted => depth += 1,
            ')' | '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    if parts.len() > 1 && parts.iter().all(|p| p.contains('@')) {
        parts
    } else {
        vec![value]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_quote_special_names() {
        let (n, a) = parse_email("Rafael J. Wysocki <rafael@kernel.org>");
        assert_eq!(n, "\"Rafael J. Wysocki\"");
        assert_eq!(
            format_email(&n, &a),
            "\"Rafael J. Wysocki\" <rafael@kernel.org>"
        );
        let (n, a) = parse_email("Jens Axboe <axboe@kernel.dk>");
        assert_eq!((n.as_str(), a.as_str()), ("Jens Axboe", "axboe@kernel.dk"));
        let (n, a) = parse_email("Paulo Alcantara <pc@cjr.nz> (DFS, global name space)");
        assert_eq!((n.as_str(), a.as_str()), ("Paulo Alcantara", "pc@cjr.nz"));
        assert_eq!(
            parse_email("list@vger.kernel.org").1,
            "list@vger.kernel.org"
        );
    }

    #[test]
    fn mailmap_rewrites_old_address() {
        let m = Mailmap::parse("Jane Doe <jane@new.org> <jane@old.org>\n<a@new> <a@old>\n");
        assert_eq!(m.apply("J Doe <jane@old.org>"), "Jane Doe <jane@new.org>");
        assert_eq!(m.apply("a@old"), "a@new");
        assert_eq!(m.apply("x <x@y>"), "x <x@y>");
    }

    #[test]
    fn dedup_prefers_first_spelling() {
        let m = Mailmap::default();
        let mut d = Dedup::default();
        assert_eq!(d.canonical(&m, "Ann <ann@a.org>"), "Ann <ann@a.org>");
        assert_eq!(d.canonical(&m, "ann <ann@b.org>"), "Ann <ann@a.org>");
        assert_eq!(d.canonical(&m, "Other <ANN@a.org>"), "Ann <ann@a.org>");
    }

    #[test]
    fn address_lists_split_only_when_every_part_is_an_address() {
        assert_eq!(split_address_list("a <a@x>, b <b@x>").len(), 2);
        assert_eq!(split_address_list("Weigelt, metux <i@m.net>").len(), 1);
        assert_eq!(split_address_list("\"Lee, C\" <j@s.com>").len(), 1);
    }
}
