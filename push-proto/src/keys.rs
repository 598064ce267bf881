//! P-256 keys: generation, encoding, signing and verification.

use crate::{b64, unb64};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use std::fmt;
use zeroize::Zeroizing;

/// A key could not be made, decoded or used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// A P-256 signing key (service key, device key). Its bytes are wiped when dropped.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public().encode())
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<SecretKey, KeyError> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(&mut bytes[..])
                .map_err(|e| KeyError(format!("no randomness: {e}")))?;
            // Out-of-range scalars (probability ~2^-32) are retried.
            if let Ok(k) = SigningKey::from_slice(&bytes[..]) {
                return Ok(SecretKey(k));
            }
        }
    }

    /// Decodes the 32-byte scalar (base64url).
    pub fn decode(text: &str) -> Result<SecretKey, KeyError> {
        let bytes = Zeroizing::new(unb64(text.trim()).ok_or_else(|| bad("private key"))?);
        if bytes.len() != 32 {
            return Err(bad("private key"));
        }
        SigningKey::from_slice(&bytes).map(SecretKey).map_err(|_| bad("private key"))
    }

    /// The 32-byte scalar, base64url (for the key file; handle as a secret).
    pub fn encode(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(self.0.to_bytes());
        Zeroizing::new(b64(&bytes))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// Signs `msg` (ECDSA P-256, SHA-256); the 64-byte `r ‖ s` signature in its low-S form
    /// (the only form [`PublicKey::verify`] accepts), base64url.
    pub fn sign(&self, msg: &[u8]) -> String {
        let sig: Signature = self.0.sign(msg);
        // p256 does not normalize (its curve leaves `NORMALIZE_S` off): about half of its
        // signatures are high-S.
        let sig = sig.normalize_s().unwrap_or(sig);
        b64(&sig.to_bytes())
    }
}

/// A P-256 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Decodes an uncompressed SEC1 point (65 bytes, base64url). Compressed points and the
    /// identity are refused.
    pub fn decode(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = unb64(text.trim()).ok_or_else(|| bad("public key"))?;
        if bytes.len() != 65 || bytes[0] != 4 {
            return Err(bad("public key"));
        }
        VerifyingKey::from_sec1_bytes(&bytes).map(PublicKey).map_err(|_| bad("public key"))
    }

    /// The uncompressed SEC1 point, base64url.
    pub fn encode(&self) -> String {
        b64(self.0.to_encoded_point(false).as_bytes())
    }

    /// Whether `signature` (64-byte `r ‖ s`, base64url) is this key's signature over `msg`.
    ///
    /// High-S signatures are refused: for every valid `(r, s)` the pair `(r, n - s)` verifies
    /// too, so accepting both would make each signature malleable (a third party could make a
    /// second, different-looking valid signature). Every signer of the protocol normalizes
    /// (ours above, the web app's `proto.js` after WebCrypto).
    pub fn verify(&self, msg: &[u8], signature: &str) -> bool {
        let Some(bytes) = unb64(signature) else { return false };
        let Ok(sig) = Signature::from_slice(&bytes) else { return false };
        if sig.normalize_s().is_some() {
            return false;
        }
        self.0.verify(msg, &sig).is_ok()
    }
}

fn bad(what: &str) -> KeyError {
    KeyError(format!("malformed {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip_and_tamper() {
        let k = SecretKey::generate().unwrap();
        let p = PublicKey::decode(&k.public().encode()).unwrap();
        let sig = k.sign(b"hello");
        assert!(p.verify(b"hello", &sig));
        assert!(!p.verify(b"hellp", &sig));
        let other = SecretKey::generate().unwrap().public();
        assert!(!other.verify(b"hello", &sig));
        assert!(!p.verify(b"hello", "AAAA"));
        assert!(!p.verify(b"hello", "not base64!"));
        let k2 = SecretKey::decode(&k.encode()).unwrap();
        assert_eq!(k2.public(), k.public());
    }

    /// `(r, n - s)` of a signature: the other of its two valid forms.
    fn flip_s(signature: &str) -> String {
        use p256::elliptic_curve::ops::Neg;
        let sig = Signature::from_slice(&unb64(signature).unwrap()).unwrap();
        let (r, s) = sig.split_scalars();
        b64(&Signature::from_scalars(r, s.neg()).unwrap().to_bytes())
    }

    #[test]
    fn high_s_signatures_are_refused_and_never_produced() {
        let k = SecretKey::generate().unwrap();
        let p = k.public();
        // Enough signatures that, were `sign` not normalizing, some would be high-S.
        for i in 0..64u8 {
            let msg = [i; 3];
            let sig = k.sign(&msg);
            assert!(p.verify(&msg, &sig), "a signature of ours does not verify");
            let flipped = flip_s(&sig);
            assert_ne!(flipped, sig);
            assert!(!p.verify(&msg, &flipped), "the high-S twin of a signature verified");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        let k = SecretKey::generate().unwrap();
        let point = k.public().0.to_encoded_point(true);
        assert!(PublicKey::decode(&b64(point.as_bytes())).is_err(), "compressed");
        assert!(PublicKey::decode(&b64(&[4u8; 65])).is_err(), "not on the curve");
        assert!(PublicKey::decode("").is_err());
        assert!(SecretKey::decode(&b64(&[0u8; 32])).is_err(), "zero scalar");
        assert!(SecretKey::decode(&b64(&[1u8; 31])).is_err(), "short");
    }
}
