//! The job scripts culprit submits: POSIX sh, one per build or run. Each
//! takes the node's checkout of the repository (a `git clone --shared` of
//! it, created on first use, under a lock so that jobs on one node take
//! turns), runs the user's command there under `timeout`, and writes a
//! result file as its very last step. A job without a checkout (kernel
//! mode: `culprit kernel-job` makes and locks its own tree) runs its
//! command in the shared directory's `slurm/`, where Slurm starts it. The script exits 0 whenever it got
//! that far: a non-zero exit or a missing result file is the job's failure
//! (the infrastructure's), never the command's.

use std::path::Path;
use std::time::Duration;

/// What one job does.
pub struct Script<'a> {
    /// What the job is, for the script's first comment.
    pub title: &'a str,
    /// The node's checkout the command runs in; None: no checkout.
    pub checkout: Option<Checkout<'a>>,
    pub commit: &'a str,
    /// Builds check the commit out; runs use the checkout as it is (the
    /// last build on the node, as the local backend does) and only create
    /// it when the node has none.
    pub build: bool,
    /// The user's command and its environment.
    pub command: &'a str,
    pub env: &'a [(String, String)],
    /// The command's output.
    pub log: &'a Path,
    pub result: &'a Path,
    pub timeout: Option<Duration>,
    /// Builds: the artifact relative to the checkout, and where to copy it.
    pub artifact: Option<(&'a Path, &'a Path)>,
}

/// A node-local checkout of the repository.
#[derive(Clone, Copy)]
pub struct Checkout<'a> {
    /// The repository's git directory (cloned from, read only).
    pub repo: &'a Path,
    /// The node-local checkout.
    pub tree: &'a Path,
}

/// `s` quoted for sh.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn q(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

impl Script<'_> {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, l: &str| {
            s.push_str(l);
            s.push('\n');
        };
        line(&mut s, "#!/bin/sh");
        line(
            &mut s,
            &format!(
                "# culprit: {} (one Slurm job; written by culprit)",
                self.title.replace('\n', " ")
            ),
        );
        if let Some(c) = &self.checkout {
            line(&mut s, &format!("repo={}", q(c.repo)));
            line(&mut s, &format!("tree={}", q(c.tree)));
        }
        line(&mut s, &format!("commit={}", quote(self.commit)));
        line(&mut s, &format!("log={}", q(self.log)));
        line(&mut s, &format!("result={}", q(self.result)));
        line(&mut s, &format!("cmd={}", quote(self.command)));
        s.push_str(
            r#"fail() { echo "culprit job on $(hostname -s): $*" >&2; exit 1; }
"#,
        );
        if self.checkout.is_none() {
            line(
                &mut s,
                r#"mkdir -p "${log%/*}" "${result%/*}" || fail "cannot create the directories of $log and $result""#,
            );
        } else {
            s.push_str(
                r#"mkdir -p "${tree%/*}" "${log%/*}" "${result%/*}" || fail "cannot create the directories of $tree, $log and $result"
exec 8>"$tree.lock" || fail "cannot open $tree.lock"
flock 8 || fail "cannot lock $tree.lock"
if [ ! -e "$tree/.git" ]; then
  rm -rf "$tree" "$tree.commit"
  git clone -q --shared --no-checkout "$repo" "$tree" ||
    fail "cannot clone $repo into $tree (does this node see the repository at that path?)"
fi
checkout() {
  git -C "$tree" -c advice.detachedHead=false checkout -q -f --detach "$commit" ||
    fail "cannot check out $commit in $tree"
  echo "$commit" >"$tree.commit"
}
"#,
            );
            if self.build {
                line(&mut s, "checkout");
            } else {
                // Runs read the checkout: a build on this node waits for them.
                line(&mut s, "[ -s \"$tree.commit\" ] || checkout");
                line(&mut s, "flock -s 8 || fail \"cannot lock $tree.lock\"");
            }
            line(&mut s, "cd \"$tree\" || fail \"cannot enter $tree\"");
        }
        for (k, v) in self.env {
            line(&mut s, &format!("{k}={}; export {k}", quote(v)));
        }
        line(&mut s, "start=$(date +%s.%N)");
        let limit = self.timeout.map(|t| t.as_secs_f64());
        match limit {
            // -k: a command that ignores SIGTERM is killed 10 s later.
            Some(t) => line(
                &mut s,
                &format!("timeout -k 10 {t:.3} /bin/sh -c \"$cmd\" >\"$log\" 2>&1 </dev/null"),
            ),
            None => line(&mut s, "/bin/sh -c \"$cmd\" >\"$log\" 2>&1 </dev/null"),
        }
        line(&mut s, "code=$?");
        line(&mut s, "secs=$(awk -v s=\"$start\" -v e=\"$(date +%s.%N)\" 'BEGIN { printf \"%.3f\", e - s }')");
        line(&mut s, "timedout=0");
        if let Some(t) = limit {
            // timeout's own statuses; the command could exit 124 itself, so
            // the elapsed time decides.
            line(
                &mut s,
                &format!(
                    "case $code in 124|137) awk -v s=\"$secs\" 'BEGIN {{ exit !(s >= {t:.3}) }}' && timedout=1 ;; esac"
                ),
            );
        }
        line(&mut s, "art=");
        if let Some((rel, dest)) = self.artifact {
            line(&mut s, &format!("rel={}", q(rel)));
            line(&mut s, &format!("dest={}", q(dest)));
            s.push_str(
                r#"if [ "$code" = 0 ]; then
  if [ -f "$rel" ]; then
    mkdir -p "${dest%/*}" && cp "$rel" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest" ||
      fail "cannot copy $rel to $dest"
    art=ok
  else
    art=missing
  fi
fi
"#,
            );
        }
        s.push_str(
            r#"{
  echo "exit=$code"
  echo "timedout=$timedout"
  echo "node=$(hostname -s)"
  echo "secs=$secs"
  [ -z "$art" ] || echo "artifact=$art"
} >"$result.tmp.$$" && mv -f "$result.tmp.$$" "$result" || fail "cannot write $result"
exit 0
"#,
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::slurm::state::JobResult;
    use culprit_proc::{Cancel, Job};

    #[test]
    fn quoting_survives_the_shell() {
        let hostile = "it's $HOME `id` \"x\" \\ \n end";
        let o = Job::shell(format!("printf %s {}", quote(hostile)))
            .output(&Cancel::new())
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), hostile);
    }

    fn git(dir: &Path, args: &[&str]) {
        let mut j = Job::new("git");
        j.arg("-C").arg(dir).args(args);
        for (k, v) in [
            ("GIT_AUTHOR_NAME", "T"),
            ("GIT_AUTHOR_EMAIL", "t@example.org"),
            ("GIT_COMMITTER_NAME", "T"),
            ("GIT_COMMITTER_EMAIL", "t@example.org"),
        ] {
            j.env(k, v);
        }
        let o = j.output(&Cancel::new()).unwrap();
        assert!(
            o.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The scripts run here, without Slurm: a build copies its artifact, a
    /// run uses the node's checkout, timeouts and exits are reported.
    #[test]
    fn scripts_build_run_and_report() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("v.txt"), "one\n").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        let tree = d.path().join("node/tree");
        let log = d.path().join("shared/builds/c.log");
        let result = d.path().join("shared/slurm/b.result");
        let dest = d.path().join("shared/artifacts/c/v.out");
        let env = vec![("CULPRIT_COMMIT".to_string(), "HEAD".to_string())];
        let git_dir = repo.join(".git");
        let build = Script {
            title: "build",
            checkout: Some(Checkout {
                repo: &git_dir,
                tree: &tree,
            }),
            commit: "HEAD",
            build: true,
            command: "cp v.txt v.out && echo built $CULPRIT_COMMIT",
            env: &env,
            log: &log,
            result: &result,
            timeout: Some(Duration::from_secs(30)),
            artifact: Some((Path::new("v.out"), &dest)),
        };
        let exec = |script: &Script| {
            let o = Job::shell(script.render()).output(&Cancel::new()).unwrap();
            assert!(o.success(), "{}", String::from_utf8_lossy(&o.stderr));
            JobResult::parse(&std::fs::read_to_string(script.result).unwrap()).unwrap()
        };
        let r = exec(&build);
        assert_eq!((r.exit, r.timed_out, r.artifact), (0, false, Some(true)));
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "built HEAD\n");

        let run_log = d.path().join("shared/runs/c/1.log");
        let run = Script {
            title: "run",
            build: false,
            command: "cat v.out; exit 3",
            log: &run_log,
            artifact: None,
            ..build
        };
        let r = exec(&run);
        assert_eq!((r.exit, r.artifact), (3, None));
        assert_eq!(std::fs::read_to_string(&run_log).unwrap(), "one\n");

        let slow = Script {
            command: "sleep 20",
            timeout: Some(Duration::from_millis(300)),
            ..run
        };
        let r = exec(&slow);
        assert!(r.timed_out, "{r:?}");
        let own_124 = Script {
            command: "exit 124",
            ..run
        };
        assert!(!exec(&own_124).timed_out);
    }
}
