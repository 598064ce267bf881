//! `POST /v2/fleet/key/challenge` and `POST /v2/fleet/key/verify` (host): fleet mode's
//! security keys ([`push_proto::fleet_keys`], [`crate::fleet::keys`]). The verification
//! follows `POST /v2/fleet/verify`'s contract (and shares its steps, [`super::fleet`]):
//! validated without touching state, counted and committed before the assertion is checked,
//! accepted by the store's guarded update, answered with a signed receipt.

use super::auth::HostAuth;
use super::extract::JsonBody;
use super::fleet::{audit, begin, rejected, respond, validate};
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::fleet::access::{Purpose, may};
use crate::fleet::keys::{KeyCheck, check_key};
use crate::store::Host;
use crate::store::fleet::{AttemptLimits, AttemptOf, Begun};
use crate::store::fleet_keys::{KeyChallenge, KeyPurpose};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use push_proto::api::errors as api_errors;
use push_proto::fleet::Verdict;
use push_proto::fleet_keys::{KeyAllowed, KeyChallengeResponse, KeyLogin, KeyVerifyRequest};

/// Who asks for a key challenge, and what for.
pub(super) struct Ask<'a> {
    /// The asking host.
    pub host: &'a Host,
    /// The user's fleet scope.
    pub scope: String,
    /// The user.
    pub user: &'a str,
    /// The request's nonce (a login's: the challenge is bound to it).
    pub nonce: &'a str,
    /// Login or enrollment proof.
    pub purpose: KeyPurpose,
    /// Whether the user's host groups let this host ask (checked by the caller, before this).
    pub allowed: bool,
}

/// Applies the key challenges' rate limits (per user, per host; an allowed host only: a
/// refused one spends none of the user's); a limited request is audited and answered 429.
async fn rate(
    state: &Shared,
    ask: &Ask<'_>,
    event: &'static str,
    now: u64,
) -> Result<(), ApiError> {
    let f = &state.fleet;
    let limits = AttemptLimits {
        per_user: f.user_per_minute,
        per_host: f.host_per_minute,
        max_failures: f.max_failures,
        lockout: f.lockout,
    };
    let a = AttemptOf {
        scope: &ask.scope,
        user: ask.user,
        host_id: &ask.host.id,
        nonce: ask.nonce,
        nonce_expires_at: now,
    };
    if state.store.take_key_challenge_rate(&a, limits, now).await?.is_none() {
        return Ok(());
    }
    state.audit.record(&Event {
        event,
        host: Some(&ask.host.id),
        user: Some(ask.user),
        outcome: "refused",
        reason: Some("rate limit"),
        ..Event::default()
    });
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        api_errors::RATE_LIMITED,
        "too many requests; try again later",
    ))
}

/// Issues a challenge of `ask.purpose`: rate-limited, stored only when the user has keys
/// (and the host may ask), answered with the fleet's RP id and the user's credential ids.
pub(super) async fn issue(
    state: &Shared,
    ask: Ask<'_>,
    event: &'static str,
    now: u64,
) -> Result<Response, ApiError> {
    if ask.allowed {
        rate(state, &ask, event, now).await?;
    }
    let keys =
        if ask.allowed { state.store.fleet_keys(&ask.scope, ask.user).await? } else { vec![] };
    let challenge = push_proto::random_token(32).map_err(ApiError::internal)?;
    let expires_at = now.saturating_add(state.fleet.key_challenge_ttl);
    if !keys.is_empty() {
        let c = KeyChallenge {
            challenge: challenge.clone(),
            host_id: ask.host.id.clone(),
            scope: ask.scope.clone(),
            user: ask.user.to_string(),
            nonce: ask.nonce.to_string(),
            expires_at,
            purpose: ask.purpose,
        };
        state.store.put_key_challenge(&c).await?;
    }
    state.audit.record(&Event {
        event,
        host: Some(&ask.host.id),
        user: Some(ask.user),
        outcome: match (ask.allowed, keys.is_empty()) {
            (false, _) => "refused",
            (true, true) => "no key",
            (true, false) => "issued",
        },
        ..Event::default()
    });
    let credentials = keys
        .iter()
        .map(|k| KeyAllowed {
            credential_id: k.credential_id.clone(),
            user_verification: k.user_verification,
        })
        .collect();
    let body = KeyChallengeResponse {
        challenge,
        rp_id: state.fleet.rp_id.clone(),
        credentials,
        expires_at,
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /v2/fleet/key/challenge`: a fresh challenge for this host's login of the user, with
/// the fleet's RP id and the user's credential ids (none: no key at the service; then nothing
/// is stored and the host asks for a code). Rate-limited per user and per host (429
/// `rate_limited`).
pub async fn challenge(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(login): JsonBody<KeyLogin>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(&login.bound(), now)?;
    let scope = crate::scope::fleet_of_host(&host);
    // A host outside the user's host groups is answered as for a user without keys (it then
    // asks for a code, which /v2/fleet/verify refuses the same way): it learns nothing of
    // the user's keys and gets no challenge to use.
    let allowed = may(&*state.store, &host, &scope, &login.user, Purpose::Authenticate).await?;
    let ask = Ask {
        host: &host,
        scope,
        user: &login.user,
        nonce: &login.nonce,
        purpose: KeyPurpose::Login,
        allowed,
    };
    issue(&state, ask, "fleet.key.challenge", now).await
}

/// `POST /v2/fleet/key/verify`: the host authenticated (the extractor) before the body is
/// parsed; the request validated without touching state; the nonce used up, the lockout and
/// rate limits applied and the attempt counted in one committed step; only then the
/// challenge taken (single use, this host's, this login's, unexpired), the assertion verified
/// (mfa-factors: signature, RP id hash, UP/UV flags, counter) and accepted by the guarded
/// counter update that clears the failure count. Every decision is audited and signed.
pub async fn verify(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<KeyVerifyRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    req.validate().map_err(ApiError::bad_request)?;
    let bound = req.login.bound();
    validate(&bound, now)?;
    let scope = crate::scope::fleet_of_host(&host);
    // Access before anything is counted, as in /v2/fleet/verify (and why there).
    if !may(&*state.store, &host, &scope, &bound.user, Purpose::Authenticate).await? {
        audit(&state, &host, &bound, "refused", Some("host not in the user's host groups"));
        return Ok(respond(&state, &host, &bound, Verdict::Reject, None));
    }
    if let Begun::Locked(until) = begin(&state, &host, &scope, &bound, now).await? {
        audit(&state, &host, &bound, "locked", Some("locked out after too many failures"));
        return Ok(respond(&state, &host, &bound, Verdict::Locked, Some(until)));
    }
    let check = KeyCheck::login(&scope, &host.id, &req.login, &req.challenge, &state.fleet.rp_id);
    match check_key(&*state.store, &check, &req.assertion, now).await? {
        Ok(()) => {
            audit(&state, &host, &bound, "accepted", None);
            super::fleet_offline::login_accepted(&state, &host, &scope, &bound.user).await;
            Ok(respond(&state, &host, &bound, Verdict::Accept, None))
        }
        Err(why) => rejected(&state, &host, &scope, &bound, why, now).await,
    }
}
