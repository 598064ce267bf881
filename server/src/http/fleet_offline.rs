//! `POST /v2/fleet/offline/bundle` and `POST /v2/fleet/offline/report` (host): fleet mode
//! offline, the service's side ([`push_proto::offline`], [`crate::fleet::offline`]).
//!
//! A bundle request is answered `Drop` (host outside the user's host groups, no factor, locked
//! out, offline disabled, or the host not eligible: no accepted online login from it within
//! the bundle lifetime and no admin mark, or revoked since), `Keep` (the held bundle is the
//! one last issued, made from the current factors, and still covers enough), or `Fresh`. A
//! report applies each use once, in one transaction.

use super::extract::JsonBody;
use super::fleet_enroll::{Asking, allowed, begin, validate};
use super::{Shared, json};
use crate::error::ApiError;
use crate::fleet::access::{Purpose, may};
use crate::fleet::offline::{self, DropReason, Factors, For, Held};
use crate::store::Host;
use crate::store::fleet_offline::Report;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use push_proto::fleet::MAX_SKEW;
use push_proto::offline::{
    BundleAnswer, BundleRequest, BundleResponse, OfflineFactor, ReportRequest, ReportResponse,
};

use super::auth::HostAuth;

/// The wire's checks, and a user name as the other fleet requests take it (no leading `-`,
/// no separators).
fn checked(wire: Result<(), &'static str>, user: &str) -> Result<(), &'static str> {
    wire?;
    if push_proto::limits::is_user(user) { Ok(()) } else { Err("user") }
}

/// Records an accepted online login of `user` from `host`: the host may then fetch the
/// user's offline bundle. A failure to record it is logged and does not undo the login (the
/// host just gets no bundle).
pub(super) async fn login_accepted(state: &Shared, host: &Host, scope: &str, user: &str) {
    let now = crate::time::now();
    if let Err(e) = state.store.record_login(&host.id, scope, user, now).await {
        eprintln!("mfa-server: recording an online login for offline eligibility: {e}");
    }
}

/// `POST /v2/fleet/offline/bundle`. Host authenticated before the body is parsed, the request
/// validated without touching state; a host outside the user's host groups is told to drop
/// its bundle with nothing counted; then the nonce is used up and the rate limits applied in
/// one committed step, and only then is the answer decided.
pub async fn bundle(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<BundleRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(checked(req.validate(), &req.user), req.time, now)?;
    let who = Asking {
        host: &host,
        scope: crate::scope::fleet_of_host(&host),
        user: &req.user,
        event: "fleet.offline.bundle",
    };
    let answer = if may(&*state.store, &host, &who.scope, &req.user, Purpose::Authenticate).await? {
        begin(&state, &who, &req.nonce, false, now).await?;
        decide(&state, &who, &req, now).await?
    } else {
        dropped(&state, &who, DropReason::HostNotAllowed)
    };
    Ok(json(StatusCode::OK, &BundleResponse { answer }))
}

fn dropped(state: &Shared, who: &Asking<'_>, why: DropReason) -> BundleAnswer {
    who.audit(state, "drop", Some(why.as_str()));
    BundleAnswer::Drop
}

/// Why the host may hold no bundle for the user, if it may not.
async fn drop_reason(
    state: &Shared,
    who: &Asking<'_>,
    factors: &Factors,
    now: u64,
) -> Result<Option<DropReason>, ApiError> {
    let (store, scope, user) = (&*state.store, who.scope.as_str(), who.user);
    if !factors.any() {
        return Ok(Some(DropReason::NoFactor));
    }
    if store.lockout(scope, user).await?.locked_until.is_some_and(|t| t > now) {
        return Ok(Some(DropReason::Locked));
    }
    let config = &state.offline.config;
    if !config.enabled {
        return Ok(Some(DropReason::Disabled));
    }
    let since = now.saturating_sub(config.bundle_lifetime);
    if !store.offline_eligible(&who.host.id, scope, user, since).await? {
        return Ok(Some(DropReason::NotEligible));
    }
    Ok(None)
}

async fn decide(
    state: &Shared,
    who: &Asking<'_>,
    req: &BundleRequest,
    now: u64,
) -> Result<BundleAnswer, ApiError> {
    let (store, scope, user) = (&*state.store, who.scope.as_str(), who.user);
    let factors = Factors {
        totp: store.totp(scope, user).await?,
        recovery: store.recovery(scope, user).await?,
        keys: store.fleet_keys(scope, user).await?,
    };
    if let Some(why) = drop_reason(state, who, &factors, now).await? {
        return Ok(dropped(state, who, why));
    }
    let issued = store.offline_issued(&who.host.id, scope, user).await?;
    let held = Held { issued_at: req.held_issued_at, last_step: req.held_last_step };
    let fingerprint = factors.fingerprint();
    if offline::keep(
        held,
        issued.as_ref(),
        &fingerprint,
        &state.offline,
        factors.totp.as_ref(),
        now,
    ) {
        who.audit(state, "keep", None);
        return Ok(BundleAnswer::Keep);
    }
    let f = For {
        host_id: &who.host.id,
        scope,
        user,
        nonce: &req.nonce,
        rp_id: &state.fleet.rp_id,
        now,
    };
    let (bundle, record) = offline::build(&state.offline, &state.master, &state.key, f, &factors)
        .await
        .map_err(|e| {
            who.audit(state, "error", Some("bundle not built"));
            ApiError::internal(format_args!("offline bundle for {user}: {}", e.0))
        })?;
    // Recorded only while the host is still eligible: a revocation during the build wins.
    let since = now.saturating_sub(state.offline.config.bundle_lifetime);
    if !store.record_issued(&record, since).await? {
        return Ok(dropped(state, who, DropReason::NotEligible));
    }
    let until = crate::time::rfc3339(record.expires_at);
    who.audit(state, "fresh", Some(&format!("valid until {until}")));
    Ok(BundleAnswer::Fresh { bundle })
}

/// What a report holds, for its audit line.
fn summary(req: &ReportRequest, applied: u32) -> String {
    let accepted = |f: fn(&OfflineFactor) -> bool| {
        req.uses.iter().filter(|u| u.accepted && f(&u.used)).count()
    };
    format!(
        "{applied} of {} uses new; accepted: {} totp, {} recovery, {} security key; refused: {}",
        req.uses.len(),
        accepted(|f| matches!(f, OfflineFactor::Totp { .. })),
        accepted(|f| matches!(f, OfflineFactor::Recovery { .. })),
        accepted(|f| matches!(f, OfflineFactor::SecurityKey { .. })),
        req.uses.iter().filter(|u| !u.accepted).count()
    )
}

/// `POST /v2/fleet/offline/report`. Host authenticated, the request validated; a host outside
/// the user's host groups is refused (403) with nothing applied or counted; the nonce used
/// up and the rate limits applied; then the uses applied once each, in one transaction.
pub async fn report(
    State(state): State<Shared>,
    HostAuth(host): HostAuth,
    JsonBody(req): JsonBody<ReportRequest>,
) -> Result<Response, ApiError> {
    let now = crate::time::now();
    validate(checked(req.validate(), &req.user), req.time, now)?;
    let who = Asking {
        host: &host,
        scope: crate::scope::fleet_of_host(&host),
        user: &req.user,
        event: "fleet.offline.report",
    };
    allowed(&state, &who, Purpose::Authenticate).await?;
    begin(&state, &who, &req.nonce, false, now).await?;
    let r = Report {
        host_id: &host.id,
        scope: &who.scope,
        user: &req.user,
        uses: &req.uses,
        max_failures: state.fleet.max_failures,
        lockout: state.fleet.lockout,
        newest_time: now.saturating_add(MAX_SKEW),
        now,
    };
    let applied = state.store.apply_report(&r).await?;
    who.audit(&state, "applied", Some(&summary(&req, applied)));
    Ok(json(StatusCode::OK, &ReportResponse { applied }))
}
