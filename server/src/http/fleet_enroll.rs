//! `POST /v2/fleet/enroll` and `POST /v2/fleet/status` (host): fleet mode's enrollment
//! ([`push_proto::fleet_enroll`]). The service, not the host, enforces the rule: a user who has
//! a factor changes nothing without proving a current one, checked like a login (counted
//! first, fleet-wide lockout, used up in the change's transaction,
//! [`crate::store::fleet_enroll::FleetEnrollStore::enroll`]).

use super::auth::HostAuth;
use super::extract::JsonBody;
use super::{Shared, json};
use crate::audit::Event;
use crate::error::ApiError;
use crate::fleet::Rejected;
use crate::fleet::access::{Purpose, may};
use crate::fleet::migrate::{Owner, migrated};
use crate::store::Host;
use crate::store::fleet::{AttemptLimits, AttemptOf, Begun, TotpRecord};
use crate::store::fleet_enroll::{
    Applied, Enrollment, FirstEnrollment, ProofUse, RateEvents, StoredChange, VERIFY_EVENTS,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use mfa_factors::recovery::RecoveryCodes;
use mfa_factors::secret::SecretBytes;
use mfa_factors::totp::{self, Algorithm, Check as TotpCheck, Params};
use push_proto::api::errors as api_errors;
use push_proto::fleet::{Factor, MAX_SKEW};
use push_proto::fleet_enroll::{
    Change, EnrollRequest, EnrollResponse, MIN_SECRET_BYTES, NewTotp, Proof, StatusRequest,
    StatusResponse, TotpAlgorithm, TotpInfo, errors,
};
use push_proto::fleet_migrate::errors as migrate_errors;
use zeroize::Zeroizing;

/// Who asks about whom: what every audit line and attempt of these endpoints names.
pub(super) struct Asking<'a> {
    pub(super) host: &'a Host,
    pub(super) scope: String,
    pub(super) user: &'a str,
    pub(super) event: &'static str,
}

impl Asking<'_> {
    pub(super) fn audit(&self, state: &Shared, outcome: &str, reason: Option<&str>) {
        state.audit.record(&Event {
            event: self.event,
            host: Some(&self.host.id),
            user: Some(self.user),
            outcome,
            reason,
            ..Event::default()
        });
    }

    /// Audits a refusal and returns it as a 403 with `code`.
    fn refuse(&self, state: &Shared, code: &'static str, why: &str) -> ApiError {
        self.audit(state, "refused", Some(why));
        ApiError::new(StatusCode::FORBIDDEN, code, why)
    }
}

fn event_of(change: &Change) -> &'static str {
    match change {
        Change::Totp(_) => "fleet.enroll.totp",
        Change::RecoveryCodes => "fleet.enroll.recovery",
        Change::Remove(Factor::Totp) => "fleet.enroll.remove_totp",
        Change::Remove(Factor::Recovery) => "fleet.enroll.remove_recovery",
        Change::Remove(Factor::SecurityKey) => "fleet.enroll.remove_security_keys",
        Change::RemoveAll => "fleet.enroll.remove_all",
        Change::AddKey(_) => "fleet.enroll.add_key",
        Change::Migrate(_) => "fleet.enroll.migrate",
        Change::Remove(Factor::Push) => "fleet.enroll.remove_push_devices",
        Change::AddPushDevice { .. } => "fleet.enroll.push_device",
    }
}

pub(super) fn validate(
    checked: Result<(), &'static str>,
    time: u64,
    now: u64,
) -> Result<(), ApiError> {
    checked.map_err(ApiError::bad_request)?;
    if time.abs_diff(now) > MAX_SKEW {
        return Err(ApiError::bad_request(format!(
            "time must be within {MAX_SKEW} s of the service's clock"
        )));
    }
    Ok(())
}

/// The user's host groups (`fleet::access::may`), before anything is counted: a host outside
/// them spends none of the user's rate limit or lockout and uses up no nonce; refused (403,
/// audited).
pub(super) async fn allowed(
    state: &Shared,
    who: &Asking<'_>,
    purpose: Purpose,
) -> Result<(), ApiError> {
    if may(&*state.store, who.host, &who.scope, who.user, purpose).await? {
        return Ok(());
    }
    Err(who.refuse(state, errors::HOST_NOT_ALLOWED, "host not in the user's host groups"))
}

/// Uses up the nonce and applies the rate limits; with a proof, also counts the attempt and
/// refuses while locked out (as a verification does).
pub(super) async fn begin(
    state: &Shared,
    who: &Asking<'_>,
    nonce: &str,
    (proven, events): (bool, RateEvents),
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
        scope: &who.scope,
        user: who.user,
        host_id: &who.host.id,
        nonce,
        nonce_expires_at: now + 2 * MAX_SKEW + 1,
    };
    let begun = if proven {
        state.store.begin_attempt(&a, limits, now).await?
    } else {
        state.store.begin_request(&a, events, limits, now).await?
    };
    match begun {
        Begun::Counted(_) => Ok(()),
        Begun::Locked(_) => Err(who.refuse(state, errors::LOCKED, "locked out")),
        Begun::NonceReplayed => {
            who.audit(state, "refused", Some("nonce used before"));
            Err(ApiError::new(StatusCode::CONFLICT, api_errors::REPLAYED, "nonce used before"))
        }
        Begun::UserRateLimited | Begun::HostRateLimited => {
            who.audit(state, "refused", Some("rate limit"));
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                api_errors::RATE_LIMITED,
                "too many requests; try again later",
            ))
        }
    }
}

/// A new TOTP secret, checked against the code from the user's authenticator and sealed; the
/// confirmation's step is the watermark. Stateless: done before anything is counted.
fn new_totp(
    state: &Shared,
    who: &Asking<'_>,
    t: &NewTotp,
    now: u64,
) -> Result<TotpRecord, ApiError> {
    let secret = SecretBytes::from_base32(&t.secret)
        .filter(|s| s.len() >= MIN_SECRET_BYTES)
        .ok_or_else(|| ApiError::bad_request("secret must be base32 of 16 bytes or more"))?;
    let algorithm = match t.algorithm {
        TotpAlgorithm::Sha1 => Algorithm::Sha1,
        TotpAlgorithm::Sha256 => Algorithm::Sha256,
        TotpAlgorithm::Sha512 => Algorithm::Sha512,
    };
    let params = Params { algorithm, digits: t.digits, step: t.step };
    let code = Zeroizing::new(t.confirmation.replace(' ', ""));
    let window = state.fleet.totp_window;
    let TotpCheck::Accepted(step) =
        totp::verify(secret.expose(), &params, &code, now, window, None)
    else {
        who.audit(state, "refused", Some("confirmation code wrong"));
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            errors::CONFIRMATION_WRONG,
            "the code does not match the new secret",
        ));
    };
    crate::fleet::totp_record(
        &state.master,
        &who.scope,
        who.user,
        secret.expose(),
        params,
        Some(step),
        now,
    )
    .map_err(ApiError::internal)
}

/// Checks the proof (counted already) without using it up; a wrong one is audited, may start
/// the lockout, and refuses the request.
async fn check_proof(
    state: &Shared,
    who: &Asking<'_>,
    proof: Proof,
    now: u64,
) -> Result<ProofUse, ApiError> {
    let answer = Zeroizing::new(proof.answer.clone());
    let (store, scope, user) = (&*state.store, who.scope.as_str(), who.user);
    let found = match proof.factor {
        Factor::Totp => {
            let window = state.fleet.totp_window;
            crate::fleet::match_totp(store, &state.master, scope, user, &answer, window, now)
                .await?
        }
        Factor::Recovery => crate::fleet::match_recovery(store, scope, user, answer).await?,
        // An assertion over an enrollment challenge (`/v2/fleet/enroll/key/challenge`).
        Factor::SecurityKey => match &proof.key {
            Some(k) => super::fleet_key_enroll::key_proof(state, &who.scope, who, k, now).await?,
            None => Err(Rejected::Wrong),
        },
        // A push approval is not an answer that can be sent as a proof: refused (counted
        // like any attempt).
        Factor::Push => Err(Rejected::NotAProof),
    };
    match found {
        Ok(use_) => Ok(use_),
        Err(why) => Err(proof_rejected(state, who, why, now).await),
    }
}

async fn proof_rejected(state: &Shared, who: &Asking<'_>, why: Rejected, now: u64) -> ApiError {
    if why == Rejected::Unreadable {
        who.audit(state, "error", Some(why.as_str()));
        return ApiError::internal(format_args!("fleet enroll: {}: {}", who.user, why.as_str()));
    }
    let until = now.saturating_add(state.fleet.lockout);
    let f = &state.fleet;
    match state.store.lock_if_due(&who.scope, who.user, f.max_failures, until, now).await {
        Ok(true) => who.audit(state, "locked", Some("lockout started: too many failures")),
        Ok(false) => {}
        Err(e) => return e.into(),
    }
    // The reason goes to the audit log only; the host learns that the proof did not pass.
    who.audit(state, "refused", Some(&format!("proof rejected: {}", why.as_str())));
    ApiError::new(
        StatusCode::FORBIDDEN,
        errors::PROOF_REJECTED,
        "the current factor was not accepted",
    )
}

/// A change checked (and a secret sealed) before anything is counted: a new TOTP secret
/// against its confirmation, a new security key's COSE key parsed, a migration's records
/// against their bounds. Stateless.
fn prepared(
    state: &Shared,
    who: &Asking<'_>,
    change: &Change,
    now: u64,
) -> Result<Option<StoredChange>, ApiError> {
    match change {
        Change::Totp(t) => Ok(Some(StoredChange::Totp(new_totp(state, who, t, now)?))),
        Change::AddKey(k) => {
            Ok(Some(StoredChange::AddKey(super::fleet_key_enroll::new_key(state, who, k, now)?)))
        }
        Change::Migrate(m) => {
            let owner = Owner { scope: &who.scope, user: who.user, rp_id: &state.fleet.rp_id };
            match migrated(&state.master, owner, m, now) {
                Ok(m) => Ok(Some(StoredChange::Migrate(m))),
                Err(why) => {
                    who.audit(state, "refused", Some(&why));
                    Err(ApiError::bad_request(why))
                }
            }
        }
        _ => Ok(None),
    }
}

/// The change as stored, and the recovery codes to show once (Argon2id on a blocking thread).
async fn stored_change(
    change: Change,
    ready: Option<StoredChange>,
    now: u64,
) -> Result<(StoredChange, Vec<Zeroizing<String>>), ApiError> {
    match (change, ready) {
        (_, Some(ready)) => Ok((ready, Vec::new())),
        (Change::Remove(f), _) => Ok((StoredChange::Remove(f), Vec::new())),
        (Change::RemoveAll, _) => Ok((StoredChange::RemoveAll, Vec::new())),
        (Change::AddPushDevice { device_id }, _) => {
            Ok((StoredChange::AddPushDevice(device_id), Vec::new()))
        }
        (Change::RecoveryCodes, _) => {
            let (codes, set) = tokio::task::spawn_blocking(move || RecoveryCodes::generate(now))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            Ok((StoredChange::Recovery(set.slots.into_iter().flatten().collect()), codes))
        }
        (Change::Totp(_) | Change::AddKey(_) | Change::Migrate(_), None) => {
            Err(ApiError::internal("fleet enroll: prepared change missing"))
        }
    }
}

/// `POST /v2/fleet/enroll`. The order: the host is authenticated (the extractor); the request
/// is validated, and a new TOTP secret checked against its confirmation code, without touching
/// state; the nonce is used up and the rate limits applied (with a proof: the attempt counted
/// and the lockout applied, committed); the proof is checked; then one transaction decides the
/// rule, uses up the proof and makes the change. Every decision is audited, never a secret.
pub async fn enroll(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(mut req): JsonBody<EnrollRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(req.validate(), req.time, now)?;
    let scope = crate::scope::fleet_of_host(&host);
    let who = Asking { host: &host, scope, user: &req.user, event: event_of(&req.change) };
    let ready = prepared(&state, &who, &req.change, now)?;
    allowed(&state, &who, Purpose::Enroll).await?;
    let proof = req.proof.take();
    begin(&state, &who, &req.nonce, (proof.is_some(), VERIFY_EVENTS), now).await?;
    if let Change::AddPushDevice { device_id } = &req.change {
        if !super::fleet_push::may_add(&*state.store, &host, who.user, device_id).await? {
            return Err(who.refuse(
                &state,
                super::fleet_push::DEVICE_NOT_ALLOWED,
                "device not paired by this user through this fleet host",
            ));
        }
    }
    let proof = match proof {
        Some(p) => Some(check_proof(&state, &who, p, now).await?),
        None => None,
    };
    let migrating = matches!(req.change, Change::Migrate(_));
    let (change, codes) = stored_change(req.change, ready, now).await?;
    let e = Enrollment {
        scope: &who.scope,
        user: who.user,
        proof,
        change,
        first: state.fleet.first_enrollment,
        now,
    };
    match state.store.enroll(&e).await? {
        Applied::Done => {
            who.audit(&state, "ok", None);
            let recovery_codes = codes.iter().map(|c| c.to_string()).collect();
            Ok(json(StatusCode::OK, &EnrollResponse { recovery_codes }))
        }
        Applied::NeedsCurrentFactor if migrating => {
            who.audit(&state, "refused", Some("already enrolled at the service: nothing changed"));
            Err(ApiError::new(
                StatusCode::CONFLICT,
                migrate_errors::ALREADY_ENROLLED,
                "the user already has a factor at the service; nothing changed",
            ))
        }
        Applied::NeedsCurrentFactor => Err(who.refuse(
            &state,
            errors::CURRENT_FACTOR_REQUIRED,
            "the user has a factor: a current one is needed",
        )),
        Applied::NotOptedIn => {
            Err(who.refuse(&state, errors::NOT_OPTED_IN, "the admin has not opted the user in"))
        }
        Applied::ProofUsed => Err(proof_rejected(&state, &who, Rejected::Replayed, now).await),
        Applied::KeyRefused => {
            who.audit(&state, "refused", Some("key registered already, or too many keys"));
            Err(ApiError::new(
                StatusCode::CONFLICT,
                push_proto::fleet_key_enroll::errors::KEY_REFUSED,
                "the key is registered already, or the user has as many keys as allowed",
            ))
        }
    }
}

fn algorithm_of(name: &str) -> Option<TotpAlgorithm> {
    [TotpAlgorithm::Sha1, TotpAlgorithm::Sha256, TotpAlgorithm::Sha512]
        .into_iter()
        .find(|a| a.as_str() == name)
}

/// `POST /v2/fleet/status`: which factors the user has (no secret), whether a first
/// enrollment is open to them, and a running lockout. Rate-limited like a verification; never
/// counted as a failure.
pub async fn status(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<StatusRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(req.validate(), req.time, now)?;
    let scope = crate::scope::fleet_of_host(&host);
    let who = Asking { host: &host, scope, user: &req.user, event: "fleet.status" };
    allowed(&state, &who, Purpose::Authenticate).await?;
    begin(&state, &who, &req.nonce, (false, VERIFY_EVENTS), now).await?;
    let (store, scope, user) = (&*state.store, who.scope.as_str(), who.user);
    let totp = match store.totp(scope, user).await? {
        None => None,
        Some(r) => Some(TotpInfo {
            algorithm: algorithm_of(&r.algorithm).ok_or_else(|| ApiError::internal("algorithm"))?,
            digits: r.digits,
            step: r.step,
            updated_at: r.updated_at,
        }),
    };
    let unused = store.recovery(scope, user).await?.iter().filter(|s| s.used_at.is_none()).count();
    let lock = store.lockout(scope, user).await?;
    let open = match state.fleet.first_enrollment {
        FirstEnrollment::SelfService => true,
        FirstEnrollment::Admin => store.opted_in(scope, user).await?,
    };
    let mut answer = StatusResponse {
        totp,
        recovery_codes: u32::try_from(unused).unwrap_or(u32::MAX),
        security_keys: u32::try_from(store.fleet_keys(scope, user).await?.len())
            .unwrap_or(u32::MAX),
        push_devices: u32::try_from(store.fleet_push_devices(scope, user).await?.len())
            .unwrap_or(u32::MAX),
        may_enroll_first: false,
        locked_until: lock.locked_until.filter(|t| *t > now),
    };
    answer.may_enroll_first = open && !answer.enrolled();
    who.audit(&state, "ok", None);
    Ok(json(StatusCode::OK, &answer))
}
