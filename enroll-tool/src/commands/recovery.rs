//! `mfa-enroll recovery-codes`: how many are left, or a new set.

use super::status::summary_of;
use crate::cli::{Cli, RecoveryArgs};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use crate::output::{write_json, write_recovery_codes};
use mfa_login::login::{Clock, SystemClock};
use serde::Serialize;
use std::io::Write;

/// `--json` output of `--regenerate`.
#[derive(Serialize)]
struct NewCodes<'a> {
    user: &'a str,
    recovery_codes: Vec<&'a str>,
}

/// `--json` output without `--regenerate`.
#[derive(Serialize)]
struct CodesLeft<'a> {
    user: &'a str,
    enrolled: bool,
    recovery_codes_left: usize,
}

/// Shows the number of unused codes, or with `--regenerate` replaces the set and shows the new
/// codes once.
pub(crate) fn run(cli: &Cli, args: &RecoveryArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    if args.regenerate {
        let now = SystemClock.now()?;
        // With a privacyIDEA server configured, a user may have no local factor at all: the
        // codes are then the user's only local state (docs/privacyidea.md).
        let codes = if cfg.privacyidea.is_some() {
            mfa_login::enroll::recovery_codes_for_remote_user(&store, &user, now)?
        } else {
            mfa_login::enroll::regenerate_recovery_codes(&store, &user, now)?
                .ok_or_else(|| Error::NotEnrolled(user.to_string()))?
        };
        if args.json {
            let recovery_codes = codes.iter().map(|c| c.as_str()).collect();
            write_json(out, &NewCodes { user: user.as_str(), recovery_codes })
        } else {
            write_recovery_codes(out, user.as_str(), &codes)
        }
    } else {
        let s = summary_of(&store, &user)?;
        if args.json {
            let left = CodesLeft {
                user: &s.user,
                enrolled: s.enrolled,
                recovery_codes_left: s.recovery_codes_left,
            };
            write_json(out, &left)
        } else if s.recovery_codes_generated.is_none() {
            writeln!(
                out,
                "{user} has no recovery codes. Make a set with: mfa-enroll --user {user} \
                 recovery-codes --regenerate"
            )
            .map_err(Error::stdout)
        } else {
            writeln!(
                out,
                "{user} has {} of {} recovery codes left.",
                s.recovery_codes_left,
                mfa_login::recovery::CODE_COUNT
            )
            .map_err(Error::stdout)
        }
    }
}
