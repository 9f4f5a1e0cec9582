//! [`CampaignSpec`]: the one description of a campaign.
//!
//! The command line and the campaign file (`crate::cli`), the demo and,
//! later, an API request all produce one. Its experiment part (what can
//! change what a run shows: the range, the commands or the kernel config
//! and reproducer, the target) hashes to the campaign identity: the journal
//! of another identity is refused, and the default workdir is named after
//! it. Limits and outputs are not part of the identity, so a campaign can
//! be resumed with a higher confidence or another JSON path.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

use crate::backend::kernel::KernelSettings;
pub use crate::backend::slurm::Executor;

/// A campaign, before anything is resolved or created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// The repository (never modified).
    pub repo: PathBuf,
    /// Where the bug shows (a revision).
    pub bad: String,
    /// Where it does not (revisions). Empty: walk back over releases.
    pub good: Vec<String>,
    /// Find the commit that fixed the bug: `bad` is then the new end where
    /// it no longer shows, `good` the old ends where it does.
    #[serde(default)]
    pub fix: bool,
    /// The crash title that is the bug; default: learned on the bad commit.
    pub target: Option<String>,
    pub mode: Mode,
    pub search: Search,
    pub output: Output,
    /// Where builds and runs execute (not part of the identity).
    #[serde(default)]
    pub executor: Executor,
}

/// How commits are built and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// The user's shell commands.
    Generic(Generic),
    /// Linux in QEMU.
    Kernel(KernelSettings),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generic {
    pub build: String,
    pub test: String,
    /// The build product, relative to the checkout.
    pub artifact: Option<PathBuf>,
    pub run_timeout: Option<f64>,
    pub build_timeout: Option<f64>,
}

/// How far and how wide to search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub vms: u32,
    pub confidence: f64,
    pub max_builds: Option<u32>,
    pub max_runs: Option<u32>,
    pub verify_runs: u32,
    /// Favour commits touching the crash stack's code.
    pub hints: bool,
    /// Revert a named culprit on the bad commit and test that.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Without a good end: how many releases back the walk may go.
    #[serde(default = "max_releases")]
    pub max_releases: u32,
    /// Without a good end: the walk goes no further back than this revision.
    #[serde(default)]
    pub oldest: Option<String>,
    /// Builds at once, each in its own checkout (generic mode, local
    /// executor); 1 builds one commit at a time.
    #[serde(default = "one")]
    pub builders: u32,
    /// With one builder, build the next commits while runs go on (the
    /// driver several builders use) instead of one action at a time.
    #[serde(default)]
    pub overlap: bool,
}

/// Releases a walk may test by default: about two years of Linux.
pub const MAX_RELEASES: u32 = 12;

fn max_releases() -> u32 {
    MAX_RELEASES
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Where results go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub workdir: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// The maintainer e-mail.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// The JSON-lines event stream.
    pub events: Option<PathBuf>,
    pub quiet: bool,
}

impl Search {
    /// Builds and runs go on at once: several builders, or `--overlap`.
    pub fn concurrent(&self) -> bool {
        self.builders > 1 || self.overlap
    }
}

impl Default for Search {
    fn default() -> Self {
        let c = culprit_bisect::Config::default();
        Search {
            vms: 2,
            confidence: c.confidence,
            max_builds: None,
            max_runs: None,
            verify_runs: c.verify_runs,
            hints: true,
            verify: true,
            max_releases: MAX_RELEASES,
            oldest: None,
            builders: 1,
            overlap: false,
        }
    }
}

/// What defines the experiment, resolved: the identity is its hash.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment<'a> {
    pub mode: &'static str,
    pub bad: &'a str,
    pub goods: &'a [String],
    /// Fix bisections are other campaigns than cause ones on the same range
    /// (absent for a cause, so that older campaigns keep their identity).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fix: bool,
    pub target: Option<&'a str>,
    /// Mode-specific settings that change what a run shows, with file
    /// contents replaced by their hashes (a changed reproducer is a new
    /// campaign).
    pub settings: serde_json::Value,
}

impl Experiment<'_> {
    /// The campaign identity: SHA-256 of the experiment's canonical JSON
    /// (object keys sorted), in hex.
    pub fn identity(&self) -> String {
        // serde_json's maps are ordered by key (no preserve_order feature),
        // so going through a Value makes the text canonical.
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let text = v.to_string();
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// SHA-256 of a file's contents (hex, shortened), so that a changed config
/// or reproducer makes a new campaign rather than a resumed one.
pub fn content_id(p: Option<&std::path::Path>) -> anyhow::Result<String> {
    use anyhow::Context;
    match p {
        None => Ok("none".into()),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(hex::encode(&Sha256::digest(&bytes)[..8]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp<'a>(goods: &'a [String], settings: serde_json::Value) -> Experiment<'a> {
        Experiment {
            mode: "generic",
            bad: "b",
            goods,
            fix: false,
            target: None,
            settings,
        }
    }

    #[test]
    fn identity_is_canonical_and_sensitive() {
        let g = vec!["g".to_string()];
        let a = exp(&g, serde_json::json!({"build": "make", "test": "t"}));
        let b = exp(&g, serde_json::json!({"test": "t", "build": "make"}));
        assert_eq!(a.identity(), b.identity(), "key order must not matter");
        let c = exp(&g, serde_json::json!({"build": "make -j2", "test": "t"}));
        assert_ne!(a.identity(), c.identity());
        let g2 = vec!["g2".to_string()];
        assert_ne!(
            a.identity(),
            exp(&g2, serde_json::json!({"build": "make", "test": "t"})).identity()
        );
        assert_eq!(a.identity().len(), 64);
    }

    #[test]
    fn a_spec_round_trips_through_json() {
        let s = CampaignSpec {
            repo: "r".into(),
            bad: "HEAD".into(),
            good: vec!["v1".into()],
            fix: false,
            target: None,
            mode: Mode::Generic(Generic {
                build: "make".into(),
                test: "./t".into(),
                artifact: Some("out/p".into()),
                run_timeout: Some(3.0),
                build_timeout: None,
            }),
            search: Search::default(),
            output: Output::default(),
            executor: Executor::Slurm(Default::default()),
        };
        let text = serde_json::to_string(&s).unwrap();
        let back: CampaignSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<CampaignSpec>(&text.replace("\"bad\"", "\"bda\"")).is_err());
    }
}
