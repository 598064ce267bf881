//! Push approval through `mfa-pushd`: configuration, the host's client, receipt checks.
//!
//! The module creates a challenge carrying the login context and a fresh nonce, shows the
//! number the service picked, long-polls for the answer, and accepts only a receipt that
//! 1. is signed by the service key pinned in the host credential,
//! 2. names this transaction, this host, this user and this login's nonce (so a receipt cannot
//!    be replayed on another host or another login), and
//! 3. carries the device's own signature over (txid, nonce, decision, number), made by a device
//!    enrolled for this user in the local store (so even the service alone cannot approve).
//!
//! The wire format is `push-proto`; see `docs/push-service.md`.

mod client;
mod config;
mod receipt;

pub use client::{PushClient, PushError};
pub use config::{DEFAULT_CREDENTIAL, PushConfig};
pub use receipt::{Expected, Verdict, check};

use serde::{Deserialize, Serialize};

/// A paired push device, as kept in the user's encrypted record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushDevice {
    /// The device id at the service.
    pub id: String,
    /// The name the device gave itself.
    pub name: String,
    /// Its P-256 public key (uncompressed SEC1, base64url).
    pub public_key: String,
    /// When it was paired here (Unix seconds).
    pub added: u64,
}

/// Text from the service made safe to show in a prompt: no control characters, bounded.
pub fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(push_proto::limits::MAX_NAME).collect()
}
