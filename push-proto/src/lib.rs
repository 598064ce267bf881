//! The pam_mfa push protocol (version 2), shared by the PAM module, `mfa-server` and devices.
//!
//! Three parties:
//! - a **host** (the PAM module, `mfa-enroll`), authenticated by a bearer token issued by an
//!   administrator (`mfa-server host add`), creates login challenges and pairings and long-polls
//!   their status;
//! - the **service** (`mfa-server`) routes challenges to the user's devices, enforces limits, and
//!   signs receipts with its P-256 key, which hosts pin (it is part of the host credential);
//! - a **device** (the CLI device, the phone web app) pairs with a one-time credential, keeps a
//!   P-256 key (and optionally a passkey), signs its requests and its answers.
//!
//! The host chooses everything the user compares: the number shown at login and the numbers
//! the phone offers. The device signs a hash of the whole login it displayed with its answer,
//! and the module checks that signature against its *own* login, so a service that changes
//! what the phone shows, or hands one login's approval to another, gets nothing the module
//! accepts ([`signed::login`]).
//!
//! Everything signed is signed over canonical bytes built here ([`signed`]), never over JSON:
//! a fixed domain string, a kind, then each field length-prefixed. Signatures are ECDSA P-256
//! with SHA-256 in the fixed 64-byte `r ‖ s` form (what WebCrypto produces) with a low `s`
//! (high-S signatures are refused: [`PublicKey::verify`]), base64url without padding; public keys are uncompressed SEC1 points (WebCrypto's `raw` export), base64url.
//!
//! Fleet mode (issue 20, first slice) adds a host's verification of a code by the service and
//! the service's signed receipt for it, under a domain string of its own ([`fleet`]).
//!
//! The wire types ([`api`]) reject unknown fields, and [`limits`] bounds every string, so a
//! hostile peer gets a clear error instead of a surprise. See `docs/push-service.md` and
//! `docs/openapi.yaml`.

#![forbid(unsafe_code)]

pub mod api;
pub mod fleet;
pub mod fleet_enroll;
pub mod fleet_key_enroll;
pub mod fleet_keys;
pub mod fleet_migrate;
pub mod fleet_push;
pub mod keys;
pub mod limits;
pub mod numbers;
pub mod offline;
pub mod pairing_uri;
pub mod signed;

pub use keys::{KeyError, PublicKey, SecretKey};

/// Encodes bytes as base64url without padding (the protocol's only byte encoding).
pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// Decodes base64url without padding; `None` for anything else.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()).ok()
}

/// A fresh random identifier or secret: `n` bytes from the kernel, base64url.
pub fn random_token(n: usize) -> Result<String, KeyError> {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; n]);
    getrandom::getrandom(&mut buf).map_err(|e| KeyError(format!("no randomness: {e}")))?;
    Ok(b64(&buf))
}
