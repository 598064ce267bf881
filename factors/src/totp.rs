//! TOTP (RFC 6238) over HOTP (RFC 4226), with replay protection.
//!
//! Verification looks at each time step in the window separately and only accepts a step newer
//! than the last step the user has used, so a code — or any older code — is never accepted
//! twice. The caller stores the returned step under the user's lock (`mfa-login`'s store).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The HMAC hash function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// HMAC-SHA1: what RFC 6238 defaults to and every app supports.
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Algorithm {
    /// Name used in otpauth URIs and by oathtool.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Parses an otpauth `algorithm=` value (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// Parameters of one TOTP enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// HMAC algorithm.
    pub algorithm: Algorithm,
    /// Code length, 6 or 8.
    pub digits: u8,
    /// Seconds per step.
    pub step: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { algorithm: Algorithm::Sha1, digits: 6, step: 30 }
    }
}

fn mac_bytes<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Zeroizing<Vec<u8>> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(msg);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// HOTP value (RFC 4226) for `counter`, as a number below `10^digits`.
pub fn hotp(secret: &[u8], counter: u64, algorithm: Algorithm, digits: u8) -> u32 {
    let msg = counter.to_be_bytes();
    let h = match algorithm {
        Algorithm::Sha1 => mac_bytes::<Hmac<sha1::Sha1>>(secret, &msg),
        Algorithm::Sha256 => mac_bytes::<Hmac<sha2::Sha256>>(secret, &msg),
        Algorithm::Sha512 => mac_bytes::<Hmac<sha2::Sha512>>(secret, &msg),
    };
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    bin % 10u32.pow(u32::from(digits))
}

/// The time step containing `unix_time`.
pub fn step_at(params: &Params, unix_time: u64) -> u64 {
    unix_time / params.step
}

/// The code for a given step, zero-padded to `digits`.
pub fn code_for_step(secret: &[u8], params: &Params, step: u64) -> Zeroizing<String> {
    let v = hotp(secret, step, params.algorithm, params.digits);
    Zeroizing::new(format!("{:0width$}", v, width = usize::from(params.digits)))
}

/// The code valid at `unix_time`.
pub fn code_at(secret: &[u8], params: &Params, unix_time: u64) -> Zeroizing<String> {
    code_for_step(secret, params, step_at(params, unix_time))
}

/// The result of checking a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The code matches this step, which is newer than the last used one: accept it and store
    /// the step.
    Accepted(u64),
    /// The code matches a step in the window that was already used (or is older than one that
    /// was): a replay. Refuse.
    Replayed,
    /// The code matches no step in the window.
    Wrong,
}

/// Checks `code` against every step in `[now - window, now + window]`.
///
/// Each candidate is compared in constant time. Of the matching steps newer than `last_used`,
/// the oldest is returned, so later codes stay usable.
pub fn verify(
    secret: &[u8],
    params: &Params,
    code: &str,
    unix_time: u64,
    window: u32,
    last_used: Option<u64>,
) -> Check {
    if code.len() != usize::from(params.digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Check::Wrong;
    }
    let now = step_at(params, unix_time);
    let first = now.saturating_sub(u64::from(window));
    let last = now.saturating_add(u64::from(window));
    let mut accepted = None;
    let mut replayed = false;
    for step in first..=last {
        let expected = code_for_step(secret, params, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            if last_used.is_some_and(|used| step <= used) {
                replayed = true;
            } else if accepted.is_none() {
                accepted = Some(step);
            }
        }
    }
    match (accepted, replayed) {
        (Some(s), _) => Check::Accepted(s),
        (None, true) => Check::Replayed,
        (None, false) => Check::Wrong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_KEY: &[u8] = b"12345678901234567890";
    const SHA256_KEY: &[u8] = b"12345678901234567890123456789012";
    const SHA512_KEY: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 appendix B, all three algorithms.
    #[test]
    fn rfc6238_test_vectors() {
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, s1, s256, s512) in vectors {
            let p = |algorithm| Params { algorithm, digits: 8, step: 30 };
            assert_eq!(&*code_at(SHA1_KEY, &p(Algorithm::Sha1), t), s1);
            assert_eq!(&*code_at(SHA256_KEY, &p(Algorithm::Sha256), t), s256);
            assert_eq!(&*code_at(SHA512_KEY, &p(Algorithm::Sha512), t), s512);
        }
    }

    /// RFC 4226 appendix D.
    #[test]
    fn rfc4226_hotp_vectors() {
        let expected =
            [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (c, e) in expected.iter().enumerate() {
            assert_eq!(hotp(SHA1_KEY, c as u64, Algorithm::Sha1, 6), *e);
        }
    }

    #[test]
    fn window_edges_and_replay_floor() {
        let p = Params::default();
        let t = 1_700_000_000 - (1_700_000_000 % 30) + 10;
        let at = |dt: i64| code_at(SHA1_KEY, &p, (t as i64 + dt) as u64);
        let now = step_at(&p, t);
        assert_eq!(verify(SHA1_KEY, &p, &at(0), t, 1, None), Check::Accepted(now));
        assert_eq!(verify(SHA1_KEY, &p, &at(-30), t, 1, None), Check::Accepted(now - 1));
        assert_eq!(verify(SHA1_KEY, &p, &at(30), t, 1, None), Check::Accepted(now + 1));
        assert_eq!(verify(SHA1_KEY, &p, &at(-60), t, 1, None), Check::Wrong);
        assert_eq!(verify(SHA1_KEY, &p, &at(60), t, 1, None), Check::Wrong);
        assert_eq!(verify(SHA1_KEY, &p, &at(-60), t, 2, None), Check::Accepted(now - 2));
        assert_eq!(verify(SHA1_KEY, &p, &at(30), t, 0, None), Check::Wrong);
        // Used step and anything older are refused; newer is fine.
        assert_eq!(verify(SHA1_KEY, &p, &at(0), t, 1, Some(now)), Check::Replayed);
        assert_eq!(verify(SHA1_KEY, &p, &at(-30), t, 1, Some(now)), Check::Replayed);
        assert_eq!(verify(SHA1_KEY, &p, &at(30), t, 1, Some(now)), Check::Accepted(now + 1));
    }

    #[test]
    fn malformed_codes_are_wrong() {
        let p = Params::default();
        for c in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 123456"] {
            assert_eq!(verify(SHA1_KEY, &p, c, 59, 1, None), Check::Wrong, "{c:?}");
        }
    }

    #[test]
    fn time_zero_does_not_underflow() {
        let p = Params::default();
        let c = code_at(SHA1_KEY, &p, 0);
        assert_eq!(verify(SHA1_KEY, &p, &c, 0, 3, None), Check::Accepted(0));
    }
}
