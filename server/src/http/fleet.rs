//! `POST /v2/fleet/verify` (host): fleet mode's code and recovery-code verification
//! ([`push_proto::fleet`], [`crate::fleet`]).

use super::auth::HostAuth;
use super::extract::JsonBody;
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::fleet::access::{Purpose, may};
use crate::fleet::{Outcome, Rejected};
use crate::store::Host;
use crate::store::fleet::{AttemptLimits, AttemptOf, Begun};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use push_proto::api::errors;
use push_proto::fleet::{Factor, FleetReceipt, MAX_SKEW, Verdict, VerifyRequest, VerifyResponse};
use zeroize::Zeroizing;

pub(super) fn audit(
    state: &Shared,
    host: &Host,
    req: &VerifyRequest,
    outcome: &str,
    reason: Option<&str>,
) {
    state.audit.record(&Event {
        event: match req.factor {
            Factor::Totp => "fleet.verify.totp",
            Factor::Recovery => "fleet.verify.recovery",
            Factor::SecurityKey => "fleet.verify.security_key",
            Factor::Push => "fleet.verify.push",
        },
        host: Some(&host.id),
        user: Some(&req.user),
        outcome,
        reason,
        ..Event::default()
    });
}

/// The request's checks that need no state: formats and bounds, and a login time within
/// [`MAX_SKEW`] of the service's clock (older requests could outlive their remembered nonce).
pub(super) fn validate(req: &VerifyRequest, now: u64) -> Result<(), ApiError> {
    req.validate().map_err(ApiError::bad_request)?;
    if req.time.abs_diff(now) > MAX_SKEW {
        return Err(ApiError::bad_request(format!(
            "time must be within {MAX_SKEW} s of the service's clock"
        )));
    }
    Ok(())
}

/// Counts the attempt (committed) or says why it is refused before any check.
pub(super) async fn begin(
    state: &Shared,
    host: &Host,
    scope: &str,
    req: &VerifyRequest,
    now: u64,
) -> Result<Begun, ApiError> {
    let limits = AttemptLimits {
        per_user: state.fleet.user_per_minute,
        per_host: state.fleet.host_per_minute,
        max_failures: state.fleet.max_failures,
        lockout: state.fleet.lockout,
    };
    let a = AttemptOf {
        scope,
        user: &req.user,
        host_id: &host.id,
        nonce: &req.nonce,
        nonce_expires_at: now + 2 * MAX_SKEW + 1,
    };
    let begun = state.store.begin_attempt(&a, limits, now).await?;
    match begun {
        Begun::NonceReplayed => {
            audit(state, host, req, "refused", Some("nonce used before"));
            Err(ApiError::new(StatusCode::CONFLICT, errors::REPLAYED, "the nonce was used before"))
        }
        Begun::UserRateLimited | Begun::HostRateLimited => {
            audit(state, host, req, "refused", Some("rate limit"));
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                errors::RATE_LIMITED,
                "too many verifications; try again later",
            ))
        }
        Begun::Counted(_) | Begun::Locked(_) => Ok(begun),
    }
}

/// The signed answer.
pub(super) fn respond(
    state: &Shared,
    host: &Host,
    req: &VerifyRequest,
    verdict: Verdict,
    locked_until: Option<u64>,
) -> Response {
    let mut receipt = FleetReceipt {
        host_id: host.id.clone(),
        user: req.user.clone(),
        service: req.service.clone(),
        rhost: req.rhost.clone(),
        time: req.time,
        nonce: req.nonce.clone(),
        factor: req.factor,
        verdict,
        decided_at: crate::time::now(),
        signature: String::new(),
    };
    receipt.sign(&state.key);
    json(StatusCode::OK, &VerifyResponse { receipt, locked_until })
}

/// `POST /v2/fleet/verify`. The order is the security contract: the host is authenticated
/// (the extractor) before the body is parsed; the request is validated without touching
/// state; a host the user's host groups exclude ([`may`]) gets a rejection with nothing
/// counted; the nonce is used up, the lockout and rate limits applied and the attempt counted
/// in one committed step; only then is the answer checked, and a right one accepted by the
/// store's guarded update (one winner in the fleet), which clears the failure count. A wrong
/// answer that reaches the limit starts the lockout. Every decision is audited, never the
/// answer.
pub async fn verify(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(mut req): JsonBody<VerifyRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(&req, now)?;
    let answer = Zeroizing::new(std::mem::take(&mut req.answer));
    let scope = crate::scope::fleet_of_host(&host);
    // Access before anything is counted: a host outside the user's host groups must not
    // spend the user's fleet-wide failure count, lockout or rate limit (else root on any host
    // could lock a user out of the hosts they may use), nor use up a nonce. It gets what a
    // wrong answer gets, a signed rejection, so a single request tells it nothing about the
    // user's factors (what it can still see: never a lockout, and no Argon2 delay; see
    // ARCHITECTURE.md, "Fleet mode", access model).
    if !may(&*state.store, &host, &scope, &req.user, Purpose::Authenticate).await? {
        audit(&state, &host, &req, "refused", Some("host not in the user's host groups"));
        return Ok(respond(&state, &host, &req, Verdict::Reject, None));
    }
    if let Begun::Locked(until) = begin(&state, &host, &scope, &req, now).await? {
        audit(&state, &host, &req, "locked", Some("locked out after too many failures"));
        return Ok(respond(&state, &host, &req, Verdict::Locked, Some(until)));
    }
    let outcome: Outcome = match req.factor {
        Factor::Totp => {
            let window = state.fleet.totp_window;
            crate::fleet::check_totp(
                &*state.store,
                &state.master,
                &scope,
                &req.user,
                &answer,
                window,
                now,
            )
            .await?
        }
        Factor::Recovery => {
            crate::fleet::check_recovery(&*state.store, &scope, &req.user, answer, now).await?
        }
        // Assertions come through `POST /v2/fleet/key/verify` (`super::fleet_keys`).
        // Approvals come through the push protocol, checked by the module against the
        // signed device list (`super::fleet_push`).
        Factor::SecurityKey | Factor::Push => Err(Rejected::NoFactor),
    };
    match outcome {
        Ok(()) => {
            audit(&state, &host, &req, "accepted", None);
            super::fleet_offline::login_accepted(&state, &host, &scope, &req.user).await;
            Ok(respond(&state, &host, &req, Verdict::Accept, None))
        }
        Err(why) => rejected(&state, &host, &scope, &req, why, now).await,
    }
}

/// A rejected answer: audited, the lockout started when the count reached the limit, a signed
/// rejection (or lockout) returned.
pub(super) async fn rejected(
    state: &Shared,
    host: &Host,
    scope: &str,
    req: &VerifyRequest,
    why: Rejected,
    now: u64,
) -> Result<Response, ApiError> {
    if why == Rejected::Unreadable {
        // Not the user's fault (another instance's master key, an altered row): no signed
        // rejection and no lockout; the host's failmode decides, as for any service error.
        audit(state, host, req, "error", Some(why.as_str()));
        return Err(ApiError::internal(format_args!(
            "fleet: {} of {}: {}",
            req.factor.as_str(),
            req.user,
            why.as_str()
        )));
    }
    audit(state, host, req, "rejected", Some(why.as_str()));
    let until = now.saturating_add(state.fleet.lockout);
    if state.store.lock_if_due(scope, &req.user, state.fleet.max_failures, until, now).await? {
        audit(state, host, req, "locked", Some("lockout started: too many failures"));
    }
    Ok(respond(state, host, req, Verdict::Reject, None))
}
