//! Push approval through `mfa-server`: configuration, receipt checks, what a call can fail with (the
//! host's client is `mfa_remote::push`).
//!
//! The module creates a challenge carrying the login context, a fresh nonce and, if the phone
//! is to offer a choice, three numbers; it picks and shows the number itself, long-polls for
//! the answer, and accepts only a receipt that
//! 1. is signed by the service key pinned in the host credential,
//! 2. names this very login: transaction, host, user, service, remote address, time, nonce and
//!    choices (so a receipt cannot be replayed on another host or another login),
//! 3. carries the device's own signature over the hash of *this module's* login with the
//!    decision and the number (and, for a device enrolled with a passkey, a passkey assertion
//!    over the same), made by a device enrolled for this user in the local store, so a service
//!    that shows the phone another host, user or service, or the number of another login, gets
//!    a signature this module refuses; and
//! 4. approves the number this module showed.
//!
//! So the service alone cannot approve a login. It can still refuse or delay them; and for the
//! phone web app, whose code the service serves, see `docs/threat-model.md`.
//!
//! The wire format is `push-proto`; see `docs/push-service.md`.

mod config;
mod error;
mod receipt;

/// Passkeys of phone web app devices: in `mfa-factors`, which `mfa-server` shares.
pub use mfa_factors::passkey;

pub use config::{DEFAULT_CREDENTIAL, NumberEntry, PushConfig};
pub use error::PushError;
pub use passkey::DevicePasskey;
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
    /// The passkey it made while pairing (phone web app): every approval must carry an
    /// assertion of it, checked here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<DevicePasskey>,
}

/// Text from the service made safe to show in a prompt: no control characters, bounded.
pub fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(push_proto::limits::MAX_NAME).collect()
}
