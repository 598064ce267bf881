//! Fleet mode's enrollment (issue 20): a fleet host changes a user's factors at the service.
//!
//! `POST /v2/fleet/enroll` ([`ENROLL`], host token) carries one [`Change`]: set TOTP (the host
//! made the secret, as `mfa-enroll` does standalone, and sends it with a code from the user's
//! authenticator that proves the authenticator has it), make new recovery codes (the service
//! makes them, keeps only Argon2id hashes and returns the codes this once), or remove a factor.
//! `POST /v2/fleet/status` ([`STATUS`]) says which factors a user has, never a secret.
//!
//! The rule the service enforces, not the host: a user who has a factor changes nothing
//! without a [`Proof`], an answer of a *current* factor that the service checks like a login
//! (the attempt counted first, the fleet-wide lockout, the code used up in the same
//! transaction as the change). A user without any factor enrolls the first one without proof
//! when the service's `first_enrollment` allows it (`self`, or `admin` after
//! `mfa-server fleet user opt-in`).

use crate::fleet::{Factor, MAX_ANSWER};
use crate::fleet_key_enroll::{KeyProof, NewKey};
use crate::limits::{self, NONCE_LEN};
use serde::{Deserialize, Serialize};

/// `POST` (host): change a user's factors.
pub const ENROLL: &str = "/v2/fleet/enroll";
/// `POST` (host): which factors a user has.
pub const STATUS: &str = "/v2/fleet/status";

/// Longest base32 TOTP secret (64 bytes of secret, padding and spaces excluded).
pub const MAX_SECRET_B32: usize = 104;
/// Shortest TOTP secret accepted, bytes (RFC 4226's minimum of 128 bits).
pub const MIN_SECRET_BYTES: usize = 16;

/// Error codes of these endpoints (the `error` field of an error body), beside
/// [`crate::api::errors`].
pub mod errors {
    /// The user has a factor and the request carries no proof of one (403).
    pub const CURRENT_FACTOR_REQUIRED: &str = "current_factor_required";
    /// The proof was wrong, used before, or of a factor the user does not have (403; counted
    /// towards the lockout).
    pub const PROOF_REJECTED: &str = "proof_rejected";
    /// The user is locked out after too many failures; the proof was not checked (403).
    pub const LOCKED: &str = "locked";
    /// `first_enrollment = "admin"` and the admin has not opted the user in (403).
    pub const NOT_OPTED_IN: &str = "not_opted_in";
    /// The host is outside the host groups that may enroll (or, for status, authenticate)
    /// the user (403; nothing counted).
    pub const HOST_NOT_ALLOWED: &str = "host_not_allowed";
    /// The code from the new authenticator does not match the new secret (400).
    pub const CONFIRMATION_WRONG: &str = "confirmation_wrong";
}

/// HMAC of a TOTP secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1 (what authenticator apps assume).
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA-256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA-512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl TotpAlgorithm {
    /// The name in otpauth URIs and in the service's records.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }
}

/// A new TOTP secret and the proof that the user's authenticator has it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTotp {
    /// The secret, base32 (secret: never logged, never in `Debug`).
    pub secret: String,
    /// Its HMAC.
    pub algorithm: TotpAlgorithm,
    /// Code length (6 or 8).
    pub digits: u8,
    /// Seconds per step (15 to 300).
    pub step: u64,
    /// A code the user's authenticator shows for it now; its step becomes the watermark, so
    /// it cannot also log in.
    pub confirmation: String,
}

impl std::fmt::Debug for NewTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTotp")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// What to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Set (replacing any) the user's TOTP secret.
    Totp(NewTotp),
    /// Make a new set of recovery codes (replacing any); the answer carries them once.
    RecoveryCodes,
    /// Remove a factor.
    Remove(Factor),
    /// Remove every factor (`mfa-enroll remove`): the user is not enrolled afterwards.
    RemoveAll,
    /// Register a security key for the fleet's RP id (`mfa-enroll fido2` on a fleet host).
    AddKey(NewKey),
    /// Move a standalone host's records (`mfa-enroll migrate-to-fleet`): applied only when the
    /// user has no factor at the service, without proof
    /// ([`crate::fleet_migrate::errors::ALREADY_ENROLLED`] otherwise).
    Migrate(crate::fleet_migrate::Migration),
    /// Make a push device a fleet factor of the user ([`crate::fleet_push`]): it must have
    /// been paired by this user through the asking host, which is in the fleet's push scope,
    /// and not be revoked.
    AddPushDevice {
        /// The device's id (as `mfa-enroll push` learned it while pairing).
        device_id: String,
    },
}

/// An answer of a factor the user has now.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Which factor `answer` is for.
    pub factor: Factor,
    /// What the user typed (secret: never logged, never in `Debug`); for a security key,
    /// [`crate::fleet_keys::KEY_ANSWER`].
    pub answer: String,
    /// With [`Factor::SecurityKey`]: the key's assertion over an enrollment challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyProof>,
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proof").field("factor", &self.factor).finish_non_exhaustive()
    }
}

/// `POST /v2/fleet/enroll` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Whose factors.
    pub user: String,
    /// The host's clock (Unix seconds; within [`crate::fleet::MAX_SKEW`] of the service's).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), never sent twice.
    pub nonce: String,
    /// A current factor's answer; needed when the user has any factor.
    #[serde(default)]
    pub proof: Option<Proof>,
    /// The change.
    pub change: Change,
}

fn is_answer(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ANSWER && !s.chars().any(|c| c.is_control())
}

/// The checks every fleet request about a user shares: user, nonce and time.
pub(crate) fn common(user: &str, time: u64, nonce: &str) -> Result<(), &'static str> {
    if !limits::is_user(user) {
        return Err("user is malformed");
    }
    if !limits::is_token(nonce, NONCE_LEN) {
        return Err("nonce must be 32 bytes, base64url");
    }
    if i64::try_from(time).is_err() {
        return Err("time is out of range");
    }
    Ok(())
}

impl NewTotp {
    /// Checks formats and bounds (not the secret's base32 nor the code: the service does).
    pub fn validate(&self) -> Result<(), &'static str> {
        let s = &self.secret;
        if s.is_empty()
            || s.len() > MAX_SECRET_B32
            || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '=')
        {
            return Err("secret must be base32");
        }
        if !matches!(self.digits, 6 | 8) || !(15..=300).contains(&self.step) {
            return Err("digits must be 6 or 8 and step 15 to 300");
        }
        if !is_answer(&self.confirmation) {
            return Err("confirmation is malformed");
        }
        Ok(())
    }
}

impl EnrollRequest {
    /// Checks every field's format and bound (the service's first step; `Err` names the field).
    pub fn validate(&self) -> Result<(), &'static str> {
        common(&self.user, self.time, &self.nonce)?;
        if let Some(p) = &self.proof {
            if !is_answer(&p.answer) {
                return Err("proof answer is malformed");
            }
            match (&p.key, p.factor) {
                (Some(k), Factor::SecurityKey) => k.validate()?,
                (None, Factor::SecurityKey) => return Err("a key proof needs its assertion"),
                (Some(_), _) => return Err("only a key proof carries an assertion"),
                (None, _) => {}
            }
        }
        match &self.change {
            Change::Totp(t) => t.validate(),
            Change::AddKey(k) => k.validate(),
            Change::Migrate(_) if self.proof.is_some() => Err("a migration carries no proof"),
            Change::Migrate(m) => m.validate(),
            Change::RecoveryCodes | Change::Remove(_) | Change::RemoveAll => Ok(()),
            Change::AddPushDevice { device_id } => {
                if limits::is_id(device_id) {
                    Ok(())
                } else {
                    Err("device_id is malformed")
                }
            }
        }
    }
}

/// Answer to [`EnrollRequest`] (200: the change is made).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    /// With [`Change::RecoveryCodes`]: the new codes, shown to the user once; the service keeps
    /// only their hashes. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

/// `POST /v2/fleet/status` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Whose factors.
    pub user: String,
    /// The host's clock (as in [`EnrollRequest`]).
    pub time: u64,
    /// A fresh nonce (as in [`EnrollRequest`]).
    pub nonce: String,
}

impl StatusRequest {
    /// Checks every field's format and bound.
    pub fn validate(&self) -> Result<(), &'static str> {
        common(&self.user, self.time, &self.nonce)
    }
}

/// A TOTP record's parameters (no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpInfo {
    /// Its HMAC.
    pub algorithm: TotpAlgorithm,
    /// Code length.
    pub digits: u8,
    /// Seconds per step.
    pub step: u64,
    /// When it was set (Unix seconds).
    pub updated_at: u64,
}

/// Answer to [`StatusRequest`]: what the user has, nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusResponse {
    /// The TOTP record's parameters, if the user has one.
    pub totp: Option<TotpInfo>,
    /// Unused recovery codes.
    pub recovery_codes: u32,
    /// Security keys registered at the service.
    #[serde(default)]
    pub security_keys: u32,
    /// Push devices that are fleet factors of the user ([`crate::fleet_push`]).
    #[serde(default)]
    pub push_devices: u32,
    /// Whether the user may enroll a first factor without proof (has none, and
    /// `first_enrollment` is `self` or the user is opted in).
    pub may_enroll_first: bool,
    /// While locked out: until when (Unix seconds).
    pub locked_until: Option<u64>,
}

impl StatusResponse {
    /// Whether the user has any factor (then every change needs a [`Proof`]).
    pub fn enrolled(&self) -> bool {
        self.totp.is_some()
            || self.recovery_codes > 0
            || self.security_keys > 0
            || self.push_devices > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(change: Change) -> EnrollRequest {
        EnrollRequest {
            user: "alice".into(),
            time: 1_700_000_000,
            nonce: "n".repeat(NONCE_LEN),
            proof: Some(Proof { factor: Factor::Totp, answer: "123456".into(), key: None }),
            change,
        }
    }

    fn totp() -> NewTotp {
        NewTotp {
            secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            step: 30,
            confirmation: "654321".into(),
        }
    }

    #[test]
    fn wire_format_is_strict_and_secrets_are_redacted() {
        let req = request(Change::Totp(totp()));
        assert_eq!(req.validate(), Ok(()));
        let wire = serde_json::to_string(&req).unwrap();
        assert!(wire.contains("\"change\":{\"totp\":{"), "{wire}");
        assert_eq!(serde_json::from_str::<EnrollRequest>(&wire).unwrap(), req);
        let debug = format!("{req:?}");
        assert!(!debug.contains("123456") && !debug.contains("GEZDG") && !debug.contains("6543"));
        let extra = wire.replacen("{\"secret\"", "{\"x\":1,\"secret\"", 1);
        assert!(serde_json::from_str::<EnrollRequest>(&extra).is_err());
        let r = request(Change::RecoveryCodes);
        let wire = serde_json::to_string(&r).unwrap();
        assert!(wire.contains("\"change\":\"recovery_codes\""), "{wire}");
        let r = request(Change::Remove(Factor::Recovery));
        let wire = serde_json::to_string(&r).unwrap();
        assert!(wire.contains("\"change\":{\"remove\":\"recovery\"}"), "{wire}");
        assert!(serde_json::from_str::<Change>("{\"remove\":\"password\"}").is_err());
        let codes = EnrollResponse { recovery_codes: vec!["0-AAAAA-BBBBB".into()] };
        assert!(!format!("{codes:?}").contains("AAAAA"));
    }

    #[test]
    fn bounds() {
        let with = |f: fn(&mut NewTotp)| {
            let mut t = totp();
            f(&mut t);
            request(Change::Totp(t)).validate()
        };
        assert!(with(|t| t.secret = "A".repeat(MAX_SECRET_B32 + 1)).is_err());
        assert!(with(|t| t.secret = "not base32!".into()).is_err());
        assert!(with(|t| t.digits = 7).is_err());
        assert!(with(|t| t.step = 1).is_err());
        assert!(with(|t| t.confirmation = String::new()).is_err());
        let mut r = request(Change::RecoveryCodes);
        r.proof =
            Some(Proof { factor: Factor::Recovery, answer: "x".repeat(MAX_ANSWER + 1), key: None });
        assert!(r.validate().is_err());
        let mut r = request(Change::RecoveryCodes);
        r.user = "-x".into();
        assert!(r.validate().is_err());
        let s = StatusRequest { user: "bob".into(), time: 1, nonce: "short".into() };
        assert!(s.validate().is_err());
    }
}
