//! Fleet mode offline's hashed TOTP windows (issue 21; `docs/ARCHITECTURE.md`, "Fleet mode
//! offline"), made in the background and kept (`fleet_offline_windows`), so that a host's
//! bundle request never waits for hashing: one Argon2id hash per step costs about a second per
//! hour of window on a free core, far more under load, while the host asks inside a login.
//!
//! A build ([`start`]) runs as a tokio task that hashes on a blocking thread under one of
//! [`Offline::permits`], at most one per host, scope and user on this instance ([`Running`];
//! two instances building the same window is harmless: the last one stored wins). It is
//! started after an accepted online login from an eligible host, after `fleet offline mark`
//! (which waits for it, [`refresh`]), and by a bundle request that finds no [`usable`]
//! window, which answers `Later` meanwhile. A window is used only while it was made from the
//! TOTP secret and parameters as they are now ([`totp_fingerprint`]), at the configured cost,
//! and covers the current step and more than half a fresh window ahead; the next one is
//! started once it covers three quarters or less ([`due`]), so that it is ready before the
//! held one runs low.

use super::master_key::{MasterKey, TotpBinding};
use super::offline::{BuildError, Offline, totp_fingerprint};
use crate::store::fleet::TotpRecord;
use crate::store::fleet_offline::StoredWindow;
use crate::store::{Store, StoreError};
use mfa_factors::offline_window::{self, Binding, HashedWindow};
use mfa_factors::totp::{Algorithm, Params};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Whose window: a host, a fleet scope and a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WindowOf {
    /// The host's id (the hashes are bound to it).
    pub host_id: String,
    /// Fleet scope.
    pub scope: String,
    /// The user.
    pub user: String,
}

impl WindowOf {
    /// The window of `user` in `scope` on host `host_id`.
    pub fn new(host_id: &str, scope: &str, user: &str) -> WindowOf {
        WindowOf { host_id: host_id.into(), scope: scope.into(), user: user.into() }
    }
}

/// The windows being built on this instance.
#[derive(Clone, Debug, Default)]
pub struct Running(Arc<Mutex<HashSet<WindowOf>>>);

/// A claim on building one window, released when dropped (also when the build fails or
/// panics).
struct Claim {
    running: Running,
    of: WindowOf,
}

impl Running {
    fn claim(&self, of: &WindowOf) -> Option<Claim> {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        set.insert(of.clone()).then(|| Claim { running: self.clone(), of: of.clone() })
    }

    /// Whether `of`'s window is being built on this instance.
    pub fn contains(&self, of: &WindowOf) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(of)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.running.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.of);
    }
}

/// Whether `stored` was made from `t` as it is now, at the configured cost, starts at or
/// before the current step and reaches beyond `ahead` steps past it.
fn covers(stored: &StoredWindow, t: &TotpRecord, offline: &Offline, now: u64, ahead: u64) -> bool {
    let w = &stored.window;
    let step_secs = t.step.max(1);
    let current = now / step_secs;
    stored.fingerprint == totp_fingerprint(t)
        && w.cost == offline.config.cost()
        && w.step_secs == step_secs
        && w.digits == t.digits
        && w.first_step <= current
        && w.last_step() > current.saturating_add(ahead)
}

/// The stored window from the current step on, if it may go into a bundle: made from `t` as
/// it is now, at the configured cost, covering the current step and more than half a fresh
/// window ahead (as [`super::offline::keep`] asks of a held one).
pub fn usable(
    stored: Option<&StoredWindow>,
    t: &TotpRecord,
    offline: &Offline,
    now: u64,
) -> Option<HashedWindow> {
    let s = stored?;
    let half = u64::from(offline.steps(t.step.max(1))) / 2;
    if !covers(s, t, offline, now, half) {
        return None;
    }
    let w = &s.window;
    let current = now / w.step_secs;
    let skip = usize::try_from(current - w.first_step).ok()?;
    Some(HashedWindow {
        digits: w.digits,
        step_secs: w.step_secs,
        first_step: current,
        salt: w.salt,
        cost: w.cost,
        hashes: w.hashes.get(skip..)?.to_vec(),
    })
}

/// Whether a new window should be made: none stored, or the stored one not [`usable`], or
/// covering three quarters of a fresh window ahead or less (made ahead of need).
pub fn due(stored: Option<&StoredWindow>, t: &TotpRecord, offline: &Offline, now: u64) -> bool {
    let three_quarters = u64::from(offline.steps(t.step.max(1))) * 3 / 4;
    stored.is_none_or(|s| !covers(s, t, offline, now, three_quarters))
}

/// What [`refresh`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// `[offline] enabled = false`: nothing made.
    Disabled,
    /// The user has no TOTP: no window needed.
    NoTotp,
    /// The stored window is current and covers enough ahead: nothing made.
    Current,
    /// A window was made and stored.
    Made,
    /// A window was made, but the host is no longer eligible: not stored.
    NotEligible,
}

/// Makes and stores `of`'s window if one is [`due`], waiting for it (the hashing on a
/// blocking thread under a permit). What it did.
pub async fn refresh(
    store: &dyn Store,
    master: &Arc<MasterKey>,
    offline: &Offline,
    of: &WindowOf,
) -> Result<Refreshed, BuildError> {
    let e = |e: StoreError| BuildError(e.to_string());
    if !offline.config.enabled {
        return Ok(Refreshed::Disabled);
    }
    let Some(t) = store.totp(&of.scope, &of.user).await.map_err(e)? else {
        return Ok(Refreshed::NoTotp);
    };
    let stored = store.offline_window(&of.host_id, &of.scope, &of.user).await.map_err(e)?;
    if !due(stored.as_ref(), &t, offline, crate::time::now()) {
        return Ok(Refreshed::Current);
    }
    let window = hash(offline, master, of, &t).await?;
    let now = crate::time::now();
    let w = StoredWindow {
        host_id: of.host_id.clone(),
        scope: of.scope.clone(),
        user: of.user.clone(),
        window,
        made_at: now,
        fingerprint: totp_fingerprint(&t),
    };
    // Stored only while the host is still eligible: a revocation or removal meanwhile wins.
    let since = now.saturating_sub(offline.config.bundle_lifetime);
    let stored = store.store_window(&w, since).await.map_err(e)?;
    Ok(if stored { Refreshed::Made } else { Refreshed::NotEligible })
}

/// Starts making `of`'s window in the background ([`refresh`]) unless one is being made on
/// this instance or offline is disabled; returns at once. Whether a build was started. A
/// failure is logged (the next contact starts another).
pub fn start(
    store: &Arc<dyn Store>,
    master: &Arc<MasterKey>,
    offline: &Offline,
    of: WindowOf,
) -> bool {
    if !offline.config.enabled {
        return false;
    }
    let Some(claim) = offline.running.claim(&of) else { return false };
    let (store, master, offline) = (Arc::clone(store), Arc::clone(master), offline.clone());
    tokio::spawn(async move {
        if let Err(e) = refresh(&*store, &master, &offline, &claim.of).await {
            let of = &claim.of;
            eprintln!(
                "mfa-server: offline window of {} ({}) on host {}: {}",
                of.user, of.scope, of.host_id, e.0
            );
        }
        drop(claim);
    });
    true
}

/// The TOTP window of a fresh window's length from the step current when a permit is free,
/// hashed on a blocking thread under that permit; the secret is opened there and zeroized
/// when done.
async fn hash(
    offline: &Offline,
    master: &Arc<MasterKey>,
    of: &WindowOf,
    t: &TotpRecord,
) -> Result<HashedWindow, BuildError> {
    let algorithm = Algorithm::from_name(&t.algorithm)
        .ok_or_else(|| BuildError(format!("TOTP algorithm {:?} unknown", t.algorithm)))?;
    let params = Params { algorithm, digits: t.digits, step: t.step.max(1) };
    let steps = offline.steps(params.step);
    let cost = offline.config.cost();
    let _permit =
        offline.permits.acquire().await.map_err(|_| BuildError("window permits closed".into()))?;
    let (master, rec, of) = (Arc::clone(master), t.clone(), of.clone());
    let first = crate::time::now() / params.step;
    tokio::task::spawn_blocking(move || {
        let binding = TotpBinding {
            scope: &rec.scope,
            user: &rec.user,
            algorithm: &rec.algorithm,
            digits: rec.digits,
            step: rec.step,
        };
        // Zeroizing: the opened secret is wiped when this closure returns.
        let secret = master.open_totp(&binding, &rec.sealed).ok_or_else(|| {
            BuildError("the TOTP secret does not open with the master key".into())
        })?;
        let bind = Binding { host_id: &of.host_id, user: &of.user };
        offline_window::build(&secret, &params, first, steps, bind, cost)
            .map_err(|e| BuildError(format!("hashing the window: {e}")))
    })
    .await
    .map_err(|e| BuildError(format!("window task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OfflineConfig;
    use crate::fleet::offline::tests::totp;
    use mfa_factors::offline_window::WindowCost;

    fn stored(offline: &Offline, first_step: u64, steps: usize) -> StoredWindow {
        StoredWindow {
            host_id: "h".into(),
            scope: "fleet".into(),
            user: "alice".into(),
            window: HashedWindow {
                digits: 6,
                step_secs: 30,
                first_step,
                salt: [7; 16],
                cost: offline.config.cost(),
                hashes: (0..steps).map(|i| [u8::try_from(i % 256).unwrap(); 32]).collect(),
            },
            made_at: 0,
            fingerprint: totp_fingerprint(&totp()),
        }
    }

    #[test]
    fn used_from_the_current_step_while_current_and_covering_half() {
        let offline = Offline::new(OfflineConfig::default());
        let now = 1_800_000_000;
        let current = now / 30;
        let s = stored(&offline, current - 2, 480);
        let t = totp();
        let w = usable(Some(&s), &t, &offline, now).unwrap();
        assert_eq!((w.first_step, w.hashes.len()), (current, 478), "trimmed to now");
        assert_eq!(w.hashes[0], s.window.hashes[2]);
        assert_eq!(w.last_step(), s.window.last_step());
        assert!(!due(Some(&s), &t, &offline, now), "fresh enough");
        assert!(usable(None, &t, &offline, now).is_none());
        assert!(due(None, &t, &offline, now));
        // Past three quarters: still used, the next one due.
        let later = now + 30 * 200;
        assert!(usable(Some(&s), &t, &offline, later).is_some());
        assert!(due(Some(&s), &t, &offline, later));
        // Past half: not used.
        assert!(usable(Some(&s), &t, &offline, now + 30 * 240).is_none());
        // Not yet begun: not used.
        assert!(usable(Some(&s), &t, &offline, now - 90).is_none());
        // Another secret, parameters or cost: not used.
        let mut other = totp();
        other.sealed = vec![9];
        assert!(usable(Some(&s), &other, &offline, now).is_none());
        assert!(due(Some(&s), &other, &offline, now));
        let mut digits = totp();
        digits.digits = 8;
        assert!(usable(Some(&s), &digits, &offline, now).is_none());
        let mut cheaper = s.clone();
        cheaper.window.cost = WindowCost::MIN;
        assert!(usable(Some(&cheaper), &t, &offline, now).is_none());
    }

    #[test]
    fn one_build_at_a_time_per_window() {
        let running = Running::default();
        let of = WindowOf::new("h", "fleet", "alice");
        let claim = running.claim(&of).unwrap();
        assert!(running.contains(&of));
        assert!(running.claim(&of).is_none(), "already being built");
        assert!(running.claim(&WindowOf::new("h", "fleet", "bob")).is_some());
        drop(claim);
        assert!(!running.contains(&of));
        assert!(running.claim(&of).is_some());
    }
}
