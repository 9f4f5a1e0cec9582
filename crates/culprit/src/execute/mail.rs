//! The maintainer e-mail about a finished campaign (`--report`): what the
//! campaign's spec and result say, handed to the mail assembler.

use anyhow::{Context, Result};
use culprit_git::Repo;
use std::path::Path;

use crate::result;
use crate::spec::{CampaignSpec, Mode};

/// The e-mail about a finished campaign, as `--report` writes it.
pub(super) fn maintainer_mail(
    spec: &CampaignSpec,
    repo: &Repo,
    workdir: &Path,
    summary: &result::Summary,
) -> Result<String> {
    use crate::print::mail::{Direction, Verification as Mv};
    let r = &summary.result;
    let verification = match &r.verification {
        None => Mv::NotDone {
            why: if spec.search.verify {
                "there is no culprit to verify".into()
            } else {
                "not asked for (--no-verify)".into()
            },
        },
        Some(v) => {
            let runs = v.counts.target + v.counts.other + v.counts.clean;
            let crashed = v.counts.target;
            match v.confirms {
                Some(true) => Mv::Confirmed { runs, crashed },
                Some(false) => Mv::Refuted { runs, crashed },
                // The reason names the conflicting files in a sentence.
                None => Mv::Untestable {
                    why: v.reason.clone(),
                },
            }
        }
    };
    let direction = if spec.fix {
        Direction::Fix
    } else {
        Direction::Cause
    };
    let mut o = crate::report_mail::MailOptions::new(direction, verification);
    o.crash_report = r.crash.as_ref().map(|c| c.report.clone());
    o.log = Some(workdir.join("bisect.log"));
    if let Mode::Kernel(k) = &spec.mode {
        o.reproducer = k.reproducer.clone();
    }
    let mail = crate::report_mail::mail_for(repo, summary, &o)
        .context("assembling the maintainer e-mail")?;
    Ok(crate::print::mail::render(&mail))
}
