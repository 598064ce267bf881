//! Offline bundles on a fleet host (issue 21): `mfa-enroll status` says whether this host
//! holds one for the user, until when, and what it can check (read from this host's store, so
//! it is shown even while the service cannot be reached); `mfa-enroll offline-bundles` brings
//! them up to date with the service now.

use crate::cli::{Cli, OfflineBundlesArgs};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use crate::output::utc;
use mfa_login::config::Config;
use mfa_login::username::UserName;
use mfa_remote::fleet::FleetClient;
use push_proto::offline::Bundle;

/// The lines about the user's offline bundle on this host.
pub(super) fn describe(
    cfg: &Config,
    client: &FleetClient,
    user: &UserName,
    now: u64,
) -> Result<String> {
    if !cfg.fleet.as_ref().is_some_and(|f| f.offline) {
        return Ok("  Offline bundle: off on this host ([fleet] offline = false)\n".into());
    }
    let state = open_store(cfg)?.load_offline(user)?;
    let Some(state) = state else {
        return Ok("  Offline bundle: none on this host\n".into());
    };
    let mut text = match &state.bundle {
        None => "  Offline bundle: none on this host\n".to_string(),
        Some(signed) => {
            match signed.open(client.service_key(), client.host_id(), user.as_str(), now) {
                Ok(b) => usable(&b),
                Err(e) => format!("  Offline bundle: held but not usable ({e})\n"),
            }
        }
    };
    if !state.pending.is_empty() {
        text.push_str(&format!(
            "  Offline uses:   {} waiting to be reported to the service\n",
            state.pending.len()
        ));
    }
    Ok(text)
}

fn usable(b: &Bundle) -> String {
    let mut text = format!("  Offline bundle: valid until {}\n", utc(b.expires_at));
    if let Some(w) = &b.totp {
        let steps = u64::try_from(w.hashes.len()).unwrap_or(0);
        let end = w.first_step.saturating_add(steps).saturating_mul(w.step_secs);
        text.push_str(&format!("    TOTP codes until {}\n", utc(end)));
    }
    text.push_str(&format!(
        "    {} recovery codes, {} security keys\n",
        b.recovery.len(),
        b.keys.len()
    ));
    text
}

/// `mfa-enroll offline-bundles`: one contact with the service per user (report, then fetch,
/// keep or drop the bundle); one line per user.
pub(crate) fn bring_up_to_date(
    cli: &Cli,
    args: &OfflineBundlesArgs,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    require_root(cli)?;
    let cfg = load_config(cli)?;
    let fleet = cfg.fleet.as_ref().filter(|f| f.offline).ok_or_else(|| {
        Error::Usage("this host keeps no offline bundles ([fleet] offline)".into())
    })?;
    let client =
        FleetClient::new(fleet).map_err(|e| Error::Aborted(format!("the fleet service: {e}")))?;
    let store = open_store(&cfg)?;
    let users = if args.all {
        let names = store.offline_users()?;
        names.iter().map(|n| UserName::parse(n).map_err(Error::from)).collect::<Result<Vec<_>>>()?
    } else {
        vec![target_user(cli)?]
    };
    let now = mfa_login::login::Clock::now(&mfa_login::login::SystemClock)?;
    let mut failed = 0;
    for user in &users {
        let contact = mfa_login::fleet::offline_contact::Contact {
            store: &store,
            user,
            service: &client,
            now,
        };
        let note = contact.bring_up_to_date();
        failed += usize::from(note.failed);
        let text = note.text.trim_start_matches("; offline: ").replace("; offline: ", "; ");
        let shown = if text.is_empty() { "up to date" } else { &text };
        writeln!(out, "{user}: {shown}").map_err(Error::stdout)?;
    }
    if failed > 0 {
        return Err(Error::Aborted(format!(
            "{failed} of {} users not brought up to date",
            users.len()
        )));
    }
    Ok(())
}
