//! Who runs the command, for whom, with which configuration and store.
//!
//! Order matters: the root check comes first, because `Config::load` and the store checks
//! expect root-owned files and would fail with a less helpful message otherwise.

use crate::cli::Cli;
use crate::error::{Error, Result};
use mfa_core::config::Config;
use mfa_core::store::Store;
use mfa_core::username::UserName;
use nix::unistd::{Uid, User, getuid};
use std::path::Path;

/// Refuses to go on unless the real uid is root.
///
/// The master key is readable by root only; until a setuid helper exists (a later issue),
/// every command that touches the store needs root.
pub(crate) fn require_root(cli: &Cli) -> Result<()> {
    if getuid().is_root() {
        return Ok(());
    }
    if cli.user.is_some() {
        return Err(Error::UserOptionNeedsRoot);
    }
    let user = invoking_user_name(getuid()).unwrap_or_else(|_| "$USER".to_string());
    Err(Error::NotRoot { user, command: cli.command.name() })
}

/// The user the command acts for: `--user NAME` (root only, checked by [`require_root`]), or
/// else the user of the real uid.
pub(crate) fn target_user(cli: &Cli) -> Result<UserName> {
    let name = match &cli.user {
        Some(name) => name.clone(),
        None => invoking_user_name(getuid())?,
    };
    Ok(UserName::parse(&name)?)
}

/// Refuses `--user` for commands that act on no particular user.
pub(crate) fn refuse_user_option(cli: &Cli) -> Result<()> {
    match cli.user {
        Some(_) => Err(Error::Usage(format!("--user has no meaning for `{}`", cli.command.name()))),
        None => Ok(()),
    }
}

fn invoking_user_name(uid: Uid) -> Result<String> {
    match User::from_uid(uid) {
        Ok(Some(user)) => Ok(user.name),
        Ok(None) => Err(Error::UnknownUid(uid.as_raw())),
        Err(e) => Err(Error::io(format!("look up uid {uid}"), e.into())),
    }
}

/// Whether the user database knows `name` (a typo check for `--user`; failures count as known,
/// so a broken NSS setup does not produce false warnings).
pub(crate) fn user_exists(name: &UserName) -> bool {
    !matches!(User::from_name(name.as_str()), Ok(None))
}

/// Loads the configuration file given by `--config` (ownership and mode are checked).
pub(crate) fn load_config(cli: &Cli) -> Result<Config> {
    Ok(Config::load(&cli.config)?)
}

/// Opens the store, saying plainly when it has not been created yet.
pub(crate) fn open_store(cfg: &Config) -> Result<Store> {
    for path in [&cfg.store.master_key, &cfg.store.state_dir] {
        if !exists(path)? {
            return Err(Error::StoreMissing(path.display().to_string()));
        }
    }
    Ok(Store::open(&cfg.store)?)
}

/// Whether something (also a dangling symlink) exists at `path`.
pub(crate) fn exists(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("inspect {}", path.display()), e)),
    }
}
