//! `mfa-enroll status` and `mfa-enroll list`: enrollment summaries, never secrets.

use crate::cli::{Cli, JsonArgs};
use crate::context::{load_config, open_store, refuse_user_option, require_root, target_user};
use crate::error::{Error, Result};
use crate::output::{Summary, warn, write_json};
use mfa_login::login::{Clock, SystemClock};
use mfa_login::store::Store;
use mfa_login::username::{UserName, log_safe};
use std::io::Write;

/// Shows one user's summary. A user with nothing stored is "not enrolled" (not an error).
pub(crate) fn status(cli: &Cli, args: &JsonArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    let summary = summary_of(&store, &user)?;
    if args.json { write_json(out, &summary) } else { summary.write_text(out) }
}

/// The summary of `user`'s record, or "not enrolled" when there is none.
pub(crate) fn summary_of(store: &Store, user: &UserName) -> Result<Summary> {
    let now = SystemClock.now()?;
    Ok(store.load(user)?.map_or_else(|| Summary::nothing(user.as_str()), |r| Summary::of(&r, now)))
}

/// Shows every user with a record. A record that cannot be read is reported on stderr and
/// makes the command fail after the others were shown.
pub(crate) fn list(cli: &Cli, args: &JsonArgs, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    refuse_user_option(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    let mut summaries = Vec::new();
    let mut unreadable = 0usize;
    for name in store.users()? {
        let loaded = UserName::parse(&name)
            .map_err(mfa_login::Error::from)
            .and_then(|user| store.load(&user));
        match loaded {
            Ok(Some(record)) => summaries.push(Summary::of(&record, SystemClock.now()?)),
            Ok(None) => {} // removed since the directory was listed
            Err(e) => {
                warn(&format!("{}: {e}", log_safe(&name)));
                unreadable += 1;
            }
        }
    }
    if args.json {
        write_json(out, &summaries)?;
    } else if summaries.is_empty() {
        writeln!(out, "No user has anything enrolled.").map_err(Error::stdout)?;
    } else {
        for s in &summaries {
            s.write_text(out)?;
        }
    }
    match unreadable {
        0 => Ok(()),
        n => Err(Error::Partial(format!("{n} user record(s) could not be read (see above)"))),
    }
}
