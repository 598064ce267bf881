//! The host side of the push protocol: create and poll challenges and pairings.
//!
//! Blocking, no threads (see [`crate::http`]). Long-polls hold at most
//! [`push_proto::limits::MAX_WAIT`] seconds each and stop at the caller's deadline.

use crate::http::{Body, Client, HttpError};
use mfa_login::push::{PushConfig, PushError};
use push_proto::api::path;
use push_proto::api::{
    CancelReason, ChallengeCreated, ChallengeState, CreateChallenge, CreatePairing, ErrorBody,
    HostCredential, PairingCreated, PairingState, PairingStatus,
};
use push_proto::{PublicKey, limits};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Largest host credential file.
const MAX_CREDENTIAL: u64 = 8 * 1024;

impl From<HttpError> for PushError {
    fn from(e: HttpError) -> Self {
        if e.is_outage() {
            PushError::Outage(e.to_string())
        } else {
            PushError::Unavailable(e.to_string())
        }
    }
}

/// A host's connection to mfa-server.
pub struct PushClient {
    http: Client,
    host_id: String,
    hostname: String,
    authorization: Zeroizing<String>,
    service_key: PublicKey,
}

impl std::fmt::Debug for PushClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PushClient(host {})", self.host_id)
    }
}

impl PushClient {
    /// Reads the host credential (root-owned, 0600) and prepares the connection.
    pub fn new(cfg: &PushConfig) -> Result<PushClient, PushError> {
        let unavailable = |m: String| PushError::Unavailable(m);
        let bytes = crate::http::read_secret_file(&cfg.credential, MAX_CREDENTIAL)
            .map_err(|e| unavailable(format!("host credential: {e}")))?;
        let cred: HostCredential = serde_json::from_slice(&bytes).map_err(|e| {
            unavailable(format!(
                "host credential {}: {}",
                cfg.credential.display(),
                mfa_login::error::json_error_kind(&e)
            ))
        })?;
        let token = Zeroizing::new(cred.token);
        if cred.version != 1
            || !limits::is_text(&cred.host_id, 64)
            || !limits::is_text(&cred.hostname, 255)
            || token.len() < 20
            || token.len() > 256
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(unavailable(format!(
                "host credential {} is malformed",
                cfg.credential.display()
            )));
        }
        let service_key = PublicKey::decode(&cred.service_key).map_err(|e| {
            unavailable(format!("host credential {}: service key: {e}", cfg.credential.display()))
        })?;
        Ok(PushClient {
            http: Client::new(&cfg.endpoint())?,
            host_id: cred.host_id,
            hostname: cred.hostname,
            authorization: Zeroizing::new(format!("Bearer {}", token.as_str())),
            service_key,
        })
    }

    /// This host's id at the service (receipts must name it).
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// This host's registered name.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The pinned service key.
    pub fn service_key(&self) -> &PublicKey {
        &self.service_key
    }

    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
        hold: Duration,
    ) -> Result<T, PushError> {
        let json;
        let body = match body {
            Some(b) => {
                json = serde_json::to_vec(b)
                    .map_err(|_| PushError::Unavailable("request not serializable".into()))?;
                Body::Json(&json)
            }
            None => Body::Empty,
        };
        let headers =
            [("authorization", self.authorization.as_str()), ("accept", "application/json")];
        let reply = self.http.request(method, path, &headers, body, hold)?;
        match reply.status {
            200..=299 => Ok(reply.json::<T>()?),
            400..=499 => {
                let e: ErrorBody = reply.json().map_err(|_| {
                    PushError::Unavailable(format!("HTTP {} without an error body", reply.status))
                })?;
                Err(PushError::Refused { code: e.error, message: e.message })
            }
            s if crate::http::is_gateway_outage(s) => Err(PushError::Outage(format!("HTTP {s}"))),
            s => Err(PushError::Unavailable(format!("HTTP {s}"))),
        }
    }

    /// Creates a login challenge. The reply is checked for shape (id format, at least one of
    /// the devices asked for).
    pub fn create_challenge(&self, req: &CreateChallenge) -> Result<ChallengeCreated, PushError> {
        let c: ChallengeCreated = self.call("POST", path::CHALLENGES, Some(req), Duration::ZERO)?;
        if !limits::is_id(&c.txid)
            || c.devices.is_empty()
            || c.devices.iter().any(|d| !req.devices.contains(&d.id))
        {
            return Err(PushError::Unavailable("malformed challenge reply".into()));
        }
        Ok(c)
    }

    /// One status request, held by the service up to `wait` seconds while pending.
    pub fn challenge_state(&self, txid: &str, wait: u64) -> Result<ChallengeState, PushError> {
        if !limits::is_id(txid) {
            return Err(PushError::Unavailable("bad transaction id".into()));
        }
        let wait = wait.min(limits::MAX_WAIT);
        let s: ChallengeState = self.call(
            "GET",
            &format!("{}?wait={wait}", path::challenge(txid)),
            None::<&()>,
            Duration::from_secs(wait),
        )?;
        if s.txid != txid {
            return Err(PushError::Unavailable("status for another transaction".into()));
        }
        Ok(s)
    }

    /// Polls until the challenge is no longer pending or `deadline` passes (then the last,
    /// still pending, state is returned).
    pub fn wait_challenge(
        &self,
        txid: &str,
        deadline: Instant,
    ) -> Result<ChallengeState, PushError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let state = self.challenge_state(txid, left)?;
            if !state.status.is_pending() || left == 0 || Instant::now() >= deadline {
                return Ok(state);
            }
        }
    }

    /// Withdraws a challenge (the user typed a code, gave up, or the login timed out).
    pub fn cancel(&self, txid: &str) -> Result<ChallengeState, PushError> {
        self.withdraw(txid, None)
    }

    /// Withdraws a challenge because the user typed a code instead of answering on the phone;
    /// the service then does not count it against the user's push rate.
    pub fn withdraw_for_code(&self, txid: &str) -> Result<ChallengeState, PushError> {
        self.withdraw(txid, Some(CancelReason::CodeTyped))
    }

    fn withdraw(
        &self,
        txid: &str,
        reason: Option<CancelReason>,
    ) -> Result<ChallengeState, PushError> {
        if !limits::is_id(txid) {
            return Err(PushError::Unavailable("bad transaction id".into()));
        }
        let query = reason.map(|r| format!("?reason={}", r.as_str())).unwrap_or_default();
        self.call(
            "DELETE",
            &format!("{}{query}", path::challenge(txid)),
            None::<&()>,
            Duration::ZERO,
        )
    }

    /// Starts pairing a device for `user`; the reply's link is what the QR code shows.
    pub fn create_pairing(&self, user: &str, ttl: u64) -> Result<PairingCreated, PushError> {
        let req = CreatePairing { user: user.to_string(), ttl };
        let p: PairingCreated = self.call("POST", path::PAIRINGS, Some(&req), Duration::ZERO)?;
        if !limits::is_id(&p.pairing_id) || push_proto::pairing_uri::parse(&p.uri).is_none() {
            return Err(PushError::Unavailable("malformed pairing reply".into()));
        }
        Ok(p)
    }

    /// Polls a pairing until a device paired, it expired, or `deadline` passes.
    pub fn wait_pairing(&self, id: &str, deadline: Instant) -> Result<PairingState, PushError> {
        if !limits::is_id(id) {
            return Err(PushError::Unavailable("bad pairing id".into()));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let wait = left.min(limits::MAX_WAIT);
            let s: PairingState = self.call(
                "GET",
                &format!("{}?wait={wait}", path::pairing(id)),
                None::<&()>,
                Duration::from_secs(wait),
            )?;
            match (s.status, &s.device) {
                (PairingStatus::Paired, Some(d)) => {
                    if !limits::is_id(&d.id)
                        || !limits::is_text(&d.name, limits::MAX_NAME)
                        || PublicKey::decode(&d.public_key).is_err()
                        || d.passkey.as_ref().is_some_and(|p| {
                            !limits::is_text(&p.credential_id, 1024)
                                || !limits::is_text(&p.attestation_object, 16 * 1024)
                                || !limits::is_text(&p.client_data_json, 4096)
                        })
                    {
                        return Err(PushError::Unavailable("malformed paired device".into()));
                    }
                    return Ok(s);
                }
                (PairingStatus::Paired, None) => {
                    return Err(PushError::Unavailable("paired without a device".into()));
                }
                (PairingStatus::Expired, _) => return Ok(s),
                (PairingStatus::Pending, _) if left == 0 || Instant::now() >= deadline => {
                    return Ok(s);
                }
                (PairingStatus::Pending, _) => {}
            }
        }
    }
}
