//! Campaign files: TOML whose keys are the long options of `culprit
//! bisect`, turned into the arguments they stand for and put before the
//! command line's, so that one parser reads both and the command line
//! wins.

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Command, ValueHint};
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

/// Campaign files larger than this are refused (a campaign is a few lines;
/// this keeps `culprit bisect /dev/urandom` from reading forever).
pub const MAX_SIZE: u64 = 1 << 20;

/// Keys of the `[kernel]` section that are not kernel settings but may be
/// given there (they are shared with the generic mode).
const SHARED_IN_KERNEL: &[&str] = &["vms", "run_timeout", "build_timeout"];

/// Reads a campaign file (at most [`MAX_SIZE`] bytes).
pub fn read(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("reading the campaign file {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the campaign file {}", path.display()))?;
    if bytes.len() as u64 > MAX_SIZE {
        bail!(
            "the campaign file {} is larger than {} KiB: it is not a campaign file",
            path.display(),
            MAX_SIZE >> 10
        );
    }
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the campaign file {} is not UTF-8 text", path.display()))
}

/// The arguments a campaign file stands for, for the subcommand `cmd`
/// (whose argument ids are the keys), leaving out the options `given` on
/// the command line. Relative paths are relative to the file.
pub fn args(
    path: &Path,
    text: &str,
    cmd: &Command,
    kernel_ids: &[String],
    given: &dyn Fn(&str) -> bool,
) -> Result<Vec<OsString>> {
    let table: toml::Table = toml::from_str(text)
        .with_context(|| format!("{} is not a valid campaign file", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (key, value) in &table {
        if key == "kernel" {
            let Some(section) = value.as_table() else {
                bail!("{}: `kernel` must be a section ([kernel])", path.display());
            };
            out.push("--kernel".into());
            for (k, v) in section {
                if !kernel_ids.iter().any(|id| id == k) && !SHARED_IN_KERNEL.contains(&k.as_str()) {
                    bail!(
                        "{}: unknown key `{k}` in [kernel] (known: {})",
                        path.display(),
                        kernel_ids.join(", ")
                    );
                }
                option(path, base, cmd, k, v, given, &mut out)?;
            }
        } else {
            option(path, base, cmd, key, value, given, &mut out)?;
        }
    }
    Ok(out)
}

fn option(
    path: &Path,
    base: &Path,
    cmd: &Command,
    key: &str,
    value: &toml::Value,
    given: &dyn Fn(&str) -> bool,
    out: &mut Vec<OsString>,
) -> Result<()> {
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == key && a.get_long().is_some() && key != "kernel");
    let Some(arg) = arg else {
        let known: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some() && a.get_id() != "kernel")
            .filter(|a| !a.is_hide_set())
            .map(|a| a.get_id().as_str())
            .collect();
        bail!(
            "{}: unknown key `{key}` (known: {})",
            path.display(),
            known.join(", ")
        );
    };
    if given(key) {
        return Ok(());
    }
    let long = arg.get_long().unwrap_or(key);
    let is_path = matches!(
        arg.get_value_hint(),
        ValueHint::FilePath | ValueHint::DirPath | ValueHint::AnyPath
    );
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        match value.as_bool() {
            Some(true) => out.push(format!("--{long}").into()),
            Some(false) => {}
            None => bail!("{}: `{key}` must be true or false", path.display()),
        }
        return Ok(());
    }
    let values: Vec<&toml::Value> = match value {
        toml::Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    for v in values {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => bail!(
                "{}: `{key}` must be a string, a number or a boolean",
                path.display()
            ),
        };
        let mut a = OsString::from(format!("--{long}="));
        if is_path && Path::new(&text).is_relative() {
            a.push(base.join(&text));
        } else {
            a.push(text);
        }
        out.push(a);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::kernel::KernelSettings;
    use crate::cli::bisect::BisectArgs;
    use clap::Args;

    fn cmd() -> Command {
        BisectArgs::augment_args(Command::new("bisect"))
    }

    fn kernel_ids() -> Vec<String> {
        KernelSettings::augment_args(Command::new("k"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect()
    }

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn every_kernel_setting_is_a_key_and_a_flag() {
        // The [kernel] keys are the settings' serde names, and each is an
        // option of `culprit bisect`.
        let ser = serde_json::to_value(KernelSettings::default()).unwrap();
        let fields: Vec<String> = ser
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !["run_timeout", "build_timeout"].contains(&k.as_str()))
            .cloned()
            .collect();
        let mut ids = kernel_ids();
        ids.sort();
        let mut f = fields.clone();
        f.sort();
        assert_eq!(ids, f);
        let c = cmd();
        for k in fields {
            let arg = c.get_arguments().find(|a| a.get_id() == k.as_str());
            assert!(arg.and_then(|a| a.get_long()).is_some(), "no flag for {k}");
        }
    }

    #[test]
    fn keys_become_options_paths_relative_to_the_file() {
        let text = "repo = \"r\"\ngood = [\"a\", \"b\"]\nvms = 3\nquiet = true\nno_hint = false\nartifact = \"out/p\"\n[kernel]\nconfig = \"k.config\"\nreproducer = \"/abs/repro.c\"\nccache = false\nrepro_time = 2.5\n";
        let a = args(
            Path::new("/camp/c.toml"),
            text,
            &cmd(),
            &kernel_ids(),
            &|_| false,
        )
        .unwrap();
        let a = strings(a);
        for want in [
            "--repo=/camp/r",
            "--good=a",
            "--good=b",
            "--vms=3",
            "--quiet",
            "--artifact=out/p",
            "--kernel",
            "--kernel-config=/camp/k.config",
            "--repro=/abs/repro.c",
            "--ccache=false",
            "--repro-time=2.5",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
        assert!(!a.iter().any(|x| x.contains("no-hint")), "{a:?}");
        // Options given on the command line win: the file's are left out.
        let a = strings(
            args(Path::new("c.toml"), text, &cmd(), &kernel_ids(), &|id| {
                id == "good"
            })
            .unwrap(),
        );
        assert!(!a.iter().any(|x| x.starts_with("--good")), "{a:?}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let e = |text: &str| {
            args(Path::new("c.toml"), text, &cmd(), &kernel_ids(), &|_| false)
                .unwrap_err()
                .to_string()
        };
        assert!(e("buidl = \"make\"\n").contains("`buidl`"));
        assert!(e("[kernel]\nbuild = \"make\"\n").contains("unknown key `build` in [kernel]"));
        assert!(e("quiet = \"yes\"\n").contains("true or false"));
        assert!(e("vms = { a = 1 }\n").contains("`vms`"));
        assert!(e("kernel = 1\n").contains("[kernel]"));
    }
}
