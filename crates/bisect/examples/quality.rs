//! Simulated campaigns to measure accuracy, calibration, builds and runs.
//! `cargo run --release -p culprit-bisect --example quality -- N Q SEEDS [noisy] [vms]`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use culprit_bisect::{Config, Verdict};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(3500, |s| s.parse().unwrap());
    let q: f64 = args.get(2).map_or(0.5, |s| s.parse().unwrap());
    let seeds: u64 = args.get(3).map_or(50, |s| s.parse().unwrap());
    let noisy = args.get(4).is_some_and(|s| s == "noisy");
    let vms: u32 = args.get(5).map_or(10, |s| s.parse().unwrap());
    let (mut right, mut confident, mut confident_right) = (0, 0, 0);
    let (mut builds, mut runs, mut rounds) = (0u64, 0u64, 0u64);
    let mut nodes = 0usize;
    let only: Option<u64> = std::env::var("SEED").ok().map(|v| v.parse().unwrap());
    for seed in 0..seeds {
        if only.is_some_and(|o| o != seed) {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed * 7919 + 1);
        let h = History::merge_heavy(n, &mut rng);
        nodes += h.parents.len();
        let c = pick_culprit(&h, &mut rng);
        let mut w = World::clean(c, q);
        if noisy {
            w.other = 0.02;
            w.untestable = 0.05;
            w.build_fail = 0.05;
        }
        if let Ok(v) = std::env::var("NOISE") {
            let v: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect();
            (w.other, w.untestable, w.build_fail, w.doc_only) = (v[0], v[1], v[2], v[3]);
        }
        if let Ok(v) = std::env::var("QOLD") {
            w.q_old = Some(v.parse().unwrap());
        }
        if let Ok(v) = std::env::var("REGION") {
            w.false_target = 0.05;
            w.false_region = v.parse().unwrap();
        }
        let truth = Truth::new(&h, &w, &mut rng);
        let mut config = Config {
            vms,
            ..Config::default()
        };
        let pair = |v: String| -> (f64, f64) {
            let v: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect();
            (v[0], v[1])
        };
        if let Ok(v) = std::env::var("DRIFT") {
            config.drift_prior = v.parse().unwrap();
        }
        if let Ok(v) = std::env::var("LO") {
            config.q_old_prior = pair(v);
        }
        if let Ok(v) = std::env::var("QPRIOR") {
            let v: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect();
            config.q_prior = (v[0], v[1]);
        }
        let d = drive_truth(&h, &w, &truth, config, &mut rng);
        if std::env::var("TRACE").is_ok() {
            for st in &d.steps {
                match st {
                    culprit_bisect::Step::Done(o) => {
                        eprintln!("  done {:?} {:?}", o.verdict, o.reason)
                    }
                    other => eprintln!(
                        "  {other:?} {}",
                        match other {
                            culprit_bisect::Step::Build(x) =>
                                format!("present={}", truth.present[*x as usize]),
                            culprit_bisect::Step::Run(a) => a
                                .iter()
                                .map(|(x, _)| format!("{}", truth.present[*x as usize] as u8))
                                .collect::<Vec<_>>()
                                .join(""),
                            _ => String::new(),
                        }
                    ),
                }
            }
        }
        let ok = d.outcome.verdict == Verdict::Culprit(c);
        right += ok as u32;
        let top = d.outcome.status.credible.first().map_or(0.0, |x| x.1);
        if top >= 0.99 {
            confident += 1;
            confident_right += ok as u32;
        }
        builds += d.builds as u64;
        runs += d.runs as u64;
        rounds += d.rounds as u64;
        if !ok {
            eprintln!(
                "seed {seed}: culprit {c} got {:?} {:?} top {:?}",
                d.outcome.verdict,
                d.outcome.reason,
                &d.outcome.status.credible[..d.outcome.status.credible.len().min(3)]
            );
        }
    }
    let s = seeds as f64;
    let nn = nodes as f64 / s;
    let cq = (1.0 + q * (1.0 - q).powf((1.0 - q) / q)).log2();
    let bound = if q >= 1.0 { nn.log2() } else { nn.log2() / cq };
    println!(
        "N~{nn:.0} q={q} noisy={noisy} vms={vms}: accuracy {:.3}, confident {}/{} right, \
         builds {:.2} (log2N+3={:.0}), runs {:.1} (bound {:.1}, 1.5x={:.1}), rounds {:.1}, wall {:.0} min",
        right as f64 / s,
        confident_right,
        confident,
        builds as f64 / s,
        nn.log2().ceil() + 3.0,
        runs as f64 / s,
        bound,
        1.5 * bound,
        rounds as f64 / s,
        (builds as f64 * 6.5 + rounds as f64 * 8.7) / s
    );
}
