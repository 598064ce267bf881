//! `mfa-enroll doctor`: reads the PAM stacks and the sshd configuration of a machine (or of an
//! image, below `--root`) and reports where pam_mfa can be bypassed or keeps everyone out, each
//! with its fix.
//!
//! | module | concern |
//! |---|---|
//! | [`pam`] | `/etc/pam.d` parser, includes, expanded `auth` stacks |
//! | [`control`] | what Linux-PAM does with a module's result under each control |
//! | [`pam_checks`] | checks of a stack that uses pam_mfa |
//! | [`modules`] | whether the modules named are installed |
//! | [`mfa`] | pam_mfa's configuration (its own loader), the names its rules use, and store |
//! | [`accounts`] | the user database rule names are checked against (an image's files) |
//! | [`sshd`] | `sshd_config` parser (`Include`, `Match`) and checks |
//! | [`report`] | findings, text and JSON output |

mod accounts;
mod control;
mod mfa;
mod modules;
mod pam;
mod pam_checks;
pub(crate) mod report;
mod sshd;

use crate::error::Result;
use report::{Finding, Severity};
use std::path::{Path, PathBuf};

/// Where the system's files are: `/`, or the directory given with `--root`.
#[derive(Clone, Debug)]
pub(crate) struct Root(Option<PathBuf>);

impl Root {
    /// `dir` must be absolute (the command makes it so).
    pub(crate) fn new(dir: Option<PathBuf>) -> Root {
        Root(dir)
    }

    /// The path to open for the system path `sys`.
    pub(crate) fn host(&self, sys: &Path) -> PathBuf {
        match &self.0 {
            None => sys.to_path_buf(),
            Some(dir) => dir.join(sys.strip_prefix("/").unwrap_or(sys)),
        }
    }

    /// How the report names what was checked.
    fn describe(&self) -> String {
        let what = format!("{} and {}", pam::PAM_DIR, sshd::SSHD_CONFIG);
        match &self.0 {
            None => what,
            Some(dir) => format!("{what} below {}", dir.display()),
        }
    }
}

/// The outcome: findings sorted by file, and a description of what was read.
pub(crate) struct Outcome {
    /// Every finding, sorted, without repeats.
    pub(crate) findings: Vec<Finding>,
    /// "/etc/pam.d and /etc/ssh/sshd_config below DIR".
    pub(crate) checked: String,
}

/// Runs every check. `config`: the `--config` option if it was given (read as given); else
/// pam_mfa lines without `config=` are checked against the default file below the root.
pub(crate) fn run(root: &Root, config: Option<&Path>) -> Result<Outcome> {
    let mut out = Vec::new();
    let mut tree = pam::Tree::load(root)?;
    let mut mfa = mfa::Mfa::new(root, config);
    let modules = modules::ModuleDirs::find(root);
    let mut env = pam_checks::Env { mfa: &mut mfa, modules: &modules };
    let mut users = Vec::new();
    for service in tree.services() {
        let stack = tree.auth_stack(root, &service)?;
        if pam_checks::check_stack(&mut env, &service, &stack, &mut out) {
            users.push(service);
        }
    }
    for b in tree.broken_includes() {
        let (message, fix) = if b.too_deep {
            (
                format!(
                    "the include of {} loops (or nests more than 16 deep): Linux-PAM fails this \
                     line, so every login through the stacks that contain it fails",
                    b.target
                ),
                "remove the include that leads back to this file",
            )
        } else {
            (
                format!(
                    "{} does not exist: Linux-PAM fails this line, so every login through the \
                     stacks that contain it fails",
                    b.target
                ),
                "create the file or correct the name",
            )
        };
        out.push(
            Finding::new("pam.include-missing", Severity::Error, &b.file, message, fix).at(b.line),
        );
    }
    if users.is_empty() {
        out.push(Finding::new(
            "pam.unused",
            Severity::Info,
            pam::PAM_DIR,
            "no auth stack uses pam_mfa.so, so no login asks for a second factor",
            "add `auth required pam_mfa.so` after the password (see README: Enabling for sudo, \
             Enabling for SSH)",
        ));
    }
    if users.iter().any(|s| s == "sshd") {
        match sshd::load(root)? {
            Some(directives) => sshd::check(&directives, &mut out),
            None => out.push(Finding::new(
                "sshd.missing",
                Severity::Info,
                sshd::SSHD_CONFIG,
                "the sshd stack uses pam_mfa but there is no sshd configuration to check",
                "if OpenSSH is installed elsewhere, check its configuration by hand",
            )),
        }
    }
    report::normalize(&mut out);
    Ok(Outcome { findings: out, checked: root.describe() })
}
