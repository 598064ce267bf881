//! `[privacyidea]`: how to reach a privacyIDEA server and how long to wait for it.

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::policy::FailMode;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[privacyidea]` table. The connection keys are the ones of [`Endpoint`], written out
/// here because serde's `flatten` cannot be combined with `deny_unknown_fields`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrivacyIdeaConfig {
    /// Base URL of the server, `https://host[:port][/path]` (`http://` only to loopback).
    pub url: String,
    /// PEM file with the CA certificate(s) that signed the server's certificate (root-owned).
    /// Required for `https://`; the system store is never used.
    pub ca_file: Option<PathBuf>,
    /// Proxy URL; none unless set here (the environment is never read).
    #[serde(default)]
    pub proxy: Option<String>,
    /// Seconds to wait for the TCP and TLS connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait for the reply to one request.
    #[serde(default = "default_io_timeout")]
    pub io_timeout: u64,
    /// The privacyIDEA realm of the users (sent as `realm`); empty: the server's default realm.
    #[serde(default)]
    pub realm: String,
    /// What to do when the server cannot be reached or fails (transport error, timeout, HTTP
    /// 5xx): `closed` (deny, the default) or `open` (let in without a second factor, logged
    /// loudly). A `[[rule]]` may override it. A rejection is always a denial.
    #[serde(default)]
    pub failmode: FailMode,
    /// Seconds to wait for the answer to a push after the user pressed Enter.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Milliseconds between two `/validate/polltransaction` requests while waiting for a push.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: u64,
    /// Send the login's remote address (`PAM_RHOST`, when it is an IP address) as `client`, so
    /// privacyIDEA's policies and audit see the real client. The server honours it only for
    /// hosts listed in its `OverrideAuthorizationClient` setting.
    #[serde(default = "default_true")]
    pub pass_client_address: bool,
}

fn default_connect_timeout() -> u64 {
    5
}
fn default_io_timeout() -> u64 {
    10
}
fn default_timeout() -> u64 {
    60
}
fn default_poll_interval() -> u64 {
    1000
}
fn default_true() -> bool {
    true
}

impl PrivacyIdeaConfig {
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

    /// Checks every value (called when the configuration is loaded).
    pub fn validate(&self) -> Result<()> {
        self.endpoint().validate("privacyidea")?;
        let bad = |m: &str| Err(Error::Config(format!("privacyidea: {m}")));
        if self.realm.len() > 64
            || !self.realm.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
        {
            return bad("realm must be at most 64 letters, digits or -_.@");
        }
        if !(1..=600).contains(&self.timeout) {
            return bad("timeout must be between 1 and 600 seconds");
        }
        if !(100..=10_000).contains(&self.poll_interval) {
            return bad("poll_interval must be between 100 and 10000 milliseconds");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::error::Error;
    use crate::policy::FailMode;

    const MINIMAL: &str = "[privacyidea]\nurl = \"http://127.0.0.1:5000\"\n";

    #[test]
    fn defaults() {
        let c = Config::parse(MINIMAL).unwrap();
        let p = c.privacyidea.unwrap();
        assert_eq!(p.failmode, FailMode::Closed, "fail closed unless said otherwise");
        assert_eq!(
            (p.timeout, p.poll_interval, p.connect_timeout, p.io_timeout),
            (60, 1000, 5, 10)
        );
        assert!(p.pass_client_address);
        assert_eq!(p.realm, "");
    }

    #[test]
    fn strict_keys_and_values() {
        for bad in [
            "[privacyidea]\nurl = \"http://192.0.2.1\"\n",
            "[privacyidea]\nurl = \"https://pi.example\"\n",
            &format!("{MINIMAL}realm = \"a b\"\n"),
            &format!("{MINIMAL}timeout = 0\n"),
            &format!("{MINIMAL}poll_interval = 10\n"),
            &format!("{MINIMAL}failmode = \"sometimes\"\n"),
            &format!("{MINIMAL}relam = \"x\"\n"),
            "[privacyidea]\nrealm = \"x\"\n",
            "[[rule]]\nbackend = \"privacyidea\"\n",
        ] {
            assert!(matches!(Config::parse(bad), Err(Error::Config(_))), "{bad}");
        }
        let ok = "[privacyidea]\nurl = \"https://pi.example/pi\"\nca_file = \"/etc/pam_mfa/pi-ca.pem\"\n\
                  realm = \"corp\"\nfailmode = \"open\"\ntimeout = 30\npoll_interval = 500\n\
                  pass_client_address = false\n[[rule]]\nservice = [\"sshd\"]\nbackend = \"privacyidea\"\n\
                  failmode = \"closed\"\n";
        let c = Config::parse(ok).unwrap();
        assert_eq!(c.privacyidea.unwrap().failmode, FailMode::Open);
    }
}
