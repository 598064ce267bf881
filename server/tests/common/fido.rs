//! A software security key for the service's tests: one P-256 credential that signs what a
//! FIDO2 key signs.

use key_p256::ecdsa::SigningKey;
use key_p256::ecdsa::signature::Signer;
use mfa_factors::fido2::{Fido2Credential, b64, cose};
use push_proto::fleet_keys::KeyAssertion;
use sha2::{Digest, Sha256};

/// A software security key: one P-256 credential.
pub struct Key {
    pub signing: SigningKey,
    pub id: Vec<u8>,
}

impl Key {
    pub fn new() -> Key {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).unwrap();
        let mut id = vec![0u8; 16];
        getrandom::getrandom(&mut id).unwrap();
        Key { signing: SigningKey::from_slice(&seed).unwrap(), id }
    }

    pub fn credential(&self, rp_id: &str) -> Fido2Credential {
        Fido2Credential {
            name: "yubikey-blue".into(),
            credential_id: b64(&self.id),
            public_key: b64(&cose::PublicKey::Es256(*self.signing.verifying_key()).to_cose()),
            rp_id: rp_id.into(),
            sign_count: 0,
            user_verification: false,
            created: 1_700_000_000,
        }
    }

    /// What the key returns for `challenge` (base64url) at `rp_id` with counter `count`.
    pub fn sign(&self, rp_id: &str, challenge: &str, count: u32) -> KeyAssertion {
        let raw = data_encoding::BASE64URL_NOPAD.decode(challenge.as_bytes()).unwrap();
        self.sign_raw(rp_id, &raw, count)
    }

    /// What the key returns for the raw challenge `raw`.
    pub fn sign_raw(&self, rp_id: &str, raw: &[u8], count: u32) -> KeyAssertion {
        let mut data: Vec<u8> = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(0x01); // UP
        data.extend_from_slice(&count.to_be_bytes());
        let mut message = data.clone();
        message.extend_from_slice(&Sha256::digest(raw));
        let sig: key_p256::ecdsa::Signature = self.signing.sign(&message);
        KeyAssertion {
            credential_id: b64(&self.id),
            auth_data: b64(&data),
            signature: b64(sig.to_der().as_bytes()),
        }
    }
}
