//! One `Engine::next()` decision on synthetic kernel-like ranges of 1k, 10k
//! and 100k commits, at the start of a campaign (bad verified) and in the
//! middle (after several probes), and one `next_batch` for 4 builders at
//! 10k and 100k. Prints the peak memory of the process at
//! the end. Run: `cargo bench -p culprit-bisect --bench decision`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use culprit_bisect::{BuildOutcome, Config, Engine, InFlight, Step};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// An engine driven by the simulated oracle until `builds` builds are done,
/// the bad commit is verified and the last build's round has run.
fn engine_at(n: usize, q: f64, builds: u32) -> Engine {
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    let h = History::merge_heavy(n, &mut rng);
    let c = pick_culprit(&h, &mut rng);
    let mut w = World::clean(c, q);
    w.other = 0.02;
    w.untestable = 0.05;
    let truth = Truth::new(&h, &w, &mut rng);
    let config = Config {
        vms: 10,
        ..Config::default()
    };
    let mut e = Engine::new(h.dag(), h.bad, config);
    loop {
        let step = e.next();
        let verified = e.evidence(h.bad).target >= 2;
        if e.builds() >= builds && verified && matches!(step, Step::Build(_)) {
            break;
        }
        match step {
            Step::Build(x) => {
                let mut s = [0u8; 32];
                s[..4].copy_from_slice(&truth.signature[x as usize].to_le_bytes());
                e.record_build(x, BuildOutcome::Ok { signature: Some(s) }, 390.0);
            }
            Step::Run(alloc) => {
                for (x, k) in alloc {
                    for _ in 0..k {
                        let out = run_once(&w, truth.present[x as usize], &mut rng);
                        e.record_run(x, out, 522.0);
                    }
                }
            }
            Step::Done(_) => break,
        }
    }
    e
}

fn decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("next");
    g.sample_size(10);
    for &n in &[1_000usize, 10_000, 100_000] {
        for (label, builds) in [("start", 1u32), ("mid", 7)] {
            let e = engine_at(n, 0.5, builds);
            g.bench_function(format!("{n}/{label}"), |b| b.iter(|| e.next()));
        }
    }
    g.finish();
    // Several builders: four builds to pick at once, with and without a
    // round in flight.
    let mut g = c.benchmark_group("next_batch B=4");
    g.sample_size(10);
    for &n in &[10_000usize, 100_000] {
        for (label, builds) in [("start", 1u32), ("mid", 7)] {
            let e = engine_at(n, 0.5, builds);
            g.bench_function(format!("{n}/{label}"), |b| {
                b.iter(|| e.next_batch(4, 10, InFlight::default()))
            });
            let testing: Vec<(u32, u32)> = match e.next_batch(0, 10, InFlight::default()).runs {
                r if !r.is_empty() => r,
                _ => vec![(e.bad(), 2)],
            };
            let flight = InFlight {
                building: &[],
                testing: &testing,
            };
            g.bench_function(format!("{n}/{label}/round in flight"), |b| {
                b.iter(|| e.next_batch(4, 0, flight))
            });
        }
    }
    g.finish();
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        for line in s
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        {
            println!("{line}");
        }
    }
}

criterion_group!(benches, decision);
criterion_main!(benches);
