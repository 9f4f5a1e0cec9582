//! Reads a console log on stdin and prints the scoring JSON of its first
//! crash report (see `culprit_report::score_json`).

use std::io::Read;

fn main() {
    let mut log = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut log) {
        eprintln!("score_json: reading stdin: {e}");
        std::process::exit(1);
    }
    let rep = culprit_report::parse(&log);
    println!("{}", culprit_report::score_json(rep.as_ref()));
}
