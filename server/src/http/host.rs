//! Host endpoints for challenges: create, observe (long-poll), cancel.

use super::auth::HostAuth;
use super::extract::{IdPath, JsonBody, cancel_reason, wait_secs};
use super::{Shared, json};
use crate::audit::Event;
use crate::config::MIN_TTL;
use crate::error::ApiError;
use crate::store::{Challenge, Created, Host, RateLimits};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, DeviceRef, Receipt, Status, errors,
};
use push_proto::limits::{self, MAX_RHOST, MAX_SERVICE, NONCE_LEN};
use std::time::Duration;

/// Most device ids one challenge may name.
pub const MAX_DEVICES: usize = 16;

fn validate(req: &CreateChallenge) -> Result<(), ApiError> {
    if !limits::is_user(&req.user) {
        return Err(ApiError::bad_request("user is malformed"));
    }
    if !limits::is_text(&req.service, MAX_SERVICE) {
        return Err(ApiError::bad_request("service is malformed"));
    }
    if req.rhost.as_deref().is_some_and(|r| !limits::is_text(r, MAX_RHOST)) {
        return Err(ApiError::bad_request("rhost is malformed"));
    }
    if !limits::is_token(&req.nonce, NONCE_LEN) {
        return Err(ApiError::bad_request("nonce must be 32 bytes, base64url"));
    }
    if req.devices.is_empty() || req.devices.len() > MAX_DEVICES {
        return Err(ApiError::bad_request(format!("devices must name 1 to {MAX_DEVICES} ids")));
    }
    if !req.devices.iter().all(|d| limits::is_id(d)) {
        return Err(ApiError::bad_request("a device id is malformed"));
    }
    if i64::try_from(req.time).is_err() {
        return Err(ApiError::bad_request("time is out of range"));
    }
    if !push_proto::numbers::valid_choices(&req.choices) {
        return Err(ApiError::bad_request(
            "choices must be empty or three different numbers from 10 to 99",
        ));
    }
    Ok(())
}

fn refused(state: &Shared, host: &str, user: &str, reason: &str) {
    state.audit.record(&Event {
        event: "challenge.refused",
        host: Some(host),
        user: Some(user),
        outcome: "refused",
        reason: Some(reason),
        ..Event::default()
    });
}

/// `POST /v2/challenges`. The order of the steps is the security contract: the host is
/// authenticated (the extractor) before the body is parsed; the request is validated, the
/// user's fraud cooldown checked and the devices resolved before anything is stored; the rate
/// limits are applied by the store in the same step that creates the challenge.
pub async fn create_challenge(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<CreateChallenge>,
) -> Result<Response, ApiError> {
    validate(&req)?;
    let now = crate::time::now();
    let scope = crate::scope::push_scope(&*state.store, &host.id).await?;
    check_cooldown(&state, &host, &scope, &req.user, now).await?;
    let devices = pushable_devices(&state, &host, &scope, &req).await?;
    let ttl = req.ttl.clamp(MIN_TTL, state.limits.challenge_ttl_max);
    let challenge = Challenge {
        txid: push_proto::random_token(16).map_err(ApiError::internal)?,
        host_id: host.id.clone(),
        scope,
        hostname: host.name.clone(),
        user: req.user.clone(),
        service: req.service,
        rhost: req.rhost,
        time: req.time,
        nonce: req.nonce,
        choices: req.choices,
        created_at: now,
        expires_at: now + ttl,
        status: Status::Pending,
        answer: None,
    };
    let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    store_challenge(&state, &host, &challenge, &ids, now).await?;
    announce(&state, &host, &challenge, &ids);
    let created =
        ChallengeCreated { txid: challenge.txid, expires_at: challenge.expires_at, devices };
    Ok(json(StatusCode::CREATED, &created))
}

/// Refuses (audited) while the user is in the cooldown after a fraud report.
async fn check_cooldown(
    state: &Shared,
    host: &Host,
    scope: &str,
    user: &str,
    now: u64,
) -> Result<(), ApiError> {
    if state.store.cooldown_until(scope, user).await?.is_some_and(|until| until > now) {
        refused(state, &host.id, user, "cooldown after a fraud report");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            errors::COOLDOWN,
            "the user recently reported a login as not theirs; try again later",
        ));
    }
    Ok(())
}

/// The named devices this host may push to, without repeats and in the order named: only the
/// user's active devices, paired through a host of this host's scope. Refuses (audited) when
/// none is left.
async fn pushable_devices(
    state: &Shared,
    host: &Host,
    scope: &str,
    req: &CreateChallenge,
) -> Result<Vec<DeviceRef>, ApiError> {
    let mut devices = Vec::new();
    // In the fleet's push scope the user's host groups apply as to every fleet login: a host
    // outside them reaches none of the user's devices (and is told what a host with none
    // is told).
    let fleet_scope = crate::scope::fleet_of_host(host);
    let refused_by_groups = scope == crate::scope::FLEET_PUSH_SCOPE
        && !crate::fleet::access::may(
            &*state.store,
            host,
            &fleet_scope,
            &req.user,
            crate::fleet::access::Purpose::Authenticate,
        )
        .await?;
    for id in req.devices.iter().filter(|_| !refused_by_groups) {
        if devices.iter().any(|d: &DeviceRef| &d.id == id) {
            continue;
        }
        if let Some(d) = state.store.device(id).await? {
            // Only this user's active devices, paired through a host of this host's scope.
            if d.user == req.user
                && d.revoked_at.is_none()
                && crate::scope::may_push_in(&*state.store, scope, &d).await?
            {
                devices.push(DeviceRef { id: d.id, name: d.name });
            }
        }
    }
    if refused_by_groups {
        refused(state, &host.id, &req.user, "host not in the user's host groups");
    } else if devices.is_empty() {
        refused(state, &host.id, &req.user, "no active device");
    }
    if devices.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            errors::NO_DEVICE,
            "none of the devices is paired through this host and active for this user",
        ));
    }
    Ok(devices)
}

/// Stores the challenge for the devices `ids` under the rate limits; refuses (audited) when
/// the user has an open challenge or a limit is reached. Audits the challenges the store found
/// expired meanwhile.
async fn store_challenge(
    state: &Shared,
    host: &Host,
    challenge: &Challenge,
    ids: &[String],
    now: u64,
) -> Result<(), ApiError> {
    let limits = RateLimits {
        per_user: state.limits.user_per_minute,
        per_host: state.limits.host_per_minute,
    };
    match state.store.create_challenge(challenge, ids, limits, now).await? {
        Created::Ok { expired } => {
            for old in expired {
                crate::server::audit_expired(state, &old);
            }
            Ok(())
        }
        Created::Pending => {
            refused(state, &host.id, &challenge.user, "the user has an open challenge");
            Err(ApiError::new(
                StatusCode::CONFLICT,
                errors::CHALLENGE_PENDING,
                "the user already has an open challenge",
            ))
        }
        Created::UserRateLimited | Created::HostRateLimited => {
            refused(state, &host.id, &challenge.user, "rate limit");
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                errors::RATE_LIMITED,
                "too many challenges; try again later",
            ))
        }
    }
}

/// Audits the new challenge once per device and wakes each device's long-poll, then sends the
/// Web Push notifications where they are configured.
fn announce(state: &Shared, host: &Host, challenge: &Challenge, ids: &[String]) {
    for id in ids {
        state.audit.record(&Event {
            event: "challenge.created",
            host: Some(&host.id),
            user: Some(&challenge.user),
            device: Some(id),
            txid: Some(&challenge.txid),
            outcome: "pending",
            reason: None,
        });
        state.hub.publish(&format!("dev:{id}"));
    }
    if let Some(push) = &state.web_push {
        push.notify(state, challenge, ids);
    }
}

/// The host's view of a challenge at `now`.
pub fn challenge_state(c: &Challenge, now: u64) -> ChallengeState {
    let status = c.status_at(now);
    let receipt = c.answer.as_ref().filter(|_| !status.is_pending()).map(|a| Receipt {
        txid: c.txid.clone(),
        host_id: c.host_id.clone(),
        hostname: c.hostname.clone(),
        user: c.user.clone(),
        service: c.service.clone(),
        rhost: c.rhost.clone(),
        time: c.time,
        nonce: c.nonce.clone(),
        choices: c.choices.clone(),
        decision: a.decision,
        number: a.number,
        device_id: a.device_id.clone(),
        device_signature: a.device_signature.clone(),
        passkey: a.passkey.clone(),
        answered_at: a.answered_at,
        signature: a.receipt_signature.clone(),
    });
    ChallengeState { txid: c.txid.clone(), status, receipt }
}

/// The challenge `txid` if it belongs to `host_id`; 404 otherwise (other hosts' challenges
/// are indistinguishable from missing ones).
async fn owned(state: &Shared, txid: &str, host_id: &str) -> Result<Challenge, ApiError> {
    match state.store.challenge(txid).await? {
        Some(c) if c.host_id == host_id => Ok(c),
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /v2/challenges/{txid}?wait=N`.
pub async fn get_challenge(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    IdPath(txid): IdPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let wait = wait_secs(uri.query(), state.limits.max_wait)?;
    let first = owned(&state, &txid, &host.id).await?;
    let now = crate::time::now();
    let until_expiry = first.expires_at.saturating_sub(now);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(until_expiry));
    let key = format!("tx:{txid}");
    let done = state
        .hub
        .wait_for(&key, deadline, || async {
            let c = owned(&state, &txid, &host.id).await?;
            let s = challenge_state(&c, crate::time::now());
            Ok::<_, ApiError>((!s.status.is_pending()).then_some(s))
        })
        .await?;
    let s = match done {
        Some(s) => s,
        None => challenge_state(&owned(&state, &txid, &host.id).await?, crate::time::now()),
    };
    Ok(json(StatusCode::OK, &s))
}

/// `DELETE /v2/challenges/{txid}[?reason=code_typed]`.
pub async fn cancel_challenge(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    IdPath(txid): IdPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let reason = cancel_reason(uri.query())?;
    let c = owned(&state, &txid, &host.id).await?;
    let now = crate::time::now();
    if c.status_at(now).is_pending() && state.store.cancel(&txid, now, reason).await? {
        state.audit.record(&Event {
            event: "challenge.cancelled",
            host: Some(&host.id),
            user: Some(&c.user),
            txid: Some(&txid),
            outcome: "cancelled",
            reason: reason.map(|_| "code typed at the login; not counted against the user's rate"),
            ..Event::default()
        });
        state.hub.publish(&format!("tx:{txid}"));
    }
    let c = owned(&state, &txid, &host.id).await?;
    Ok(json(StatusCode::OK, &challenge_state(&c, crate::time::now())))
}
