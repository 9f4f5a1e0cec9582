//! Who a bisection result goes to, read from the repository: the
//! culprit's (or fixing commit's) author and trailers, the MAINTAINERS
//! entries of its patch, and in Cc the MAINTAINERS entries of the crash's
//! guilty file (rules in [`crate::trailers`]). A repository without a
//! MAINTAINERS file gives the author and trailers alone.
//!
//! Read-only: MAINTAINERS and `.mailmap` are read from the commits, never
//! from a work tree.

use std::collections::HashSet;

use crate::maintainers::{Input, Maintainers, MaintainersError};
use crate::repo::{GitError, Repo};
use crate::trailers::{self, Recipients};

/// The crash's guilty file and the commit it was seen on (whose
/// MAINTAINERS is asked about it: the file may not exist at the culprit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guilty {
    /// Path from the top of the tree, as crash reports name it.
    pub file: String,
    /// The commit the crash was seen on (usually the bad commit).
    pub at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipientsError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("MAINTAINERS at {commit}: {source}")]
    Maintainers {
        commit: String,
        #[source]
        source: MaintainersError,
    },
}

impl Repo {
    /// The MAINTAINERS file at `sha`, parsed with that commit's `.mailmap`
    /// and directories; `None` when the commit has no MAINTAINERS file.
    pub fn maintainers_at(&self, sha: &str) -> Result<Option<Maintainers>, RecipientsError> {
        let Some(text) = self.file_at(sha, "MAINTAINERS")? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&text);
        let mailmap = self
            .file_at(sha, ".mailmap")?
            .map(|m| String::from_utf8_lossy(&m).into_owned());
        let dirs: HashSet<String> = self.dirs_at(sha)?.into_iter().collect();
        let is_dir = |p: &str| dirs.contains(p.trim_end_matches('/'));
        Maintainers::parse_with(&text, mailmap.as_deref(), &is_dir)
            .map(Some)
            .map_err(|source| RecipientsError::Maintainers {
                commit: sha.to_string(),
                source,
            })
    }

    /// The recipients of a result naming `commit` (the culprit, or the
    /// fixing commit of a fix bisection): its author and trailers, the
    /// MAINTAINERS entries of its patch (MAINTAINERS at `commit`), and in
    /// Cc those of the guilty file (MAINTAINERS at `guilty.at`).
    pub fn result_recipients(
        &self,
        commit: &str,
        guilty: Option<&Guilty>,
    ) -> Result<Recipients, RecipientsError> {
        let meta = self.commit(commit)?;
        let own = self.maintainers_at(&meta.hash)?;
        let from_patch = match &own {
            Some(m) => {
                let patch = self.format_patch(&meta.hash)?;
                m.lookup(&[Input::Patch(patch.as_bytes())])
                    .map_err(|source| RecipientsError::Maintainers {
                        commit: meta.hash.clone(),
                        source,
                    })?
            }
            None => Vec::new(),
        };
        let from_guilty = match guilty {
            None => Vec::new(),
            Some(g) => {
                let at = self.resolve(&g.at)?;
                let other;
                let m = if at == meta.hash {
                    own.as_ref()
                } else {
                    other = self.maintainers_at(&at)?;
                    other.as_ref()
                };
                match m {
                    Some(m) => m
                        .lookup(&[Input::File {
                            path: &g.file,
                            content: None,
                        }])
                        .map_err(|source| RecipientsError::Maintainers {
                            commit: at.clone(),
                            source,
                        })?,
                    None => Vec::new(),
                }
            }
        };
        Ok(trailers::result_recipients(
            &meta.author_email,
            &meta.message,
            &from_patch,
            &from_guilty,
        ))
    }
}
