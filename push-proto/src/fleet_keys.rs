//! Fleet mode's security keys (issue 20): the service keeps each user's FIDO2 credentials
//! (one relying-party id for the whole fleet) and verifies assertions; the host only relays
//! between the service and the key.
//!
//! 1. The host asks `POST /v2/fleet/key/challenge` ([`CHALLENGE`], host token) with this
//!    login's values and a fresh nonce ([`KeyLogin`]). The service answers with a fresh random
//!    challenge, bound to the host, the user and the nonce, valid for a short time and usable
//!    once, the fleet's RP id and the user's credential ids ([`KeyChallengeResponse`]; none:
//!    the user has no key at the service and types a code instead).
//! 2. The key signs `clientDataHash = SHA-256(challenge)` for that RP id.
//! 3. The host sends the assertion with the same login values and nonce to
//!    `POST /v2/fleet/key/verify` ([`VERIFY`], [`KeyVerifyRequest`]). The service counts the
//!    attempt, takes the challenge (single use), verifies the assertion with mfa-factors' FIDO2
//!    verification and raises the credential's signature counter fleet-wide in one guarded
//!    update; the answer is a [`crate::fleet::VerifyResponse`] whose receipt has the factor
//!    [`crate::fleet::Factor::SecurityKey`] and is checked with
//!    [`crate::fleet::FleetReceipt::check`] against [`KeyLogin::bound`].

use crate::fleet::{Factor, VerifyRequest};
use crate::limits::{self, NONCE_LEN};
use serde::{Deserialize, Serialize};

/// `POST`: a challenge for a security-key login.
pub const CHALLENGE: &str = "/v2/fleet/key/challenge";
/// `POST`: an assertion over that challenge.
pub const VERIFY: &str = "/v2/fleet/key/verify";

/// The answer field of [`KeyLogin::bound`]: a key login types nothing, and receipts bind no
/// answer; the fixed text only keeps the bound request well-formed.
pub const KEY_ANSWER: &str = "security-key";
/// Longest credential id, base64url characters (CTAP2 allows 1023 bytes).
pub const MAX_CREDENTIAL_ID: usize = 1364;
/// Longest authenticatorData, base64url characters.
pub const MAX_AUTH_DATA: usize = 4096;
/// Longest signature, base64url characters (ES256 DER is at most 72 bytes, EdDSA 64).
pub const MAX_SIGNATURE: usize = 512;
/// Most credentials a user may have at the service.
pub const MAX_KEYS: usize = 32;

/// One login's values, sent with the challenge request and again with the assertion (the same
/// nonce: the challenge is bound to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLogin {
    /// The user logging in.
    pub user: String,
    /// The PAM service.
    pub service: String,
    /// The remote address, if any.
    pub rhost: Option<String>,
    /// When the login started, host's clock (Unix seconds).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), for this login only.
    pub nonce: String,
}

impl KeyLogin {
    /// The request a receipt for this login is checked against (factor
    /// [`Factor::SecurityKey`], answer [`KEY_ANSWER`]).
    pub fn bound(&self) -> VerifyRequest {
        VerifyRequest {
            user: self.user.clone(),
            factor: Factor::SecurityKey,
            answer: KEY_ANSWER.to_string(),
            service: self.service.clone(),
            rhost: self.rhost.clone(),
            time: self.time,
            nonce: self.nonce.clone(),
        }
    }

    /// Checks every field's format and bound (as [`VerifyRequest::validate`]).
    pub fn validate(&self) -> Result<(), &'static str> {
        self.bound().validate()
    }
}

/// Answer to `POST /v2/fleet/key/challenge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChallengeResponse {
    /// 32 random bytes, base64url: the key signs SHA-256 of them as `clientDataHash`.
    pub challenge: String,
    /// The fleet's relying-party id (the service's `[fleet] rp_id`).
    pub rp_id: String,
    /// The user's credentials at the service (empty: the user has no key there).
    pub credentials: Vec<KeyAllowed>,
    /// When the challenge expires (Unix seconds, the service's clock).
    pub expires_at: u64,
}

/// A credential the key may sign with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAllowed {
    /// Credential id, base64url without padding.
    pub credential_id: String,
    /// Whether the login must verify the user (PIN) for it.
    pub user_verification: bool,
}

/// What the key returned, base64url without padding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAssertion {
    /// Which credential signed.
    pub credential_id: String,
    /// authenticatorData as signed.
    pub auth_data: String,
    /// Signature over `authenticatorData ‖ SHA-256(challenge)`.
    pub signature: String,
}

/// `POST /v2/fleet/key/verify` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVerifyRequest {
    /// The login, as sent with the challenge request.
    pub login: KeyLogin,
    /// The challenge the service gave for it.
    pub challenge: String,
    /// The key's assertion.
    pub assertion: KeyAssertion,
}

/// Whether `s` is 1 to `max` characters of base64url without padding.
pub(crate) fn is_b64(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl KeyVerifyRequest {
    /// Checks every field's format and bound.
    pub fn validate(&self) -> Result<(), &'static str> {
        self.login.validate()?;
        if !limits::is_token(&self.challenge, NONCE_LEN) {
            return Err("challenge must be 32 bytes, base64url");
        }
        let a = &self.assertion;
        if !is_b64(&a.credential_id, MAX_CREDENTIAL_ID) {
            return Err("credential_id is malformed");
        }
        if !is_b64(&a.auth_data, MAX_AUTH_DATA) {
            return Err("auth_data is malformed");
        }
        if !is_b64(&a.signature, MAX_SIGNATURE) {
            return Err("signature is malformed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> KeyLogin {
        KeyLogin {
            user: "alice".into(),
            service: "sshd".into(),
            rhost: None,
            time: 1_700_000_000,
            nonce: "n".repeat(NONCE_LEN),
        }
    }

    #[test]
    fn requests_are_bounded_and_bind_the_key_factor() {
        let bound = login().bound();
        assert_eq!(bound.factor, Factor::SecurityKey);
        assert_eq!(Factor::SecurityKey.as_str(), "security_key");
        let good = KeyVerifyRequest {
            login: login(),
            challenge: "c".repeat(NONCE_LEN),
            assertion: KeyAssertion {
                credential_id: "AAAA".into(),
                auth_data: "AAAA".into(),
                signature: "AAAA".into(),
            },
        };
        assert_eq!(good.validate(), Ok(()));
        let mut bad = good.clone();
        bad.challenge = "short".into();
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.assertion.signature = "A".repeat(MAX_SIGNATURE + 1);
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.assertion.auth_data = "AA==".into();
        assert!(bad.validate().is_err());
        let mut bad = good;
        bad.login.user = "-x".into();
        assert!(bad.validate().is_err());
    }
}
