//! Pairing: a host asks for a one-time credential, a device redeems it with its public key (and
//! optionally a passkey). The device is bound to the host that paired it ([`crate::scope`]);
//! the host learns its keys and confirms them with the pairing code the user types there.

use super::auth::{HostAuth, secret_hash};
use super::extract::{IdPath, JsonBody, wait_secs};
use super::{Shared, json};
use crate::audit::Event;
use crate::config::MIN_TTL;
use crate::error::ApiError;
use crate::store::passkeys::Passkey;
use crate::store::{Device, Pairing};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use mfa_factors::passkey::verify_registration;
use push_proto::api::{
    CreatePairing, DeviceInfo, PairRequest, Paired, PairingCreated, PairingState, PairingStatus,
    errors,
};
use push_proto::limits::{self, MAX_NAME};
use push_proto::pairing_uri::{self, CREDENTIAL_LEN};
use push_proto::{PublicKey, signed};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// `POST /v2/pairings`.
pub async fn create_pairing(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<CreatePairing>,
) -> Result<Response, ApiError> {
    if !limits::is_user(&req.user) {
        return Err(ApiError::bad_request("user is malformed"));
    }
    let now = crate::time::now();
    let ttl = req.ttl.clamp(MIN_TTL, state.limits.pairing_ttl_max);
    let credential =
        zeroize::Zeroizing::new(push_proto::random_token(32).map_err(ApiError::internal)?);
    let pairing = Pairing {
        id: push_proto::random_token(16).map_err(ApiError::internal)?,
        host_id: host.id.clone(),
        user: req.user,
        credential_hash: secret_hash(&credential),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
        device_id: None,
    };
    state.store.add_pairing(&pairing).await?;
    state.audit.record(&Event {
        event: "pairing.created",
        host: Some(&host.id),
        user: Some(&pairing.user),
        txid: Some(&pairing.id),
        outcome: "pending",
        ..Event::default()
    });
    let created = PairingCreated {
        pairing_id: pairing.id,
        uri: pairing_uri::build(&state.base_url, &credential),
        expires_at: pairing.expires_at,
    };
    Ok(json(StatusCode::CREATED, &created))
}

async fn pairing_state(
    state: &Shared,
    id: &str,
    host_id: &str,
    now: u64,
) -> Result<PairingState, ApiError> {
    let p = match state.store.pairing(id).await? {
        Some(p) if p.host_id == host_id => p,
        _ => return Err(ApiError::not_found()),
    };
    if let Some(device_id) = &p.device_id {
        let d = state.store.device(device_id).await?.ok_or_else(ApiError::not_found)?;
        let passkey = match state.store.passkey(&d.id).await? {
            Some(pk) => Some(serde_json::from_str(&pk.registration).map_err(ApiError::internal)?),
            None => None,
        };
        return Ok(PairingState {
            status: PairingStatus::Paired,
            device: Some(DeviceInfo { id: d.id, name: d.name, public_key: d.public_key, passkey }),
        });
    }
    let status = if now >= p.expires_at { PairingStatus::Expired } else { PairingStatus::Pending };
    Ok(PairingState { status, device: None })
}

/// `GET /v2/pairings/{id}?wait=N` (only the host that created it).
pub async fn get_pairing(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    IdPath(id): IdPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let wait = wait_secs(uri.query(), state.limits.max_wait)?;
    let first = pairing_state(&state, &id, &host.id, crate::time::now()).await?;
    if first.status != PairingStatus::Pending || wait == 0 {
        return Ok(json(StatusCode::OK, &first));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let key = format!("pair:{id}");
    let done = state
        .hub
        .wait_for(&key, deadline, || async {
            let s = pairing_state(&state, &id, &host.id, crate::time::now()).await?;
            Ok::<_, ApiError>((s.status != PairingStatus::Pending).then_some(s))
        })
        .await?;
    let s = match done {
        Some(s) => s,
        None => pairing_state(&state, &id, &host.id, crate::time::now()).await?,
    };
    Ok(json(StatusCode::OK, &s))
}

fn pair_refused(state: &Shared, p: Option<&Pairing>, reason: &str) {
    state.audit.record(&Event {
        event: "pairing.refused",
        host: p.map(|p| p.host_id.as_str()),
        user: p.map(|p| p.user.as_str()),
        txid: p.map(|p| p.id.as_str()),
        outcome: "refused",
        reason: Some(reason),
        ..Event::default()
    });
}

/// `POST /v2/device/pair`. The order of the steps is the security contract: the request is
/// checked (credential form, name, key, proof of possession) before the store is asked about
/// the credential, and the pairing is found usable before a device or passkey is made.
pub async fn pair(
    State(state): State<Shared>,
    JsonBody(req): JsonBody<PairRequest>,
) -> Result<Response, ApiError> {
    let credential = zeroize::Zeroizing::new(req.credential.clone());
    let key = check_pair_request(&state, &req, &credential)?;
    let pairing = pairing_for_credential(&state, &credential).await?;
    let now = crate::time::now();
    if pairing.used_at.is_some() || now >= pairing.expires_at {
        return Err(refuse_pairing_state(&state, &pairing));
    }
    let device = Device {
        id: push_proto::random_token(16).map_err(ApiError::internal)?,
        user: pairing.user.clone(),
        name: req.name.clone(),
        public_key: key.encode(),
        created_at: now,
        revoked_at: None,
        host_id: Some(pairing.host_id.clone()),
    };
    let passkey = verified_passkey(&state, &req, &credential, &pairing, &device, now)?;
    if !use_pairing(&state, &pairing, &device, passkey.as_ref(), now).await? {
        // Lost a race with another use, or expired meanwhile.
        let p = state.store.pairing(&pairing.id).await?.unwrap_or(pairing);
        return Err(refuse_pairing_state(&state, &p));
    }
    state.audit.record(&Event {
        event: "pairing.used",
        host: Some(&pairing.host_id),
        user: Some(&device.user),
        device: Some(&device.id),
        txid: Some(&pairing.id),
        outcome: "paired",
        ..Event::default()
    });
    state.hub.publish(&format!("pair:{}", pairing.id));
    let paired = Paired {
        device_id: device.id,
        user: device.user,
        service_key: state.key.public().encode(),
    };
    Ok(json(StatusCode::CREATED, &paired))
}

/// The checks that need no store, in this order: the credential's form, the device name, the
/// public key, and the proof-of-possession signature over credential, name and key. Returns
/// the device's key.
fn check_pair_request(
    state: &Shared,
    req: &PairRequest,
    credential: &str,
) -> Result<PublicKey, ApiError> {
    if !limits::is_token(credential, CREDENTIAL_LEN) {
        pair_refused(state, None, "malformed credential");
        return Err(ApiError::unauthorized());
    }
    if !limits::is_text(&req.name, MAX_NAME) {
        return Err(ApiError::bad_request("name is malformed"));
    }
    let key = PublicKey::decode(&req.public_key)
        .map_err(|_| ApiError::bad_request("public_key is not an uncompressed P-256 point"))?;
    if !key.verify(&signed::pair(credential, &req.name, &req.public_key), &req.signature) {
        pair_refused(state, None, "bad proof-of-possession signature");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            errors::BAD_SIGNATURE,
            "the signature does not verify with public_key",
        ));
    }
    Ok(key)
}

/// The pairing whose credential hash matches (compared in constant time); unauthorized when
/// there is none.
async fn pairing_for_credential(state: &Shared, credential: &str) -> Result<Pairing, ApiError> {
    let hash = secret_hash(credential);
    match state.store.pairing_by_credential(&hash).await? {
        Some(p) if bool::from(p.credential_hash.ct_eq(&hash)) => Ok(p),
        _ => {
            pair_refused(state, None, "unknown credential");
            Err(ApiError::unauthorized())
        }
    }
}

/// The refusal (audited) of a pairing that is used already or has expired.
fn refuse_pairing_state(state: &Shared, p: &Pairing) -> ApiError {
    if p.used_at.is_some() {
        pair_refused(state, Some(p), "credential already used");
        ApiError::already_used("pairing credential")
    } else {
        pair_refused(state, Some(p), "credential expired");
        ApiError::expired("pairing credential")
    }
}

/// The device's passkey, if the request brings one, once its registration verifies against
/// this pairing's challenge and the service's relying party.
fn verified_passkey(
    state: &Shared,
    req: &PairRequest,
    credential: &str,
    pairing: &Pairing,
    device: &Device,
    now: u64,
) -> Result<Option<Passkey>, ApiError> {
    let Some(reg) = &req.passkey else { return Ok(None) };
    let rp = super::passkey::relying_party(state)?;
    let challenge = signed::passkey_pairing_challenge(credential, &req.public_key);
    let new = match verify_registration(reg, &challenge, Some(&rp)) {
        Ok(n) => n,
        Err(reason) => {
            pair_refused(state, Some(pairing), "passkey registration refused");
            return Err(ApiError::bad_request(format!("passkey refused: {reason}")));
        }
    };
    Ok(Some(Passkey {
        device_id: device.id.clone(),
        credential_id: new.credential_id,
        public_key: new.public_key,
        sign_count: new.sign_count,
        created_at: now,
        registration: serde_json::to_string(reg).map_err(ApiError::internal)?,
    }))
}

/// Marks the pairing used and adds the device (and its passkey) in one step; `false` when the
/// pairing was no longer usable.
async fn use_pairing(
    state: &Shared,
    pairing: &Pairing,
    device: &Device,
    passkey: Option<&Passkey>,
    now: u64,
) -> Result<bool, ApiError> {
    match state.store.use_pairing(&pairing.id, device, passkey, now).await {
        Ok(added) => Ok(added),
        // The passkey's credential id is unique: a registration replayed from another pairing.
        Err(crate::store::StoreError::Conflict(_)) if passkey.is_some() => {
            pair_refused(state, Some(pairing), "passkey already registered");
            Err(ApiError::bad_request("passkey refused: it is registered already"))
        }
        Err(e) => Err(e.into()),
    }
}
