//! From file names and keyword hits to the ordered recipient list, following
//! `get_maintainer.pl --nogit --nogit-fallback` (default options otherwise).

use super::email::{format_email, parse_email, split_address_list, Dedup, Mailmap};
use super::file::{Entry, Rule};
use super::{Maintainers, Recipient, RecipientKind};

/// get_maintainer.pl shortens entry names in roles to 50 bytes.
const SECTION_MAXLEN: usize = 50;

/// The entry name as shown in roles.
pub(crate) fn display_name(name: &str) -> String {
    if name.len() <= SECTION_MAXLEN {
        return name.to_string();
    }
    let mut cut = SECTION_MAXLEN - 3;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", name[..cut].trim_end())
}

/// The role of an entry's `M:` people, from its (last) `S:` status.
fn maintainer_role(entry: &Entry) -> String {
    let status = entry
        .fields
        .iter()
        .rev()
        .find(|f| f.kind == 'S')
        .map_or("unknown".to_string(), |f| f.value.to_ascii_lowercase());
    let role = match status.as_str() {
        "supported" => "supporter",
        "maintained" => "maintainer",
        "odd fixes" => "odd fixer",
        "orphan" => "orphan minder",
        "obsolete" => "obsolete minder",
        "buried alive in reporters" => "chief penguin",
        other => other,
    };
    format!("{role}:{}", display_name(&entry.name))
}

/// Sections matching one file with their specificity, best first; ties stay
/// in MAINTAINERS order (get_maintainer.pl leaves them in hash order,
/// which Perl randomizes per process).
pub(crate) fn matches_for_file(m: &Maintainers, file: &str) -> Vec<(usize, i32)> {
    let p = &m.parsed;
    let names = p.name_rules.matches(file.as_bytes());
    let mut candidates: Vec<usize> = names.iter().map(|n| p.name_rule_entry[n]).collect();
    let dirs = std::iter::once(0).chain(file.match_indices('/').map(|(i, _)| i + 1));
    for end in dirs {
        if let Some(list) = p.by_dir.get(&file[..end]) {
            candidates.extend_from_slice(list);
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut hits: Vec<(usize, i32)> = Vec::new();
    for idx in candidates {
        let entry = &p.entries[idx];
        if entry.excludes.iter().any(|x| x.matches(file)) {
            continue;
        }
        // Later matching lines overwrite earlier ones, as in the script.
        let mut depth = None;
        for rule in &entry.rules {
            match rule {
                Rule::File(p) if p.matches(file) => depth = Some(p.depth),
                Rule::Name(n) if names.matched(*n) => depth = Some(0),
                _ => {}
            }
        }
        if let Some(d) = depth {
            hits.push((idx, d));
        }
    }
    hits.sort_by_key(|h| std::cmp::Reverse(h.1));
    hits
}

/// Accumulates recipients entry by entry (get_maintainer.pl's
/// `add_categories` with its duplicate rules).
#[derive(Default)]
pub(crate) struct Collector {
    people: Vec<Recipient>,
    lists: Vec<Recipient>,
    names_seen: std::collections::HashSet<String>,
    addresses_seen: std::collections::HashSet<String>,
    lists_seen: std::collections::HashSet<String>,
}

impl Collector {
    pub(crate) fn add_entry(&mut self, entry: &Entry) {
        let title = display_name(&entry.name);
        for f in &entry.fields {
            match f.kind {
                'L' => self.add_list(&f.value, &title),
                'M' => {
                    let role = maintainer_role(entry);
                    for a in split_address_list(&f.value) {
                        self.add_person(a, &role, RecipientKind::Maintainer, &entry.name);
                    }
                }
                'R' => {
                    let role = format!("reviewer:{title}");
                    for a in split_address_list(&f.value) {
                        self.add_person(a, &role, RecipientKind::Reviewer, &entry.name);
                    }
                }
                _ => {}
            }
        }
    }

    fn add_list(&mut self, value: &str, title: &str) {
        let (address, extra) = match value.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((a, rest)) => (
                a,
                rest.trim_start_matches(|c: char| c.is_ascii_whitespace()),
            ),
            None => (value, ""),
        };
        if extra.contains("subscribers-only")
            || !self.lists_seen.insert(address.to_ascii_lowercase())
        {
            return;
        }
        let kind = if extra.contains("moderated") {
            "moderated list"
        } else {
            "open list"
        };
        let role = if title == "THE REST" {
            kind.to_string()
        } else {
            format!("{kind}:{title}")
        };
        self.lists.push(Recipient {
            email: address.to_string(),
            address: address.to_string(),
            role,
            kind: RecipientKind::List,
            entry: title.to_string(),
        });
    }

    fn add_person(&mut self, value: &str, role: &str, kind: RecipientKind, entry: &str) {
        let (name, address) = parse_email(value);
        if address.is_empty() {
            return;
        }
        let lname = name.to_ascii_lowercase();
        let laddr = address.to_ascii_lowercase();
        if (!name.is_empty() && self.names_seen.contains(&lname))
            || self.addresses_seen.contains(&laddr)
        {
            return;
        }
        if !name.is_empty() {
            self.names_seen.insert(lname);
        }
        self.addresses_seen.insert(laddr);
        self.people.push(Recipient {
            email: format_email(&name, &address),
            address,
            role: role.to_string(),
            kind,
            entry: display_name(entry),
        });
    }

    /// De-duplicates through `.mailmap`, drops the chief penguin, adds the
    /// addresses found in files and merges identical lines: people first,
    /// then lists.
    pub(crate) fn finish(mut self, mailmap: &Mailmap, file_emails: &[String]) -> Vec<Recipient> {
        let mut dedup = Dedup::default();
        let mut all: Vec<Recipient> = Vec::with_capacity(self.people.len() + self.lists.len());
        for mut r in std::mem::take(&mut self.people) {
            r.email = dedup.canonical(mailmap, &r.email);
            all.push(r);
        }
        all.retain(|r| !is_chief_penguin(&r.email));
        for e in file_emails {
            let (name, address) = parse_email(&mailmap.apply(e));
            let email = format_email(&name, &address);
            let (lname, laddr) = (name.to_ascii_lowercase(), address.to_ascii_lowercase());
            let in_use = (!name.is_empty() && self.names_seen.contains(&lname))
                || self.addresses_seen.contains(&laddr);
            if !address.is_empty() && !in_use {
                if !name.is_empty() {
                    self.names_seen.insert(lname);
                }
                self.addresses_seen.insert(laddr);
                all.push(Recipient {
                    email: email.clone(),
                    address: address.clone(),
                    role: String::new(),
                    kind: RecipientKind::InFile,
                    entry: String::new(),
                });
            }
            // The script tags every listed person with the same name or
            // address, maintainers included.
            for r in &mut all {
                let (rn, ra) = parse_email(&r.email);
                if (rn == name || ra == address) && !r.role.contains("in file") {
                    if r.role.is_empty() {
                        r.role = "in file".to_string();
                    } else {
                        r.role.push_str(",in file");
                    }
                }
            }
        }
        for mut r in self.lists {
            r.email = dedup.canonical(mailmap, &r.email);
            all.push(r);
        }
        let mut seen = std::collections::HashSet::new();
        all.retain(|r| seen.insert(r.email.clone()));
        for r in &mut all {
            r.address = parse_email(&r.email).1;
        }
        all
    }
}

/// Linus is only listed with `--git-chief-penguins`; get_maintainer.pl
/// filters him with an unanchored regex, where `.` matches anything.
fn is_chief_penguin(email: &str) -> bool {
    const CHIEF: &[u8] = b"Linus Torvalds <torvalds@linux-foundation.org>";
    let e = email.as_bytes();
    e.windows(CHIEF.len())
        .any(|w| w.iter().zip(CHIEF).all(|(a, b)| *b == b'.' || a == b))
}
