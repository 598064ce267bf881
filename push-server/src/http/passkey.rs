//! Passkeys of web app devices: registration options and registration (device-authenticated),
//! and the check every answer of a device with a passkey goes through.

use super::auth::DeviceAuthed;
use super::extract::JsonBody;
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::store::Device;
use crate::store::passkeys::Passkey;
use crate::webauthn::{Registered, RelyingParty, verify_answer, verify_registration};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use push_proto::api::{PasskeyAssertion, PasskeyOptions, RegisterPasskey, errors};
use push_proto::{b64, signed};

/// How long a registration challenge stays valid, seconds.
const REGISTRATION_TTL: u64 = 300;

/// The routes of this module.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/device/passkey/options", get(options))
        .route("/v1/device/passkey", post(register))
}

fn relying_party(state: &Shared) -> Result<RelyingParty, ApiError> {
    RelyingParty::from_base_url(&state.base_url)
        .ok_or_else(|| ApiError::internal("public_url has no host for WebAuthn"))
}

fn audit(
    state: &Shared,
    device: &Device,
    event: &'static str,
    outcome: &'static str,
    reason: Option<&str>,
) {
    state.audit.record(&Event {
        event,
        user: Some(&device.user),
        device: Some(&device.id),
        outcome,
        reason,
        ..Event::default()
    });
}

/// The challenge: expiry (8 bytes, big endian) ‖ the service's signature over
/// `signed::passkey_registration(device, expiry)`, so the service keeps no state for it.
fn registration_challenge(state: &Shared, device_id: &str, expires_at: u64) -> Vec<u8> {
    let sig = state.key.sign(&signed::passkey_registration(device_id, expires_at));
    let mut out = expires_at.to_be_bytes().to_vec();
    out.extend(push_proto::unb64(&sig).unwrap_or_default());
    out
}

fn challenge_is_ours(state: &Shared, device_id: &str, challenge: &[u8], now: u64) -> bool {
    if challenge.len() != 8 + 64 {
        return false;
    }
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&challenge[..8]);
    let expires_at = u64::from_be_bytes(exp);
    now < expires_at
        && state
            .key
            .public()
            .verify(&signed::passkey_registration(device_id, expires_at), &b64(&challenge[8..]))
}

/// `GET /v1/device/passkey/options`.
async fn options(
    State(state): State<Shared>,
    DeviceAuthed(device): DeviceAuthed,
) -> Result<Response, ApiError> {
    if state.store.passkey(&device.id).await?.is_some() {
        return Err(ApiError::already_used("device's passkey registration"));
    }
    let rp = relying_party(&state)?;
    let expires_at = crate::time::now() + REGISTRATION_TTL;
    let body = PasskeyOptions {
        challenge: b64(&registration_challenge(&state, &device.id, expires_at)),
        rp_id: rp.id,
        user_id: b64(device.id.as_bytes()),
        user_name: device.user.clone(),
        timeout_ms: REGISTRATION_TTL * 1000,
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /v1/device/passkey`.
async fn register(
    State(state): State<Shared>,
    DeviceAuthed(device): DeviceAuthed,
    JsonBody(req): JsonBody<RegisterPasskey>,
) -> Result<Response, ApiError> {
    let rp = relying_party(&state)?;
    let now = crate::time::now();
    let new = match verify_registration(&rp, &req, |c| {
        challenge_is_ours(&state, &device.id, c, now)
    }) {
        Ok(n) => n,
        Err(reason) => {
            audit(&state, &device, "passkey.refused", "refused", Some(&reason));
            return Err(ApiError::bad_request(format!("passkey registration refused: {reason}")));
        }
    };
    let passkey = Passkey {
        device_id: device.id.clone(),
        credential_id: new.credential_id,
        public_key: new.public_key,
        sign_count: new.sign_count,
        created_at: now,
    };
    let added = match state.store.add_passkey(&passkey).await {
        Ok(added) => added,
        Err(crate::store::StoreError::Conflict(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if !added {
        audit(&state, &device, "passkey.refused", "refused", Some("device already has a passkey"));
        return Err(ApiError::already_used("device's passkey registration"));
    }
    audit(&state, &device, "passkey.registered", "ok", None);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// For an answer of `device` over `signed`: `Ok` if the device has no passkey, or if
/// `assertion` is a valid, fresh assertion of it over exactly these bytes. Refusals are
/// audited; they are 400 (`passkey_required` or `bad_signature`).
pub async fn check_answer(
    state: &Shared,
    device: &Device,
    txid: &str,
    signed: &[u8],
    assertion: Option<&PasskeyAssertion>,
) -> Result<(), ApiError> {
    let Some(passkey) = state.store.passkey(&device.id).await? else { return Ok(()) };
    let refuse = |code: &'static str, reason: &str| {
        state.audit.record(&Event {
            event: "challenge.answer_refused",
            user: Some(&device.user),
            device: Some(&device.id),
            txid: Some(txid),
            outcome: "refused",
            reason: Some(reason),
            ..Event::default()
        });
        ApiError::new(StatusCode::BAD_REQUEST, code, format!("passkey: {reason}"))
    };
    let Some(a) = assertion else {
        return Err(refuse(errors::PASSKEY_REQUIRED, "this device must answer with its passkey"));
    };
    let rp = relying_party(state)?;
    let key = Registered {
        credential_id: &passkey.credential_id,
        public_key: &passkey.public_key,
        sign_count: passkey.sign_count,
    };
    let count =
        verify_answer(&rp, &key, a, signed).map_err(|r| refuse(errors::BAD_SIGNATURE, &r))?;
    if !state.store.bump_passkey_counter(&device.id, passkey.sign_count, count).await? {
        return Err(refuse(errors::BAD_SIGNATURE, "the passkey counter moved meanwhile (replay)"));
    }
    Ok(())
}
