//! Passkeys (WebAuthn credentials) of web app devices: made while pairing, at most one per
//! device, never replaced (only revoking the device ends it), with the registration kept for
//! the host that paired it and the signature counter kept so a cloned or replayed assertion is
//! refused.

use super::Result;
use async_trait::async_trait;

/// A device's registered passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passkey {
    /// The device it belongs to.
    pub device_id: String,
    /// WebAuthn credential id, base64url.
    pub credential_id: String,
    /// COSE_Key public key, base64url.
    pub public_key: String,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Registration time.
    pub created_at: u64,
    /// The registration as the browser returned it (JSON of
    /// [`push_proto::api::PasskeyRegistration`]), handed to the pairing host, which checks it
    /// itself.
    pub registration: String,
}

/// Storage of passkeys (part of every [`super::Store`]).
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// The passkey of `device_id`, if it registered one.
    async fn passkey(&self, device_id: &str) -> Result<Option<Passkey>>;
    /// Moves the counter from `old` to `new` if it is still `old` (false if another answer
    /// got there first: the assertion is then refused as a replay).
    async fn bump_passkey_counter(&self, device_id: &str, old: u32, new: u32) -> Result<bool>;
}
