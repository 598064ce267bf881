//! `[fleet]`: how this host reaches the fleet's MFA service (the same service and host
//! credential as `[push]`).

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::policy::FailMode;
use crate::push::DEFAULT_CREDENTIAL;
use serde::Deserialize;
use std::path::PathBuf;

/// `[fleet]`: present only when a rule says `backend = "fleet"` (issue 20).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The service's base URL, `https://mfa.example.org:8443`.
    pub url: String,
    /// PEM file with the CA that signed the service's certificate (root-owned).
    pub ca_file: Option<PathBuf>,
    /// Proxy URL; none unless set here (the environment is never read).
    #[serde(default)]
    pub proxy: Option<String>,
    /// Seconds to wait for the TCP and TLS connection.
    #[serde(default = "connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait for the service's decision.
    #[serde(default = "io_timeout")]
    pub io_timeout: u64,
    /// The host credential (`mfa-server host add NAME --out FILE`): root-owned, mode 0600.
    #[serde(default = "credential")]
    pub credential: PathBuf,
    /// When the service cannot be reached or does not answer in time: `closed` (the default)
    /// denies, `open` lets the login in without a second factor (logged at warning). A reply
    /// that is not a valid signed decision is never an outage. Rules may override it.
    #[serde(default)]
    pub failmode: FailMode,
    /// The fleet's relying-party id for security keys, if this host pins it: a challenge
    /// from the service for another RP id is refused (a configuration error, never a
    /// success). Unset: the service's `[fleet] rp_id` is used as it announces it.
    #[serde(default)]
    pub rp_id: Option<String>,
    /// Keep offline bundles and use them when the service cannot be reached (issue 21):
    /// after each answered login this host fetches the user's bundle, and on an outage (only
    /// then) checks codes and recovery codes against it. `false`: no bundle is fetched, any
    /// held is ignored, and an outage goes straight to `failmode`.
    #[serde(default = "offline")]
    pub offline: bool,
}

fn offline() -> bool {
    true
}
fn connect_timeout() -> u64 {
    5
}
fn io_timeout() -> u64 {
    10
}
fn credential() -> PathBuf {
    PathBuf::from(DEFAULT_CREDENTIAL)
}

impl FleetConfig {
    /// The connection part, for the client (`mfa-remote`).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            ca_file: self.ca_file.clone(),
            proxy: self.proxy.clone(),
            connect_timeout: self.connect_timeout,
            io_timeout: self.io_timeout,
        }
    }

    /// Checks the values (done when the configuration is loaded).
    pub fn validate(&self) -> Result<()> {
        self.endpoint().validate("fleet")?;
        if !self.credential.is_absolute() {
            return Err(Error::Config("fleet.credential must be an absolute path".into()));
        }
        Ok(())
    }
}
