//! `mfa-enroll doctor`: checks the PAM stacks and the sshd configuration for ways around
//! pam_mfa and for lockouts (the checks are in [`crate::doctor`]).

use crate::cli::{Cli, DoctorArgs};
use crate::context::refuse_user_option;
use crate::doctor::{self, Root, report};
use crate::error::{Error, Result};
use mfa_login::config::DEFAULT_PATH;
use nix::unistd::getuid;
use std::io::Write;
use std::path::Path;

/// Prints the findings (text or JSON); fails (exit status 1) when there is an error among
/// them. Without `--root` the files are the system's own, some readable by root only.
pub(crate) fn run(cli: &Cli, args: &DoctorArgs, out: &mut dyn Write) -> Result<()> {
    refuse_user_option(cli)?;
    let root = match &args.root {
        Some(dir) => Some(absolute(dir)?),
        None if getuid().is_root() => None,
        None => return Err(Error::DoctorNeedsRoot),
    };
    // An explicit --config is read as given; the default is looked up below --root.
    let config = match cli.config.as_path() {
        p if p == Path::new(DEFAULT_PATH) => None,
        p => Some(absolute(p)?),
    };
    let outcome = doctor::run(&Root::new(root), config.as_deref())?;
    if args.json {
        report::write_json_report(out, &outcome.findings)?;
    } else {
        report::write_text(out, &outcome.checked, &outcome.findings)?;
    }
    out.flush().map_err(Error::stdout)?;
    match report::count(&outcome.findings, report::Severity::Error) {
        0 => Ok(()),
        n => Err(Error::Findings(n)),
    }
}

fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(format!("resolve {}", path.display()), e))
}
