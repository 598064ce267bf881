//! Fleet mode offline, the service's side (issue 21; `docs/fleet.md`, "Offline"): what a host's
//! bundle request is answered with ([`Standing`], [`keep`]), and the bundle itself
//! ([`build`]): the TOTP window hashed off the async executor under a bounded number of
//! permits, so hashing cannot starve verifications.

use super::master_key::{MasterKey, TotpBinding};
use crate::config::OfflineConfig;
use crate::store::fleet::{RecoverySlot, TotpRecord};
use crate::store::fleet_keys::FleetKey;
use crate::store::fleet_offline::IssuedBundle;
use mfa_factors::offline_window::{self, Binding, MAX_STEPS};
use mfa_factors::totp::{Algorithm, Params};
use push_proto::SecretKey;
use push_proto::offline::{Bundle, OfflineKey, RecoverySlot as WireSlot, SignedBundle, VERSION};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The service's offline state: its `[offline]` config and the permits of window builds.
#[derive(Clone, Debug)]
pub struct Offline {
    /// `[offline]`.
    pub config: OfflineConfig,
    /// One permit per window being hashed at once.
    pub permits: Arc<Semaphore>,
}

impl Offline {
    /// At most half the machine's cores (at least one) hash windows at once.
    pub fn new(config: OfflineConfig) -> Offline {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Offline { config, permits: Arc::new(Semaphore::new((cores / 2).max(1))) }
    }

    /// Steps a fresh window holds for `step_secs`-second steps.
    pub fn steps(&self, step_secs: u64) -> u32 {
        let secs = u64::from(self.config.totp_window_hours) * 3600;
        u32::try_from(secs / step_secs.max(1)).unwrap_or(MAX_STEPS).min(MAX_STEPS)
    }
}

/// A user's factors as a bundle is made from them.
#[derive(Clone, Debug)]
pub struct Factors {
    /// The TOTP record.
    pub totp: Option<TotpRecord>,
    /// Recovery codes, used or not.
    pub recovery: Vec<RecoverySlot>,
    /// Security keys.
    pub keys: Vec<FleetKey>,
}

impl Factors {
    /// Whether any factor would open anything offline.
    pub fn any(&self) -> bool {
        self.totp.is_some()
            || self.recovery.iter().any(|s| s.used_at.is_none())
            || !self.keys.is_empty()
    }

    /// SHA-256 (hex) of everything a bundle carries except what moves with every login (the
    /// watermark, key counters): a different value means the held bundle is stale (a factor
    /// set, removed or regenerated, a recovery code used, a key added or removed).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut part = |b: &[u8]| {
            h.update(u64::try_from(b.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(b);
        };
        if let Some(t) = &self.totp {
            part(b"totp");
            part(&t.sealed);
            part(t.algorithm.as_bytes());
            part(&[t.digits]);
            part(&t.step.to_be_bytes());
        }
        for s in self.recovery.iter().filter(|s| s.used_at.is_none()) {
            part(b"recovery");
            part(&[s.slot]);
            part(s.hash.as_bytes());
        }
        for k in &self.keys {
            part(b"key");
            part(k.credential_id.as_bytes());
            part(k.public_key.as_bytes());
            part(&[u8::from(k.user_verification)]);
        }
        hex(&h.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a host is told to drop its bundle (audited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The host is outside the user's host groups.
    HostNotAllowed,
    /// The user has no factor (removed, or never enrolled).
    NoFactor,
    /// The user is locked out.
    Locked,
    /// `[offline] enabled = false`.
    Disabled,
    /// No accepted online login from this host within the bundle lifetime, no mark (or
    /// revoked since).
    NotEligible,
}

impl DropReason {
    /// Short text for the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::HostNotAllowed => "host not in the user's host groups",
            DropReason::NoFactor => "no factor",
            DropReason::Locked => "locked out",
            DropReason::Disabled => "offline disabled",
            DropReason::NotEligible => "not eligible on this host (no recent login, or revoked)",
        }
    }
}

/// What the host holds, as it says.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    /// Its bundle's `issued_at`.
    pub issued_at: Option<u64>,
    /// The last step of its window.
    pub last_step: Option<u64>,
}

/// Whether the host may keep what it holds: the bundle is the one last issued to it (not
/// revoked since: a revocation deletes the record), made from the user's current factors,
/// valid for more than half its lifetime still, and its TOTP window (if the user has a
/// TOTP) covers more than half a fresh window ahead of `now`.
pub fn keep(
    held: Held,
    issued: Option<&IssuedBundle>,
    fingerprint: &str,
    offline: &Offline,
    totp: Option<&TotpRecord>,
    now: u64,
) -> bool {
    let (Some(at), Some(issued)) = (held.issued_at, issued) else { return false };
    if issued.issued_at != at || issued.fingerprint != fingerprint {
        return false;
    }
    let half_life = offline.config.bundle_lifetime / 2;
    if issued.expires_at.saturating_sub(now) <= half_life {
        return false;
    }
    let Some(t) = totp else { return true };
    let step_secs = t.step.max(1);
    let ahead = u64::from(offline.steps(step_secs)) / 2;
    held.last_step.is_some_and(|last| last > now / step_secs + ahead)
}

/// What a fresh bundle is made for.
#[derive(Clone, Copy, Debug)]
pub struct For<'a> {
    /// The host.
    pub host_id: &'a str,
    /// The user's fleet scope.
    pub scope: &'a str,
    /// The user.
    pub user: &'a str,
    /// The request's nonce.
    pub nonce: &'a str,
    /// The fleet's relying-party id.
    pub rp_id: &'a str,
    /// Now.
    pub now: u64,
}

/// Why no bundle could be made (an internal error: the host keeps what it has).
#[derive(Debug)]
pub struct BuildError(pub String);

/// Makes and signs a fresh bundle: the window is hashed on a blocking thread while holding
/// one of `offline`'s permits; the secret is opened there and zeroized when done. Returns
/// the signed bundle and its record.
pub async fn build(
    offline: &Offline,
    master: &Arc<MasterKey>,
    key: &SecretKey,
    f: For<'_>,
    factors: &Factors,
) -> Result<(SignedBundle, IssuedBundle), BuildError> {
    let window = match &factors.totp {
        Some(t) => Some(hash_window(offline, master, f, t).await?),
        None => None,
    };
    let bundle = Bundle {
        version: VERSION,
        host_id: f.host_id.to_string(),
        user: f.user.to_string(),
        nonce: f.nonce.to_string(),
        issued_at: f.now,
        expires_at: f.now.saturating_add(offline.config.bundle_lifetime),
        watermark: factors.totp.as_ref().and_then(|t| t.last_step),
        totp: window.as_ref().map(offline_window::HashedWindow::to_wire),
        recovery: factors
            .recovery
            .iter()
            .filter(|s| s.used_at.is_none())
            .map(|s| WireSlot { slot: s.slot, hash: s.hash.clone() })
            .collect(),
        rp_id: f.rp_id.to_string(),
        keys: factors
            .keys
            .iter()
            .map(|k| OfflineKey {
                credential_id: k.credential_id.clone(),
                public_key: k.public_key.clone(),
                sign_count: k.sign_count,
                user_verification: k.user_verification,
            })
            .collect(),
    };
    let signed = bundle.sign(key).map_err(|e| BuildError(format!("signing the bundle: {e}")))?;
    let issued = IssuedBundle {
        host_id: bundle.host_id,
        scope: f.scope.to_string(),
        user: bundle.user,
        issued_at: bundle.issued_at,
        expires_at: bundle.expires_at,
        last_step: window.as_ref().map(offline_window::HashedWindow::last_step),
        fingerprint: factors.fingerprint(),
    };
    Ok((signed, issued))
}

/// The TOTP window from the current step, hashed on a blocking thread under a permit.
async fn hash_window(
    offline: &Offline,
    master: &Arc<MasterKey>,
    f: For<'_>,
    t: &TotpRecord,
) -> Result<offline_window::HashedWindow, BuildError> {
    let algorithm = Algorithm::from_name(&t.algorithm)
        .ok_or_else(|| BuildError(format!("TOTP algorithm {:?} unknown", t.algorithm)))?;
    let params = Params { algorithm, digits: t.digits, step: t.step.max(1) };
    let steps = offline.steps(params.step);
    let cost = offline.config.cost();
    let _permit =
        offline.permits.acquire().await.map_err(|_| BuildError("window permits closed".into()))?;
    let (master, rec) = (Arc::clone(master), t.clone());
    let (host, user) = (f.host_id.to_string(), f.user.to_string());
    let first = f.now / params.step;
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
        let bind = Binding { host_id: &host, user: &user };
        offline_window::build(&secret, &params, first, steps, bind, cost)
            .map_err(|e| BuildError(format!("hashing the window: {e}")))
    })
    .await
    .map_err(|e| BuildError(format!("window task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totp() -> TotpRecord {
        TotpRecord {
            scope: "fleet".into(),
            user: "alice".into(),
            sealed: vec![1, 2, 3],
            algorithm: "SHA1".into(),
            digits: 6,
            step: 30,
            last_step: Some(5),
            updated_at: 0,
        }
    }

    #[test]
    fn the_fingerprint_moves_with_factors_not_with_logins() {
        let mut f = Factors { totp: Some(totp()), recovery: vec![], keys: vec![] };
        let before = f.fingerprint();
        f.totp.as_mut().unwrap().last_step = Some(99);
        assert_eq!(f.fingerprint(), before, "the watermark is not a factor change");
        f.recovery.push(RecoverySlot { slot: 0, hash: "h".into(), used_at: None });
        let with_code = f.fingerprint();
        assert_ne!(with_code, before);
        f.recovery[0].used_at = Some(1);
        assert_eq!(f.fingerprint(), before, "a used code is as good as gone");
        f.totp.as_mut().unwrap().sealed = vec![4];
        assert_ne!(f.fingerprint(), before);
    }

    #[test]
    fn kept_only_while_the_same_current_and_covering() {
        let offline = Offline::new(OfflineConfig::default());
        let now = 1_800_000_000;
        let steps = u64::from(offline.steps(30));
        assert_eq!(steps, 480);
        let issued = IssuedBundle {
            host_id: "h".into(),
            scope: "fleet".into(),
            user: "alice".into(),
            issued_at: now - 60,
            expires_at: now + 3 * 86_400 - 60,
            last_step: Some(now / 30 + steps - 3),
            fingerprint: "fp".into(),
        };
        let held = Held { issued_at: Some(now - 60), last_step: issued.last_step };
        let t = totp();
        assert!(keep(held, Some(&issued), "fp", &offline, Some(&t), now));
        assert!(!keep(held, Some(&issued), "other", &offline, Some(&t), now));
        assert!(!keep(held, None, "fp", &offline, Some(&t), now), "revoked: no record");
        let other = Held { issued_at: Some(now - 61), ..held };
        assert!(!keep(other, Some(&issued), "fp", &offline, Some(&t), now));
        let none = Held { issued_at: None, ..held };
        assert!(!keep(none, Some(&issued), "fp", &offline, Some(&t), now));
        // Half the window used: fresh.
        let later = now + 30 * (steps / 2);
        assert!(!keep(held, Some(&issued), "fp", &offline, Some(&t), later));
        assert!(keep(held, Some(&issued), "fp", &offline, None, later), "no TOTP: no window");
        // Half the lifetime gone: fresh.
        let late = now + 2 * 86_400;
        assert!(!keep(held, Some(&issued), "fp", &offline, None, late));
    }
}
