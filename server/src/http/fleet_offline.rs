//! `POST /v2/fleet/offline/bundle` and `POST /v2/fleet/offline/report` (host): fleet mode
//! offline, the service's side ([`push_proto::offline`], [`crate::fleet::offline`]).
//!
//! A bundle request is answered `Drop` (host outside the user's host groups, no factor, locked
//! out, offline disabled, or the host not eligible: no accepted online login from it within
//! the bundle lifetime and no admin mark, or revoked since; the stored window goes too),
//! `Keep` (the held bundle is the one last issued, made from the current factors, and still
//! covers enough; or it is current but its window runs low while the next is being made),
//! `Fresh` (assembled in milliseconds from the TOTP window made beforehand in the background,
//! [`crate::fleet::offline_windows`]) or `Later` (no usable window yet: one is being made, the
//! host asks again at its next contact). A bundle request never hashes. A report applies each
//! use once, in one transaction.

use super::extract::JsonBody;
use super::fleet_enroll::{Asking, allowed, begin, validate};
use super::{Shared, json};
use crate::error::ApiError;
use crate::fleet::access::{Purpose, may};
use crate::fleet::offline::{self, DropReason, Factors, For, Held, Standing};
use crate::fleet::offline_windows::{self, WindowOf};
use crate::store::Host;
use crate::store::fleet::TotpRecord;
use crate::store::fleet_enroll::OFFLINE_EVENTS;
use crate::store::fleet_offline::Report;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use mfa_factors::offline_window::HashedWindow;
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
/// user's offline bundle, and its TOTP window is made in the background if due (the login
/// does not wait for it). A failure to record it is logged and does not undo the login (the
/// host just gets no bundle).
pub(super) async fn login_accepted(state: &Shared, host: &Host, scope: &str, user: &str) {
    let now = crate::time::now();
    match state.store.record_login(&host.id, scope, user, now).await {
        Ok(()) => {
            let of = WindowOf::new(&host.id, scope, user);
            offline_windows::start(&state.store, &state.master, &state.offline, of);
        }
        Err(e) => eprintln!("mfa-server: recording an online login for offline eligibility: {e}"),
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
        begin(&state, &who, &req.nonce, (false, OFFLINE_EVENTS), now).await?;
        decide(&state, &who, &req, now).await?
    } else {
        dropped(&state, &who, DropReason::HostNotAllowed).await?
    };
    Ok(json(StatusCode::OK, &BundleResponse { answer }))
}

/// `Drop`, audited; the window kept for the host and user goes too.
async fn dropped(
    state: &Shared,
    who: &Asking<'_>,
    why: DropReason,
) -> Result<BundleAnswer, ApiError> {
    state.store.delete_window(&who.host.id, &who.scope, who.user).await?;
    who.audit(state, "drop", Some(why.as_str()));
    Ok(BundleAnswer::Drop)
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

/// The TOTP window a fresh bundle would carry.
enum Window {
    /// The user has no TOTP: none needed.
    None,
    /// The stored window, from the current step.
    Ready(HashedWindow),
    /// None usable: one is being made.
    Building,
}

/// The stored window if usable; a build started if one is due (none usable, or the stored
/// one past three quarters) and none is running here.
async fn window(
    state: &Shared,
    who: &Asking<'_>,
    totp: Option<&TotpRecord>,
    now: u64,
) -> Result<Window, ApiError> {
    let Some(t) = totp else { return Ok(Window::None) };
    let stored = state.store.offline_window(&who.host.id, &who.scope, who.user).await?;
    if offline_windows::due(stored.as_ref(), t, &state.offline, now) {
        let of = WindowOf::new(&who.host.id, &who.scope, who.user);
        offline_windows::start(&state.store, &state.master, &state.offline, of);
    }
    Ok(match offline_windows::usable(stored.as_ref(), t, &state.offline, now) {
        Some(w) => Window::Ready(w),
        None => Window::Building,
    })
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
        return dropped(state, who, why).await;
    }
    let issued = store.offline_issued(&who.host.id, scope, user).await?;
    let held = Held { issued_at: req.held_issued_at, last_step: req.held_last_step };
    let fingerprint = factors.fingerprint();
    let totp = factors.totp.as_ref();
    let standing = offline::keep(held, issued.as_ref(), &fingerprint, &state.offline, totp, now);
    match (standing, window(state, who, totp, now).await?) {
        (Standing::Keep, _) => {
            who.audit(state, "keep", None);
            Ok(BundleAnswer::Keep)
        }
        (Standing::Low, Window::Building) => {
            who.audit(state, "keep", Some("its window runs low: the next one is being made"));
            Ok(BundleAnswer::Keep)
        }
        (_, Window::Building) => {
            who.audit(state, "later", Some("the TOTP window is being made"));
            Ok(BundleAnswer::Later)
        }
        (_, Window::None) => fresh(state, who, req, &factors, None, now).await,
        (_, Window::Ready(w)) => fresh(state, who, req, &factors, Some(&w), now).await,
    }
}

/// A fresh bundle from `factors` and `window`, signed and recorded (milliseconds: nothing is
/// hashed here).
async fn fresh(
    state: &Shared,
    who: &Asking<'_>,
    req: &BundleRequest,
    factors: &Factors,
    window: Option<&HashedWindow>,
    now: u64,
) -> Result<BundleAnswer, ApiError> {
    let f = For {
        host_id: &who.host.id,
        scope: &who.scope,
        user: who.user,
        nonce: &req.nonce,
        rp_id: &state.fleet.rp_id,
        now,
    };
    let (bundle, record) = offline::assemble(&state.offline, &state.key, f, factors, window)
        .map_err(|e| {
            who.audit(state, "error", Some("bundle not built"));
            ApiError::internal(format_args!("offline bundle for {}: {}", who.user, e.0))
        })?;
    // Recorded only while the host is still eligible: a revocation meanwhile wins.
    let since = now.saturating_sub(state.offline.config.bundle_lifetime);
    if !state.store.record_issued(&record, since).await? {
        return dropped(state, who, DropReason::NotEligible).await;
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
    begin(&state, &who, &req.nonce, (false, OFFLINE_EVENTS), now).await?;
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
