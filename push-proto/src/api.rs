//! Request and response bodies of the HTTP API (JSON; `docs/openapi.yaml`).
//!
//! Host endpoints take `Authorization: Bearer <host token>`; device endpoints take
//! `Authorization: PamMfaDevice <device id>.<unix time>.<nonce>.<signature>` (see
//! [`crate::signed::device_request`] and [`DeviceAuth`]); pairing takes the one-time credential
//! in its body. Every error is an [`ErrorBody`] with a stable `error` code.

use serde::{Deserialize, Serialize};

/// Protocol version: in the path prefix, the signed bytes' domain and `GET /v2/health`.
pub const VERSION: u32 = 2;

/// A path of protocol version 2 (`v2!("/health")` is `"/v2/health"`), usable where a literal is
/// needed (`concat!`).
macro_rules! v2 {
    ($path:literal) => {
        concat!("/v2", $path)
    };
}

/// Path prefix of protocol version 2.
pub const PREFIX: &str = v2!("");

/// The API's paths, defined once: the service's routes (the `*_ROUTE` templates, with axum's
/// `{name}` captures), the module's and the command-line device's clients, and the benchmark.
/// The service's own HTTP tests spell the paths out on purpose: they pin the wire format
/// (`docs/openapi.yaml`) independently of these constants.
pub mod path {
    /// `GET`: the service answers with its protocol version.
    pub const HEALTH: &str = v2!("/health");
    /// `POST` (host): create a challenge.
    pub const CHALLENGES: &str = v2!("/challenges");
    /// Route of one challenge: `GET` (host, long-poll) and `DELETE` (host, withdraw).
    pub const CHALLENGE_ROUTE: &str = v2!("/challenges/{txid}");
    /// `POST` (host): start a pairing.
    pub const PAIRINGS: &str = v2!("/pairings");
    /// Route of one pairing: `GET` (host, long-poll).
    pub const PAIRING_ROUTE: &str = v2!("/pairings/{id}");
    /// `POST` (device): complete a pairing.
    pub const DEVICE_PAIR: &str = v2!("/device/pair");
    /// `GET` (device): the device's pending challenges.
    pub const DEVICE_CHALLENGES: &str = v2!("/device/challenges");
    /// Route of a device's answer: `POST`.
    pub const DEVICE_ANSWER_ROUTE: &str = v2!("/device/challenges/{txid}/answer");
    /// `GET`: the service's VAPID public key.
    pub const WEB_PUSH_KEY: &str = v2!("/web-push/key");
    /// `PUT`/`DELETE` (device): the device's Web Push subscription.
    pub const PUSH_SUBSCRIPTION: &str = v2!("/device/push-subscription");
    /// `POST` (host): fleet mode, have the service verify a code or recovery code
    /// ([`crate::fleet`]).
    pub const FLEET_VERIFY: &str = v2!("/fleet/verify");

    /// The path of challenge `txid` ([`CHALLENGE_ROUTE`]).
    pub fn challenge(txid: &str) -> String {
        format!("{CHALLENGES}/{txid}")
    }

    /// The path of pairing `id` ([`PAIRING_ROUTE`]).
    pub fn pairing(id: &str) -> String {
        format!("{PAIRINGS}/{id}")
    }

    /// The path of the answer to challenge `txid` ([`DEVICE_ANSWER_ROUTE`]).
    pub fn device_answer(txid: &str) -> String {
        format!("{DEVICE_CHALLENGES}/{txid}/answer")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn paths_fill_their_routes() {
            assert_eq!(challenge("t1"), CHALLENGE_ROUTE.replace("{txid}", "t1"));
            assert_eq!(pairing("p1"), PAIRING_ROUTE.replace("{id}", "p1"));
            assert_eq!(device_answer("t2"), DEVICE_ANSWER_ROUTE.replace("{txid}", "t2"));
            assert_eq!(HEALTH, "/v2/health");
        }
    }
}

/// A device's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the login in (the host checks that the number is the one it showed).
    Approve,
    /// Refuse the login.
    Deny,
    /// Refuse, and report that the user did not start this login ("this wasn't me"): the
    /// service audits it and cools down new challenges for the user.
    Fraud,
}

impl Decision {
    /// The decision as it appears on the wire and in signed bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::Fraud => "fraud",
        }
    }
}

/// Where a challenge stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a device.
    Pending,
    /// A device approved, with a number: the host alone knows whether it is the one shown at
    /// login (the service never learns it).
    Approved,
    /// A device refused.
    Denied,
    /// A device reported the login as not the user's.
    Fraud,
    /// Nobody answered in time.
    Expired,
    /// The host withdrew it (the user typed a code instead, or gave up).
    Cancelled,
}

impl Status {
    /// Whether the challenge can still change.
    pub fn is_pending(self) -> bool {
        self == Status::Pending
    }
}

/// `POST /v2/challenges` (host): ask the user's devices to approve a login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChallenge {
    /// The user logging in.
    pub user: String,
    /// The PAM service (`sshd`, `sudo`, ...).
    pub service: String,
    /// The remote address (`PAM_RHOST`), if any.
    pub rhost: Option<String>,
    /// When the login started, by the host's clock (Unix seconds).
    pub time: u64,
    /// 32 random bytes chosen by the module, base64url; the receipt must carry it back.
    pub nonce: String,
    /// The three numbers the phone offers, chosen by the host (one is the number it shows at
    /// login), in display order; empty when the phone asks the user to type the number.
    pub choices: Vec<u8>,
    /// The device ids enrolled for this user on the host; only these are asked.
    pub devices: Vec<String>,
    /// Seconds the challenge stays open (the service caps it).
    pub ttl: u64,
}

/// A device a challenge went to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRef {
    /// Device id.
    pub id: String,
    /// The name the device gave itself at pairing.
    pub name: String,
}

/// Answer to [`CreateChallenge`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeCreated {
    /// Transaction id.
    pub txid: String,
    /// When it expires (service clock, Unix seconds).
    pub expires_at: u64,
    /// The active devices it went to (revoked ones and devices of other hosts are left out).
    pub devices: Vec<DeviceRef>,
}

/// `GET /v2/challenges/{txid}?wait=SECONDS` and `DELETE /v2/challenges/{txid}` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeState {
    /// Transaction id.
    pub txid: String,
    /// Where it stands.
    pub status: Status,
    /// Present once a device answered (approved, denied, wrong number, fraud).
    pub receipt: Option<Receipt>,
}

/// The service's signed statement of a device's answer, carrying the login the device
/// answered. The module checks that every login field is its own, rebuilds
/// [`crate::signed::login`] from its *own* values, and verifies the device's signature (and
/// passkey assertion) over [`crate::signed::answer`] of that with the enrolled keys; the
/// service's signature over [`crate::signed::receipt`] with the pinned key comes on top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Transaction id.
    pub txid: String,
    /// The host that created the challenge.
    pub host_id: String,
    /// The host's registered name, as the device showed it.
    pub hostname: String,
    /// The user logging in.
    pub user: String,
    /// The PAM service.
    pub service: String,
    /// The remote address.
    pub rhost: Option<String>,
    /// When the login started (host clock).
    pub time: u64,
    /// The module's nonce.
    pub nonce: String,
    /// The numbers the device offered (empty: the user typed the number).
    pub choices: Vec<u8>,
    /// The device's decision.
    pub decision: Decision,
    /// The number the user entered or picked.
    pub number: Option<u8>,
    /// The device that answered.
    pub device_id: String,
    /// The device's signature over [`crate::signed::answer`].
    pub device_signature: String,
    /// The passkey assertion over the same answer, from a device with a passkey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// When the service received the answer.
    pub answered_at: u64,
    /// The service's signature over [`crate::signed::receipt`].
    pub signature: String,
}

impl Receipt {
    /// The login as this receipt states it (the module compares it with its own).
    pub fn login(&self) -> crate::signed::LoginFields<'_> {
        crate::signed::LoginFields {
            txid: &self.txid,
            host_id: &self.host_id,
            hostname: &self.hostname,
            user: &self.user,
            service: &self.service,
            rhost: self.rhost.as_deref(),
            time: self.time,
            nonce: &self.nonce,
            choices: &self.choices,
        }
    }

    /// The bytes the service's `signature` covers ([`crate::signed::receipt`]).
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::signed::receipt(&crate::signed::ReceiptFields {
            login_hash: &crate::signed::login_hash(&self.login()),
            decision: self.decision,
            number: self.number,
            device_id: &self.device_id,
            device_signature: &self.device_signature,
            passkey: self.passkey.as_ref(),
            answered_at: self.answered_at,
        })
    }
}

/// `POST /v2/pairings` (host): start pairing a device for a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePairing {
    /// The user the device will belong to.
    pub user: String,
    /// Seconds the one-time credential stays valid (the service caps it).
    pub ttl: u64,
}

/// Answer to [`CreatePairing`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingCreated {
    /// Pairing id (to poll; not a secret).
    pub pairing_id: String,
    /// The service's link: `https://<service>/pair#c=<one-time credential>`. The host adds its
    /// own secret (`&k=...`, see [`crate::pairing_uri`]) before showing it as a QR code.
    pub uri: String,
    /// When the credential expires.
    pub expires_at: u64,
}

/// Where a pairing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingStatus {
    /// The credential was not used yet.
    Pending,
    /// A device paired.
    Paired,
    /// The credential expired unused.
    Expired,
}

/// `GET /v2/pairings/{id}?wait=SECONDS` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingState {
    /// Where it stands.
    pub status: PairingStatus,
    /// The paired device, once paired.
    pub device: Option<DeviceInfo>,
}

/// A paired device as hosts see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// Device id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its P-256 public key (uncompressed SEC1, base64url).
    pub public_key: String,
    /// The passkey it made while pairing, as the browser returned it (the host verifies it
    /// and keeps its public key to check every approval's assertion itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyRegistration>,
}

/// `POST /v2/device/pair` (device, unauthenticated but for the credential).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// The one-time credential from the pairing link.
    pub credential: String,
    /// A name for the device ("pixel", "laptop-cli").
    pub name: String,
    /// The device's P-256 public key (uncompressed SEC1, base64url).
    pub public_key: String,
    /// Proof of possession: the device's signature over [`crate::signed::pair`].
    pub signature: String,
    /// A passkey made with the phone's platform authenticator for this pairing (its WebAuthn
    /// challenge is [`crate::signed::passkey_pairing_challenge`]): from then on every answer
    /// must carry an assertion of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyRegistration>,
}

/// Answer to [`PairRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paired {
    /// The new device id.
    pub device_id: String,
    /// The user it belongs to.
    pub user: String,
    /// The service's public key (to check challenge signatures).
    pub service_key: String,
}

/// A challenge waiting for a device's answer, as the device sees it: the login (the device
/// signs the hash of exactly what it shows) and the service's signature over
/// [`crate::signed::pending`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingChallenge {
    /// Transaction id.
    pub txid: String,
    /// The host's id.
    pub host_id: String,
    /// The host's name as registered by the administrator.
    pub hostname: String,
    /// The user logging in.
    pub user: String,
    /// The PAM service.
    pub service: String,
    /// The remote address, if any.
    pub rhost: Option<String>,
    /// When the login started.
    pub time: u64,
    /// The module's nonce (in the signed login).
    pub nonce: String,
    /// Three different numbers, one of them shown at login, in display order; empty when the
    /// user is to type the number shown at login.
    pub choices: Vec<u8>,
    /// When the challenge expires.
    pub expires_at: u64,
    /// The service's signature over [`crate::signed::pending`].
    pub signature: String,
}

impl PendingChallenge {
    /// The login this challenge asks about.
    pub fn login(&self) -> crate::signed::LoginFields<'_> {
        crate::signed::LoginFields {
            txid: &self.txid,
            host_id: &self.host_id,
            hostname: &self.hostname,
            user: &self.user,
            service: &self.service,
            rhost: self.rhost.as_deref(),
            time: self.time,
            nonce: &self.nonce,
            choices: &self.choices,
        }
    }

    /// SHA-256 of the login ([`crate::signed::login_hash`]): what an answer signs.
    pub fn login_hash(&self) -> [u8; 32] {
        crate::signed::login_hash(&self.login())
    }

    /// The bytes the service's `signature` covers ([`crate::signed::pending`]).
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::signed::pending(&self.login_hash(), self.expires_at)
    }
}

/// `GET /v2/device/challenges?wait=SECONDS` (device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingList {
    /// Open challenges for this device's user that were sent to this device, oldest first.
    pub challenges: Vec<PendingChallenge>,
}

/// `POST /v2/device/challenges/{txid}/answer` (device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The decision.
    pub decision: Decision,
    /// The number the user typed or picked (required to approve).
    pub number: Option<u8>,
    /// The device's signature over [`crate::signed::answer`].
    pub signature: String,
    /// Required from a device with a passkey: its assertion over this very answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
}

/// A WebAuthn assertion binding an answer to the phone's unlock: the challenge in
/// `client_data_json` is base64url(SHA-256([`crate::signed::answer`] bytes)). All fields are
/// base64url as the browser returned them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertion {
    /// The credential id.
    pub credential_id: String,
    /// authenticatorData.
    pub authenticator_data: String,
    /// clientDataJSON.
    pub client_data_json: String,
    /// The signature over authenticatorData ‖ SHA-256(clientDataJSON).
    pub signature: String,
}

/// A passkey made while pairing, as the browser returned it from
/// `navigator.credentials.create` (all base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistration {
    /// The credential id.
    pub credential_id: String,
    /// attestationObject (CBOR; format `none`).
    pub attestation_object: String,
    /// clientDataJSON.
    pub client_data_json: String,
}

/// Answer to [`AnswerRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerResult {
    /// The challenge's status after the answer.
    pub status: Status,
}

/// `GET /v2/health` (anyone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Protocol version ([`VERSION`]).
    pub protocol: u32,
}

/// `GET /v2/web-push/key`: the service's VAPID public key (RFC 8292), what a browser passes as
/// `applicationServerKey` to `pushManager.subscribe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebPushKey {
    /// Uncompressed P-256 point, base64url.
    pub vapid_public_key: String,
}

/// `PUT /v2/device/push-subscription`: where the device's browser receives Web Push messages
/// (the fields of `PushSubscription.toJSON()`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSubscription {
    /// The push service's URL for this subscription (`https://`).
    pub endpoint: String,
    /// The browser's P-256 message key: an uncompressed point (65 bytes), base64url.
    pub p256dh: String,
    /// The browser's authentication secret (16 bytes), base64url.
    pub auth: String,
}

/// What a Web Push message carries (encrypted, RFC 8291): enough to show a notification, not
/// enough to answer (no nonce, no number, no choices: the app fetches the signed challenge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushMessage {
    /// `challenge`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Transaction id.
    pub txid: String,
    /// The user logging in.
    pub user: String,
    /// The host's registered name.
    pub hostname: String,
    /// PAM service.
    pub service: String,
    /// Expiry (Unix seconds).
    pub expires_at: u64,
}

/// Why a host withdraws a pending challenge: `DELETE /v2/challenges/{txid}?reason=<reason>`.
/// Without a reason (the login gave up, timed out, or its conversation failed) the challenge
/// keeps counting against the user's push rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// The user typed a code at the login instead of answering on the phone: the user is at the
    /// keyboard, so this push does not count against the user's push rate (the typed code is
    /// checked, and counted by the module's lockout, instead).
    CodeTyped,
}

impl CancelReason {
    /// The value of the `reason` query parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelReason::CodeTyped => "code_typed",
        }
    }

    /// Parses the value of the `reason` query parameter.
    pub fn parse(s: &str) -> Option<CancelReason> {
        match s {
            "code_typed" => Some(CancelReason::CodeTyped),
            _ => None,
        }
    }
}

/// A host's credential file, written by `mfa-server host add` and read by the module
/// (root-owned, mode 0600, e.g. `/etc/pam_mfa/push-host.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCredential {
    /// File format version (1).
    pub version: u32,
    /// The host's id at the service.
    pub host_id: String,
    /// The host's name as registered (shown on devices).
    pub hostname: String,
    /// The bearer token (secret).
    pub token: String,
    /// The service's receipt-signing public key, pinned here.
    pub service_key: String,
}

/// Every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// A stable code from [`errors`].
    pub error: String,
    /// A human-readable explanation (no secrets).
    pub message: String,
}

/// The stable error codes.
pub mod errors {
    /// Missing or wrong host token or device signature, revoked host (401).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// A malformed or out-of-bounds request (400).
    pub const BAD_REQUEST: &str = "bad_request";
    /// Unknown id, or one that belongs to another host or device (404).
    pub const NOT_FOUND: &str = "not_found";
    /// The user already has an open challenge (409).
    pub const CHALLENGE_PENDING: &str = "challenge_pending";
    /// Too many challenges for the user or host (429).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The user reported a login as not theirs recently (429).
    pub const COOLDOWN: &str = "cooldown";
    /// None of the named devices is paired and active (404).
    pub const NO_DEVICE: &str = "no_device";
    /// The challenge or pairing credential expired (410).
    pub const EXPIRED: &str = "expired";
    /// The challenge was answered or cancelled already; a pairing credential was used (409).
    pub const ALREADY_USED: &str = "already_used";
    /// The answer's signature does not verify (400).
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// The device was revoked (403).
    pub const REVOKED: &str = "revoked";
    /// The device has a passkey and the answer carries no assertion of it (400).
    pub const PASSKEY_REQUIRED: &str = "passkey_required";
    /// A device request's nonce was used before: a replayed request (401).
    pub const REPLAYED: &str = "replayed";
}

/// The pieces of a device `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuth {
    /// Device id.
    pub device_id: String,
    /// Unix time the device signed at.
    pub timestamp: u64,
    /// A fresh random value ([`crate::limits::REQUEST_NONCE_LEN`] base64url characters); the
    /// service accepts each once.
    pub nonce: String,
    /// Signature over [`crate::signed::device_request`].
    pub signature: String,
}

/// The `Authorization` scheme of device requests.
pub const DEVICE_SCHEME: &str = "PamMfaDevice";

impl DeviceAuth {
    /// Signs a request of `device_id` with `key`: a fresh nonce, the current `timestamp`, and
    /// the method, path and body as sent.
    pub fn sign(
        key: &crate::SecretKey,
        device_id: &str,
        timestamp: u64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<DeviceAuth, crate::KeyError> {
        let nonce = crate::random_token(16)?;
        let msg = crate::signed::device_request(device_id, timestamp, &nonce, method, path, body);
        Ok(DeviceAuth {
            device_id: device_id.to_string(),
            timestamp,
            signature: key.sign(&msg),
            nonce,
        })
    }

    /// The header value: `PamMfaDevice <id>.<timestamp>.<nonce>.<signature>`.
    pub fn header(&self) -> String {
        format!(
            "{DEVICE_SCHEME} {}.{}.{}.{}",
            self.device_id, self.timestamp, self.nonce, self.signature
        )
    }

    /// Parses a header value; `None` if it is not exactly that shape.
    pub fn parse(value: &str) -> Option<DeviceAuth> {
        let rest = value.strip_prefix(DEVICE_SCHEME)?.strip_prefix(' ')?;
        let mut parts = rest.split('.');
        let (id, ts, nonce, sig) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || !crate::limits::is_id(id)
            || ts.is_empty()
            || ts.len() > 20
            || !ts.bytes().all(|b| b.is_ascii_digit())
            || !crate::limits::is_token(nonce, crate::limits::REQUEST_NONCE_LEN)
            || sig.len() > 100
        {
            return None;
        }
        Some(DeviceAuth {
            device_id: id.to_string(),
            timestamp: ts.parse().ok()?,
            nonce: nonce.to_string(),
            signature: sig.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_auth_header_roundtrip() {
        let a = DeviceAuth {
            device_id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            timestamp: 1_700_000_000,
            nonce: "NNNNNNNNNNNNNNNNNNNNNN".into(),
            signature: "c2ln".into(),
        };
        assert_eq!(DeviceAuth::parse(&a.header()), Some(a));
        for bad in [
            "Bearer x",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.1",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.1.sig",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.x.NNNNNNNNNNNNNNNNNNNNNN.sig",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.+1.NNNNNNNNNNNNNNNNNNNNNN.sig",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.1.short.sig",
            "PamMfaDevice short.1.NNNNNNNNNNNNNNNNNNNNNN.sig",
            "PamMfaDevice AAAAAAAAAAAAAAAAAAAAAA.1.NNNNNNNNNNNNNNNNNNNNNN.sig.more",
        ] {
            assert_eq!(DeviceAuth::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let j = r#"{"decision":"approve","number":42,"signature":"x","extra":1}"#;
        assert!(serde_json::from_str::<AnswerRequest>(j).is_err());
        let j = r#"{"decision":"maybe","number":42,"signature":"x"}"#;
        assert!(serde_json::from_str::<AnswerRequest>(j).is_err());
    }
}
