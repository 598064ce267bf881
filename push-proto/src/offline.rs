//! Offline bundles (fleet mode offline, issue 21): what a host may check by itself for one
//! user while the fleet's service cannot be reached, signed by the service.
//!
//! A [`Bundle`] is made by the service for one host and one user. It holds nothing secret
//! that opens anything elsewhere: a window of slow salted hashes of the TOTP codes of the
//! coming hours (never the seed; `mfa_factors::offline_window`), the Argon2id hashes of the
//! user's unused recovery codes, the public keys and counters of their security keys, and the
//! fleet-wide TOTP watermark when it was made. It expires.
//!
//! The service signs the exact payload bytes ([`SignedBundle`]: base64url of the JSON, under
//! the domain string `pam_mfa-offline-v1`), so nothing is re-serialized before checking. The
//! host opens it with [`SignedBundle::open`] against the service key it pins, its own host id,
//! the user logging in and its clock: a tampered, foreign, expired or not-yet-valid bundle,
//! or one of another version, opens nothing.

use crate::keys::{PublicKey, SecretKey};
use crate::limits::{ID_LEN, MAX_USER, NONCE_LEN, is_text, is_token};
use crate::signed::message_in;
use crate::{b64, unb64};
use serde::{Deserialize, Serialize};

/// The domain string of a bundle's signature.
pub const DOMAIN: &str = "pam_mfa-offline-v1";
/// The bundle format this version reads and writes.
pub const VERSION: u32 = 1;
/// Longest signed payload accepted, bytes (a day's window of hashes is about 130 KiB).
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Longest a bundle may be valid, seconds (30 days).
pub const MAX_LIFETIME: u64 = 30 * 24 * 3600;
/// How far before its issue time a host's clock may be and still open it, seconds.
pub const MAX_SKEW: u64 = crate::fleet::MAX_SKEW;
/// Most recovery-code slots and security keys in a bundle.
pub const MAX_ITEMS: usize = 32;

/// What a host may check offline for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`VERSION`].
    pub version: u32,
    /// The host it was made for.
    pub host_id: String,
    /// The user it was made for (canonical name).
    pub user: String,
    /// The nonce of the host's request it answered (checked when fetched, so an answer to
    /// another request is refused).
    pub nonce: String,
    /// When the service made it (Unix seconds, the service's clock).
    pub issued_at: u64,
    /// After this it opens nothing (Unix seconds).
    pub expires_at: u64,
    /// The fleet-wide TOTP watermark when it was made: no step at or below it is accepted.
    pub watermark: Option<u64>,
    /// The hashed codes of the coming hours, if the user has a TOTP.
    pub totp: Option<TotpWindow>,
    /// The user's unused recovery codes, by slot.
    pub recovery: Vec<RecoverySlot>,
    /// The fleet's relying-party id the keys were registered for.
    pub rp_id: String,
    /// The user's security keys.
    pub keys: Vec<OfflineKey>,
}

/// A window of hashed TOTP codes (the wire form of `mfa_factors::offline_window`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpWindow {
    /// Code length (6 or 8).
    pub digits: u8,
    /// Seconds per step.
    pub step_secs: u64,
    /// The first step hashed.
    pub first_step: u64,
    /// The window's salt, base64url.
    pub salt: String,
    /// Argon2id memory per hash, KiB.
    pub memory_kib: u32,
    /// Argon2id passes.
    pub passes: u32,
    /// One hash per step from `first_step`, base64url.
    pub hashes: Vec<String>,
}

/// An unused recovery code's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverySlot {
    /// The code's index (its first character).
    pub slot: u8,
    /// Its Argon2id PHC string.
    pub hash: String,
}

/// A security key as the host checks its assertions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineKey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// Its COSE public key, base64url.
    pub public_key: String,
    /// The signature counter when the bundle was made.
    pub sign_count: u32,
    /// Whether its assertions must carry user verification.
    pub user_verification: bool,
}

/// A bundle as sent: the payload bytes and the service's signature over them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBundle {
    /// Base64url of the bundle's JSON.
    pub payload: String,
    /// The service's signature of `message_in(DOMAIN, "bundle", [payload])`.
    pub signature: String,
}

/// Why a bundle opens nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Larger than [`MAX_PAYLOAD`].
    TooLarge,
    /// Not signed by the pinned service key (tampered, or another service's).
    Signature,
    /// Signed, but not a bundle this version reads, or out of bounds.
    Malformed(&'static str),
    /// Made for another host or user.
    Foreign(&'static str),
    /// Past its expiry by this host's clock.
    Expired,
    /// Issued after this host's clock (plus [`MAX_SKEW`]): the clock is behind.
    NotYetValid,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::TooLarge => write!(f, "offline bundle too large"),
            OpenError::Signature => write!(f, "offline bundle signature does not verify"),
            OpenError::Malformed(what) => write!(f, "offline bundle malformed: {what}"),
            OpenError::Foreign(what) => write!(f, "offline bundle is for another {what}"),
            OpenError::Expired => write!(f, "offline bundle expired"),
            OpenError::NotYetValid => write!(f, "offline bundle not valid yet (clock behind?)"),
        }
    }
}

impl std::error::Error for OpenError {}

fn signed_bytes(payload: &str) -> Vec<u8> {
    message_in(DOMAIN, "bundle", &[payload])
}

impl Bundle {
    /// Checks the bounds of every field (both sides: the service before signing, the host
    /// after the signature verified).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.version != VERSION {
            return Err("version");
        }
        if !is_text(&self.user, MAX_USER) || !is_text(&self.host_id, MAX_USER) {
            return Err("user or host");
        }
        if !is_token(&self.nonce, NONCE_LEN) {
            return Err("nonce");
        }
        if self.expires_at <= self.issued_at || self.expires_at - self.issued_at > MAX_LIFETIME {
            return Err("lifetime");
        }
        if self.recovery.len() > MAX_ITEMS || self.keys.len() > MAX_ITEMS {
            return Err("too many items");
        }
        if self.recovery.iter().any(|r| r.slot > 9 || r.hash.len() > 256) {
            return Err("recovery slot");
        }
        if let Some(w) = &self.totp {
            if !matches!(w.digits, 6 | 8) || !(15..=300).contains(&w.step_secs) {
                return Err("totp window");
            }
        }
        Ok(())
    }

    /// Signs the bundle with the service key.
    pub fn sign(&self, key: &SecretKey) -> Result<SignedBundle, &'static str> {
        self.validate()?;
        let json = serde_json::to_vec(self).map_err(|_| "serialization")?;
        let payload = b64(&json);
        if payload.len() > MAX_PAYLOAD {
            return Err("too large");
        }
        let signature = key.sign(&signed_bytes(&payload));
        Ok(SignedBundle { payload, signature })
    }
}

impl SignedBundle {
    /// Opens the bundle for `host_id` and `user` at `now` (this host's clock): the signature
    /// first, then the format, then whose it is and whether it is valid now.
    pub fn open(
        &self,
        service_key: &PublicKey,
        host_id: &str,
        user: &str,
        now: u64,
    ) -> Result<Bundle, OpenError> {
        if self.payload.len() > MAX_PAYLOAD {
            return Err(OpenError::TooLarge);
        }
        if !service_key.verify(&signed_bytes(&self.payload), &self.signature) {
            return Err(OpenError::Signature);
        }
        let json = unb64(&self.payload).ok_or(OpenError::Malformed("encoding"))?;
        let bundle: Bundle =
            serde_json::from_slice(&json).map_err(|_| OpenError::Malformed("json"))?;
        bundle.validate().map_err(OpenError::Malformed)?;
        if bundle.host_id != host_id {
            return Err(OpenError::Foreign("host"));
        }
        if bundle.user != user {
            return Err(OpenError::Foreign("user"));
        }
        if now.saturating_add(MAX_SKEW) < bundle.issued_at {
            return Err(OpenError::NotYetValid);
        }
        if now >= bundle.expires_at {
            return Err(OpenError::Expired);
        }
        Ok(bundle)
    }
}

/// `POST` (host): the host's offline bundle for a user, fetched after each online login.
pub const BUNDLE: &str = "/v2/fleet/offline/bundle";
/// `POST` (host): what the host accepted and refused offline, sent at its next contact.
pub const REPORT: &str = "/v2/fleet/offline/report";
/// Most offline uses in one report.
pub const MAX_USES: usize = 64;

/// `POST /v2/fleet/offline/bundle` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRequest {
    /// Whose bundle.
    pub user: String,
    /// The host's clock (Unix seconds; within [`crate::fleet::MAX_SKEW`] of the service's).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), never sent twice.
    pub nonce: String,
    /// The `issued_at` of the bundle the host holds for the user, if any.
    pub held_issued_at: Option<u64>,
    /// The last TOTP step its window covers, if it has one.
    pub held_last_step: Option<u64>,
}

/// What the host does with its bundle for the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BundleAnswer {
    /// Store this one instead of any held.
    Fresh {
        /// The bundle.
        bundle: SignedBundle,
    },
    /// The held one is still current: keep it.
    Keep,
    /// A new bundle is being made (hashing a window takes seconds): keep what is held, and
    /// ask again at the next contact.
    Later,
    /// Delete any held bundle: the user was removed, locked, lost the factors, or the admin
    /// revoked it, or the user is not eligible for one on this host.
    Drop,
}

impl BundleRequest {
    /// Checks formats and bounds (the service's first step; `Err` names the field).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !is_text(&self.user, MAX_USER) {
            return Err("user");
        }
        if !is_token(&self.nonce, NONCE_LEN) {
            return Err("nonce");
        }
        Ok(())
    }
}

/// Answer to [`BundleRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleResponse {
    /// What to do.
    pub answer: BundleAnswer,
}

/// A factor used offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "factor", rename_all = "snake_case", deny_unknown_fields)]
pub enum OfflineFactor {
    /// A TOTP code of this step.
    Totp {
        /// The step it matched (accepted uses) .
        step: Option<u64>,
    },
    /// A recovery code of this slot (its hash, so a slot regenerated since is left alone).
    Recovery {
        /// The slot.
        slot: Option<u8>,
        /// The slot's PHC string as in the bundle.
        hash: Option<String>,
    },
    /// A security key's assertion.
    SecurityKey {
        /// The credential id, base64url.
        credential_id: Option<String>,
        /// The signature counter the assertion carried.
        sign_count: Option<u32>,
    },
}

/// One offline attempt as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineUse {
    /// A random id of the host's (16 bytes, base64url): a report sent twice counts once.
    pub id: String,
    /// When (the host's clock, Unix seconds).
    pub at: u64,
    /// Whether the host accepted it.
    pub accepted: bool,
    /// What was used (for a refusal, what the answer looked like; fields may be empty).
    pub used: OfflineFactor,
}

/// `POST /v2/fleet/offline/report` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Whose uses.
    pub user: String,
    /// The host's clock.
    pub time: u64,
    /// A fresh nonce.
    pub nonce: String,
    /// The uses, oldest first (at most [`MAX_USES`]).
    pub uses: Vec<OfflineUse>,
}

impl ReportRequest {
    /// Checks formats and bounds (the service's first step; `Err` names the field).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !is_text(&self.user, MAX_USER) {
            return Err("user");
        }
        if !is_token(&self.nonce, NONCE_LEN) {
            return Err("nonce");
        }
        if self.uses.is_empty() || self.uses.len() > MAX_USES {
            return Err("uses");
        }
        for u in &self.uses {
            if !is_token(&u.id, ID_LEN) {
                return Err("use id");
            }
            let ok = match &u.used {
                OfflineFactor::Totp { .. } => true,
                OfflineFactor::Recovery { slot, hash } => {
                    slot.is_none_or(|s| s <= 9) && hash.as_ref().is_none_or(|h| is_text(h, 256))
                }
                OfflineFactor::SecurityKey { credential_id, .. } => credential_id
                    .as_ref()
                    .is_none_or(|c| is_text(c, crate::fleet_keys::MAX_CREDENTIAL_ID)),
            };
            if !ok {
                return Err("use");
            }
        }
        Ok(())
    }
}

/// Answer to [`ReportRequest`] (200: every use is applied or was before).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportResponse {
    /// Uses applied by this request (those sent before are not counted again).
    pub applied: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000;

    fn bundle() -> Bundle {
        Bundle {
            version: VERSION,
            host_id: "host-a".into(),
            user: "alice".into(),
            nonce: "n".repeat(43),
            issued_at: T,
            expires_at: T + 3 * 86400,
            watermark: Some(T / 30 - 5),
            totp: Some(TotpWindow {
                digits: 6,
                step_secs: 30,
                first_step: T / 30,
                salt: b64(&[7; 16]),
                memory_kib: 8192,
                passes: 1,
                hashes: vec![b64(&[1; 32]), b64(&[2; 32])],
            }),
            recovery: vec![RecoverySlot { slot: 3, hash: "$argon2id$v=19$...".into() }],
            rp_id: "pam://fleet".into(),
            keys: vec![],
        }
    }

    #[test]
    fn a_signed_bundle_opens_for_its_host_and_user_while_valid() {
        let key = SecretKey::generate().unwrap();
        let signed = bundle().sign(&key).unwrap();
        assert_eq!(signed.open(&key.public(), "host-a", "alice", T + 10), Ok(bundle()));
        // A clock a little behind the service's (within MAX_SKEW) still opens it.
        assert!(signed.open(&key.public(), "host-a", "alice", T - MAX_SKEW).is_ok());
    }

    #[test]
    fn tampered_foreign_and_other_services_bundles_open_nothing() {
        let key = SecretKey::generate().unwrap();
        let signed = bundle().sign(&key).unwrap();
        let public = key.public();
        let mut changed = bundle();
        changed.watermark = None;
        let tampered =
            SignedBundle { payload: changed.sign(&key).unwrap().payload, ..signed.clone() };
        assert_eq!(tampered.open(&public, "host-a", "alice", T), Err(OpenError::Signature));
        let other = SecretKey::generate().unwrap().public();
        assert_eq!(signed.open(&other, "host-a", "alice", T), Err(OpenError::Signature));
        assert_eq!(signed.open(&public, "host-b", "alice", T), Err(OpenError::Foreign("host")));
        assert_eq!(signed.open(&public, "host-a", "bob", T), Err(OpenError::Foreign("user")));
        let huge = SignedBundle { payload: "A".repeat(MAX_PAYLOAD + 1), ..signed };
        assert_eq!(huge.open(&public, "host-a", "alice", T), Err(OpenError::TooLarge));
    }

    #[test]
    fn expired_and_future_bundles_open_nothing() {
        let key = SecretKey::generate().unwrap();
        let signed = bundle().sign(&key).unwrap();
        let public = key.public();
        let end = bundle().expires_at;
        assert_eq!(signed.open(&public, "host-a", "alice", end), Err(OpenError::Expired));
        assert_eq!(signed.open(&public, "host-a", "alice", u64::MAX), Err(OpenError::Expired));
        let behind = T - MAX_SKEW - 1;
        assert_eq!(signed.open(&public, "host-a", "alice", behind), Err(OpenError::NotYetValid));
        assert_eq!(signed.open(&public, "host-a", "alice", 0), Err(OpenError::NotYetValid));
    }

    #[test]
    fn out_of_bounds_bundles_are_neither_signed_nor_opened() {
        let key = SecretKey::generate().unwrap();
        let too_long = Bundle { expires_at: T + MAX_LIFETIME + 1, ..bundle() };
        assert_eq!(too_long.sign(&key), Err("lifetime"));
        let other_version = Bundle { version: 2, ..bundle() };
        assert_eq!(other_version.sign(&key), Err("version"));
        // Signed by the right key but out of bounds (a service bug): still refused.
        let json = serde_json::to_vec(&other_version).unwrap();
        let payload = b64(&json);
        let signature = key.sign(&signed_bytes(&payload));
        let signed = SignedBundle { payload, signature };
        assert_eq!(
            signed.open(&key.public(), "host-a", "alice", T),
            Err(OpenError::Malformed("version"))
        );
        // Signed garbage.
        let payload = b64(b"{\"version\":1}");
        let signature = key.sign(&signed_bytes(&payload));
        let signed = SignedBundle { payload, signature };
        assert_eq!(
            signed.open(&key.public(), "host-a", "alice", T),
            Err(OpenError::Malformed("json"))
        );
    }
}
