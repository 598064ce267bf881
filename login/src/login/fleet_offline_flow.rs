//! Fleet logins while the service cannot be reached (issue 21): the host's offline bundle.
//!
//! **When.** Only on an outage ([`FleetError::Outage`]: no connection, no answer in time):
//! never after a refusal by a service that answered, never when a receipt does not verify,
//! never for a credential or TLS fault. Without a usable bundle (none, unreadable, not signed
//! by the pinned key, for another host or user, expired, or issued ahead of this host's
//! clock) `failmode` decides as before.
//!
//! **How.** Under the user's lock the attempt is counted first (a wrong answer in the host's
//! `[lockout]`, and a refused use queued for the report) and saved; then the answer is
//! checked against the bundle: a TOTP code against the hashed window (the current step and
//! its neighbours, above both the bundle's watermark and the steps used here), a recovery
//! code against the unused slots' hashes (minus the slots used here). An accepted answer
//! turns the queued use into an accepted one, marks the step or slot used, and clears the
//! host's failure count. The decision is [`Decision::Offline`], logged above a verified
//! login.
//!
//! **Afterwards.** At the next contact with the service ([`after_contact`], after every
//! online decision) the queued uses are reported (the service raises the fleet-wide
//! watermark, marks recovery codes used, counts the failures) and the bundle is refreshed,
//! kept, or dropped as the service says (a removed, locked or revoked user loses it then).
//!
//! [`Decision::Offline`]: super::Decision::Offline

use super::LoginContext;
use super::outcome::{Denial, Factor, Outcome};
use super::remote::FleetRemote;
use super::verify::locked_message;
use crate::fleet::FleetError;
use crate::fleet::offline_contact::Contact;
use crate::recovery::{Attempt, Check as RecoveryCheck, RecoveryCodes};
use crate::store::{MAX_PENDING, OfflineState, UserLock};
use mfa_factors::offline_window::{Binding, HashedWindow};
use push_proto::offline::{Bundle, OfflineFactor, OfflineUse};

/// The user's usable bundle, under the user's lock: none, an unreadable file, or a bundle
/// that does not open (pinned key, this host, this user, this clock) is `Err(why)`.
pub(super) struct Usable<'s> {
    pub(super) lock: UserLock<'s>,
    pub(super) state: OfflineState,
    pub(super) bundle: Bundle,
    pub(super) now: u64,
}

pub(super) fn usable<'s>(
    ctx: &LoginContext<'s>,
    service: &dyn FleetRemote,
) -> Result<Usable<'s>, String> {
    let now = ctx.clock.now().map_err(|e| e.to_string())?;
    let lock = ctx.store.lock(ctx.user).map_err(|e| format!("lock: {e}"))?;
    let state = match lock.load_offline() {
        Ok(Some(s)) => s,
        Ok(None) => return Err("no bundle".into()),
        Err(e) => return Err(e.to_string()),
    };
    let Some(signed) = state.bundle.as_ref() else { return Err("no bundle".into()) };
    let bundle = signed
        .open(service.service_key(), service.host_id(), ctx.user.as_str(), now)
        .map_err(|e| e.to_string())?;
    Ok(Usable { lock, state, bundle, now })
}

/// Tries the offline bundle after an outage; `Err`: no usable bundle, and why (the caller
/// applies `failmode` and logs the reason with it).
pub(super) fn fallback(
    ctx: &mut LoginContext<'_>,
    service: &dyn FleetRemote,
    answer: &str,
    factor: Factor,
    outage: &FleetError,
) -> Result<Outcome, String> {
    let mut u = usable(ctx, service)?;
    let shape = match factor {
        Factor::Recovery => OfflineFactor::Recovery { slot: None, hash: None },
        _ => OfflineFactor::Totp { step: None },
    };
    let bundle = u.bundle.clone();
    let now = u.now;
    let binding = Binding { host_id: &bundle.host_id, user: &bundle.user };
    Ok(counted(ctx, &mut u, shape, outage, |state| match factor {
        Factor::Recovery => check_recovery(state, &bundle, answer),
        _ => check_totp(state, &bundle, answer, now, binding),
    }))
}

/// Refuses while the host's offline lock holds; otherwise counts the attempt (a failure in
/// the host's `[lockout]` and a refused use queued for the report) and saves it, then runs
/// `check` and, if it accepts, records the use as accepted and clears the failures.
pub(super) fn counted(
    ctx: &mut LoginContext<'_>,
    u: &mut Usable<'_>,
    shape: OfflineFactor,
    outage: &FleetError,
    check: impl FnOnce(&mut OfflineState) -> Option<OfflineFactor>,
) -> Outcome {
    let (state, now) = (&mut u.state, u.now);
    if let Some(left) = state.lockout.locked_for(now) {
        ctx.tell_error(&locked_message(ctx.user, left));
        return Outcome::deny(Denial::AuthFailed, format!("{outage}; offline: locked"));
    }
    if state.pending.len() >= MAX_PENDING {
        return Outcome::deny(Denial::Unavailable, "offline: report queue full");
    }
    let id = match use_id() {
        Ok(id) => id,
        Err(o) => return o,
    };
    state.lockout.record_failure(now, &ctx.cfg.lockout);
    state.pending.push(OfflineUse { id, at: now, accepted: false, used: shape });
    if let Err(e) = u.lock.save_offline(state) {
        return Outcome::failed("offline: save attempt", e);
    }
    let Some(used) = check(state) else {
        return Outcome::deny(Denial::AuthFailed, format!("{outage}; offline: wrong answer"));
    };
    if let Some(last) = state.pending.last_mut() {
        last.accepted = true;
        last.used = used;
    }
    state.lockout.clear();
    match u.lock.save_offline(state) {
        Ok(()) => Outcome::offline(format!("{outage}; accepted from the offline bundle")),
        Err(e) => Outcome::failed("offline: save use", e),
    }
}

/// A TOTP code against the window, above the bundle's watermark and the steps used here.
fn check_totp(
    state: &mut OfflineState,
    bundle: &Bundle,
    code: &str,
    now: u64,
    binding: Binding<'_>,
) -> Option<OfflineFactor> {
    let window = HashedWindow::from_wire(bundle.totp.as_ref()?).ok()?;
    let watermark = bundle.watermark.max(state.used_step);
    let step = window.check(code, now, watermark, binding)?;
    state.used_step = Some(step);
    Some(OfflineFactor::Totp { step: Some(step) })
}

/// A recovery code against the bundle's unused slots (minus those used here).
fn check_recovery(
    state: &mut OfflineState,
    bundle: &Bundle,
    answer: &str,
) -> Option<OfflineFactor> {
    let attempt = Attempt::parse(answer)?;
    let mut slots: Vec<Option<String>> = vec![None; mfa_factors::recovery::CODE_COUNT];
    for r in &bundle.recovery {
        if let Some(s) = slots.get_mut(usize::from(r.slot)) {
            if !state.used_slots.contains(&r.slot) {
                *s = Some(r.hash.clone());
            }
        }
    }
    let mut codes = RecoveryCodes { generated: 0, slots: slots.clone(), legacy: None };
    if !matches!(codes.redeem(&attempt), RecoveryCheck::Accepted { .. }) {
        return None;
    }
    let slot = slots.iter().zip(&codes.slots).position(|(before, after)| before != after)?;
    let slot = u8::try_from(slot).ok()?;
    state.used_slots.push(slot);
    let hash = bundle.recovery.iter().find(|r| r.slot == slot).map(|r| r.hash.clone());
    Some(OfflineFactor::Recovery { slot: Some(slot), hash })
}

fn use_id() -> Result<String, Outcome> {
    let mut id = [0u8; 16];
    crate::random::fill(&mut id).map_err(|e| Outcome::from(crate::Error::from(e)))?;
    Ok(push_proto::b64(&id))
}

/// After the service answered a login: reports the uses queued here and refreshes, keeps or
/// drops the user's bundle as the service says ([`crate::fleet::offline_contact`]). Returns a
/// note for the log line; never changes the login's decision.
pub(super) fn after_contact(ctx: &LoginContext<'_>, service: &dyn FleetRemote) -> String {
    let Ok(now) = ctx.clock.now() else { return String::new() };
    Contact { store: ctx.store, user: ctx.user, service, now }.bring_up_to_date().text
}
