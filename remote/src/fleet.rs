//! The host side of fleet mode: `POST /v2/fleet/verify` (codes) and `/v2/fleet/key/challenge`,
//! `/v2/fleet/key/verify` (security keys) with the host credential of `[push]`'s
//! kind (the same service, the same token and pinned service key). The reply's receipt is
//! checked by the login flow, not here.

use crate::push::PushClient;
use mfa_login::fleet::{FleetConfig, FleetError};
use mfa_login::push::{NumberEntry, PushConfig, PushError};
use push_proto::PublicKey;
use push_proto::api::path;
use push_proto::fleet::{VerifyRequest, VerifyResponse};
use push_proto::fleet_enroll::{
    ENROLL, EnrollRequest, EnrollResponse, STATUS, StatusRequest, StatusResponse,
};
use push_proto::fleet_key_enroll::{self, KeyEnrollChallengeRequest};
use push_proto::fleet_keys::{self, KeyChallengeResponse, KeyLogin, KeyVerifyRequest};
use push_proto::fleet_push::{DeviceList, DevicesRequest};
use push_proto::offline::{self, BundleRequest, BundleResponse, ReportRequest, ReportResponse};
use std::time::Duration;

/// A host's connection to the fleet's service.
#[derive(Debug)]
pub struct FleetClient {
    inner: PushClient,
}

fn fleet_error(e: PushError) -> FleetError {
    match e {
        PushError::Outage(m) => FleetError::Outage(m),
        PushError::Unavailable(m) => FleetError::Unavailable(m),
        PushError::Refused { code, .. } if code == push_proto::api::errors::RATE_LIMITED => {
            FleetError::Unavailable(
                "the service rate-limited the request (too many for this user or this host in \
                 the last minute): rate_limited"
                    .into(),
            )
        }
        PushError::Refused { code, .. } => FleetError::Refused(code),
    }
}

impl FleetClient {
    /// Reads the host credential (root-owned, 0600) and prepares the connection.
    pub fn new(cfg: &FleetConfig) -> Result<FleetClient, FleetError> {
        let as_push = PushConfig {
            url: cfg.url.clone(),
            ca_file: cfg.ca_file.clone(),
            proxy: cfg.proxy.clone(),
            connect_timeout: cfg.connect_timeout,
            io_timeout: cfg.io_timeout,
            credential: cfg.credential.clone(),
            timeout: 60,
            pairing_timeout: 600,
            failmode: cfg.failmode,
            number_entry: NumberEntry::default(),
            number_entry_services: Default::default(),
        };
        Ok(FleetClient { inner: PushClient::new(&as_push).map_err(fleet_error)? })
    }

    /// This host's id at the service.
    pub fn host_id(&self) -> &str {
        self.inner.host_id()
    }

    /// The pinned service key.
    pub fn service_key(&self) -> &PublicKey {
        self.inner.service_key()
    }

    /// Has the service decide on one answer.
    pub fn verify(&self, req: &VerifyRequest) -> Result<VerifyResponse, FleetError> {
        self.inner.call("POST", path::FLEET_VERIFY, Some(req), Duration::ZERO).map_err(fleet_error)
    }

    /// Asks for a security-key challenge for one login.
    pub fn key_challenge(&self, login: &KeyLogin) -> Result<KeyChallengeResponse, FleetError> {
        self.inner
            .call("POST", fleet_keys::CHALLENGE, Some(login), Duration::ZERO)
            .map_err(fleet_error)
    }

    /// Has the service decide on a key's assertion over its challenge.
    pub fn key_verify(&self, req: &KeyVerifyRequest) -> Result<VerifyResponse, FleetError> {
        self.inner.call("POST", fleet_keys::VERIFY, Some(req), Duration::ZERO).map_err(fleet_error)
    }

    /// Changes a user's factors at the service (`POST /v2/fleet/enroll`); a refusal names the
    /// service's error code (e.g. `current_factor_required`).
    pub fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, FleetError> {
        self.inner.call("POST", ENROLL, Some(req), Duration::ZERO).map_err(fleet_error)
    }

    /// A challenge for a key proof of an enrollment change, with the fleet's RP id
    /// (`POST /v2/fleet/enroll/key/challenge`).
    pub fn key_enroll_challenge(
        &self,
        req: &KeyEnrollChallengeRequest,
    ) -> Result<KeyChallengeResponse, FleetError> {
        self.inner
            .call("POST", fleet_key_enroll::CHALLENGE, Some(req), Duration::ZERO)
            .map_err(fleet_error)
    }

    /// Sends a migration (`mfa-enroll migrate-to-fleet`, a [`push_proto::fleet_enroll::Change::Migrate`]);
    /// a refusal keeps the service's error code (`already_enrolled`, `host_not_allowed`, ...),
    /// which the command reports per user.
    pub fn migrate(&self, req: &EnrollRequest) -> Result<EnrollResponse, PushError> {
        self.inner.call("POST", ENROLL, Some(req), Duration::ZERO)
    }

    /// The host's offline bundle for a user (`POST /v2/fleet/offline/bundle`, issue 21).
    pub fn offline_bundle(&self, req: &BundleRequest) -> Result<BundleResponse, FleetError> {
        self.inner.call("POST", offline::BUNDLE, Some(req), Duration::ZERO).map_err(fleet_error)
    }

    /// Reports what the host accepted and refused offline (`POST /v2/fleet/offline/report`).
    pub fn offline_report(&self, req: &ReportRequest) -> Result<ReportResponse, FleetError> {
        self.inner.call("POST", offline::REPORT, Some(req), Duration::ZERO).map_err(fleet_error)
    }

    /// The user's fleet push devices, signed (`POST /v2/fleet/push/devices`).
    pub fn push_devices(&self, req: &DevicesRequest) -> Result<DeviceList, FleetError> {
        self.inner
            .call("POST", push_proto::fleet_push::DEVICES, Some(req), Duration::ZERO)
            .map_err(fleet_error)
    }

    /// Which factors a user has at the service (`POST /v2/fleet/status`).
    pub fn status(&self, req: &StatusRequest) -> Result<StatusResponse, FleetError> {
        self.inner.call("POST", STATUS, Some(req), Duration::ZERO).map_err(fleet_error)
    }
}
