//! Security keys in fleet enrollment (issue 20, [`push_proto::fleet_key_enroll`]): the
//! challenge for a key proof (`POST /v2/fleet/enroll/key/challenge`), the key proof's check
//! for `POST /v2/fleet/enroll` ([`super::fleet_enroll`]), and a new key's check before it is
//! added ([`push_proto::fleet_enroll::Change::AddKey`]).
//!
//! An enrollment challenge has the purpose *enroll*: `/v2/fleet/key/verify` never takes it,
//! and a key proof never takes a login's; the key signs SHA-256 of
//! [`push_proto::fleet_key_enroll::enroll_key_challenge`], not of the challenge, so an
//! assertion for one purpose does not verify for the other either way.

use super::Shared;
use super::auth::HostAuth;
use super::extract::JsonBody;
use super::fleet_enroll::{Asking, allowed, validate};
use super::fleet_keys::{Ask, issue};
use crate::error::ApiError;
use crate::fleet::Rejected;
use crate::fleet::access::Purpose;
use crate::fleet::keys::{KeyCheck, fleet_key, verified_key};
use crate::store::fleet_enroll::ProofUse;
use crate::store::fleet_keys::{FleetKey, KeyPurpose};
use axum::extract::State;
use axum::response::Response;
use mfa_factors::fido2::Fido2Credential;
use push_proto::fleet_key_enroll::{KeyEnrollChallengeRequest, KeyProof, NewKey};

/// `POST /v2/fleet/enroll/key/challenge`: the fleet's RP id (which a key registered from a
/// host is made for) and, when the user has keys, a challenge for a key proof, bound to this
/// host and the user, with the purpose *enroll*. A host outside the user's host groups for
/// enrollment is refused (403 `host_not_allowed`, nothing counted); rate-limited with the
/// login challenges (429 `rate_limited`).
pub async fn challenge(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<KeyEnrollChallengeRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(req.validate(), req.time, now)?;
    let scope = crate::scope::fleet_of_host(&host);
    let event = "fleet.enroll.key_challenge";
    let who = Asking { host: &host, scope, user: &req.user, event };
    allowed(&state, &who, Purpose::Enroll).await?;
    let ask = Ask {
        host: &host,
        scope: who.scope.clone(),
        user: &req.user,
        nonce: &req.nonce,
        purpose: KeyPurpose::Enroll,
        allowed: true,
    };
    issue(&state, ask, event, now).await
}

/// Checks a key proof (the attempt counted already): takes the enrollment challenge (single
/// use), verifies the assertion over it; the key and its new counter, used up by the
/// change's transaction.
pub(super) async fn key_proof(
    state: &Shared,
    scope: &str,
    who: &Asking<'_>,
    proof: &KeyProof,
    now: u64,
) -> Result<Result<ProofUse, Rejected>, ApiError> {
    let check = KeyCheck {
        scope,
        host_id: &who.host.id,
        user: who.user,
        nonce: None,
        purpose: KeyPurpose::Enroll,
        challenge: &proof.challenge,
        rp_id: &state.fleet.rp_id,
    };
    let found = verified_key(&*state.store, &check, &proof.assertion, now).await?;
    Ok(found.map(|(key, new)| ProofUse::Key { key, new }))
}

/// A new key as it will be stored, for the fleet's RP id: its credential id and COSE key
/// parsed (a malformed one refused with 400 before anything is counted).
pub(super) fn new_key(
    state: &Shared,
    who: &Asking<'_>,
    k: &NewKey,
    now: u64,
) -> Result<FleetKey, ApiError> {
    let rp_id = &state.fleet.rp_id;
    let cred = Fido2Credential {
        name: k.name.clone(),
        credential_id: k.credential_id.clone(),
        public_key: k.public_key.clone(),
        rp_id: rp_id.clone(),
        sign_count: k.counter,
        user_verification: k.user_verification,
        created: now,
    };
    fleet_key(&cred, &who.scope, who.user, rp_id, now).map_err(|why| {
        who.audit(state, "refused", Some("malformed key"));
        ApiError::bad_request(format!("the new key: {why}"))
    })
}
