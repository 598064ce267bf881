//! Secret byte strings that are wiped from memory when dropped and never printed.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Secret key material (a TOTP seed, a derived key). `Debug` prints only the length; the bytes
/// are zeroized on drop. Serialized (inside the encrypted store only) as unpadded base32.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes as a secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The secret bytes. Keep the borrow short.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secret as unpadded RFC 4648 base32 — the form authenticator apps expect.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    /// Parses base32 (case-insensitive, spaces and padding ignored), as typed or exported by
    /// authenticator apps and google-authenticator.
    pub fn from_base32(text: &str) -> Option<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '=' && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        data_encoding::BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretBytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {}])", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SecretBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base32 secret")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretBytes, E> {
                SecretBytes::from_base32(v).ok_or_else(|| E::custom("invalid base32 secret"))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = SecretBytes::new(b"12345678901234567890".to_vec());
        assert_eq!(format!("{s:?}"), "SecretBytes([redacted; 20])");
    }

    #[test]
    fn base32_round_trip_and_lenient_parse() {
        let s = SecretBytes::new(b"12345678901234567890".to_vec());
        assert_eq!(&*s.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let parsed = SecretBytes::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!(parsed, s);
        assert!(SecretBytes::from_base32("not base32!").is_none());
        assert!(SecretBytes::from_base32("").is_none());
    }
}
