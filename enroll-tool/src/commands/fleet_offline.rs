//! `mfa-enroll status` on a fleet host: whether this host holds an offline bundle for the
//! user (issue 21), until when, and what it can check; read from this host's store, so it is
//! shown even while the service cannot be reached.

use crate::context::open_store;
use crate::error::Result;
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
