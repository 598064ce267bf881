//! `mfa-enroll import google-authenticator FILE`: migrate a user's existing enrollment.

use crate::cli::{Cli, ImportArgs, ImportFormat};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use mfa_core::enroll::{self, Existing};
use mfa_core::import::google_authenticator::{self, MAX_SIZE};
use mfa_core::login::{Clock, SystemClock};
use std::io::Write;

/// Imports the file for the target user and says what was and was not carried over.
pub(crate) fn run(cli: &Cli, args: &ImportArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    match args.format {
        ImportFormat::GoogleAuthenticator => {}
    }
    // The user controls this file and we run as root: no symlinks, regular file, bounded.
    let bytes = mfa_core::secure_fs::read_foreign_file(&args.file, MAX_SIZE as u64)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Usage(format!("{} is not a text file", args.file.display())))?;
    let file = google_authenticator::parse(text)?;
    let existing = if args.force { Existing::Replace } else { Existing::Keep };
    enroll::import_google_authenticator(&store, &user, &file, SystemClock.now()?, existing)?;

    let mut lines = vec![format!(
        "Imported {} for {user}: TOTP (SHA1, 6 digits, every {} s), the same codes as before.",
        args.file.display(),
        file.step
    )];
    if let (Some(size), Some(w)) = (file.window_size, file.window()) {
        lines.push(format!(
            "  WINDOW_SIZE {size}: this user's codes are accepted {w} step(s) either side."
        ));
    }
    match file.last_used_step() {
        Some(step) => {
            lines.push(format!("  DISALLOW_REUSE: codes up to time step {step} count as used."))
        }
        None if file.disallow_reuse.is_some() => {
            lines.push("  DISALLOW_REUSE: on (pam_mfa always refuses reuse).".into())
        }
        None => lines
            .push("  No DISALLOW_REUSE in the file: pam_mfa refuses reused codes anyway.".into()),
    }
    lines.push(format!(
        "  {} scratch code(s) imported as recovery codes (typed as the 8 digits).",
        file.scratch_codes.len()
    ));
    if let Some((n, secs)) = file.rate_limit {
        lines.push(format!(
            "  Not carried over: RATE_LIMIT {n} {secs} (pam_mfa's [lockout] in the configuration applies)."
        ));
    }
    if file.time_skew.is_some() {
        lines.push(
            "  Not carried over: TIME_SKEW (pam_mfa accepts totp.window steps either side).".into(),
        );
    }
    lines.push(
        "Remove the old file and pam_google_authenticator's PAM line once pam_mfa is in place."
            .into(),
    );
    writeln!(out, "{}", lines.join("\n")).map_err(Error::stdout)
}
