//! Real security keys over USB HID (CTAP2), through `ctap-hid-fido2`. Built with the `hid`
//! feature; no device exists on the CI machines, so this path is compiled there but only the
//! software authenticator is exercised.
//!
//! The library's own checks are not relied on: every assertion goes through
//! [`super::verify::verify_assertion`]. Its "touch the sensor" text is switched off (it would go
//! to the PAM application's stdout); the login flow says "Touch your security key" itself.

use super::Fido2Error;
use super::device::{Authenticator, Login, Registration};
use super::verify::Assertion;
use ctap_hid_fido2::fidokey::{
    CredentialSupportedKeyType, GetAssertionArgsBuilder, MakeCredentialArgsBuilder,
};
use ctap_hid_fido2::{FidoKeyHid, FidoKeyHidFactory, LibCfg};

/// The single connected USB security key.
pub struct HidAuthenticator {
    device: FidoKeyHid,
}

fn map_err(e: anyhow::Error) -> Fido2Error {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("not found") {
        Fido2Error::NoDevice
    } else if lower.contains("pin") {
        Fido2Error::Pin(text)
    } else if lower.contains("timeout") || lower.contains("action timeout") {
        Fido2Error::Timeout
    } else {
        Fido2Error::Device(text)
    }
}

impl HidAuthenticator {
    /// Opens the one connected key (none, or several, is an error).
    pub fn open() -> Result<HidAuthenticator, Fido2Error> {
        let mut cfg = LibCfg::init();
        cfg.enable_keep_alive_msg = false;
        cfg.keep_alive_msg = String::new();
        FidoKeyHidFactory::create(&cfg).map(|device| HidAuthenticator { device }).map_err(map_err)
    }
}

impl Authenticator for HidAuthenticator {
    fn make_credential(&mut self, r: &Registration<'_>) -> Result<Vec<u8>, Fido2Error> {
        let mut args = MakeCredentialArgsBuilder::new(r.rp_id, r.challenge)
            .key_type(CredentialSupportedKeyType::Ecdsa256)
            .key_type(CredentialSupportedKeyType::Ed25519);
        if let Some(pin) = r.pin {
            args = args.pin(pin.as_str());
        }
        let attestation = self.device.make_credential_with_args(&args.build()).map_err(map_err)?;
        Ok(attestation.auth_data)
    }

    fn get_assertion(&mut self, r: &Login<'_>) -> Result<Assertion, Fido2Error> {
        let mut args = GetAssertionArgsBuilder::new(r.rp_id, r.challenge);
        for id in r.allow_list {
            args = args.add_credential_id(id);
        }
        if let Some(pin) = r.pin {
            args = args.pin(pin.as_str());
        }
        let assertions = self.device.get_assertion_with_args(&args.build()).map_err(map_err)?;
        let a = assertions
            .into_iter()
            .next()
            .ok_or_else(|| Fido2Error::Device("no assertion".into()))?;
        Ok(Assertion {
            credential_id: a.credential_id,
            auth_data: a.auth_data,
            signature: a.signature,
        })
    }
}
