//! `mfa-enroll remove`: deletes everything stored for a user, after confirmation.

use crate::cli::{Cli, RemoveArgs};
use crate::context::{load_config, open_store, require_root, target_user_or_record};
use crate::error::{Error, Result};
use crate::output::warn;
use crate::prompt::Console;

/// Asks (unless `--yes`), then removes the user's record. End of input counts as "no".
pub(crate) fn run(cli: &Cli, args: &RemoveArgs, console: &mut Console<'_>) -> Result<()> {
    require_root(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    let user = target_user_or_record(cli, &store)?;
    // An unreadable record (corrupt, wrong mode) is exactly what an administrator may want to
    // remove, so a read error does not stop the removal.
    let present = match store.load(&user) {
        Ok(record) => record.is_some(),
        Err(e) => {
            warn(&format!("the record of {user} cannot be read: {e}"));
            true
        }
    };
    if !present {
        writeln!(console.out, "{user} has nothing enrolled; nothing to remove.")
            .map_err(Error::stdout)?;
        return Ok(());
    }
    if !args.yes && !console.confirm(&format!("Remove all second factors of {user}?"))? {
        return Err(Error::Aborted("nothing was removed".into()));
    }
    let removed = mfa_login::enroll::remove(&store, &user)?;
    let text = if removed {
        format!("Removed all second factors of {user} (authenticator app and recovery codes).")
    } else {
        format!("{user} has nothing enrolled; nothing to remove.")
    };
    writeln!(console.out, "{text}").map_err(Error::stdout)
}
