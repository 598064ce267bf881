//! The interface to a security key, so the logic is tested with a software authenticator and
//! the hardware path (CTAP2 over USB HID) stays behind it.

use super::Fido2Error;
use super::verify::Assertion;
use std::time::Duration;
use zeroize::Zeroizing;

/// A registration request.
#[derive(Debug)]
pub struct Registration<'a> {
    /// RP id.
    pub rp_id: &'a str,
    /// A random user handle.
    pub user_id: &'a [u8],
    /// The user name (shown by some keys).
    pub user_name: &'a str,
    /// Fresh random challenge; the key signs `clientDataHash = SHA-256(challenge)`.
    pub challenge: &'a [u8; 32],
    /// Ask for user verification.
    pub user_verification: bool,
    /// The PIN, if user verification needs one.
    pub pin: Option<&'a Zeroizing<String>>,
}

/// A login request.
#[derive(Debug)]
pub struct Login<'a> {
    /// RP id.
    pub rp_id: &'a str,
    /// Fresh random challenge; the key signs `clientDataHash = SHA-256(challenge)`.
    pub challenge: &'a [u8; 32],
    /// Credential ids the user registered.
    pub allow_list: &'a [Vec<u8>],
    /// Ask for user verification.
    pub user_verification: bool,
    /// The PIN, if user verification needs one.
    pub pin: Option<&'a Zeroizing<String>>,
    /// How long to wait for a touch.
    pub timeout: Duration,
}

/// `clientDataHash` for a challenge, as the device and our verification compute it.
pub fn client_data_hash(challenge: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(challenge).into()
}

/// A security key.
pub trait Authenticator {
    /// Creates a credential; returns the authenticatorData with the attested credential.
    fn make_credential(&mut self, r: &Registration<'_>) -> Result<Vec<u8>, Fido2Error>;
    /// Signs a login challenge with one of the allowed credentials.
    fn get_assertion(&mut self, r: &Login<'_>) -> Result<Assertion, Fido2Error>;
}
