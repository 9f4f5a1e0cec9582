//! Every variant of the e-mail on typed input made here, and the headers
//! checked twice: against RFC 5322's line syntax by hand, and parsed back
//! by an independent mail parser (mail-parser).

use super::*;

const SHA: &str = "fa84693b3c896460831b6c4b2b4fc6e4a9aa1f1b";
const START: &str = "4c5c6afcc09f7c34ad2db11f6c3206c0dbd2cbd0";

fn culprit_meta() -> CommitMeta {
    CommitMeta {
        hash: SHA.into(),
        parents: vec!["1111111111111111111111111111111111111111".into()],
        author_name: "Jens Axboe".into(),
        author_email: "axboe@kernel.dk".into(),
        date: "Wed, 1 Sep 2021 14:15:59 -0600".into(),
        subject: "io_uring: ensure IORING_REGISTER_IOWQ_MAX_WORKERS works with SQPOLL".into(),
        message: "io_uring: ensure ...\n\nSigned-off-by: Jens Axboe <axboe@kernel.dk>".into(),
    }
}

const OOPS: &str = "general protection fault, probably for non-canonical address 0xdffffc0000000102: 0000 [#1] PREEMPT SMP KASAN
KASAN: null-ptr-deref in range [0x0000000000000810-0x0000000000000817]
RIP: 0010:io_register_iowq_max_workers fs/io_uring.c:10341 [inline]
Call Trace:
 do_syscall_64+0x35/0xb0 arch/x86/entry/common.c:80";

fn base() -> Mail {
    Mail {
        from: Some(Address::named("culprit bot", "bot@example.org")),
        to: vec![
            Address::new("axboe@kernel.dk"),
            Address::new("io-uring@vger.kernel.org"),
        ],
        cc: vec![Address::new("linux-kernel@vger.kernel.org")],
        subject: None,
        subject_prefix: Some("[culprit]".into()),
        in_reply_to: Some("<000000000000abcd@google.com>".into()),
        message_id: Some("<culprit-1@example.org>".into()),
        date: Some("Thu, 2 Sep 2021 10:00:00 +0000".into()),
        direction: Direction::Cause,
        outcome: Outcome::Found {
            commit: culprit_meta(),
            probability: 0.9987,
            flags: Vec::new(),
        },
        verification: Verification::Confirmed {
            runs: 20,
            crashed: 0,
        },
        start: CommitRef {
            sha: START.into(),
            subject: "Merge tag 'for-5.15/io_uring' of git://git.kernel.dk/linux-block".into(),
            tag: None,
        },
        tree: Some(
            "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git master".into(),
        ),
        probability_asked: 0.99,
        crash: CrashInfo {
            title: Some("general protection fault in io_uring_register".into()),
            report: Some(OOPS.into()),
        },
        files: Files {
            log: Some("/w/bisect.log".into()),
            console: Some("/w/runs/fa84693b/3.log".into()),
            config: Some("/w/kernels/fa84693b/config".into()),
            reproducer: Some("/home/me/repro.c".into()),
        },
        effort: Effort {
            revisions: 14,
            builds: 15,
            runs: 213,
            build_secs: 5465.0,
            test_secs: 7333.0,
            q_estimate: Some(0.85),
        },
        trailers: vec!["Reported-by: syzbot+99d1d3e6e1f2a2f5a5a5@syzkaller.appspotmail.com".into()],
        tool: "culprit 0.1.0".into(),
        kernel: true,
    }
}

/// The header block, checked line by line against RFC 5322's syntax, then
/// unfolded into (name, value) pairs.
fn headers(text: &str) -> Vec<(String, String)> {
    let (head, _) = text
        .split_once("\n\n")
        .expect("an empty line ends the headers");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        assert!(line.is_ascii(), "non-ASCII header line {line:?}");
        assert!(line.len() <= 78, "header line over 78 characters: {line:?}");
        assert!(!line.trim().is_empty(), "blank header line");
        if line.starts_with([' ', '\t']) {
            let last = fields
                .last_mut()
                .expect("a continuation line opens the headers");
            last.1.push_str(line);
            continue;
        }
        let (name, value) = line.split_once(':').expect("a field has a colon");
        assert!(
            !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':'),
            "bad field name {name:?}"
        );
        fields.push((name.to_string(), value.trim_start().to_string()));
    }
    for once in [
        "From",
        "To",
        "Cc",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
    ] {
        let n = fields.iter().filter(|(k, _)| k == once).count();
        assert!(n <= 1, "{once} appears {n} times");
    }
    fields
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses the message back with mail-parser and checks it says what went
/// in: addresses, subject, threading fields, body.
fn parse_back(m: &Mail) -> String {
    let text = render(m);
    let fields = headers(&text);
    let parsed = mail_parser::MessageParser::default()
        .parse(text.as_bytes())
        .expect("mail-parser reads the message");
    let want_subject = m.subject.clone().unwrap_or_else(|| subject(m));
    assert_eq!(parsed.subject(), Some(want_subject.as_str()));
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<(Option<String>, String)> {
        a.map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x.name.as_ref().map(|n| n.to_string()),
                        x.address
                            .as_ref()
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let want = |v: &[Address]| -> Vec<(Option<String>, String)> {
        v.iter()
            .map(|a| (a.name.clone(), a.email.clone()))
            .collect()
    };
    assert_eq!(addrs(parsed.to()), want(&m.to));
    assert_eq!(addrs(parsed.cc()), want(&m.cc));
    assert_eq!(addrs(parsed.from()), want(m.from.as_slice()));
    assert_eq!(field(&fields, "To").is_some(), !m.to.is_empty());
    if let Some(id) = &m.message_id {
        assert_eq!(parsed.message_id(), Some(id.trim_matches(['<', '>'])));
    }
    if let Some(id) = &m.in_reply_to {
        assert_eq!(
            parsed.in_reply_to().as_text(),
            Some(id.trim_matches(['<', '>']))
        );
    }
    assert_eq!(field(&fields, "MIME-Version"), Some("1.0"));
    assert_eq!(
        field(&fields, "Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    let b = body(m);
    assert_eq!(parsed.body_text(0).as_deref(), Some(b.as_str()));
    b
}

/// Every prose line is wrapped; only fact lines, commit lines and the
/// oops may be longer.
fn assert_wrapped(b: &str, m: &Mail) {
    let oops: Vec<&str> = m.crash.report.as_deref().unwrap_or("").lines().collect();
    for l in b.lines() {
        let exempt = l.contains(": ") && !l.contains(". ")
            || l.starts_with("    ")
            || l.starts_with("commit ")
            || oops.contains(&l);
        if !exempt {
            assert!(l.len() <= WIDTH, "unwrapped line {l:?}");
        }
    }
}

#[test]
fn a_verified_cause_names_the_commit_and_everything_a_maintainer_needs() {
    let m = base();
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    assert_eq!(
        subject(&m),
        "[culprit] general protection fault in io_uring_register: caused by fa84693b3c89 (\"io_uring: ensure IORING_REGISTER_IOWQ_MAX_WORKERS works with SQPOLL\")"
    );
    let text = render(&m);
    assert!(text.starts_with("From: culprit bot <bot@example.org>\nTo: axboe@kernel.dk, io-uring@vger.kernel.org\nCc: linux-kernel@vger.kernel.org\nSubject: [culprit] general"), "{text}");
    assert!(text.contains(
        "In-Reply-To: <000000000000abcd@google.com>\nReferences: <000000000000abcd@google.com>\n"
    ));
    for want in [
        "culprit bisected the crash below to this commit:\n\ncommit fa84693b3c896460831b6c4b2b4fc6e4a9aa1f1b\nAuthor: Jens Axboe <axboe@kernel.dk>\nDate:   Wed, 1 Sep 2021 14:15:59 -0600\n\n    io_uring: ensure IORING_REGISTER_IOWQ_MAX_WORKERS works with SQPOLL\n",
        "crash:          general protection fault in io_uring_register\n",
        "start commit:   4c5c6afcc09f Merge tag 'for-5.15/io_uring' of git://git.kernel.dk/linux-block\n",
        "git tree:       https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git master\n",
        "result:         first bad commit, probability 0.9987 (asked for 0.99)\n",
        "verification:   reverting it on the start commit stops the crash (0 of 20 runs crashed)\n",
        "bisection log:  /w/bisect.log\n",
        "console output: /w/runs/fa84693b/3.log\n",
        "kernel config:  /w/kernels/fa84693b/config\n",
        "reproducer:     /home/me/repro.c\n",
        "\nReported-by: syzbot+99d1d3e6e1f2a2f5a5a5@syzkaller.appspotmail.com\nFixes: fa84693b3c89 (\"io_uring: ensure IORING_REGISTER_IOWQ_MAX_WORKERS works with SQPOLL\")\n\n",
        "Final oops:\n\ngeneral protection fault, probably for non-canonical address",
        " do_syscall_64+0x35/0xb0 arch/x86/entry/common.c:80\n",
    ] {
        assert!(b.contains(want), "missing {want:?} in\n{b}");
    }
    let how = b
        .split("How this was found:")
        .nth(1)
        .expect("how it was found");
    let how = how.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(how.starts_with("culprit 0.1.0 tested 14 revisions (15 builds, 213 runs; 3h33m18s in total: 1h31m5s building, 2h2m13s testing)"), "{how}");
    assert!(how.contains("about 85% of runs"), "{how}");
    assert!(how.contains("produced automatically"), "{how}");
    assert!(!b.contains("unverified"), "{b}");
}

#[test]
fn an_unverified_cause_says_why() {
    let cases = [
        (
            Verification::Refuted {
                runs: 20,
                crashed: 7,
            },
            "verification:   reverting it on the start commit did not stop the crash (7 of 20 runs crashed)",
            "with this commit reverted, the crash still shows",
        ),
        (
            Verification::Conflict {
                files: vec!["fs/io_uring.c".into(), "fs/io-wq.c".into()],
            },
            "verification:   not possible: the revert does not apply on the start commit (conflicts in fs/io_uring.c, fs/io-wq.c)",
            "could not be run",
        ),
        (
            Verification::Untestable {
                why: "the revert did not build: fs/io_uring.c:12: error: x".into(),
            },
            "verification:   not possible: the revert did not build: fs/io_uring.c:12: error: x",
            "could not be run",
        ),
        (
            Verification::NotDone {
                why: "not asked for".into(),
            },
            "verification:   not done (not asked for)",
            "could not be run",
        ),
    ];
    for (v, line, note) in cases {
        let m = Mail {
            verification: v,
            ..base()
        };
        let b = parse_back(&m);
        assert_wrapped(&b, &m);
        assert!(subject(&m).ends_with(" (unverified)"), "{}", subject(&m));
        assert!(b.contains(&format!("{line}\n")), "missing {line:?} in\n{b}");
        let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("The result is unverified:"), "{b}");
        assert!(flat.contains(note), "missing {note:?} in\n{b}");
        // Still a Fixes: line: the maintainer decides.
        assert!(b.contains("Fixes: fa84693b3c89 (\""), "{b}");
    }
}

#[test]
fn a_fix_names_the_fixing_commit_and_its_verification() {
    let m = Mail {
        direction: Direction::Fix,
        verification: Verification::Confirmed {
            runs: 10,
            crashed: 9,
        },
        ..base()
    };
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    assert!(
        subject(&m).contains(": fixed by fa84693b3c89 (\""),
        "{}",
        subject(&m)
    );
    assert!(
        b.starts_with("culprit found the commit that fixed the crash below:\n\ncommit fa84693b"),
        "{b}"
    );
    assert!(
        b.contains("result:         fixing commit, probability 0.9987"),
        "{b}"
    );
    assert!(
        b.contains("reverting it on the start commit brings the crash back (9 of 10 runs crashed)"),
        "{b}"
    );
    assert!(
        b.contains("\nFixed-by: fa84693b3c89 (\"io_uring: ensure"),
        "{b}"
    );
    assert!(!b.contains("\nFixes:"), "{b}");
    let refuted = Mail {
        verification: Verification::Refuted {
            runs: 10,
            crashed: 0,
        },
        ..m
    };
    let b = parse_back(&refuted);
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("did not bring the crash back (0 of 10 runs crashed)"),
        "{b}"
    );
    assert!(flat.contains("may hide the bug rather than fix it"), "{b}");
}

#[test]
fn a_crash_not_fixed_says_where_it_still_shows() {
    let m = Mail {
        direction: Direction::Fix,
        outcome: Outcome::NotFixed {
            newest: CommitRef {
                sha: "2222222222222222222222222222222222222222".into(),
                subject: "Linux 6.2".into(),
                tag: Some("v6.2".into()),
            },
            crashed: 8,
            runs: 10,
        },
        verification: Verification::NotDone {
            why: "nothing to verify".into(),
        },
        ..base()
    };
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    assert_eq!(
        subject(&m),
        "[culprit] general protection fault in io_uring_register: still crashes at v6.2"
    );
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.starts_with("culprit could not find a fix: the crash below still shows on the newest commit tested, v6.2 (222222222222 \"Linux 6.2\"), in 8 of 10 runs."), "{b}");
    assert!(
        !b.contains("Fixed-by:") && !b.contains("verification:"),
        "{b}"
    );
    assert!(b.contains("Reported-by: syzbot+"), "{b}");
}

#[test]
fn a_bug_older_than_the_oldest_release_says_so() {
    let m = Mail {
        outcome: Outcome::Older {
            oldest: CommitRef {
                sha: "3333333333333333333333333333333333333333".into(),
                subject: "Linux 5.10".into(),
                tag: Some("v5.10".into()),
            },
            crashed: 1,
            runs: 1,
        },
        ..base()
    };
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    assert!(subject(&m).ends_with(": already present in v5.10"));
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("already shows on the oldest commit tested, v5.10 (333333333333 \"Linux 5.10\"), in 1 of 1 run. The bug is older than every commit tested."), "{b}");
    assert!(!b.contains("Fixes:"), "{b}");
}

#[test]
fn an_inconclusive_result_lists_the_credible_set() {
    let c = |sha: &str, subject: &str, mass: f64| Candidate {
        commit: Some(CommitRef {
            sha: sha.into(),
            subject: subject.into(),
            tag: None,
        }),
        mass,
    };
    let m = Mail {
        outcome: Outcome::Inconclusive {
            candidates: vec![
                c("4444444444444444444444444444444444444444", "mm: one", 0.62),
                c("5555555555555555555555555555555555555555", "mm: two", 0.30),
                Candidate {
                    commit: None,
                    mass: 0.05,
                },
            ],
            why: Some("the build budget (--max-builds 10) ran out".into()),
        },
        ..base()
    };
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    assert!(subject(&m).ends_with(": cause bisection inconclusive"));
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("the first bad commit is one of these 3, which together hold 97.0% of the probability (one commit was asked to hold 99%):"), "{b}");
    assert!(b.contains("\n   62.0%  444444444444 mm: one\n   30.0%  555555555555 mm: two\n    5.0%  (older than every commit tested)\n"), "{b}");
    assert!(
        flat.contains("The search stopped because the build budget (--max-builds 10) ran out."),
        "{b}"
    );
    assert!(!b.contains("Fixes:") && !b.contains("verification:"), "{b}");
    let fix = Mail {
        direction: Direction::Fix,
        ..m
    };
    let b = parse_back(&fix);
    assert!(b.contains("(not fixed in the range tested)"), "{b}");
    assert!(subject(&fix).ends_with(": fix bisection inconclusive"));
}

#[test]
fn not_reproduced_and_flags_and_missing_pieces() {
    let m = Mail {
        outcome: Outcome::NotReproduced {
            why: "10 runs on the start commit were clean.".into(),
        },
        crash: CrashInfo {
            title: None,
            report: None,
        },
        from: None,
        cc: Vec::new(),
        in_reply_to: None,
        message_id: None,
        date: None,
        tree: None,
        trailers: Vec::new(),
        ..base()
    };
    let b = parse_back(&m);
    assert_wrapped(&b, &m);
    let text = render(&m);
    assert!(text.starts_with("To: "), "{text}");
    assert!(
        !text.contains("\nCc:") && !text.contains("\nDate:"),
        "{text}"
    );
    assert_eq!(subject(&m), "[culprit] the crash: did not reproduce");
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "it did not reproduce on the start commit. 10 runs on the start commit were clean."
        ),
        "{b}"
    );
    assert!(flat.contains("The crash: the crash. Its full report is in the console output, /w/runs/fa84693b/3.log."), "{b}");
    assert!(!b.contains("git tree:"), "{b}");
    let generic = Mail {
        kernel: false,
        ..base()
    };
    let b = parse_back(&generic);
    assert!(
        b.contains("\nbuild config:   /w/kernels/fa84693b/config\n"),
        "{b}"
    );
    assert!(b.contains("\ntest:           /home/me/repro.c\n"), "{b}");

    let flagged = Mail {
        outcome: Outcome::Found {
            commit: culprit_meta(),
            probability: 0.995,
            flags: vec![Flag::Merge, Flag::NoOp],
        },
        ..base()
    };
    let b = parse_back(&flagged);
    let flat = b.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Note: this is a merge commit."), "{b}");
    assert!(
        flat.contains("builds into the same binary as its parent"),
        "{b}"
    );
    assert!(!flat.contains("release commit"), "{b}");
}

#[test]
fn unusual_names_and_subjects_survive_the_round_trip() {
    let mut meta = culprit_meta();
    meta.subject =
        "drm/amdgpu: fix the Ünïcode handling of a very long subject line that goes on and on"
            .into();
    let m = Mail {
        from: Some(Address::named("Bisect Bot (culprit)", "bot@example.org")),
        to: (0..9)
            .map(|i| Address::named(format!("Dev Number{i}, Jr."), format!("dev{i}@example.org")))
            .chain([Address::named("Jürgen Groß", "jgross@suse.com")])
            .collect(),
        cc: vec![Address::named(
            "Evil\r\nBcc: victim@example.org",
            "x@example.org",
        )],
        outcome: Outcome::Found {
            commit: meta,
            probability: 0.999,
            flags: Vec::new(),
        },
        ..base()
    };
    let text = render(&m);
    let fields = headers(&text);
    assert!(fields.iter().all(|(k, _)| k != "Bcc"), "{text}");
    let parsed = mail_parser::MessageParser::default()
        .parse(text.as_bytes())
        .unwrap();
    assert_eq!(parsed.subject(), Some(subject(&m).as_str()));
    let to: Vec<String> = parsed
        .to()
        .unwrap()
        .iter()
        .map(|a| a.name.as_deref().unwrap_or("").to_string())
        .collect();
    assert_eq!(to[0], "Dev Number0, Jr.");
    assert_eq!(to[9], "Jürgen Groß");
    let cc = parsed.cc().unwrap().first().unwrap();
    assert_eq!(cc.address.as_deref(), Some("x@example.org"));
    assert_eq!(cc.name.as_deref(), Some("Evil  Bcc: victim@example.org"));
    assert!(field(&fields, "Subject").unwrap().contains("=?UTF-8?Q?"));
}

#[test]
fn wrapping_keeps_words_whole() {
    let p = "word ".repeat(30) + &"x".repeat(90);
    let lines = wrap(&p);
    assert!(lines.iter().all(|l| l.len() <= WIDTH || !l.contains(' ')));
    assert_eq!(lines.join(" "), p.trim());
    assert_eq!(percent(0.99), "99");
    assert_eq!(percent(0.995), "99.5");
    assert_eq!(cite(SHA, "a \"b\""), "fa84693b3c89 (\"a \"b\"\")");
}
