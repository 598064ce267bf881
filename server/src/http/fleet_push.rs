//! `POST /v2/fleet/push/devices` (host) and the device check of
//! [`push_proto::fleet_enroll::Change::AddPushDevice`]: fleet mode's push devices
//! ([`push_proto::fleet_push`]). A device paired once through a fleet host becomes a factor of
//! its user at the service, and every fleet host gets the user's devices (their public keys,
//! which the module checks approvals against) in a list signed with the service's key.

use super::auth::HostAuth;
use super::extract::JsonBody;
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::fleet::access::{Purpose, may};
use crate::store::{Host, Store, StoreError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use push_proto::fleet_push::{DeviceList, DevicePasskey, DevicesRequest, FleetDevice, MAX_DEVICES};

/// Error code of a device that may not become the user's fleet factor (403).
pub const DEVICE_NOT_ALLOWED: &str = "device_not_allowed";

/// Whether `device_id` may become a fleet push factor of `user` added through `host`: a device
/// of that user, paired through that very host, not revoked, and the host in the fleet's push
/// scope (so every fleet host can send it challenges).
pub(super) async fn may_add(
    store: &dyn Store,
    host: &Host,
    user: &str,
    device_id: &str,
) -> Result<bool, StoreError> {
    let Some(d) = store.device(device_id).await? else {
        return Ok(false);
    };
    let paired_here = d.host_id.as_deref() == Some(host.id.as_str());
    if d.user != user || !paired_here || d.revoked_at.is_some() {
        return Ok(false);
    }
    Ok(crate::scope::push_scope(store, &host.id).await? == crate::scope::FLEET_PUSH_SCOPE)
}

/// The user's fleet devices that `host` may send challenges to, with their passkeys.
async fn listed(
    store: &dyn Store,
    host: &Host,
    user: &str,
) -> Result<Vec<FleetDevice>, StoreError> {
    let scope = crate::scope::fleet_of_host(host);
    let push_scope = crate::scope::push_scope(store, &host.id).await?;
    let mut out = Vec::new();
    for id in store.fleet_push_devices(&scope, user).await? {
        let Some(d) = store.device(&id).await? else { continue };
        if d.user != user || !crate::scope::may_push_in(store, &push_scope, &d).await? {
            continue;
        }
        let passkey = store
            .passkey(&d.id)
            .await?
            .map(|p| DevicePasskey { credential_id: p.credential_id, public_key: p.public_key });
        out.push(FleetDevice { id: d.id, name: d.name, public_key: d.public_key, passkey });
        if out.len() == MAX_DEVICES {
            break;
        }
    }
    Ok(out)
}

/// `POST /v2/fleet/push/devices`: the user's fleet push devices, signed and bound to the
/// asking host, the user and the host's nonce. A host outside the user's host groups
/// (`Purpose::Authenticate`, checked first) gets the same answer as for a user without
/// devices: an empty list; so does a user locked out at the service.
pub async fn devices(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<DevicesRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    super::fleet_enroll::validate(req.validate(), req.time, now)?;
    let scope = crate::scope::fleet_of_host(&host);
    let store = &*state.store;
    let allowed = may(store, &host, &scope, &req.user, Purpose::Authenticate).await?;
    // A user locked out at the service gets no devices: a push approval would otherwise let
    // in a user whose codes the fleet-wide lockout refuses (the host then asks for a code,
    // which the service answers "locked").
    let locked =
        allowed && store.lockout(&scope, &req.user).await?.locked_until.is_some_and(|t| t > now);
    let devices =
        if allowed && !locked { listed(store, &host, &req.user).await? } else { Vec::new() };
    let reason = if !allowed {
        Some("host not in the user's host groups")
    } else {
        locked.then_some("locked out after too many failures")
    };
    state.audit.record(&Event {
        event: "fleet.push.devices",
        host: Some(&host.id),
        user: Some(&req.user),
        outcome: if reason.is_none() { "ok" } else { "refused" },
        reason,
        ..Event::default()
    });
    let mut list = DeviceList {
        host_id: host.id.clone(),
        user: req.user,
        nonce: req.nonce,
        devices,
        listed_at: now,
        signature: String::new(),
    };
    list.sign(&state.key);
    Ok(json(StatusCode::OK, &list))
}
