//! The central services a login may ask: mfa-pushd (push approval) and a privacyIDEA server.
//!
//! The flows reach them only through these traits, as they reach the user only through
//! [`super::Conversation`]: the module wires in the real clients ([`Network`]), unit tests a
//! scripted service, so the push and privacyIDEA flows are tested without a network. What a
//! service answers is still checked by the flows (a push approval only counts with a receipt
//! that verifies against this login's own values, [`crate::push::check`]).

use crate::privacyidea::{CheckResult, PiError, PollStatus, PrivacyIdea, PrivacyIdeaConfig};
use crate::push::{PushClient, PushConfig, PushError};
use push_proto::PublicKey;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, PairingCreated, PairingState,
};
use std::time::Instant;

/// This host's connection to mfa-pushd (see [`PushClient`], which implements it).
pub trait PushRemote {
    /// This host's id at the service (receipts must name it).
    fn host_id(&self) -> &str;
    /// This host's registered name.
    fn hostname(&self) -> &str;
    /// The pinned service key receipts are signed with.
    fn service_key(&self) -> &PublicKey;
    /// Creates a login challenge.
    fn create_challenge(&self, req: &CreateChallenge) -> Result<ChallengeCreated, PushError>;
    /// One status request, held by the service up to `wait` seconds while pending.
    fn challenge_state(&self, txid: &str, wait: u64) -> Result<ChallengeState, PushError>;
    /// Polls until the challenge is no longer pending or `deadline` passes.
    fn wait_challenge(&self, txid: &str, deadline: Instant) -> Result<ChallengeState, PushError>;
    /// Withdraws a challenge (the user gave up, or the login timed out).
    fn cancel(&self, txid: &str) -> Result<ChallengeState, PushError>;
    /// Withdraws a challenge because the user typed a code instead.
    fn withdraw_for_code(&self, txid: &str) -> Result<ChallengeState, PushError>;
    /// Starts pairing a device for `user`.
    fn create_pairing(&self, user: &str, ttl: u64) -> Result<PairingCreated, PushError>;
    /// Polls a pairing until a device paired, it expired, or `deadline` passes.
    fn wait_pairing(&self, id: &str, deadline: Instant) -> Result<PairingState, PushError>;
}

impl PushRemote for PushClient {
    fn host_id(&self) -> &str {
        PushClient::host_id(self)
    }
    fn hostname(&self) -> &str {
        PushClient::hostname(self)
    }
    fn service_key(&self) -> &PublicKey {
        PushClient::service_key(self)
    }
    fn create_challenge(&self, req: &CreateChallenge) -> Result<ChallengeCreated, PushError> {
        PushClient::create_challenge(self, req)
    }
    fn challenge_state(&self, txid: &str, wait: u64) -> Result<ChallengeState, PushError> {
        PushClient::challenge_state(self, txid, wait)
    }
    fn wait_challenge(&self, txid: &str, deadline: Instant) -> Result<ChallengeState, PushError> {
        PushClient::wait_challenge(self, txid, deadline)
    }
    fn cancel(&self, txid: &str) -> Result<ChallengeState, PushError> {
        PushClient::cancel(self, txid)
    }
    fn withdraw_for_code(&self, txid: &str) -> Result<ChallengeState, PushError> {
        PushClient::withdraw_for_code(self, txid)
    }
    fn create_pairing(&self, user: &str, ttl: u64) -> Result<PairingCreated, PushError> {
        PushClient::create_pairing(self, user, ttl)
    }
    fn wait_pairing(&self, id: &str, deadline: Instant) -> Result<PairingState, PushError> {
        PushClient::wait_pairing(self, id, deadline)
    }
}

/// A connection to a privacyIDEA server (see [`PrivacyIdea`], which implements it).
pub trait PrivacyIdeaRemote {
    /// `/validate/check` for `user` with `pass`, answering `transaction_id` if given, naming
    /// the login's `client` address if given.
    fn check(
        &self,
        user: &str,
        pass: &str,
        transaction_id: Option<&str>,
        client: Option<&str>,
    ) -> Result<CheckResult, PiError>;
    /// `/validate/polltransaction` for `transaction_id`.
    fn poll(&self, transaction_id: &str) -> Result<PollStatus, PiError>;
}

impl PrivacyIdeaRemote for PrivacyIdea {
    fn check(
        &self,
        user: &str,
        pass: &str,
        transaction_id: Option<&str>,
        client: Option<&str>,
    ) -> Result<CheckResult, PiError> {
        PrivacyIdea::check(self, user, pass, transaction_id, client)
    }
    fn poll(&self, transaction_id: &str) -> Result<PollStatus, PiError> {
        PrivacyIdea::poll(self, transaction_id)
    }
}

/// Where a login gets its connections to central services. Each is made when a flow needs
/// it, from its configuration section (reading credentials and CA files then, not before).
pub trait Remotes {
    /// Connects to mfa-pushd as configured in `[push]`.
    fn push<'s>(&'s self, cfg: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError>;
    /// Connects to privacyIDEA as configured in `[privacyidea]`.
    fn privacyidea<'s>(
        &'s self,
        cfg: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError>;
}

/// The real clients, over HTTPS ([`crate::http`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Network;

impl Remotes for Network {
    fn push<'s>(&'s self, cfg: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError> {
        Ok(Box::new(PushClient::new(cfg)?))
    }
    fn privacyidea<'s>(
        &'s self,
        cfg: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError> {
        Ok(Box::new(PrivacyIdea::new(cfg)?))
    }
}
