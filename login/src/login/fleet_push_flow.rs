//! Push approval in fleet mode (`backend = "fleet"` with a `[push]` section for the same
//! service, issue 20): a device paired once, through any fleet host, approves logins on every
//! host of the user's push scope.
//!
//! This host usually has no record of the device, so it asks the service for the user's fleet
//! devices with a fresh nonce (`POST /v2/fleet/push/devices`) and uses them only if the list is
//! signed by the pinned service key for this host, this user and that nonce
//! ([`push_proto::fleet_push::DeviceList::check`]). Then the standalone push login runs with
//! those devices ([`super::push_flow::fleet_push`]): each approval is checked against the
//! listed device's own key. A code typed at the push prompt, and every fallback to a code,
//! goes to the fleet service as a normal fleet login ([`super::fleet_flow::code_login`]).
//!
//! A list that does not verify denies (never fails open). A list that cannot be had (outage,
//! refusal) falls through to the code prompt, whose outage handling (`failmode`) applies. A
//! device with a passkey (phone web app) is not offered: the list does not carry the passkey's
//! RP id and origin, which its assertions must be checked against.

use super::LoginContext;
use super::outcome::{Denial, Factor, Outcome};
use crate::fleet::FleetConfig;
use crate::policy::FailMode;
use crate::push::{PushConfig, PushDevice};
use push_proto::fleet_push::{DevicesRequest, FleetDevice};
use zeroize::Zeroizing;

/// Offers push when `[push]` names the fleet's service and the user has fleet devices there.
/// `None`: no push offered (ask for a code).
pub(super) fn offer(
    ctx: &mut LoginContext<'_>,
    section: &FleetConfig,
    failmode: FailMode,
) -> Option<Outcome> {
    let pcfg = ctx.cfg.push.as_ref().filter(|p| same_service(p, section))?;
    let devices = match devices(ctx, section) {
        Ok(d) if d.is_empty() => return None,
        Ok(d) => d,
        Err(Fetch::Unavailable) => return None,
        Err(Fetch::Refused(o)) => return Some(o.with_factor(Factor::Push)),
    };
    let code = |ctx: &mut LoginContext<'_>, answer: Option<Zeroizing<String>>| {
        super::fleet_flow::code_login(ctx, section, failmode, answer)
    };
    Some(super::push_flow::fleet_push(ctx, pcfg, failmode, &devices, &code))
}

/// Whether `[push]` is the fleet's service, with the same host credential.
fn same_service(pcfg: &PushConfig, section: &FleetConfig) -> bool {
    pcfg.url.trim_end_matches('/') == section.url.trim_end_matches('/')
        && pcfg.credential == section.credential
}

/// Why no devices.
enum Fetch {
    /// No list could be had (outage, refusal): the code prompt decides.
    Unavailable,
    /// A list came but does not verify: the login is denied.
    Refused(Outcome),
}

/// The user's fleet devices from a list that verifies against this very request.
fn devices(ctx: &LoginContext<'_>, section: &FleetConfig) -> Result<Vec<PushDevice>, Fetch> {
    let service = ctx.remotes.fleet(section).map_err(|_| Fetch::Unavailable)?;
    let login = super::fleet_key_flow::key_login(ctx).map_err(Fetch::Refused)?;
    let request = DevicesRequest { user: login.user, time: login.time, nonce: login.nonce };
    let list = service.push_devices(&request).map_err(|_| Fetch::Unavailable)?;
    let listed = list.check(service.service_key(), service.host_id(), &request).map_err(|e| {
        Fetch::Refused(Outcome::deny(
            Denial::Unavailable,
            format!("fleet push device list refused: {e}"),
        ))
    })?;
    Ok(listed.into_iter().filter(|d| d.passkey.is_none()).map(|d| local(d, login.time)).collect())
}

/// A listed device as the push flow checks it.
fn local(d: FleetDevice, now: u64) -> PushDevice {
    PushDevice {
        id: d.id,
        name: crate::push::shown(&d.name),
        public_key: d.public_key,
        added: now,
        passkey: None,
    }
}
