//! `mfa-enroll push` on a fleet host (issue 20): the phone is paired and confirmed with a test
//! push as on a standalone host, then registered at the fleet's service as a factor of the user
//! (`Change::AddPushDevice`), so every host of the fleet's push scope offers it. It is not saved
//! on this host (logins here ask the service for the user's devices). A user who has a factor
//! proves a current one, asked for after the pairing (a code typed before would expire while
//! the phone pairs).

use super::fleet::At;
use crate::cli::{Cli, PushArgs};
use crate::context::open_store;
use crate::error::{Error, Result};
use crate::prompt::Console;
use crate::selfservice::Terminal;
use mfa_login::config::Config;
use mfa_login::login::{Decision, Denial, SelfService, SystemClock};
use push_proto::fleet_enroll::Change;

/// Runs `mfa-enroll push` at the fleet's service.
pub(super) fn run(
    at: &At,
    cli: &Cli,
    cfg: &Config,
    args: &PushArgs,
    console: &mut Console<'_>,
) -> Result<()> {
    if args.list || args.remove.is_some() {
        return Err(Error::Usage(
            "on a fleet host, push devices are listed with `mfa-enroll status` and removed at \
             the fleet's service (`mfa-enroll remove`, or `mfa-server fleet user remove`)"
                .into(),
        ));
    }
    if cfg.push.is_none() {
        return Err(Error::Usage(format!(
            "push is not configured: add a [push] section to {}",
            cli.config.display()
        )));
    }
    let store = open_store(cfg)?;
    let paired = {
        let mut terminal = Terminal { console: &mut *console };
        mfa_login::login::pair_push(SelfService {
            cfg,
            store: &store,
            user: &at.user,
            conv: &mut terminal,
            clock: &SystemClock,
            remotes: &mfa_remote::Network,
        })
    };
    let device = paired.map_err(|o| match o.decision {
        Decision::Deny(Denial::AuthFailed | Denial::Conversation) | Decision::Ignore => {
            Error::Aborted(o.reason)
        }
        _ => Error::Helper(o.reason),
    })?;
    let st = at.fetch_status()?;
    let proof = at.proof(&st, console)?;
    at.send(proof, Change::AddPushDevice { device_id: device.id.clone() })?;
    writeln!(
        console.out,
        "Push approval is set up with '{}' at the fleet's service: it approves {}'s logins on \
         every host of the fleet's push scope.",
        device.name, at.user
    )
    .map_err(Error::stdout)
}
