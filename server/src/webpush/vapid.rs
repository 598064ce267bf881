//! VAPID (RFC 8292): the service identifies itself to push services with a JWT signed by its
//! VAPID key, `Authorization: vapid t=<JWT>, k=<public key>`.
//!
//! Built here on the protocol's own P-256 key type (ES256 signatures are the same 64-byte
//! `r ‖ s` form), instead of `web-push-native`'s `vapid` feature: that one pulls in a JWT crate
//! with RSA, P-384, secp256k1 and Ed25519, and drops a non-default port from `aud`.

use push_proto::{SecretKey, b64};
use serde::Serialize;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
pub const VALIDITY: u64 = 3600;

/// The JWT header of every token.
const HEADER: &str = r#"{"typ":"JWT","alg":"ES256"}"#;

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

/// The `Authorization` header value for a message to a push service at `origin`, signed at
/// `now` with `key` and naming the operator `subject`.
pub fn authorization(key: &SecretKey, origin: &str, subject: &str, now: u64) -> String {
    let claims = Claims { aud: origin, exp: now + VALIDITY, sub: subject };
    // Serializing three strings and a number cannot fail.
    let claims = serde_json::to_vec(&claims).unwrap_or_default();
    let input = format!("{}.{}", b64(HEADER.as_bytes()), b64(&claims));
    let signature = key.sign(input.as_bytes());
    format!("vapid t={input}.{signature}, k={}", key.public().encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_verifies_and_carries_the_claims() {
        let key = SecretKey::generate().unwrap();
        let h = authorization(&key, "https://push.example.org", "mailto:a@example.org", 1000);
        let (t, k) = h.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public().encode());
        let (input, sig) = t.rsplit_once('.').unwrap();
        assert!(key.public().verify(input.as_bytes(), sig));
        let (header, claims) = input.split_once('.').unwrap();
        assert_eq!(push_proto::unb64(header).unwrap(), HEADER.as_bytes());
        let claims: serde_json::Value =
            serde_json::from_slice(&push_proto::unb64(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.org");
        assert_eq!(claims["exp"], 1000 + VALIDITY);
        assert_eq!(claims["sub"], "mailto:a@example.org");
        let other = SecretKey::generate().unwrap();
        assert!(!other.public().verify(input.as_bytes(), sig));
    }
}
