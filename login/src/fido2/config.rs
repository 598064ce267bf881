//! `[fido2]`, next to the security keys it configures.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::PathBuf;

/// `[fido2]`: security keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Fido2Config {
    /// RP id keys are registered for and checked against; empty: `pam://<hostname>` (pam_u2f's
    /// default origin, so imported keys keep working).
    pub rp_id: String,
    /// Seconds to wait for a touch.
    pub timeout: u64,
    /// TEST ONLY: use the software authenticator whose state is in this file instead of a USB
    /// key. Never set this on a real system.
    pub test_device: Option<PathBuf>,
}

impl Default for Fido2Config {
    fn default() -> Self {
        Fido2Config { rp_id: String::new(), timeout: 30, test_device: None }
    }
}

impl Fido2Config {
    /// The effective RP id.
    pub fn rp_id(&self) -> String {
        if self.rp_id.is_empty() { super::default_rp_id() } else { self.rp_id.clone() }
    }
}

impl Fido2Config {
    /// Checks the values (done when the configuration is loaded).
    pub(crate) fn validate(&self) -> Result<()> {
        if !(1..=300).contains(&self.timeout) {
            return Err(Error::Config("fido2.timeout must be between 1 and 300 seconds".into()));
        }
        if self.rp_id.len() > 255 || self.rp_id.chars().any(char::is_whitespace) {
            return Err(Error::Config(
                "fido2.rp_id must be at most 255 characters without spaces".into(),
            ));
        }
        if self.test_device.is_some() && !cfg!(any(test, feature = "test-authenticator")) {
            // Issue 15, finding 13: the software authenticator exists only in test builds.
            return Err(Error::Config(
                "fido2.test_device: the software test authenticator is not part of this build \
                 (test builds only)"
                    .into(),
            ));
        }
        if self.test_device.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(Error::Config("fido2.test_device must be an absolute path".into()));
        }
        Ok(())
    }
}
