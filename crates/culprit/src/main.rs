//! The `culprit` command line (see `culprit::cli`).

fn main() {
    std::process::exit(culprit::cli::main());
}
