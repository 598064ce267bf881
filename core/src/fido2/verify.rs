//! Verifying assertions against the user's registered credentials.

use super::authdata::{AuthData, FLAG_UP, FLAG_UV};
use super::cose::PublicKey;
use super::{Fido2Credential, Fido2Error, unb64};
use sha2::{Digest, Sha256};

/// What a security key returned for a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Which credential signed.
    pub credential_id: Vec<u8>,
    /// authenticatorData as signed.
    pub auth_data: Vec<u8>,
    /// The signature over `auth_data ‖ client_data_hash`.
    pub signature: Vec<u8>,
}

/// Verifies `a` for a login to `rp_id` with the `client_data_hash` we generated. Returns the
/// index of the credential in `creds` and its new counter (to be stored).
pub fn verify_assertion(
    creds: &[Fido2Credential],
    rp_id: &str,
    client_data_hash: &[u8; 32],
    a: &Assertion,
) -> Result<(usize, u32), Fido2Error> {
    let wanted = super::b64(&a.credential_id);
    let (index, cred) = creds
        .iter()
        .enumerate()
        .find(|(_, c)| c.credential_id == wanted && c.rp_id == rp_id)
        .ok_or(Fido2Error::UnknownCredential)?;
    let key = PublicKey::from_cose(&unb64(&cred.public_key)?)?;
    let data = AuthData::parse(&a.auth_data)?;
    let expected: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if data.rp_id_hash != expected {
        return Err(Fido2Error::WrongRp);
    }
    if data.flags & FLAG_UP == 0 {
        return Err(Fido2Error::NotPresent);
    }
    if cred.user_verification && data.flags & FLAG_UV == 0 {
        return Err(Fido2Error::NotVerified);
    }
    let mut message = a.auth_data.clone();
    message.extend_from_slice(client_data_hash);
    if !key.verify(&message, &a.signature) {
        return Err(Fido2Error::BadSignature);
    }
    // A key that counts must count up; a key that never counts (0 forever) is allowed.
    if (cred.sign_count != 0 || data.sign_count != 0) && data.sign_count <= cred.sign_count {
        return Err(Fido2Error::Counter { stored: cred.sign_count, got: data.sign_count });
    }
    Ok((index, data.sign_count))
}
