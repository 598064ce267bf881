//! FIDO2 security keys: the device interface, the USB HID key, the software test authenticator
//! and the default RP id.
//!
//! The pure parts (stored credentials, authenticatorData and COSE parsers, pam_u2f authfiles,
//! and our own verification of every assertion, [`verify::verify_assertion`]) live in
//! `mfa-factors` and are re-exported here at their old paths.

pub use mfa_factors::fido2::{
    Fido2Credential, Fido2Error, authdata, b64, cose, pam_u2f, unb64, verify,
};

mod config;
pub mod device;
#[cfg(feature = "hid")]
pub mod hid;
#[cfg(any(test, feature = "test-authenticator"))]
pub mod soft;

#[cfg(test)]
mod tests;

pub use config::Fido2Config;
use device::Authenticator;

/// Opens the configured device: the software authenticator when the test-only
/// `fido2.test_device` is set, otherwise the USB HID key (when built with the `hid` feature).
pub fn open(cfg: &Fido2Config) -> Result<Box<dyn Authenticator>, Fido2Error> {
    if let Some(path) = &cfg.test_device {
        #[cfg(any(test, feature = "test-authenticator"))]
        return Ok(Box::new(soft::SoftAuthenticator::open(path)?));
        // Not built in (the configuration refuses the key then, see `Config::validate`).
        #[cfg(not(any(test, feature = "test-authenticator")))]
        {
            let _ = path;
            return Err(Fido2Error::NoDevice);
        }
    }
    open_hid()
}

#[cfg(not(feature = "hid"))]
fn open_hid() -> Result<Box<dyn Authenticator>, Fido2Error> {
    Err(Fido2Error::NoDevice)
}

#[cfg(feature = "hid")]
fn open_hid() -> Result<Box<dyn Authenticator>, Fido2Error> {
    hid::HidAuthenticator::open().map(|d| Box::new(d) as Box<dyn Authenticator>)
}

/// The default RP id: `pam://<hostname>`, as pam_u2f uses, so imported keys keep working.
pub fn default_rp_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("pam://{host}")
}
