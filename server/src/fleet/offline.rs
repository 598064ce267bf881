//! Fleet mode offline, the service's side (issue 21; `docs/fleet.md`, "Offline"): what a host's
//! bundle request is answered with ([`Standing`], [`keep`]), and the bundle itself
//! ([`assemble`]), made in milliseconds from a TOTP window hashed beforehand in the background
//! ([`super::offline_windows`]): a bundle request never hashes.

use super::offline_windows::Running;
use crate::config::OfflineConfig;
use crate::store::fleet::{RecoverySlot, TotpRecord};
use crate::store::fleet_keys::FleetKey;
use crate::store::fleet_offline::IssuedBundle;
use mfa_factors::offline_window::{self, MAX_STEPS};
use push_proto::SecretKey;
use push_proto::offline::{Bundle, OfflineKey, RecoverySlot as WireSlot, SignedBundle, VERSION};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The service's offline state: its `[offline]` config, the permits of window builds and the
/// builds running on this instance.
#[derive(Clone, Debug)]
pub struct Offline {
    /// `[offline]`.
    pub config: OfflineConfig,
    /// One permit per window being hashed at once.
    pub permits: Arc<Semaphore>,
    /// The windows being built on this instance (at most one per host, scope and user).
    pub running: Running,
}

impl Offline {
    /// At most half the machine's cores (at least one) hash windows at once.
    pub fn new(config: OfflineConfig) -> Offline {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let permits = Arc::new(Semaphore::new((cores / 2).max(1)));
        Offline { config, permits, running: Running::default() }
    }

    /// Steps a fresh window holds for `step_secs`-second steps.
    pub fn steps(&self, step_secs: u64) -> u32 {
        let secs = u64::from(self.config.totp_window_hours) * 3600;
        u32::try_from(secs / step_secs.max(1)).unwrap_or(MAX_STEPS).min(MAX_STEPS)
    }

    /// The step a window must reach beyond to cover more than half a fresh window ahead of
    /// `now`.
    pub fn half_ahead(&self, step_secs: u64, now: u64) -> u64 {
        let step_secs = step_secs.max(1);
        now / step_secs + u64::from(self.steps(step_secs)) / 2
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
        if let Some(t) = &self.totp {
            totp_parts(&mut h, t);
        }
        let mut part = |b: &[u8]| framed(&mut h, b);
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

/// SHA-256 (hex) of the TOTP secret (sealed) and parameters a window is made from: a stored
/// window is used only while this is unchanged (a new secret, algorithm, length or step
/// makes it worthless).
pub fn totp_fingerprint(t: &TotpRecord) -> String {
    let mut h = Sha256::new();
    totp_parts(&mut h, t);
    hex(&h.finalize())
}

fn framed(h: &mut Sha256, b: &[u8]) {
    h.update(u64::try_from(b.len()).unwrap_or(u64::MAX).to_be_bytes());
    h.update(b);
}

fn totp_parts(h: &mut Sha256, t: &TotpRecord) {
    framed(h, b"totp");
    framed(h, &t.sealed);
    framed(h, t.algorithm.as_bytes());
    framed(h, &[t.digits]);
    framed(h, &t.step.to_be_bytes());
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

/// How the host's held bundle stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It may keep it.
    Keep,
    /// Current, but its TOTP window covers half a fresh window ahead or less: kept while the
    /// next window is made in the background, replaced at the next contact.
    Low,
    /// Not the one last issued, made from other factors, past half its lifetime, or none.
    Stale,
}

/// Whether the host may keep what it holds: the bundle is the one last issued to it (not
/// revoked since: a revocation deletes the record), made from the user's current factors,
/// valid for more than half its lifetime still, and its TOTP window (if the user has a
/// TOTP) covers more than half a fresh window ahead of `now` ([`Standing::Low`] if all but
/// the last hold).
pub fn keep(
    held: Held,
    issued: Option<&IssuedBundle>,
    fingerprint: &str,
    offline: &Offline,
    totp: Option<&TotpRecord>,
    now: u64,
) -> Standing {
    let (Some(at), Some(issued)) = (held.issued_at, issued) else { return Standing::Stale };
    if issued.issued_at != at || issued.fingerprint != fingerprint {
        return Standing::Stale;
    }
    let half_life = offline.config.bundle_lifetime / 2;
    if issued.expires_at.saturating_sub(now) <= half_life {
        return Standing::Stale;
    }
    let Some(t) = totp else { return Standing::Keep };
    if held.last_step.is_some_and(|last| last > offline.half_ahead(t.step, now)) {
        Standing::Keep
    } else {
        Standing::Low
    }
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

/// Why no bundle or window could be made (an internal error: the host keeps what it has).
#[derive(Debug)]
pub struct BuildError(pub String);

/// Makes and signs a fresh bundle from the user's factors and `window`, the TOTP window
/// already hashed ([`super::offline_windows::usable`]; `None` for a user without a TOTP).
/// Nothing slow: no hashing here. Returns the signed bundle and its record.
pub fn assemble(
    offline: &Offline,
    key: &SecretKey,
    f: For<'_>,
    factors: &Factors,
    window: Option<&offline_window::HashedWindow>,
) -> Result<(SignedBundle, IssuedBundle), BuildError> {
    let bundle = Bundle {
        version: VERSION,
        host_id: f.host_id.to_string(),
        user: f.user.to_string(),
        nonce: f.nonce.to_string(),
        issued_at: f.now,
        expires_at: f.now.saturating_add(offline.config.bundle_lifetime),
        watermark: factors.totp.as_ref().and_then(|t| t.last_step),
        totp: window.map(offline_window::HashedWindow::to_wire),
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
        last_step: window.map(offline_window::HashedWindow::last_step),
        fingerprint: factors.fingerprint(),
    };
    Ok((signed, issued))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TOTP record as the store holds it (for this module's tests and its neighbours').
    pub(crate) fn totp() -> TotpRecord {
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
        let window_fp = totp_fingerprint(f.totp.as_ref().unwrap());
        f.totp.as_mut().unwrap().sealed = vec![4];
        assert_ne!(f.fingerprint(), before);
        assert_ne!(totp_fingerprint(f.totp.as_ref().unwrap()), window_fp, "a new secret");
        let mut t = totp();
        t.last_step = Some(1000);
        assert_eq!(totp_fingerprint(&t), totp_fingerprint(&totp()), "not the watermark");
        t.digits = 8;
        assert_ne!(totp_fingerprint(&t), totp_fingerprint(&totp()), "the parameters");
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
        let keep = |held, issued, fp, t, now| keep(held, issued, fp, &offline, t, now);
        assert_eq!(keep(held, Some(&issued), "fp", Some(&t), now), Standing::Keep);
        assert_eq!(keep(held, Some(&issued), "other", Some(&t), now), Standing::Stale);
        assert_eq!(keep(held, None, "fp", Some(&t), now), Standing::Stale, "revoked: no record");
        let other = Held { issued_at: Some(now - 61), ..held };
        assert_eq!(keep(other, Some(&issued), "fp", Some(&t), now), Standing::Stale);
        let none = Held { issued_at: None, ..held };
        assert_eq!(keep(none, Some(&issued), "fp", Some(&t), now), Standing::Stale);
        // Half the window used: low (kept while the next window is made).
        let later = now + 30 * (steps / 2);
        assert_eq!(keep(held, Some(&issued), "fp", Some(&t), later), Standing::Low);
        let no_totp = keep(held, Some(&issued), "fp", None, later);
        assert_eq!(no_totp, Standing::Keep, "no TOTP: no window");
        // Half the lifetime gone: fresh.
        let late = now + 2 * 86_400;
        assert_eq!(keep(held, Some(&issued), "fp", None, late), Standing::Stale);
    }
}
