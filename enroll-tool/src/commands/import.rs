//! `mfa-enroll import google-authenticator FILE`: migrate a user's existing enrollment.

use crate::cli::{Cli, ImportArgs, ImportFormat};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use mfa_login::enroll::{self, Existing};
use mfa_login::import::google_authenticator::{self, MAX_SIZE};
use mfa_login::login::{Clock, SystemClock};
use std::io::Write;

/// Imports the file for the target user and says what was and was not carried over.
pub(crate) fn run(cli: &Cli, args: &ImportArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    // The user controls this file and we run as root: no symlinks, regular file, bounded.
    let limit = if args.format == ImportFormat::PamU2f { 1 << 20 } else { MAX_SIZE as u64 };
    let bytes = mfa_login::secure_fs::read_foreign_file(&args.file, limit)
        .map_err(mfa_login::Error::from)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Usage(format!("{} is not a text file", args.file.display())))?;
    if args.format == ImportFormat::PamU2f {
        return import_pam_u2f(args, &cfg, &store, &user, text, out);
    }
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

/// Imports the user's security keys from a pam_u2f authfile.
fn import_pam_u2f(
    args: &ImportArgs,
    cfg: &mfa_login::config::Config,
    store: &mfa_login::store::Store,
    user: &mfa_login::username::UserName,
    text: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let creds = mfa_login::fido2::pam_u2f::parse(text, user.as_str())
        .map_err(|e| Error::Usage(format!("{}: {e}", args.file.display())))?;
    if creds.is_empty() {
        return Err(Error::Usage(format!("{} has no line for {user}", args.file.display())));
    }
    let rp_id = args.rp_id.clone().unwrap_or_else(|| cfg.fido2.rp_id());
    let now = SystemClock.now()?;
    let stored: Vec<_> = creds
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.into_stored(format!("pam_u2f-{}", i + 1), &rp_id, now))
        .collect();
    let total = stored.len();
    let added = enroll::import_fido2(store, user, stored, now)?;
    writeln!(
        out,
        "Imported {added} of {total} security key(s) of {user} from {} for RP id {rp_id} \
         (named pam_u2f-N; already registered keys were skipped). Presence is always required; \
         +verification/+pin keys also need the PIN.\nGive {user} recovery codes with: \
         mfa-enroll --user {user} recovery-codes --regenerate",
        args.file.display()
    )
    .map_err(Error::stdout)
}
