//! Who runs the command, for whom, with which configuration and store.
//!
//! Order matters: the root check comes first, because `Config::load` and the store checks
//! expect root-owned files and would fail with a less helpful message otherwise.

use crate::cli::Cli;
use crate::error::{Error, Result};
use mfa_login::account::{self, SystemDirectory};
use mfa_login::config::Config;
use mfa_login::store::Store;
use mfa_login::username::{UserName, log_safe};
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

/// The account the command acts for: `--user NAME` (root only, checked by [`require_root`])
/// resolved as the module resolves `PAM_USER` (any passwd name or spelling of an account is
/// that account, whose first name keys its record), or else the account of the real uid.
pub(crate) fn target_user(cli: &Cli) -> Result<UserName> {
    match &cli.user {
        Some(name) => resolve_user(name),
        None => invoking_user_name(getuid()).and_then(|n| Ok(UserName::parse(&n)?)),
    }
}

/// [`target_user`] for `remove`: when `--user NAME` resolves to nobody (the account was
/// deleted) but a record of exactly that name exists, the record, so it can be cleaned up.
pub(crate) fn target_user_or_record(cli: &Cli, store: &Store) -> Result<UserName> {
    match (target_user(cli), &cli.user) {
        (Err(Error::UnknownUser(_)), Some(name)) => {
            let literal = UserName::parse(name)?;
            if store.users()?.iter().any(|u| u == literal.as_str()) {
                crate::output::warn(&format!(
                    "there is no user {} in the user database; acting on the record of that name",
                    log_safe(name)
                ));
                Ok(literal)
            } else {
                Err(Error::UnknownUser(log_safe(name)))
            }
        }
        (other, _) => other,
    }
}

fn resolve_user(name: &str) -> Result<UserName> {
    match account::resolve(&SystemDirectory, name) {
        Ok(a) => {
            if a.name.as_str() != name {
                crate::output::warn(&format!(
                    "{} is the account {} (uid {}); acting on {}",
                    log_safe(name),
                    a.name,
                    a.uid,
                    a.name
                ));
            }
            Ok(a.name)
        }
        Err(mfa_login::Error::UnknownUser(_)) => Err(Error::UnknownUser(log_safe(name))),
        Err(e) => Err(e.into()),
    }
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
