//! Prints what running a job costs here, containment included: the
//! per-job time of `true`, captured and not. Run it with
//! `CULPRIT_PROC_CGROUPS=0` for the marker-only mode.

use culprit_proc::{Cancel, Job, Sink};
use std::time::Instant;

fn main() {
    let c = Cancel::new();
    println!("{:?}", culprit_proc::status());
    let n = 200;
    for capture in [false, true] {
        let mut j = Job::new("true");
        if capture {
            j.stdout(Sink::memory()).stderr(Sink::memory());
        }
        let t = Instant::now();
        for _ in 0..n {
            let o = j.run(&c).expect("run true");
            assert!(o.exit.success() && !o.escaped);
        }
        let per = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let mut plain = std::process::Command::new("true");
        let t = Instant::now();
        for _ in 0..n {
            assert!(plain.status().expect("run true").success());
        }
        let std_per = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!(
            "capture={capture}: {per:.2} ms per job ({std_per:.2} ms with std::process::Command::status)"
        );
    }
}
