//! `mfa-enroll push`: pair a phone for push approval, list or remove push devices.

use crate::cli::{Cli, PushArgs};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use crate::prompt::Console;
use crate::selfservice::Terminal;
use mfa_login::login::{Decision, Denial, SystemClock};

/// Runs `mfa-enroll push` as root.
pub(crate) fn run(cli: &Cli, args: &PushArgs, console: &mut Console<'_>) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    if args.list {
        let devices = store.load(&user)?.map(|r| r.push).unwrap_or_default();
        if devices.is_empty() {
            return writeln!(console.out, "{user} has no push device.").map_err(Error::stdout);
        }
        for d in devices {
            writeln!(console.out, "{}  (id {})", d.name, d.id).map_err(Error::stdout)?;
        }
        return Ok(());
    }
    if let Some(name) = &args.remove {
        return if mfa_login::enroll::remove_push(&store, &user, name)? {
            writeln!(
                console.out,
                "Removed push device '{name}' of {user} on this host (revoke it at the service \
                 with `mfa-server device revoke ID`)."
            )
            .map_err(Error::stdout)
        } else {
            Err(Error::Usage(format!("{user} has no push device named '{name}'")))
        };
    }
    if cfg.push.is_none() {
        return Err(Error::Usage(format!(
            "push is not configured: add a [push] section to {}",
            cli.config.display()
        )));
    }
    let mut terminal = Terminal { console };
    let outcome = mfa_login::login::enroll_push(
        &cfg,
        &store,
        &user,
        &mut terminal,
        &SystemClock,
        &mfa_remote::Network,
    );
    match outcome.decision {
        Decision::Success => Ok(()),
        Decision::Deny(Denial::AuthFailed | Denial::Conversation) | Decision::Ignore => {
            Err(Error::Aborted(outcome.reason))
        }
        // Enrollment never fails open; should it ever claim to, it is not an enrollment.
        Decision::Deny(_) | Decision::FailOpen | Decision::Offline => {
            Err(Error::Helper(outcome.reason))
        }
    }
}
