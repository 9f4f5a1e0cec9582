//! Scans a console log file and prints every report title with the
//! throughput; used to check memory and speed on very large logs.
//!
//! Usage: scan_file FILE

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan_file FILE");
        std::process::exit(2);
    };
    let log = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("scan_file: {path}: {e}");
            std::process::exit(1);
        }
    };
    let t = Instant::now();
    let mut n = 0usize;
    for r in culprit_report::reports(&log) {
        n += 1;
        if n <= 20 {
            println!("{:>12} {}", r.start, r.title);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{n} reports in {} MB, {:.2}s, {:.0} MB/s",
        log.len() >> 20,
        secs,
        log.len() as f64 / 1e6 / secs
    );
}
