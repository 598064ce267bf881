//! A fleet host's offline state for one user (issue 21), kept like a user record: encrypted
//! with the host's master key ([`super::envelope::Kind::Offline`]), written atomically under
//! the user's lock, in `offline/<name>`.
//!
//! It holds the last bundle the service signed for this host and user (checked again at
//! every use: the file is trusted for nothing the signature does not cover), what this host
//! used from it offline (the highest TOTP step, the recovery slots, the key counters), the
//! host's own lockout state for offline attempts, and the uses not yet reported.

use crate::error::{Error, Result};
use crate::lockout::LockoutState;
use crate::username::UserName;
use push_proto::offline::{OfflineUse, SignedBundle};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Most uses kept for the report; an offline attempt that would need more is refused.
pub const MAX_PENDING: usize = 256;

/// One user's offline state on this host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineState {
    /// Whose (also bound by the encryption; checked again here).
    pub user: String,
    /// The bundle as the service signed it; `None` once dropped while uses wait for the
    /// report.
    pub bundle: Option<SignedBundle>,
    /// The newest TOTP step accepted offline here.
    pub used_step: Option<u64>,
    /// Recovery slots used offline here.
    pub used_slots: Vec<u8>,
    /// Security-key counters seen offline here (credential id, counter).
    pub key_counters: Vec<(String, u32)>,
    /// Offline wrong answers and lock (the host's `[lockout]`).
    pub lockout: LockoutState,
    /// Uses not yet reported to the service, oldest first.
    pub pending: Vec<OfflineUse>,
    /// The service is making a bundle for the user (`later`): ask again at the next contact
    /// (`mfa-enroll offline-bundles` looks for these).
    #[serde(default)]
    pub awaiting: bool,
}

impl OfflineState {
    /// A fresh state holding `bundle`.
    pub fn new(user: &UserName, bundle: SignedBundle) -> OfflineState {
        OfflineState { bundle: Some(bundle), ..OfflineState::new_empty(user) }
    }

    /// A state without a bundle, waiting for the one the service is making.
    pub fn awaiting(user: &UserName) -> OfflineState {
        OfflineState { bundle: None, awaiting: true, ..OfflineState::new_empty(user) }
    }

    fn new_empty(user: &UserName) -> OfflineState {
        OfflineState {
            user: user.as_str().to_string(),
            bundle: None,
            used_step: None,
            used_slots: Vec::new(),
            key_counters: Vec::new(),
            lockout: LockoutState::default(),
            pending: Vec::new(),
            awaiting: false,
        }
    }

    /// Replaces the bundle with a fresh one: what was used of the old one does not carry
    /// over, except the uses still to report and the lockout.
    pub fn replace_bundle(&mut self, bundle: SignedBundle) {
        self.bundle = Some(bundle);
        self.awaiting = false;
        self.used_step = None;
        self.used_slots.clear();
        self.key_counters.clear();
    }

    /// Whether there is nothing left to keep (no bundle, none awaited, nothing to report).
    pub fn is_empty(&self) -> bool {
        self.bundle.is_none() && self.pending.is_empty() && !self.awaiting
    }

    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        // Serializing plain data into a Vec cannot fail.
        Zeroizing::new(serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("serializes")))
    }

    pub(super) fn decode(plain: &[u8], user: &UserName, path: &Path) -> Result<OfflineState> {
        let s: OfflineState = serde_json::from_slice(plain).map_err(|e| {
            Error::corrupt(
                path,
                format!("bad offline state: {}", crate::error::json_error_kind(&e)),
            )
        })?;
        if s.user != user.as_str() {
            return Err(Error::corrupt(path, "offline state belongs to another user"));
        }
        if s.pending.len() > MAX_PENDING {
            return Err(Error::corrupt(path, "offline state: too many pending uses"));
        }
        Ok(s)
    }
}
