//! `mfa-remote`: the module's clients of central services, over HTTPS: mfa-server (push
//! approval and pairing) and privacyIDEA's validation API. They implement the login crate's
//! [`mfa_login::login::Remotes`] traits; [`Network`] is what the `pam_mfa` module, the helper
//! and `mfa-enroll` hand to a login. Tests of the flows use scripted services instead.
//!
//! Blocking and without threads (the module runs inside sshd and sudo): see [`http`].
#![forbid(unsafe_code)]

pub mod fleet;
pub mod http;
pub mod privacyidea;
pub mod push;

use fleet::FleetClient;
use mfa_login::fleet::{FleetConfig, FleetError};
use mfa_login::login::{FleetRemote, PrivacyIdeaRemote, PushRemote, Remotes};
use mfa_login::privacyidea::{CheckResult, PiError, PollStatus, PrivacyIdeaConfig};
use mfa_login::push::{PushConfig, PushError};
use privacyidea::PrivacyIdea;
use push::PushClient;
use push_proto::PublicKey;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, PairingCreated, PairingState,
};
use std::time::Instant;

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

/// The real clients, over HTTPS ([`http`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Network;

impl FleetRemote for FleetClient {
    fn host_id(&self) -> &str {
        FleetClient::host_id(self)
    }
    fn service_key(&self) -> &PublicKey {
        FleetClient::service_key(self)
    }
    fn verify(
        &self,
        req: &push_proto::fleet::VerifyRequest,
    ) -> Result<push_proto::fleet::VerifyResponse, FleetError> {
        FleetClient::verify(self, req)
    }
    fn key_challenge(
        &self,
        login: &push_proto::fleet_keys::KeyLogin,
    ) -> Result<push_proto::fleet_keys::KeyChallengeResponse, FleetError> {
        FleetClient::key_challenge(self, login)
    }
    fn key_verify(
        &self,
        req: &push_proto::fleet_keys::KeyVerifyRequest,
    ) -> Result<push_proto::fleet::VerifyResponse, FleetError> {
        FleetClient::key_verify(self, req)
    }
    fn enroll(
        &self,
        req: &push_proto::fleet_enroll::EnrollRequest,
    ) -> Result<push_proto::fleet_enroll::EnrollResponse, FleetError> {
        FleetClient::enroll(self, req)
    }
    fn status(
        &self,
        req: &push_proto::fleet_enroll::StatusRequest,
    ) -> Result<push_proto::fleet_enroll::StatusResponse, FleetError> {
        FleetClient::status(self, req)
    }
    fn offline_bundle(
        &self,
        req: &push_proto::offline::BundleRequest,
    ) -> Result<push_proto::offline::BundleResponse, FleetError> {
        FleetClient::offline_bundle(self, req)
    }
    fn offline_report(
        &self,
        req: &push_proto::offline::ReportRequest,
    ) -> Result<push_proto::offline::ReportResponse, FleetError> {
        FleetClient::offline_report(self, req)
    }
    fn push_devices(
        &self,
        req: &push_proto::fleet_push::DevicesRequest,
    ) -> Result<push_proto::fleet_push::DeviceList, FleetError> {
        FleetClient::push_devices(self, req)
    }
}

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
    fn fleet<'s>(&'s self, cfg: &FleetConfig) -> Result<Box<dyn FleetRemote + 's>, FleetError> {
        Ok(Box::new(FleetClient::new(cfg)?))
    }
}
