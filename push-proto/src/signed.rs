//! The canonical bytes every signature covers.
//!
//! `"pam_mfa-push-v1" 0x00 kind 0x00` followed by each field as a 4-byte big-endian length and
//! the field's UTF-8 bytes. The domain string and kind keep a signature for one purpose from
//! being valid for another; the length prefixes keep fields from sliding into each other. A
//! missing optional field is the empty string; numbers are decimal text.

use crate::api::Decision;

/// The domain separator of protocol version 1.
pub const DOMAIN: &str = "pam_mfa-push-v1";

fn message(kind: &str, fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    out.extend_from_slice(DOMAIN.as_bytes());
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

/// What a device signs to answer a challenge: bound to the transaction, the module's nonce,
/// the decision and the number the user picked (empty when none was picked).
pub fn answer(txid: &str, nonce: &str, decision: Decision, number: Option<u8>) -> Vec<u8> {
    message("answer", &[txid, nonce, decision.as_str(), &number_text(number)])
}

/// The fields of a receipt the service signs (see [`crate::api::Receipt`]).
pub struct ReceiptFields<'a> {
    /// Transaction id.
    pub txid: &'a str,
    /// The host that created the challenge.
    pub host_id: &'a str,
    /// The user logging in.
    pub user: &'a str,
    /// The module's nonce.
    pub nonce: &'a str,
    /// The decision.
    pub decision: Decision,
    /// The number the user picked.
    pub number: Option<u8>,
    /// The device that answered.
    pub device_id: &'a str,
    /// The device's signature over [`answer`].
    pub device_signature: &'a str,
    /// When the service received the answer (Unix seconds).
    pub answered_at: u64,
}

/// What the service signs in a receipt: everything the module must check.
pub fn receipt(r: &ReceiptFields<'_>) -> Vec<u8> {
    message(
        "receipt",
        &[
            r.txid,
            r.host_id,
            r.user,
            r.nonce,
            r.decision.as_str(),
            &number_text(r.number),
            r.device_id,
            r.device_signature,
            &r.answered_at.to_string(),
        ],
    )
}

/// The login context of a challenge, as the service signs it for devices.
pub struct ChallengeFields<'a> {
    /// Transaction id.
    pub txid: &'a str,
    /// The user logging in.
    pub user: &'a str,
    /// The host's display name (from its credential, not from the request).
    pub hostname: &'a str,
    /// The PAM service.
    pub service: &'a str,
    /// The remote address, if any.
    pub rhost: Option<&'a str>,
    /// When the login started (Unix seconds).
    pub time: u64,
    /// The module's nonce.
    pub nonce: &'a str,
    /// When the challenge expires (Unix seconds).
    pub expires_at: u64,
    /// The three numbers the device offers (signed, so they cannot be swapped in transit).
    pub choices: &'a [u8],
}

/// What the service signs over a pending challenge, so a device can show context it trusts.
pub fn challenge(c: &ChallengeFields<'_>) -> Vec<u8> {
    message(
        "challenge",
        &[
            c.txid,
            c.user,
            c.hostname,
            c.service,
            c.rhost.unwrap_or(""),
            &c.time.to_string(),
            c.nonce,
            &c.expires_at.to_string(),
            &c.choices.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
        ],
    )
}

/// What a device signs when pairing (proof that it holds the key it registers).
pub fn pair(credential: &str, name: &str, public_key: &str) -> Vec<u8> {
    message("pair", &[credential, name, public_key])
}

/// What the service signs into a passkey registration challenge: the device and the
/// challenge's expiry (Unix seconds), so the challenge needs no server-side state.
pub fn passkey_registration(device_id: &str, expires_at: u64) -> Vec<u8> {
    message("passkey-registration", &[device_id, &expires_at.to_string()])
}

/// What a device signs to authenticate one request (`Authorization: PamMfaDevice ...`):
/// its id, the time (checked within ±60 s), the method and the path with query.
pub fn device_request(device_id: &str, timestamp: u64, method: &str, path: &str) -> Vec<u8> {
    message("device-request", &[device_id, &timestamp.to_string(), method, path])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_slide() {
        assert_ne!(
            answer("ab", "c", Decision::Approve, None),
            answer("a", "bc", Decision::Approve, None)
        );
        assert_ne!(
            answer("t", "n", Decision::Approve, Some(12)),
            answer("t", "n", Decision::Approve, None)
        );
        assert_ne!(
            device_request("d", 1, "GET", "/x"),
            message("answer", &["d", "1", "GET", "/x"])
        );
    }

    #[test]
    fn layout_is_stable() {
        // The web app builds the same bytes in JavaScript; this pins the layout.
        let m = answer("T", "N", Decision::Deny, Some(7));
        let mut want = b"pam_mfa-push-v1\0answer\0".to_vec();
        for f in ["T", "N", "deny", "7"] {
            want.extend_from_slice(&(f.len() as u32).to_be_bytes());
            want.extend_from_slice(f.as_bytes());
        }
        assert_eq!(m, want);
    }
}
