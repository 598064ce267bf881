//! `mfa-enroll opt-in` and `mfa-enroll admin unlock`: resetting login state kept in a user's
//! record (enroll-on-login choices, wrong-code lock).

use crate::cli::Cli;
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use std::io::Write;

/// Undoes an opt-out and resets the skip count.
pub(crate) fn opt_in(cli: &Cli, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let store = open_store(&load_config(cli)?)?;
    let text = if mfa_login::enroll::opt_in(&store, &user)? {
        format!("{user} will be offered enrollment again at the next login.")
    } else {
        format!("{user} has nothing stored: enrollment is offered at the next login anyway.")
    };
    writeln!(out, "{text}").map_err(Error::stdout)
}

/// Clears the wrong-code counter and lock.
pub(crate) fn unlock(cli: &Cli, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let store = open_store(&load_config(cli)?)?;
    let text = if mfa_login::enroll::unlock(&store, &user)? {
        format!("Unlocked {user}: the wrong-code counter is cleared.")
    } else {
        format!("{user} has nothing stored; nothing to unlock.")
    };
    writeln!(out, "{text}").map_err(Error::stdout)
}
