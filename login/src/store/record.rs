//! What is inside a user's encrypted file (JSON, version 1).

use crate::error::{Error, Result};
use crate::lockout::LockoutState;
use crate::recovery::RecoveryCodes;
use crate::secret::SecretBytes;
use crate::totp::Params;
use crate::username::UserName;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Everything stored for one user: factors, recovery code hashes and login state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// The user this record belongs to (also bound by the encryption; checked again here).
    pub user: String,
    /// When the record was first written (Unix seconds).
    pub created: u64,
    /// The TOTP factor, if enrolled.
    pub totp: Option<TotpFactor>,
    /// Recovery code hashes, if any were generated.
    pub recovery: Option<RecoveryCodes>,
    /// Registered security keys.
    #[serde(default)]
    pub fido2: Vec<crate::fido2::Fido2Credential>,
    /// Paired push devices (approval through mfa-server).
    #[serde(default)]
    pub push: Vec<crate::push::PushDevice>,
    /// Enroll-on-login choices of a user without factors (skips, opt-out).
    #[serde(default)]
    pub enrollment: EnrollmentState,
    /// Wrong-code counter and lock.
    #[serde(default)]
    pub lockout: LockoutState,
}

/// What a user without factors chose in the enroll-on-login menu.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentState {
    /// Logins on which enrollment was skipped.
    pub skips: u32,
    /// When enrollment was first skipped (start of the grace period).
    pub first_skipped: Option<u64>,
    /// The user chose not to be asked again.
    pub opted_out: bool,
}

/// An enrolled TOTP authenticator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpFactor {
    /// The shared secret.
    pub secret: SecretBytes,
    /// Algorithm, digits and step.
    pub params: Params,
    /// When it was enrolled (Unix seconds).
    pub enrolled: u64,
    /// The newest time step accepted so far; this step and older ones are refused (replay
    /// protection). Set at enrollment to the confirmation code's step.
    pub last_used_step: Option<u64>,
    /// Steps accepted either side for this factor, overriding `totp.window` (set by imports
    /// that carried their own window, e.g. google-authenticator's `WINDOW_SIZE`).
    #[serde(default)]
    pub window: Option<u32>,
}

impl UserRecord {
    /// An empty record for `user`.
    pub fn new(user: &UserName, now: u64) -> Self {
        UserRecord {
            user: user.as_str().to_string(),
            created: now,
            totp: None,
            recovery: None,
            fido2: Vec::new(),
            push: Vec::new(),
            enrollment: EnrollmentState::default(),
            lockout: LockoutState::default(),
        }
    }

    /// True when the user has at least one way to log in with the second factor.
    pub fn is_enrolled(&self) -> bool {
        self.has_codes() || !self.fido2.is_empty() || !self.push.is_empty()
    }

    /// True when the user can type a code: a TOTP factor or an unused recovery code (the
    /// fallback that push and security-key prompts offer).
    pub fn has_codes(&self) -> bool {
        self.totp.is_some() || self.recovery.as_ref().is_some_and(|r| r.remaining() > 0)
    }

    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        // Serializing plain data into a Vec cannot fail.
        Zeroizing::new(
            serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("record serializes")),
        )
    }

    pub(super) fn decode(plain: &[u8], user: &UserName, path: &Path) -> Result<UserRecord> {
        let rec: UserRecord = serde_json::from_slice(plain).map_err(|e| {
            Error::corrupt(path, format!("bad record: {}", crate::error::json_error_kind(&e)))
        })?;
        if rec.user != user.as_str() {
            return Err(Error::corrupt(path, "record belongs to another user"));
        }
        Ok(rec)
    }
}
