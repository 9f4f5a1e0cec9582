//! Coverage-free mutation fuzzer on stable Rust: mutates corpus logs (byte
//! flips, splices, truncations, line duplication, interleaving, junk) and
//! checks that parsing never panics and offsets stay in bounds.
//!
//! Usage: fuzz_loop SECONDS DIR [DIR...]   (failing inputs go to /tmp)

use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut d: Vec<u8>) -> Vec<u8> {
    const JUNK: &[&[u8]] = &[
        b"BUG: KASAN: use-after-free in ",
        b"WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\n",
        b"Call Trace:\n",
        b" ? f+0x1/0x2\n",
        b"RIP: 0010:",
        b"[  1.0][ T1] ",
        b"\r",
        b"\x00\xff\xfe",
        b"Kernel panic - not syncing: ",
        b"INFO: task x:1 blocked for more than 1 seconds.\n",
        b", at: ",
        b"+0x",
        b"Read of size 8 at addr 0 by task x/1\n",
    ];
    for _ in 0..1 + rng.below(4) {
        let n = d.len();
        match rng.below(9) {
            0 if n > 0 => {
                let i = rng.below(n);
                d[i] ^= 1 << rng.below(8);
            }
            1 => d.truncate(rng.below(n + 1)),
            2 if n > 0 => {
                let a = rng.below(n);
                let b = (a + rng.below(4096)).min(n);
                let chunk = d[a..b].to_vec();
                let at = rng.below(n + 1);
                d.splice(at..at, chunk);
            }
            3 => {
                let j = JUNK[rng.below(JUNK.len())];
                let at = rng.below(n + 1);
                d.splice(at..at, j.iter().copied());
            }
            4 => {
                // interleave lines with another seed
                let o = &seeds[rng.below(seeds.len())];
                let (a, b) = (lines(&d), lines(o));
                let mut out = Vec::with_capacity(d.len() + o.len());
                let (mut i, mut j) = (0, 0);
                while i < a.len() || j < b.len() {
                    if j >= b.len() || (i < a.len() && rng.below(2) == 0) {
                        out.extend_from_slice(a[i]);
                        i += 1;
                    } else {
                        out.extend_from_slice(b[j]);
                        j += 1;
                    }
                }
                d = out;
            }
            5 => {
                let ls = lines(&d);
                if !ls.is_empty() {
                    let k = rng.below(ls.len());
                    let mut out = Vec::new();
                    for (i, l) in ls.iter().enumerate() {
                        out.extend_from_slice(l);
                        if i == k {
                            for _ in 0..rng.below(50) {
                                out.extend_from_slice(l);
                            }
                        }
                    }
                    d = out;
                }
            }
            6 => {
                let ls = lines(&d);
                if ls.len() > 1 {
                    let k = rng.below(ls.len());
                    let mut out = Vec::new();
                    for (i, l) in ls.iter().enumerate() {
                        if i != k {
                            out.extend_from_slice(l);
                        }
                    }
                    d = out;
                }
            }
            7 => {
                for _ in 0..rng.below(64) {
                    d.push(rng.next() as u8);
                }
            }
            _ => {
                let o = &seeds[rng.below(seeds.len())];
                let cut = rng.below(o.len() + 1);
                d.extend_from_slice(&o[cut..]);
            }
        }
    }
    d
}

fn check(data: &[u8]) {
    for r in culprit_report::reports(data) {
        assert!(r.start <= r.end && r.end <= data.len(), "bad offsets");
        assert!(r.title.len() <= 120, "long title");
        let _ = culprit_report::score_json(Some(&r));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut seeds = Vec::new();
    for dir in &args[1.min(args.len())..] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            if let Ok(b) = std::fs::read(e.path()) {
                let log = match b.windows(2).position(|w| w == b"\n\n") {
                    Some(i) => b[i + 2..].to_vec(),
                    None => b,
                };
                seeds.push(log);
            }
        }
    }
    if seeds.is_empty() {
        seeds.push(b"BUG: KASAN: use-after-free in f+0x1/0x2\nCall Trace:\n f+0x1/0x2\n".to_vec());
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let mut execs: u64 = 0;
    let mut crashes = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        let base = seeds[rng.below(seeds.len())].clone();
        let input = mutate(&mut rng, &seeds, base);
        if std::panic::catch_unwind(|| check(&input)).is_err() {
            crashes += 1;
            let path = format!("/tmp/culprit-report-crash-{execs}");
            let _ = std::fs::write(&path, &input);
            eprintln!("panic; input saved to {path}");
        }
        execs += 1;
        if execs.is_multiple_of(20_000) {
            eprintln!(
                "{:>6.0}s {execs} execs, {crashes} panics",
                start.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "fuzz_loop: {execs} executions in {:.0}s over {} seeds, {crashes} panics",
        start.elapsed().as_secs_f64(),
        seeds.len()
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
