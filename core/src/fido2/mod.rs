//! FIDO2 security keys: the device interface, the USB HID key, the software test authenticator
//! and the default RP id.
//!
//! The pure parts (stored credentials, authenticatorData and COSE parsers, pam_u2f authfiles,
//! and our own verification of every assertion, [`verify::verify_assertion`]) live in
//! `mfa-factors` and are re-exported here at their old paths.

pub use mfa_factors::fido2::{
    Fido2Credential, Fido2Error, authdata, b64, cose, pam_u2f, unb64, verify,
};

pub mod device;
#[cfg(feature = "hid")]
pub mod hid;
#[cfg(any(test, feature = "test-authenticator"))]
pub mod soft;

#[cfg(test)]
mod tests;

/// The default RP id: `pam://<hostname>`, as pam_u2f uses, so imported keys keep working.
pub fn default_rp_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("pam://{host}")
}
