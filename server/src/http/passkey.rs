//! Passkeys of web app devices: made while pairing ([`super::pairing`]); the check every
//! answer of a device with a passkey goes through (the host checks the same assertion again,
//! against the passkey public key it kept at pairing).

use super::Shared;
use crate::audit::Event;
use crate::error::ApiError;
use crate::store::Device;
use axum::http::StatusCode;
use mfa_factors::passkey::{DevicePasskey, RelyingParty, verify_answer};
use push_proto::api::{PasskeyAssertion, errors};

/// The service's relying party: its `public_url`.
pub fn relying_party(state: &Shared) -> Result<RelyingParty, ApiError> {
    RelyingParty::from_origin(&state.base_url)
        .ok_or_else(|| ApiError::internal("public_url has no host for WebAuthn"))
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
    let key = DevicePasskey {
        credential_id: passkey.credential_id.clone(),
        public_key: passkey.public_key.clone(),
        rp_id: rp.id,
        origin: rp.origin,
        sign_count: passkey.sign_count,
    };
    let count = verify_answer(&key, a, signed).map_err(|r| refuse(errors::BAD_SIGNATURE, &r))?;
    if !state.store.bump_passkey_counter(&device.id, passkey.sign_count, count).await? {
        return Err(refuse(errors::BAD_SIGNATURE, "the passkey counter moved meanwhile (replay)"));
    }
    Ok(())
}
