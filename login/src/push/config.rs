//! `[push]`: how this host reaches mfa-server.

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::policy::FailMode;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the host credential written by `mfa-server host add` lives unless configured.
pub const DEFAULT_CREDENTIAL: &str = "/etc/pam_mfa/push-host.json";

/// `[push]`: present only when push approval is used.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// The service's base URL, `https://push.example.org:8443`.
    pub url: String,
    /// PEM file with the CA that signed the service's certificate (root-owned).
    pub ca_file: Option<PathBuf>,
    /// Proxy URL; none unless set here (the environment is never read).
    #[serde(default)]
    pub proxy: Option<String>,
    /// Seconds to wait for the TCP and TLS connection.
    #[serde(default = "connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait for a reply to an ordinary request.
    #[serde(default = "io_timeout")]
    pub io_timeout: u64,
    /// The host credential (`mfa-server host add NAME --out FILE`): root-owned, mode 0600.
    #[serde(default = "credential")]
    pub credential: PathBuf,
    /// Seconds a login waits for the phone's answer (10–300).
    #[serde(default = "timeout")]
    pub timeout: u64,
    /// Seconds a pairing link stays valid during enrollment (60–1800).
    #[serde(default = "pairing_timeout")]
    pub pairing_timeout: u64,
    /// When the service cannot answer (down, slow, TLS error, a receipt that does not verify):
    /// `closed` denies, `open` lets the login in without push (logged loudly). A user who also
    /// has a code is asked for the code instead either way. Rules may override it.
    #[serde(default)]
    pub failmode: FailMode,
    /// How the phone asks for the number shown at login: `type` (the default: the user types
    /// the two digits) or `choose` (the user taps one of three).
    #[serde(default)]
    pub number_entry: NumberEntry,
    /// `number_entry` for particular PAM services, e.g. `{ "gdm-password" = "choose" }`.
    #[serde(default)]
    pub number_entry_services: BTreeMap<String, NumberEntry>,
}

/// How the phone asks for the number shown at login.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NumberEntry {
    /// The phone asks the user to type it: a user approving without reading gets in 1 time in
    /// 90.
    #[default]
    Type,
    /// The phone shows three numbers and the user taps the one shown at login: 1 time in 3
    /// for a blind tap.
    Choose,
}

impl From<NumberEntry> for push_proto::numbers::Entry {
    fn from(e: NumberEntry) -> Self {
        match e {
            NumberEntry::Type => push_proto::numbers::Entry::Type,
            NumberEntry::Choose => push_proto::numbers::Entry::Choose,
        }
    }
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
fn timeout() -> u64 {
    60
}
fn pairing_timeout() -> u64 {
    300
}

impl PushConfig {
    /// The connection part.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            ca_file: self.ca_file.clone(),
            proxy: self.proxy.clone(),
            connect_timeout: self.connect_timeout,
            io_timeout: self.io_timeout,
        }
    }

    /// How the phone asks for the number on logins to PAM service `service`.
    pub fn number_entry_for(&self, service: &str) -> NumberEntry {
        self.number_entry_services.get(service).copied().unwrap_or(self.number_entry)
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        self.endpoint().validate("push")?;
        if !self.credential.is_absolute() {
            return Err(Error::Config("push.credential must be an absolute path".into()));
        }
        if !(10..=300).contains(&self.timeout) {
            return Err(Error::Config("push.timeout must be between 10 and 300 seconds".into()));
        }
        if !(60..=1800).contains(&self.pairing_timeout) {
            return Err(Error::Config(
                "push.pairing_timeout must be between 60 and 1800 seconds".into(),
            ));
        }
        Ok(())
    }
}
