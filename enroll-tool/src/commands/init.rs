//! `mfa-enroll init`: creates what the store needs, idempotently.

use crate::cli::Cli;
use crate::context::{exists, load_config, refuse_user_option, require_root};
use crate::error::{Error, Result};
use mfa_login::store::Store;
use std::io::Write;

/// Creates the master key and the state directories if missing (existing ones are checked,
/// never changed) and says which was created.
pub(crate) fn run(cli: &Cli, out: &mut dyn Write) -> Result<()> {
    require_root(cli)?;
    refuse_user_option(cli)?;
    let cfg = load_config(cli)?;
    let items = [("Master key", &cfg.store.master_key), ("State directory", &cfg.store.state_dir)];
    let mut existed = Vec::with_capacity(items.len());
    for (_, path) in items {
        existed.push(exists(path)?);
    }
    Store::init(&cfg.store)?;
    for ((what, path), existed) in items.iter().zip(existed) {
        let state = if existed { "exists (checked)" } else { "created" };
        writeln!(out, "{what:<16} {}: {state}", path.display()).map_err(Error::stdout)?;
    }
    writeln!(out, "The store is ready. Back up the master key together with the state directory.")
        .map_err(Error::stdout)
}
