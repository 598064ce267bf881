//! Moving a standalone host's records to the fleet's service (issue 20):
//! [`crate::fleet_enroll::Change::Migrate`] carries one user's [`Migration`] in a
//! `POST /v2/fleet/enroll` ([`crate::fleet_enroll::ENROLL`]), sent by `mfa-enroll
//! migrate-to-fleet` as root on the host.
//!
//! The service applies it in one transaction only when the user has no factor at the service
//! (else [`errors::ALREADY_ENROLLED`], 409, nothing changed); it carries no proof (the host's
//! root already holds these secrets; the host groups and `first_enrollment` decide as for a
//! first enrollment). The TOTP watermark travels with the secret, so a code used on the host
//! is refused by the service; recovery codes travel as the host's Argon2id hashes (the same
//! format the service makes), unused ones only.

use crate::fleet_enroll::{MAX_SECRET_B32, TotpAlgorithm};
use crate::fleet_keys::{MAX_CREDENTIAL_ID, MAX_KEYS};
use crate::limits::{MAX_NAME, is_text};
use serde::{Deserialize, Serialize};

/// Most recovery codes a set has (slots `0` to `9`).
pub const MAX_CODES: usize = 10;
/// Longest Argon2id PHC string accepted.
pub const MAX_HASH: usize = 128;
/// Longest COSE public key, base64url.
pub const MAX_PUBLIC_KEY: usize = 1024;
/// Longest RP id.
pub const MAX_RP_ID: usize = 255;

/// Error codes of a migration, beside [`crate::fleet_enroll::errors`].
pub mod errors {
    /// The user already has a factor at the service: nothing was sent into the record,
    /// nothing overwritten (409).
    pub const ALREADY_ENROLLED: &str = "already_enrolled";
}

/// The host's TOTP record: secret, parameters, watermark.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigratedTotp {
    /// The secret, base32 (secret: never logged, never in `Debug`).
    pub secret: String,
    /// Its HMAC.
    pub algorithm: TotpAlgorithm,
    /// Code length (6 or 8).
    pub digits: u8,
    /// Seconds per step (15 to 300).
    pub step: u64,
    /// The last step the host accepted (its watermark); the service accepts only later ones.
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for MigratedTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratedTotp")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("step", &self.step)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// One unused recovery code's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigratedCode {
    /// Its slot (the code's first character).
    pub slot: u8,
    /// Argon2id PHC string with the parameters pam_mfa makes (checked by the service).
    pub hash: String,
}

/// A security key registered on the host (public data only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigratedKey {
    /// The user's name for it.
    pub name: String,
    /// Credential id, base64url without padding.
    pub credential_id: String,
    /// COSE_Key, base64url without padding.
    pub public_key: String,
    /// The RP id it was registered for (must be the fleet's).
    pub rp_id: String,
    /// The last signature counter the host saw.
    pub sign_count: u32,
    /// Whether logins need the key's PIN.
    pub user_verification: bool,
    /// When it was registered (Unix seconds).
    pub created: u64,
}

/// One user's standalone records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// The TOTP record, if the user has one.
    pub totp: Option<MigratedTotp>,
    /// Unused recovery codes' hashes.
    #[serde(default)]
    pub recovery: Vec<MigratedCode>,
    /// Security keys registered for the fleet's RP id.
    #[serde(default)]
    pub keys: Vec<MigratedKey>,
}

fn is_b64url(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl MigratedTotp {
    fn validate(&self) -> Result<(), &'static str> {
        let s = &self.secret;
        if s.is_empty() || s.len() > MAX_SECRET_B32 || !s.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err("secret must be base32");
        }
        if !matches!(self.digits, 6 | 8) || !(15..=300).contains(&self.step) {
            return Err("digits must be 6 or 8 and step 15 to 300");
        }
        if self.last_step.is_some_and(|s| i64::try_from(s).is_err()) {
            return Err("last_step is out of range");
        }
        Ok(())
    }
}

impl MigratedKey {
    fn validate(&self) -> Result<(), &'static str> {
        if !is_text(&self.name, MAX_NAME) || !is_text(&self.rp_id, MAX_RP_ID) {
            return Err("a key's name or rp_id is malformed");
        }
        if !is_b64url(&self.credential_id, MAX_CREDENTIAL_ID)
            || !is_b64url(&self.public_key, MAX_PUBLIC_KEY)
        {
            return Err("a key's credential_id or public_key is malformed");
        }
        if i64::try_from(self.created).is_err() {
            return Err("a key's created is out of range");
        }
        Ok(())
    }
}

impl Migration {
    /// Checks every field's format and bound (the service checks hashes and keys further).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.totp.is_none() && self.recovery.is_empty() && self.keys.is_empty() {
            return Err("nothing to migrate");
        }
        if let Some(t) = &self.totp {
            t.validate()?;
        }
        if self.recovery.len() > MAX_CODES || self.keys.len() > MAX_KEYS {
            return Err("too many recovery codes or keys");
        }
        let mut seen = [false; MAX_CODES];
        for c in &self.recovery {
            let slot = usize::from(c.slot);
            if slot >= MAX_CODES || seen[slot] {
                return Err("recovery slots must be 0 to 9, each once");
            }
            seen[slot] = true;
            if !c.hash.starts_with("$argon2id$") || !is_text(&c.hash, MAX_HASH) {
                return Err("a recovery hash is malformed");
            }
        }
        for (n, k) in self.keys.iter().enumerate() {
            k.validate()?;
            if self.keys[..n].iter().any(|o| o.credential_id == k.credential_id) {
                return Err("a key is listed twice");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration() -> Migration {
        Migration {
            totp: Some(MigratedTotp {
                secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
                algorithm: TotpAlgorithm::Sha1,
                digits: 6,
                step: 30,
                last_step: Some(56_666_666),
            }),
            recovery: vec![MigratedCode {
                slot: 3,
                hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
            }],
            keys: vec![MigratedKey {
                name: "blue".into(),
                credential_id: "AAEC".into(),
                public_key: "pQECAyYg".into(),
                rp_id: "pam:fleet".into(),
                sign_count: 4,
                user_verification: false,
                created: 1,
            }],
        }
    }

    #[test]
    fn strict_wire_and_redacted_secret() {
        let m = migration();
        assert_eq!(m.validate(), Ok(()));
        let wire = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Migration>(&wire).unwrap(), m);
        assert!(!format!("{m:?}").contains("GEZDG"));
        let extra = wire.replacen("{\"totp\"", "{\"x\":1,\"totp\"", 1);
        assert!(serde_json::from_str::<Migration>(&extra).is_err());
    }

    #[test]
    fn bounds() {
        let with = |f: fn(&mut Migration)| {
            let mut m = migration();
            f(&mut m);
            m.validate()
        };
        assert!(with(|m| *m = Migration { totp: None, recovery: vec![], keys: vec![] }).is_err());
        assert!(with(|m| m.recovery[0].slot = 10).is_err());
        assert!(with(|m| m.recovery.push(m.recovery[0].clone())).is_err());
        assert!(with(|m| m.recovery[0].hash = "$2y$bcrypt".into()).is_err());
        assert!(with(|m| m.recovery[0].hash.push_str(&"a".repeat(MAX_HASH))).is_err());
        assert!(with(|m| m.keys.push(m.keys[0].clone())).is_err());
        assert!(with(|m| m.keys[0].credential_id = "not b64!".into()).is_err());
        assert!(with(|m| m.totp.as_mut().unwrap().last_step = Some(u64::MAX)).is_err());
        assert!(with(|m| m.totp.as_mut().unwrap().secret = "a=b".into()).is_err());
    }
}
