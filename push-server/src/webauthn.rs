//! WebAuthn for the web app's passkeys, checked with mfa-core's FIDO2 code (authenticatorData
//! parser, COSE keys, ES256/EdDSA, counter) instead of webauthn-rs, which needs OpenSSL.
//!
//! The relying party is the service's `public_url`: its host is the RP id, the URL itself the
//! only accepted origin. Registrations must be attestation format `none` (we ask for none and
//! trust no vendor CA) with user presence and user verification; assertions must verify with
//! the registered key, carry UP and UV, and move the counter forward.

use mfa_core::fido2::authdata::{AuthData, FLAG_AT, FLAG_UP, FLAG_UV};
use mfa_core::fido2::cose::PublicKey as CoseKey;
use mfa_core::fido2::verify::{Assertion, verify_assertion};
use mfa_core::fido2::{Fido2Credential, Fido2Error};
use push_proto::api::{PasskeyAssertion, RegisterPasskey};
use push_proto::{b64, unb64};
use sha2::{Digest, Sha256};

/// The relying party: RP id and origin, from `public_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The host of `public_url` (no port, no brackets).
    pub id: String,
    /// `public_url` without a trailing slash: the only accepted origin.
    pub origin: String,
}

impl RelyingParty {
    /// From the service's base URL (`https://host[:port]`).
    pub fn from_base_url(base: &str) -> Option<RelyingParty> {
        let origin = base.trim_end_matches('/');
        let authority =
            origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"))?;
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?,
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        (!host.is_empty())
            .then(|| RelyingParty { id: host.to_ascii_lowercase(), origin: origin.to_string() })
    }
}

/// A new passkey that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    /// Credential id, base64url.
    pub credential_id: String,
    /// COSE_Key, base64url.
    pub public_key: String,
    /// The counter at registration.
    pub sign_count: u32,
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, String> {
    unb64(text).ok_or_else(|| format!("{field} is not base64url"))
}

/// Checks clientDataJSON: `type`, `origin` and `crossOrigin`; returns the challenge bytes.
fn client_data(rp: &RelyingParty, json: &[u8], kind: &str) -> Result<Vec<u8>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|_| "clientDataJSON is not JSON".to_string())?;
    if v["type"] != kind {
        return Err(format!("clientDataJSON type is not {kind}"));
    }
    if v["origin"] != rp.origin.as_str() {
        return Err("clientDataJSON origin is not the service's public_url".into());
    }
    if v["crossOrigin"] == true {
        return Err("cross-origin WebAuthn is refused".into());
    }
    let challenge = v["challenge"].as_str().ok_or("clientDataJSON has no challenge")?;
    decode("challenge", challenge)
}

/// Checks a registration whose clientDataJSON challenge `challenge_ok` accepts.
pub fn verify_registration(
    rp: &RelyingParty,
    req: &RegisterPasskey,
    challenge_ok: impl FnOnce(&[u8]) -> bool,
) -> Result<NewPasskey, String> {
    let challenge =
        client_data(rp, &decode("client_data_json", &req.client_data_json)?, "webauthn.create")?;
    if !challenge_ok(&challenge) {
        return Err("the registration challenge is not this service's, or expired".into());
    }
    let att = decode("attestation_object", &req.attestation_object)?;
    let value: ciborium::value::Value =
        ciborium::de::from_reader_with_recursion_limit(&att[..], 16)
            .map_err(|_| "attestationObject is not CBOR".to_string())?;
    let map = value.as_map().ok_or("attestationObject is not a map")?;
    let get = |k: &str| map.iter().find(|(key, _)| key.as_text() == Some(k)).map(|(_, v)| v);
    if get("fmt").and_then(|f| f.as_text()) != Some("none") {
        return Err("only attestation format \"none\" is accepted".into());
    }
    let auth =
        get("authData").and_then(|a| a.as_bytes()).ok_or("attestationObject has no authData")?;
    let data = AuthData::parse(auth).map_err(|e| e.to_string())?;
    let want: [u8; 32] = Sha256::digest(rp.id.as_bytes()).into();
    if data.rp_id_hash != want {
        return Err("the passkey is for another relying party".into());
    }
    if data.flags & FLAG_UP == 0 || data.flags & FLAG_UV == 0 || data.flags & FLAG_AT == 0 {
        return Err("the passkey was made without user presence and verification".into());
    }
    let cred = data.attested.ok_or("no attested credential")?;
    if b64(&cred.credential_id) != b64(&decode("credential_id", &req.credential_id)?) {
        return Err("credential_id does not match the attested credential".into());
    }
    CoseKey::from_cose(&cred.public_key).map_err(|e| e.to_string())?;
    Ok(NewPasskey {
        credential_id: b64(&cred.credential_id),
        public_key: b64(&cred.public_key),
        sign_count: data.sign_count,
    })
}

/// The registered passkey an assertion is checked against.
pub struct Registered<'a> {
    /// Credential id, base64url.
    pub credential_id: &'a str,
    /// COSE_Key, base64url.
    pub public_key: &'a str,
    /// The last counter seen.
    pub sign_count: u32,
}

/// Checks an assertion over `signed` (the answer bytes: the challenge must be their SHA-256);
/// returns the new counter.
pub fn verify_answer(
    rp: &RelyingParty,
    key: &Registered<'_>,
    a: &PasskeyAssertion,
    signed: &[u8],
) -> Result<u32, String> {
    let json = decode("client_data_json", &a.client_data_json)?;
    let challenge = client_data(rp, &json, "webauthn.get")?;
    if challenge[..] != Sha256::digest(signed)[..] {
        return Err("the passkey signed another answer".into());
    }
    let cred = Fido2Credential {
        name: String::new(),
        credential_id: key.credential_id.to_string(),
        public_key: key.public_key.to_string(),
        rp_id: rp.id.clone(),
        sign_count: key.sign_count,
        user_verification: true,
        created: 0,
    };
    let assertion = Assertion {
        credential_id: decode("credential_id", &a.credential_id)?,
        auth_data: decode("authenticator_data", &a.authenticator_data)?,
        signature: decode("signature", &a.signature)?,
    };
    let hash: [u8; 32] = Sha256::digest(&json).into();
    match verify_assertion(&[cred], &rp.id, &hash, &assertion) {
        Ok((_, count)) => Ok(count),
        Err(Fido2Error::Counter { .. }) => {
            Err("the passkey counter did not increase (replay or clone)".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp() -> RelyingParty {
        RelyingParty::from_base_url("https://push.example:8443/").unwrap_or_else(|| panic!("rp"))
    }

    #[test]
    fn relying_party_from_public_url() {
        assert_eq!(
            rp(),
            RelyingParty { id: "push.example".into(), origin: "https://push.example:8443".into() }
        );
        let v6 = RelyingParty::from_base_url("https://[::1]:9").map(|r| r.id);
        assert_eq!(v6.as_deref(), Some("::1"));
        assert_eq!(RelyingParty::from_base_url("ftp://x"), None);
    }

    #[test]
    fn client_data_must_match_type_origin_and_same_origin() {
        let cd = |t: &str, o: &str, extra: &str| {
            format!(r#"{{"type":"{t}","challenge":"AAAA","origin":"{o}"{extra}}}"#).into_bytes()
        };
        let good = cd("webauthn.get", "https://push.example:8443", "");
        assert_eq!(client_data(&rp(), &good, "webauthn.get"), Ok(vec![0, 0, 0]));
        assert!(client_data(&rp(), &good, "webauthn.create").is_err(), "type");
        let other = cd("webauthn.get", "https://evil.example:8443", "");
        assert!(client_data(&rp(), &other, "webauthn.get").is_err(), "origin");
        let port = cd("webauthn.get", "https://push.example", "");
        assert!(client_data(&rp(), &port, "webauthn.get").is_err(), "origin without the port");
        let cross = cd("webauthn.get", "https://push.example:8443", r#","crossOrigin":true"#);
        assert!(client_data(&rp(), &cross, "webauthn.get").is_err(), "cross origin");
        assert!(client_data(&rp(), b"not json", "webauthn.get").is_err());
    }

    #[test]
    fn an_assertion_over_another_answer_is_refused() {
        let json =
            br#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://push.example:8443"}"#;
        let a = PasskeyAssertion {
            credential_id: "AAAA".into(),
            authenticator_data: "AAAA".into(),
            client_data_json: b64(json),
            signature: "AAAA".into(),
        };
        let key = Registered { credential_id: "AAAA", public_key: "AAAA", sign_count: 0 };
        let e = verify_answer(&rp(), &key, &a, b"the answer").unwrap_err();
        assert!(e.contains("another answer"), "{e}");
    }
}
