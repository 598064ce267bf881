//! Passkeys of phone web app devices (WebAuthn), checked with this crate's FIDO2 code
//! (authenticatorData parser, COSE keys, ES256/EdDSA, counter) by both the module and
//! `mfa-server`.
//!
//! A passkey is made while pairing, with a challenge that binds it to the pairing credential
//! and the device key ([`push_proto::signed::passkey_pairing_challenge`]). The host verifies
//! the registration itself, keeps the passkey's public key in the user's record (confirmed by
//! the pairing code, which covers it), and from then on checks the assertion every approval's
//! receipt carries: its challenge is SHA-256 of the very answer the device key signed, so the
//! phone's unlock (user verification) is bound to that decision, and the service, which does
//! not hold the passkey, cannot make one.
//!
//! Registrations must be attestation format `none` (no vendor trust) with user presence and
//! user verification; assertions must verify with the registered key, carry UP and UV, and move
//! the counter forward (a counter that stays 0 is allowed: synced passkeys do not count).

use crate::fido2::authdata::{AuthData, FLAG_AT, FLAG_UP, FLAG_UV};
use crate::fido2::cose::PublicKey as CoseKey;
use crate::fido2::verify::{Assertion, verify_assertion};
use crate::fido2::{Fido2Credential, Fido2Error};
use push_proto::api::{PasskeyAssertion, PasskeyRegistration};
use push_proto::{b64, unb64};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest clientDataJSON accepted (browsers send a few hundred bytes).
const MAX_CLIENT_DATA: usize = 4096;

/// The relying party: RP id and origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The host of the origin (no port, no brackets), lower case.
    pub id: String,
    /// The origin (`https://host[:port]`, no trailing slash): the only accepted one.
    pub origin: String,
}

impl RelyingParty {
    /// From a base URL or origin (`https://host[:port]`, a trailing slash allowed; `http://`
    /// only for `localhost`, as browsers allow WebAuthn there).
    pub fn from_origin(base: &str) -> Option<RelyingParty> {
        let origin = base.trim_end_matches('/');
        let (authority, plain) = match origin.strip_prefix("https://") {
            Some(a) => (a, false),
            None => (origin.strip_prefix("http://")?, true),
        };
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?,
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        let ok = !host.is_empty()
            && authority.len() <= 255
            && !authority.contains(['/', '?', '#', '@'])
            && authority.chars().all(|c| c.is_ascii_graphic())
            && (!plain || host == "localhost");
        ok.then(|| RelyingParty { id: host.to_ascii_lowercase(), origin: origin.to_string() })
    }
}

/// A passkey as kept with a device in the user's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// Its public key (COSE_Key), base64url.
    pub public_key: String,
    /// The relying party id it was made for.
    pub rp_id: String,
    /// The web app's origin, which every assertion's clientDataJSON must name.
    pub origin: String,
    /// The last signature counter seen.
    pub sign_count: u32,
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, String> {
    unb64(text).ok_or_else(|| format!("{field} is not base64url"))
}

/// Checks clientDataJSON's `type` and `crossOrigin`; returns its origin and challenge bytes.
fn client_data(json: &[u8], kind: &str) -> Result<(String, Vec<u8>), String> {
    if json.len() > MAX_CLIENT_DATA {
        return Err("clientDataJSON is too long".into());
    }
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|_| "clientDataJSON is not JSON".to_string())?;
    if v["type"] != kind {
        return Err(format!("clientDataJSON type is not {kind}"));
    }
    if v["crossOrigin"] == true {
        return Err("cross-origin WebAuthn is refused".into());
    }
    let origin = v["origin"].as_str().ok_or("clientDataJSON has no origin")?;
    let challenge = v["challenge"].as_str().ok_or("clientDataJSON has no challenge")?;
    Ok((origin.to_string(), decode("challenge", challenge)?))
}

/// Checks a passkey registration made while pairing: its WebAuthn challenge must be
/// `challenge`; its origin must be `rp`'s when given (the service knows its own), otherwise it
/// names the relying party (the host learns it from the registration, which the pairing code
/// then confirms).
pub fn verify_registration(
    reg: &PasskeyRegistration,
    challenge: &[u8; 32],
    rp: Option<&RelyingParty>,
) -> Result<DevicePasskey, String> {
    let (origin, got) =
        client_data(&decode("client_data_json", &reg.client_data_json)?, "webauthn.create")?;
    let rp = match rp {
        Some(rp) if rp.origin != origin => {
            return Err("clientDataJSON origin is not the service's public_url".into());
        }
        Some(rp) => rp.clone(),
        None => RelyingParty::from_origin(&origin).ok_or("clientDataJSON origin is not https")?,
    };
    if got[..] != challenge[..] {
        return Err("the passkey was made for another pairing or device key".into());
    }
    let att = decode("attestation_object", &reg.attestation_object)?;
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
    if b64(&cred.credential_id) != b64(&decode("credential_id", &reg.credential_id)?) {
        return Err("credential_id does not match the attested credential".into());
    }
    CoseKey::from_cose(&cred.public_key).map_err(|e| e.to_string())?;
    Ok(DevicePasskey {
        credential_id: b64(&cred.credential_id),
        public_key: b64(&cred.public_key),
        rp_id: rp.id,
        origin: rp.origin,
        sign_count: data.sign_count,
    })
}

/// Checks an assertion of `passkey` over `signed` (the answer bytes: the WebAuthn challenge
/// must be their SHA-256); returns the new counter.
pub fn verify_answer(
    passkey: &DevicePasskey,
    a: &PasskeyAssertion,
    signed: &[u8],
) -> Result<u32, String> {
    let json = decode("client_data_json", &a.client_data_json)?;
    let (origin, challenge) = client_data(&json, "webauthn.get")?;
    if origin != passkey.origin {
        return Err("clientDataJSON origin is not the passkey's".into());
    }
    if challenge[..] != Sha256::digest(signed)[..] {
        return Err("the passkey signed another answer".into());
    }
    let cred = Fido2Credential {
        name: String::new(),
        credential_id: passkey.credential_id.clone(),
        public_key: passkey.public_key.clone(),
        rp_id: passkey.rp_id.clone(),
        sign_count: passkey.sign_count,
        user_verification: true,
        created: 0,
    };
    let assertion = Assertion {
        credential_id: decode("credential_id", &a.credential_id)?,
        auth_data: decode("authenticator_data", &a.authenticator_data)?,
        signature: decode("signature", &a.signature)?,
    };
    let hash: [u8; 32] = Sha256::digest(&json).into();
    match verify_assertion(&[cred], &passkey.rp_id, &hash, &assertion) {
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

    #[test]
    fn relying_party_from_origin() {
        let rp = RelyingParty::from_origin("https://Push.example:8443/").unwrap();
        assert_eq!(
            rp,
            RelyingParty { id: "push.example".into(), origin: "https://Push.example:8443".into() }
        );
        let v6 = RelyingParty::from_origin("https://[::1]:9").map(|r| r.id);
        assert_eq!(v6.as_deref(), Some("::1"));
        assert!(RelyingParty::from_origin("http://localhost:8080").is_some());
        for bad in ["ftp://x", "http://push.example", "https://", "https://a/b", "https://u@x"] {
            assert_eq!(RelyingParty::from_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn client_data_checks_type_and_same_origin() {
        let cd = |t: &str, extra: &str| {
            format!(r#"{{"type":"{t}","challenge":"AAAA","origin":"https://p.example"{extra}}}"#)
                .into_bytes()
        };
        let good = cd("webauthn.get", "");
        assert_eq!(
            client_data(&good, "webauthn.get"),
            Ok(("https://p.example".to_string(), vec![0, 0, 0]))
        );
        assert!(client_data(&good, "webauthn.create").is_err(), "type");
        let cross = cd("webauthn.get", r#","crossOrigin":true"#);
        assert!(client_data(&cross, "webauthn.get").is_err(), "cross origin");
        assert!(client_data(b"not json", "webauthn.get").is_err());
    }

    #[test]
    fn an_assertion_over_another_answer_or_origin_is_refused() {
        let json = br#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://p.example"}"#;
        let a = PasskeyAssertion {
            credential_id: "AAAA".into(),
            authenticator_data: "AAAA".into(),
            client_data_json: b64(json),
            signature: "AAAA".into(),
        };
        let mut key = DevicePasskey {
            credential_id: "AAAA".into(),
            public_key: "AAAA".into(),
            rp_id: "p.example".into(),
            origin: "https://p.example".into(),
            sign_count: 0,
        };
        let e = verify_answer(&key, &a, b"the answer").unwrap_err();
        assert!(e.contains("another answer"), "{e}");
        key.origin = "https://q.example".into();
        let e = verify_answer(&key, &a, b"the answer").unwrap_err();
        assert!(e.contains("origin"), "{e}");
    }
}
