//! The canonical bytes every signature covers.
//!
//! `"pam_mfa-push-v2" 0x00 kind 0x00` followed by each field as a 4-byte big-endian length and
//! the field's UTF-8 bytes. The domain string and kind keep a signature for one purpose from
//! being valid for another; the length prefixes keep fields from sliding into each other. A
//! missing optional field is the empty string; numbers are decimal text; hashes are base64url.
//!
//! What makes "the service alone cannot approve a login" true is [`login`]: the whole login
//! as the host created it (its transaction, host, user, PAM service, remote address, time,
//! nonce and the numbers the phone offers). The device signs the SHA-256 of those bytes
//! ([`login_hash`]) together with its decision and the number the user entered ([`answer`]);
//! the module rebuilds the bytes from its *own* login, never from what the service says, so a
//! device signature over anything the service changed does not verify.

use crate::api::{Decision, PasskeyAssertion, PasskeyRegistration};
use sha2::{Digest, Sha256};

/// The domain separator of protocol version 2.
pub const DOMAIN: &str = "pam_mfa-push-v2";

fn message(kind: &str, fields: &[&str]) -> Vec<u8> {
    message_in(DOMAIN, kind, fields)
}

/// [`message`] under another domain string (fleet mode's receipts: [`crate::fleet`]).
pub(crate) fn message_in(domain: &str, kind: &str, fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    out.extend_from_slice(domain.as_bytes());
    out.push(0);
    out.extend_from_slice(kind.as_bytes());
    out.push(0);
    for f in fields {
        // Fields are bounded by `limits` long before 4 GiB; saturate rather than wrap.
        let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

fn number_text(number: Option<u8>) -> String {
    number.map(|n| n.to_string()).unwrap_or_default()
}

/// The numbers as signed: comma-separated decimal, in the order shown; empty when the phone
/// asks the user to type the number.
pub fn choices_text(choices: &[u8]) -> String {
    choices.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A login as the host created it: everything the phone shows and the module checks.
#[derive(Clone, Copy, Debug)]
pub struct LoginFields<'a> {
    /// Transaction id (the service's, the host learns it when creating the challenge).
    pub txid: &'a str,
    /// The host's id at the service.
    pub host_id: &'a str,
    /// The host's registered name (in the host's credential; what the phone displays).
    pub hostname: &'a str,
    /// The user logging in.
    pub user: &'a str,
    /// The PAM service.
    pub service: &'a str,
    /// The remote address, if any.
    pub rhost: Option<&'a str>,
    /// When the login started, by the host's clock (Unix seconds).
    pub time: u64,
    /// The module's nonce (32 random bytes, base64url).
    pub nonce: &'a str,
    /// The three numbers the phone offers (chosen by the host, in display order), or none when
    /// the user types the number shown at login.
    pub choices: &'a [u8],
}

/// The canonical bytes of a login.
pub fn login(c: &LoginFields<'_>) -> Vec<u8> {
    message(
        "login",
        &[
            c.txid,
            c.host_id,
            c.hostname,
            c.user,
            c.service,
            c.rhost.unwrap_or(""),
            &c.time.to_string(),
            c.nonce,
            &choices_text(c.choices),
        ],
    )
}

/// SHA-256 of [`login`]: what a device's answer is bound to.
pub fn login_hash(c: &LoginFields<'_>) -> [u8; 32] {
    sha256(&login(c))
}

/// What a device signs to answer: the hash of the login it displayed, its decision and the
/// number the user entered (empty when none was entered).
pub fn answer(login_hash: &[u8; 32], decision: Decision, number: Option<u8>) -> Vec<u8> {
    message("answer", &[&crate::b64(login_hash), decision.as_str(), &number_text(number)])
}

/// What the service signs over a pending challenge it hands to a device: the login's hash and
/// when the challenge expires (the device shows a countdown).
pub fn pending(login_hash: &[u8; 32], expires_at: u64) -> Vec<u8> {
    message("pending", &[&crate::b64(login_hash), &expires_at.to_string()])
}

/// The parts of a receipt beyond the login (see [`crate::api::Receipt`]).
#[derive(Clone, Copy, Debug)]
pub struct ReceiptFields<'a> {
    /// The login answered.
    pub login_hash: &'a [u8; 32],
    /// The decision.
    pub decision: Decision,
    /// The number the user entered.
    pub number: Option<u8>,
    /// The device that answered.
    pub device_id: &'a str,
    /// The device's signature over [`answer`].
    pub device_signature: &'a str,
    /// The passkey assertion over [`answer`], for a device with a passkey.
    pub passkey: Option<&'a PasskeyAssertion>,
    /// When the service received the answer (Unix seconds).
    pub answered_at: u64,
}

/// What the service signs in a receipt.
pub fn receipt(r: &ReceiptFields<'_>) -> Vec<u8> {
    let (cred, data, client, sig) = match r.passkey {
        Some(p) => (
            p.credential_id.as_str(),
            p.authenticator_data.as_str(),
            p.client_data_json.as_str(),
            p.signature.as_str(),
        ),
        None => ("", "", "", ""),
    };
    message(
        "receipt",
        &[
            &crate::b64(r.login_hash),
            r.decision.as_str(),
            &number_text(r.number),
            r.device_id,
            r.device_signature,
            cred,
            data,
            client,
            sig,
            &r.answered_at.to_string(),
        ],
    )
}

/// What a device signs when pairing (proof that it holds the key it registers).
pub fn pair(credential: &str, name: &str, public_key: &str) -> Vec<u8> {
    message("pair", &[credential, name, public_key])
}

/// The WebAuthn challenge of a passkey made while pairing: it binds the passkey to this
/// pairing credential and this device key.
pub fn passkey_pairing_challenge(credential: &str, public_key: &str) -> [u8; 32] {
    sha256(&message("passkey-pairing", &[credential, public_key]))
}

/// Digits in a pairing code.
pub const PAIRING_CODE_DIGITS: usize = 6;

/// The pairing code a device shows and the user types at the host, which computes it from the
/// device it was told about: from the host's secret in the pairing link (never sent to the
/// service), the credential, and the device's keys (its P-256 key and, with a passkey, the
/// passkey's credential id and SHA-256 of its attestation object, which holds its public
/// key). A device that is not the user's (it used the link first, or the service swapped its
/// key) gives another code; the service cannot search for a key with a matching code without
/// the host's secret.
pub fn pairing_code(
    host_secret: &str,
    credential: &str,
    public_key: &str,
    passkey: Option<&PasskeyRegistration>,
) -> String {
    let (passkey_id, attestation) = match passkey {
        Some(p) => (p.credential_id.as_str(), crate::b64(&sha256(p.attestation_object.as_bytes()))),
        None => ("", String::new()),
    };
    let h = sha256(&message(
        "pairing-code",
        &[host_secret, credential, public_key, passkey_id, &attestation],
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    // 64 bits reduced to 10^6: the bias is below 2^-44.
    let n = u64::from_be_bytes(first) % 1_000_000;
    format!("{n:06}")
}

/// What a device signs to authenticate one request (`Authorization: PamMfaDevice ...`): its
/// id, the time (checked within ±60 s), a single-use nonce, the method, the path with query,
/// and the SHA-256 of the body (of the empty string when there is none). The service refuses
/// a nonce it has seen, so a captured request cannot be sent again, with its body or another.
pub fn device_request(
    device_id: &str,
    timestamp: u64,
    nonce: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<u8> {
    message(
        "device-request",
        &[device_id, &timestamp.to_string(), nonce, method, path, &crate::b64(&sha256(body))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(choices: &'a [u8]) -> LoginFields<'a> {
        LoginFields {
            txid: "t",
            host_id: "h",
            hostname: "web1",
            user: "alice",
            service: "sshd",
            rhost: Some("192.0.2.7"),
            time: 5,
            nonce: "n",
            choices,
        }
    }

    #[test]
    fn fields_cannot_slide() {
        let h = [1u8; 32];
        assert_ne!(answer(&h, Decision::Approve, Some(12)), answer(&h, Decision::Approve, None));
        assert_ne!(
            device_request("d", 1, "n", "GET", "/x", b""),
            message("answer", &["d", "1", "n", "GET", "/x", &crate::b64(&sha256(b""))])
        );
        let a = LoginFields { hostname: "ab", user: "c", ..fields(&[]) };
        let b = LoginFields { hostname: "a", user: "bc", ..fields(&[]) };
        assert_ne!(login(&a), login(&b));
    }

    #[test]
    fn every_login_field_changes_the_hash() {
        let base = login_hash(&fields(&[12, 34, 56]));
        let variants = [
            LoginFields { txid: "u", ..fields(&[12, 34, 56]) },
            LoginFields { host_id: "g", ..fields(&[12, 34, 56]) },
            LoginFields { hostname: "web2", ..fields(&[12, 34, 56]) },
            LoginFields { user: "bob", ..fields(&[12, 34, 56]) },
            LoginFields { service: "sudo", ..fields(&[12, 34, 56]) },
            LoginFields { rhost: None, ..fields(&[12, 34, 56]) },
            LoginFields { time: 6, ..fields(&[12, 34, 56]) },
            LoginFields { nonce: "m", ..fields(&[12, 34, 56]) },
            fields(&[34, 12, 56]),
            fields(&[]),
        ];
        for v in variants {
            assert_ne!(login_hash(&v), base, "{v:?}");
        }
    }

    #[test]
    fn pairing_codes_depend_on_every_input() {
        let reg = |id: &str, att: &str| PasskeyRegistration {
            credential_id: id.into(),
            attestation_object: att.into(),
            client_data_json: "x".into(),
        };
        let c = pairing_code("s", "c", "k", None);
        assert_eq!(c.len(), PAIRING_CODE_DIGITS);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        let with = pairing_code("s", "c", "k", Some(&reg("p", "a")));
        assert_ne!(with, c);
        for other in [
            pairing_code("t", "c", "k", None),
            pairing_code("s", "d", "k", None),
            pairing_code("s", "c", "l", None),
            pairing_code("s", "c", "k", Some(&reg("q", "a"))),
            pairing_code("s", "c", "k", Some(&reg("p", "b"))),
        ] {
            assert_ne!(other, c);
        }
    }

    #[test]
    fn layout_is_stable() {
        // The web app builds the same bytes in JavaScript; this pins the layout.
        let m = pair("C", "N", "K");
        let mut want = b"pam_mfa-push-v2\0pair\0".to_vec();
        for f in ["C", "N", "K"] {
            want.extend_from_slice(&(f.len() as u32).to_be_bytes());
            want.extend_from_slice(f.as_bytes());
        }
        assert_eq!(m, want);
    }
}
