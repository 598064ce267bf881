//! The central services a login may ask: mfa-server (push approval) and a privacyIDEA server.
//!
//! The flows reach them only through these traits, as they reach the user only through
//! [`super::Conversation`]: the module wires in the real clients (`mfa_remote::Network`), unit tests a
//! scripted service, so the push and privacyIDEA flows are tested without a network. What a
//! service answers is still checked by the flows (a push approval only counts with a receipt
//! that verifies against this login's own values, [`crate::push::check`]).

use crate::fleet::{FleetConfig, FleetError};
use crate::privacyidea::{CheckResult, PiError, PollStatus, PrivacyIdeaConfig};
use crate::push::{PushConfig, PushError};
use push_proto::PublicKey;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, PairingCreated, PairingState,
};
use std::time::Instant;

/// This host's connection to mfa-server (`mfa_remote::push::PushClient` implements it).
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

/// A connection to a privacyIDEA server (`mfa_remote::privacyidea::PrivacyIdea` implements it).
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

/// This host's connection to the fleet's MFA service (`mfa_remote::fleet::FleetClient`
/// implements it).
pub trait FleetRemote {
    /// This host's id at the service (receipts must name it).
    fn host_id(&self) -> &str;
    /// The pinned service key receipts are signed with.
    fn service_key(&self) -> &PublicKey;
    /// Asks the service to decide on one answer (`POST /v2/fleet/verify`).
    fn verify(
        &self,
        req: &push_proto::fleet::VerifyRequest,
    ) -> Result<push_proto::fleet::VerifyResponse, FleetError>;
    /// Asks the service for a security-key challenge for this login
    /// (`POST /v2/fleet/key/challenge`). A client without it refuses (never an outage).
    fn key_challenge(
        &self,
        login: &push_proto::fleet_keys::KeyLogin,
    ) -> Result<push_proto::fleet_keys::KeyChallengeResponse, FleetError> {
        let _ = login;
        Err(FleetError::Unavailable("this client has no security keys".into()))
    }
    /// Has the service decide on a key's assertion (`POST /v2/fleet/key/verify`).
    fn key_verify(
        &self,
        req: &push_proto::fleet_keys::KeyVerifyRequest,
    ) -> Result<push_proto::fleet::VerifyResponse, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client has no security keys".into()))
    }
    /// Changes a user's factors (`POST /v2/fleet/enroll`). A client without it refuses (never
    /// an outage).
    fn enroll(
        &self,
        req: &push_proto::fleet_enroll::EnrollRequest,
    ) -> Result<push_proto::fleet_enroll::EnrollResponse, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client cannot enroll".into()))
    }
    /// Which factors a user has (`POST /v2/fleet/status`).
    fn status(
        &self,
        req: &push_proto::fleet_enroll::StatusRequest,
    ) -> Result<push_proto::fleet_enroll::StatusResponse, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client cannot read a status".into()))
    }
    /// The host's offline bundle for a user (`POST /v2/fleet/offline/bundle`, issue 21). A
    /// client without it refuses (never an outage).
    fn offline_bundle(
        &self,
        req: &push_proto::offline::BundleRequest,
    ) -> Result<push_proto::offline::BundleResponse, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client has no offline bundles".into()))
    }
    /// Reports offline uses (`POST /v2/fleet/offline/report`).
    fn offline_report(
        &self,
        req: &push_proto::offline::ReportRequest,
    ) -> Result<push_proto::offline::ReportResponse, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client has no offline bundles".into()))
    }
    /// The user's fleet push devices, signed by the service for this host, the user and the
    /// request's nonce (`POST /v2/fleet/push/devices`); the caller checks the list. A client
    /// without it refuses (never an outage).
    fn push_devices(
        &self,
        req: &push_proto::fleet_push::DevicesRequest,
    ) -> Result<push_proto::fleet_push::DeviceList, FleetError> {
        let _ = req;
        Err(FleetError::Unavailable("this client has no fleet push devices".into()))
    }
}

/// Where a login gets its connections to central services. Each is made when a flow needs
/// it, from its configuration section (reading credentials and CA files then, not before).
pub trait Remotes {
    /// Connects to mfa-server as configured in `[push]`.
    fn push<'s>(&'s self, cfg: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError>;
    /// Connects to privacyIDEA as configured in `[privacyidea]`.
    fn privacyidea<'s>(
        &'s self,
        cfg: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError>;
    /// Connects to the fleet's service as configured in `[fleet]`.
    fn fleet<'s>(&'s self, cfg: &FleetConfig) -> Result<Box<dyn FleetRemote + 's>, FleetError>;
}

/// No central services: every connection fails as a setup fault (never an outage, so never
/// failed open). For the login crate's own tests and the fuzz targets, whose configurations
/// use no push and no privacyIDEA.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRemotes;

#[cfg(any(test, feature = "fuzzing"))]
impl Remotes for NoRemotes {
    fn push<'s>(&'s self, _: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError> {
        Err(PushError::Unavailable("no central services in this build".into()))
    }
    fn privacyidea<'s>(
        &'s self,
        _: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError> {
        Err(PiError::Setup("no central services in this build".into()))
    }
    fn fleet<'s>(&'s self, _: &FleetConfig) -> Result<Box<dyn FleetRemote + 's>, FleetError> {
        Err(FleetError::Unavailable("no central services in this build".into()))
    }
}
