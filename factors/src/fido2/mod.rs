//! FIDO2 security keys without a device: stored credentials, the authenticatorData and COSE key
//! parsers, pam_u2f authfiles, and our own verification of every assertion.
//!
//! We never trust a device library's checks: [`verify::verify_assertion`] checks the RP id
//! hash, the allow list, the user-presence flag (always required), user verification (when the
//! credential requires it), the signature over `authenticatorData ‖ clientDataHash` with a fresh
//! random `clientDataHash` per login, and that the signature counter increases.
//!
//! Talking to a key (USB HID, the software test authenticator) is `mfa-login`'s business.

pub mod authdata;
pub mod cose;
pub mod pam_u2f;
pub mod verify;

use serde::{Deserialize, Serialize};
use std::fmt;

/// What can go wrong with a security key. Messages hold no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fido2Error {
    /// No security key is connected.
    NoDevice,
    /// The key was not touched in time.
    Timeout,
    /// The key needs a PIN that was not given, or the PIN was wrong.
    Pin(String),
    /// The device failed.
    Device(String),
    /// Bytes from the device could not be parsed.
    Malformed(String),
    /// An algorithm or key type we do not support.
    Unsupported(String),
    /// The assertion is for a credential not registered for this user.
    UnknownCredential,
    /// The assertion is for another relying party.
    WrongRp,
    /// The user-presence flag is missing.
    NotPresent,
    /// User verification is required but the flag is missing.
    NotVerified,
    /// The signature does not verify.
    BadSignature,
    /// The counter did not increase: a cloned key, or a replayed assertion.
    Counter {
        /// Stored counter.
        stored: u32,
        /// Counter in the assertion.
        got: u32,
    },
}

impl fmt::Display for Fido2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fido2Error::NoDevice => write!(f, "no security key found"),
            Fido2Error::Timeout => write!(f, "the security key was not touched in time"),
            Fido2Error::Pin(m) => write!(f, "PIN: {m}"),
            Fido2Error::Device(m) => write!(f, "security key: {m}"),
            Fido2Error::Malformed(m) => write!(f, "malformed: {m}"),
            Fido2Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Fido2Error::UnknownCredential => write!(f, "unknown credential"),
            Fido2Error::WrongRp => write!(f, "RP id hash does not match"),
            Fido2Error::NotPresent => write!(f, "user presence flag missing"),
            Fido2Error::NotVerified => write!(f, "user verification required but missing"),
            Fido2Error::BadSignature => write!(f, "signature does not verify"),
            Fido2Error::Counter { stored, got } => {
                write!(
                    f,
                    "signature counter did not increase ({got} <= {stored}): possible cloned key"
                )
            }
        }
    }
}

/// A registered security key, as stored in the user's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fido2Credential {
    /// The user's name for the key, e.g. `yubikey-blue`.
    pub name: String,
    /// Credential id, base64url without padding.
    pub credential_id: String,
    /// Public key as COSE_Key CBOR, base64url without padding.
    pub public_key: String,
    /// The RP id it was registered for.
    pub rp_id: String,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Require user verification (PIN or biometrics) at login.
    pub user_verification: bool,
    /// When it was registered (Unix seconds).
    pub created: u64,
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Result<Vec<u8>, Fido2Error> {
    data_encoding::BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| Fido2Error::Malformed("bad base64url in the store".into()))
}
