//! Robustness: garbage, truncated and mangled logs never panic and always
//! yield reports with in-bounds offsets. Deterministic seeds.

use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check(data: &[u8]) -> usize {
    let mut n = 0;
    for r in culprit_report::reports(data) {
        assert!(r.start <= r.end && r.end <= data.len());
        assert!(!r.title.is_empty() && r.title.len() <= 120);
        assert!(r.title.bytes().all(|b| (b' '..=b'~').contains(&b)));
        assert!(r.frames.len() <= 8);
        // Every report is its own target, whichever way the target is made.
        let own = culprit_report::Target::from_report(&r);
        assert_eq!(
            culprit_report::identity_match(&own, &r),
            Some(culprit_report::Match::ExactTitle)
        );
        let by_title = culprit_report::Target::from_title(&r.title);
        assert!(culprit_report::identity_match(&by_title, &r).is_some());
        n += 1;
    }
    n
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let alphabet: &[u8] =
        b"BUG: KASAN WARNING INFO: task Call Trace:\n+0x/[]<>?\r\t0123456789abcdef ";
    for round in 0..400 {
        let len = (rng.next() % 4096) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next();
                if round % 2 == 0 {
                    r as u8
                } else {
                    alphabet[(r % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        check(&data);
    }
}

#[test]
fn known_report_is_found_among_garbage() {
    let mut log = b"\x00\xff junk\r\n[    1.0] boot\n".to_vec();
    log.extend_from_slice(
        b"[   19.1] BUG: KASAN: use-after-free in remove_wait_queue+0x24/0x1b0\n\
          [   19.1] Read of size 8 at addr ffff8801c75ea0f8 by task syz/3471\n\
          [   19.1] Call Trace:\n\
          [   19.1]  dump_stack+0x137/0x198\n\
          [   19.1]  kasan_report+0x23b/0x360\n\
          [   19.1]  remove_wait_queue+0x24/0x1b0\n\
          [   19.1]  ep_free+0xae/0x230\n",
    );
    let r = culprit_report::parse(&log).expect("report");
    assert_eq!(r.title, "KASAN: use-after-free Read in remove_wait_queue");
    assert_eq!(r.kind, "KASAN-USE-AFTER-FREE-READ");
    assert!(!r.corrupted);
    assert_eq!(check(&log), 1);
}

#[test]
fn truncated_corpus_logs_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/syzkaller/linux-reports");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("SKIP: corpus not found at {}", dir.display());
        return;
    };
    let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files.iter().step_by(7) {
        let data = std::fs::read(path).unwrap();
        let step = (data.len() / 40).max(1);
        let mut cut = 0;
        while cut <= data.len() {
            check(&data[..cut]);
            check(&data[cut..]);
            cut += step;
        }
    }
}

#[test]
fn headers_inside_markers_never_panic() {
    // Header text glued after lines that the parser treats as section
    // markers must not produce empty or reversed ranges.
    let cases: &[&[u8]] = &[
        b"stack backtrace: WARNING: possible circular locking dependency detected\n",
        b"Call Trace: WARNING: suspicious RCU usage\nstack backtrace:\n",
        b"stack backtrace: BUG: bad unlock balance detected!\n x+0x1/0x2\n",
        b"INFO: task a:1\nblocked for more than 1 seconds.\n",
        b"BUG: KASAN: use-after-free in f+0x1/0x2\nBUG: KASAN: use-after-free in f+0x1/0x2\n",
        b"Booting the kernel.\n",
        b"x(1)\nBooting the kernel.\n",
    ];
    for c in cases {
        check(c);
    }
}
