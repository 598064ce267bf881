//! Security keys in fleet enrollment (issue 20): a key registered from a fleet host
//! ([`crate::fleet_enroll::Change::AddKey`]) and a key's assertion as the proof of an
//! enrollment change ([`KeyProof`]).
//!
//! A key proof needs its own challenge, which cannot be confused with a login's: the host asks
//! `POST /v2/fleet/enroll/key/challenge` ([`CHALLENGE`], [`KeyEnrollChallengeRequest`]); the
//! service stores the challenge with the purpose *enrollment* (a login's challenge has the
//! purpose *login*, and each endpoint takes only its own), bound to the host and the user,
//! short-lived and single use. The key does not sign SHA-256 of the challenge, as at a login,
//! but SHA-256 of [`enroll_key_challenge`] (SHA-256 of a fixed label and the challenge): an
//! assertion made for one purpose does not verify for the other even if a challenge's purpose
//! were mixed up. The assertion goes to `POST /v2/fleet/enroll` in the proof
//! ([`crate::fleet_enroll::Proof::key`]), where it is counted before it is checked, like a
//! code, and used up (challenge taken, counter raised by a guarded update) in the change's
//! transaction.

use crate::fleet_keys::{KeyAssertion, MAX_CREDENTIAL_ID, is_b64};
use crate::limits::{self, NONCE_LEN};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `POST` (host): a challenge for a key proof of an enrollment change.
pub const CHALLENGE: &str = "/v2/fleet/enroll/key/challenge";

/// The label [`enroll_key_challenge`] hashes in front of the service's challenge.
pub const ENROLL_LABEL: &[u8] = b"pam_mfa fleet enrollment proof v1\0";

/// Error codes of these requests (the `error` field of an error body).
pub mod errors {
    /// The key to add is registered in the fleet already, or the user has as many keys as
    /// allowed (409; nothing changed).
    pub const KEY_REFUSED: &str = "key_refused";
}

/// Longest COSE public key, base64url characters.
pub const MAX_PUBLIC_KEY: usize = 1024;

/// What the key signs for an enrollment proof: it gets these 32 bytes as its challenge, and
/// signs `clientDataHash = SHA-256(them)`. `None` if `challenge` is not 32 bytes of
/// base64url.
pub fn enroll_key_challenge(challenge: &str) -> Option<[u8; 32]> {
    let raw = data_encoding::BASE64URL_NOPAD.decode(challenge.as_bytes()).ok()?;
    if raw.len() != 32 {
        return None;
    }
    let mut h = Sha256::new();
    h.update(ENROLL_LABEL);
    h.update(&raw);
    Some(h.finalize().into())
}

/// `POST /v2/fleet/enroll/key/challenge` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnrollChallengeRequest {
    /// Whose keys.
    pub user: String,
    /// The host's clock (Unix seconds; within [`crate::fleet::MAX_SKEW`] of the service's).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), never sent twice.
    pub nonce: String,
}

impl KeyEnrollChallengeRequest {
    /// Checks every field's format and bound.
    pub fn validate(&self) -> Result<(), &'static str> {
        crate::fleet_enroll::common(&self.user, self.time, &self.nonce)
    }
}

/// A key's assertion as the proof of an enrollment change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyProof {
    /// The challenge `POST /v2/fleet/enroll/key/challenge` gave.
    pub challenge: String,
    /// The key's assertion over [`enroll_key_challenge`] of it.
    pub assertion: KeyAssertion,
}

/// A security key to register at the service (made by the key on the host for the fleet's
/// RP id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Credential id, base64url without padding.
    pub credential_id: String,
    /// COSE_Key (ES256 or EdDSA), base64url without padding.
    pub public_key: String,
    /// The user's name for the key (1 to 64 printable characters).
    pub name: String,
    /// Whether logins must verify the user (PIN) with it.
    pub user_verification: bool,
    /// The key's signature counter at registration.
    pub counter: u32,
}

impl NewKey {
    /// Checks formats and bounds (the service also parses the COSE key).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !is_b64(&self.credential_id, MAX_CREDENTIAL_ID) {
            return Err("credential_id is malformed");
        }
        if !is_b64(&self.public_key, MAX_PUBLIC_KEY) {
            return Err("public_key is malformed");
        }
        if !limits::is_text(&self.name, limits::MAX_NAME) {
            return Err("the key's name must be 1 to 64 printable characters");
        }
        Ok(())
    }
}

impl KeyProof {
    /// Checks formats and bounds.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !limits::is_token(&self.challenge, NONCE_LEN) {
            return Err("challenge must be 32 bytes, base64url");
        }
        let a = &self.assertion;
        if !is_b64(&a.credential_id, MAX_CREDENTIAL_ID)
            || !is_b64(&a.auth_data, crate::fleet_keys::MAX_AUTH_DATA)
            || !is_b64(&a.signature, crate::fleet_keys::MAX_SIGNATURE)
        {
            return Err("the key proof's assertion is malformed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enrollment_challenge_is_not_the_login_challenge() {
        let c = crate::random_token(32).unwrap();
        let raw = data_encoding::BASE64URL_NOPAD.decode(c.as_bytes()).unwrap();
        let derived = enroll_key_challenge(&c).unwrap();
        assert_ne!(derived.as_slice(), raw.as_slice());
        assert_eq!(enroll_key_challenge(&c), Some(derived));
        assert_eq!(enroll_key_challenge("short"), None);
    }

    #[test]
    fn bounds() {
        let key = NewKey {
            credential_id: "AAAA".into(),
            public_key: "pQECAyYgASFYIA".into(),
            name: "blue".into(),
            user_verification: false,
            counter: 0,
        };
        assert_eq!(key.validate(), Ok(()));
        let mut k = key.clone();
        k.public_key = "A".repeat(MAX_PUBLIC_KEY + 1);
        assert!(k.validate().is_err());
        let mut k = key.clone();
        k.credential_id = "AA==".into();
        assert!(k.validate().is_err());
        let mut k = key;
        k.name = "a\nb".into();
        assert!(k.validate().is_err());
        let r = KeyEnrollChallengeRequest { user: "-x".into(), time: 1, nonce: "n".repeat(43) };
        assert!(r.validate().is_err());
    }
}
