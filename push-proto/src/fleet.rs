//! Fleet mode (issue 20): the service keeps a user's factors and decides, the host asks.
//!
//! A host sends `POST /v2/fleet/verify` ([`crate::api::path::FLEET_VERIFY`], host token) with
//! the user, the factor and what the user typed, the PAM service, the remote address, the
//! login time and a fresh nonce of its own ([`VerifyRequest`]). The service counts the attempt,
//! checks the answer, accepts it at most once in the whole fleet and answers with a
//! [`FleetReceipt`] signed with its key, which the host pins. The receipt is bound to the
//! host, the user, the nonce, the factor and the decision, under its own domain string
//! ([`DOMAIN`]), so no push receipt or other signature of the service can stand in for it, and
//! a receipt for one login, user or host is worthless for another. The module checks it with
//! [`FleetReceipt::check`] against its *own* request: no valid receipt, no success.

use crate::PublicKey;
use crate::limits::{self, MAX_RHOST, MAX_SERVICE, NONCE_LEN};
use serde::{Deserialize, Serialize};

/// Domain string of fleet-mode signatures (never used by the push protocol's
/// [`crate::signed::DOMAIN`]).
pub const DOMAIN: &str = "pam_mfa-fleet-v1";

/// Longest answer (code or recovery code as typed, spaces and dashes included).
pub const MAX_ANSWER: usize = 64;

/// How far a request's login time may be from the service's clock, seconds. The service
/// remembers each nonce for twice this (the longest a request with that nonce could pass), so
/// a request sent again is refused for as long as it could otherwise be accepted.
pub const MAX_SKEW: u64 = 300;

/// Which factor an answer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// A TOTP code.
    Totp,
    /// A single-use recovery code.
    Recovery,
    /// A FIDO2 security key's assertion over a challenge of the service's
    /// ([`crate::fleet_keys`]).
    SecurityKey,
    /// A fleet push device's approval ([`crate::fleet_push`]); only removed by name, never
    /// sent as an answer.
    Push,
}

impl Factor {
    /// The name on the wire and in signed bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Recovery => "recovery",
            Factor::SecurityKey => "security_key",
            Factor::Push => "push",
        }
    }
}

/// What the service decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The answer was right and is now used up everywhere: let the login in.
    Accept,
    /// Wrong, used before, or the user has no such factor.
    Reject,
    /// The user is locked out after too many failures (fleet-wide); the answer was not
    /// checked.
    Locked,
}

impl Verdict {
    /// The name on the wire and in signed bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject => "reject",
            Verdict::Locked => "locked",
        }
    }
}

/// `POST /v2/fleet/verify` (host).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The user logging in.
    pub user: String,
    /// The factor `answer` is for.
    pub factor: Factor,
    /// What the user typed. Secret: never logged, never in `Debug`.
    pub answer: String,
    /// The PAM service.
    pub service: String,
    /// The remote address, if any.
    pub rhost: Option<String>,
    /// When the login started, by the host's clock (Unix seconds; within [`MAX_SKEW`] of the
    /// service's).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), never sent twice.
    pub nonce: String,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("user", &self.user)
            .field("factor", &self.factor)
            .field("answer", &"<redacted>")
            .field("service", &self.service)
            .field("rhost", &self.rhost)
            .field("time", &self.time)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl VerifyRequest {
    /// Checks every field's format and bound (the service's first step; `Err` names the field).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !limits::is_user(&self.user) {
            return Err("user is malformed");
        }
        if self.answer.is_empty()
            || self.answer.len() > MAX_ANSWER
            || self.answer.chars().any(|c| c.is_control())
        {
            return Err("answer is malformed");
        }
        if !limits::is_text(&self.service, MAX_SERVICE) {
            return Err("service is malformed");
        }
        if self.rhost.as_deref().is_some_and(|r| !limits::is_text(r, MAX_RHOST)) {
            return Err("rhost is malformed");
        }
        if !limits::is_token(&self.nonce, NONCE_LEN) {
            return Err("nonce must be 32 bytes, base64url");
        }
        if i64::try_from(self.time).is_err() {
            return Err("time is out of range");
        }
        Ok(())
    }
}

/// Answer to [`VerifyRequest`] (200, whatever the verdict).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyResponse {
    /// The signed decision.
    pub receipt: FleetReceipt,
    /// With [`Verdict::Locked`]: when the lockout ends (Unix seconds; not signed, for the
    /// message only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<u64>,
}

/// The service's signed decision on one [`VerifyRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetReceipt {
    /// The asking host's id (from its credential, never from the request).
    pub host_id: String,
    /// The user.
    pub user: String,
    /// The PAM service, as requested.
    pub service: String,
    /// The remote address, as requested.
    pub rhost: Option<String>,
    /// The login time, as requested.
    pub time: u64,
    /// The host's nonce, as requested.
    pub nonce: String,
    /// The factor checked.
    pub factor: Factor,
    /// The decision.
    pub verdict: Verdict,
    /// When the service decided (Unix seconds, its clock).
    pub decided_at: u64,
    /// The service's signature over [`FleetReceipt::signed_bytes`].
    pub signature: String,
}

/// Why [`FleetReceipt::check`] refused a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The signature is not the service's.
    Signature,
    /// The receipt is for another request (the field named differs from the host's own).
    Mismatch(&'static str),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Signature => write!(f, "the receipt's signature is not the service's"),
            CheckError::Mismatch(field) => write!(f, "the receipt is for another {field}"),
        }
    }
}

impl std::error::Error for CheckError {}

impl FleetReceipt {
    /// The canonical bytes the service signs: [`DOMAIN`], kind `verify-receipt`, then each
    /// field length-prefixed (as [`crate::signed`] does for the push protocol).
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::signed::message_in(
            DOMAIN,
            "verify-receipt",
            &[
                &self.host_id,
                &self.user,
                &self.service,
                self.rhost.as_deref().unwrap_or(""),
                &self.time.to_string(),
                &self.nonce,
                self.factor.as_str(),
                self.verdict.as_str(),
                &self.decided_at.to_string(),
            ],
        )
    }

    /// Fills in [`FleetReceipt::signature`] with `key` (the service's).
    pub fn sign(&mut self, key: &crate::SecretKey) {
        self.signature = key.sign(&self.signed_bytes());
    }

    /// What the module does with a receipt: checks that it answers *its own* request `sent`,
    /// made as host `host_id`, and that `service_key` (pinned in the host credential) signed
    /// it; then returns the verdict. Only [`Verdict::Accept`] lets a login in.
    pub fn check(
        &self,
        service_key: &PublicKey,
        host_id: &str,
        sent: &VerifyRequest,
    ) -> Result<Verdict, CheckError> {
        let same = [
            ("host", self.host_id == host_id),
            ("user", self.user == sent.user),
            ("service", self.service == sent.service),
            ("remote address", self.rhost == sent.rhost),
            ("login time", self.time == sent.time),
            ("nonce", self.nonce == sent.nonce),
            ("factor", self.factor == sent.factor),
        ];
        if let Some((field, _)) = same.iter().find(|(_, ok)| !ok) {
            return Err(CheckError::Mismatch(field));
        }
        if !service_key.verify(&self.signed_bytes(), &self.signature) {
            return Err(CheckError::Signature);
        }
        Ok(self.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn request() -> VerifyRequest {
        VerifyRequest {
            user: "alice".into(),
            factor: Factor::Totp,
            answer: "123456".into(),
            service: "sshd".into(),
            rhost: Some("192.0.2.7".into()),
            time: 1_700_000_000,
            nonce: "n".repeat(NONCE_LEN),
        }
    }

    fn receipt(key: &SecretKey, req: &VerifyRequest, verdict: Verdict) -> FleetReceipt {
        let mut r = FleetReceipt {
            host_id: "h".repeat(22),
            user: req.user.clone(),
            service: req.service.clone(),
            rhost: req.rhost.clone(),
            time: req.time,
            nonce: req.nonce.clone(),
            factor: req.factor,
            verdict,
            decided_at: req.time + 1,
            signature: String::new(),
        };
        r.sign(key);
        r
    }

    #[test]
    fn a_receipt_checks_only_for_its_own_request_host_and_key() {
        let key = SecretKey::generate().unwrap();
        let req = request();
        let host = "h".repeat(22);
        let r = receipt(&key, &req, Verdict::Accept);
        assert_eq!(r.check(&key.public(), &host, &req), Ok(Verdict::Accept));
        assert_eq!(
            r.check(&key.public(), &"g".repeat(22), &req),
            Err(CheckError::Mismatch("host"))
        );
        let other = |f: fn(&mut VerifyRequest)| {
            let mut q = request();
            f(&mut q);
            r.check(&key.public(), &host, &q)
        };
        assert!(other(|q| q.user = "bob".into()).is_err());
        assert!(other(|q| q.nonce = "m".repeat(NONCE_LEN)).is_err());
        assert!(other(|q| q.factor = Factor::Recovery).is_err());
        assert!(other(|q| q.service = "sudo".into()).is_err());
        assert!(other(|q| q.rhost = None).is_err());
        assert!(other(|q| q.time += 1).is_err());
        let stranger = SecretKey::generate().unwrap();
        assert_eq!(r.check(&stranger.public(), &host, &req), Err(CheckError::Signature));
        let mut rejected = receipt(&key, &req, Verdict::Reject);
        assert_eq!(rejected.check(&key.public(), &host, &req), Ok(Verdict::Reject));
        // Changing the verdict after signing breaks the signature.
        rejected.verdict = Verdict::Accept;
        assert_eq!(rejected.check(&key.public(), &host, &req), Err(CheckError::Signature));
    }

    #[test]
    fn fleet_bytes_are_not_push_bytes() {
        let key = SecretKey::generate().unwrap();
        let r = receipt(&key, &request(), Verdict::Accept);
        let bytes = r.signed_bytes();
        assert!(bytes.starts_with(b"pam_mfa-fleet-v1\0verify-receipt\0"));
        assert!(!bytes.starts_with(crate::signed::DOMAIN.as_bytes()));
    }

    #[test]
    fn validation_and_redaction() {
        assert_eq!(request().validate(), Ok(()));
        let mut q = request();
        q.answer = "1".repeat(MAX_ANSWER + 1);
        assert!(q.validate().is_err());
        let mut q = request();
        q.answer = "12\n34".into();
        assert!(q.validate().is_err());
        let mut q = request();
        q.nonce = "short".into();
        assert!(q.validate().is_err());
        assert!(!format!("{:?}", request()).contains("123456"));
        let wire = serde_json::to_string(&request()).unwrap();
        let extra = wire.replacen('{', "{\"x\":1,", 1);
        assert!(serde_json::from_str::<VerifyRequest>(&extra).is_err());
    }
}
