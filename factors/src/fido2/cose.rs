//! COSE_Key public keys (RFC 9053) for ES256 (P-256) and EdDSA (Ed25519), and signature checks.

use super::Fido2Error;
use ciborium::value::{Integer, Value};
use p256::ecdsa::signature::Verifier;

/// A credential's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA P-256 with SHA-256 (COSE alg -7).
    Es256(p256::ecdsa::VerifyingKey),
    /// Ed25519 (COSE alg -8).
    EdDsa(ed25519_dalek::VerifyingKey),
}

fn bad(m: &str) -> Fido2Error {
    Fido2Error::Malformed(format!("COSE key: {m}"))
}

fn int(v: &Value) -> Option<i128> {
    v.as_integer().map(i128::from)
}

impl PublicKey {
    /// Parses COSE_Key CBOR bytes.
    pub fn from_cose(bytes: &[u8]) -> Result<PublicKey, Fido2Error> {
        let value: Value = ciborium::de::from_reader_with_recursion_limit(bytes, 8)
            .map_err(|_| bad("bad CBOR"))?;
        let map = value.as_map().ok_or_else(|| bad("not a map"))?;
        let get = |k: i128| map.iter().find(|(key, _)| int(key) == Some(k)).map(|(_, v)| v);
        let kty = get(1).and_then(int).ok_or_else(|| bad("no kty"))?;
        let alg = get(3).and_then(int).ok_or_else(|| bad("no alg"))?;
        let crv = get(-1).and_then(int).ok_or_else(|| bad("no crv"))?;
        let x = get(-2).and_then(Value::as_bytes).ok_or_else(|| bad("no x"))?;
        match (kty, alg, crv) {
            (2, -7, 1) => {
                let y = get(-3).and_then(Value::as_bytes).ok_or_else(|| bad("no y"))?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(bad("P-256 coordinates must be 32 bytes"));
                }
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(PublicKey::Es256)
                    .map_err(|_| bad("not a point on P-256"))
            }
            (1, -8, 6) => {
                let arr: [u8; 32] =
                    x.as_slice().try_into().map_err(|_| bad("Ed25519 key must be 32 bytes"))?;
                ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map(PublicKey::EdDsa)
                    .map_err(|_| bad("bad Ed25519 key"))
            }
            _ => Err(Fido2Error::Unsupported(format!("COSE kty {kty} alg {alg} crv {crv}"))),
        }
    }

    /// Builds a key from pam_u2f's stored form: for es256 the raw point (64 bytes x‖y or 65
    /// bytes 0x04‖x‖y), for eddsa the 32-byte key.
    pub fn from_raw(cose_type: &str, bytes: &[u8]) -> Result<PublicKey, Fido2Error> {
        match cose_type {
            "es256" => {
                let sec1 = match bytes.len() {
                    64 => [&[4u8][..], bytes].concat(),
                    65 if bytes[0] == 4 => bytes.to_vec(),
                    _ => return Err(bad("es256 key must be a 64- or 65-byte point")),
                };
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(PublicKey::Es256)
                    .map_err(|_| bad("not a point on P-256"))
            }
            "eddsa" => {
                let arr: [u8; 32] =
                    bytes.try_into().map_err(|_| bad("eddsa key must be 32 bytes"))?;
                ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map(PublicKey::EdDsa)
                    .map_err(|_| bad("bad Ed25519 key"))
            }
            other => Err(Fido2Error::Unsupported(format!("key type {other}"))),
        }
    }

    /// The key as COSE_Key CBOR bytes (what the store keeps).
    pub fn to_cose(&self) -> Vec<u8> {
        let i = |n: i64| Value::Integer(Integer::from(n));
        let map = match self {
            PublicKey::Es256(k) => {
                let point = k.to_encoded_point(false);
                vec![
                    (i(1), i(2)),
                    (i(3), i(-7)),
                    (i(-1), i(1)),
                    (i(-2), Value::Bytes(point.x().map(|x| x.to_vec()).unwrap_or_default())),
                    (i(-3), Value::Bytes(point.y().map(|y| y.to_vec()).unwrap_or_default())),
                ]
            }
            PublicKey::EdDsa(k) => {
                vec![
                    (i(1), i(1)),
                    (i(3), i(-8)),
                    (i(-1), i(6)),
                    (i(-2), Value::Bytes(k.to_bytes().to_vec())),
                ]
            }
        };
        let mut out = Vec::new();
        // Writing CBOR into a Vec cannot fail.
        let _ = ciborium::ser::into_writer(&Value::Map(map), &mut out);
        out
    }

    /// The algorithm's name for listings.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::Es256(_) => "ES256",
            PublicKey::EdDsa(_) => "EdDSA",
        }
    }

    /// Checks `signature` over `message` (ES256 signatures are DER-encoded, as CTAP2 sends
    /// them; EdDSA signatures are 64 raw bytes).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Es256(k) => p256::ecdsa::Signature::from_der(signature)
                .map(|s| k.verify(message, &s).is_ok())
                .unwrap_or(false),
            PublicKey::EdDsa(k) => ed25519_dalek::Signature::from_slice(signature)
                .map(|s| k.verify_strict(message, &s).is_ok())
                .unwrap_or(false),
        }
    }
}
