//! `[web_push]` in the service configuration.
//!
//! ```toml
//! [web_push]
//! subject = "mailto:admin@example.org"   # required: how push services reach the operator
//! # enabled = true
//! # timeout = 10                          # seconds per message, 1..=60
//! # ca_file = "/etc/ssl/certs/ca-certificates.crt"
//! # max_in_flight = 64
//! # allow_http_loopback = false           # tests only: http:// endpoints on 127.0.0.0/8, ::1
//! ```

use serde::Deserialize;
use std::path::PathBuf;

/// The system's CA bundle on Debian (package `ca-certificates`): push services are public.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[web_push]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebPushConfig {
    /// Send Web Push messages (default `true` when the table is present).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The VAPID `sub` claim: `mailto:` address or `https:` URL of the operator (RFC 8292 §2.1).
    pub subject: String,
    /// Seconds one message may take (connect, send, answer), 1..=60.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// PEM file of the CA certificates push services are trusted by (the system's roots).
    #[serde(default = "default_ca_file")]
    pub ca_file: PathBuf,
    /// Most messages being sent at once; further ones are dropped and audited (1..=1024).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Accept `http://` endpoints on loopback addresses (tests with a local stand-in).
    #[serde(default)]
    pub allow_http_loopback: bool,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u64 {
    10
}

fn default_ca_file() -> PathBuf {
    PathBuf::from(SYSTEM_CA_FILE)
}

fn default_max_in_flight() -> usize {
    64
}

impl WebPushConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if !is_subject(&self.subject) {
            return Err("web_push.subject must be a mailto: address or an https:// URL".into());
        }
        if !(1..=60).contains(&self.timeout) {
            return Err("web_push.timeout must be 1..=60 seconds".into());
        }
        if !self.ca_file.is_absolute() {
            return Err("web_push.ca_file must be an absolute path".into());
        }
        if !(1..=1024).contains(&self.max_in_flight) {
            return Err("web_push.max_in_flight must be 1..=1024".into());
        }
        Ok(())
    }
}

/// A VAPID subject: `mailto:local@domain` or `https://host...`, printable, at most 255 bytes.
fn is_subject(s: &str) -> bool {
    let printable = !s.is_empty()
        && s.len() <= 255
        && s.chars().all(|c| c.is_ascii_graphic())
        && !s.contains(['"', '\\']);
    let shaped = match (s.strip_prefix("mailto:"), s.strip_prefix("https://")) {
        (Some(addr), _) => {
            addr.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        }
        (_, Some(rest)) => !rest.is_empty(),
        _ => false,
    };
    printable && shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        listen = "127.0.0.1:8443"
        public_url = "https://push.example:8443"
        data_dir = "/var/lib/mfa-server"
        tls_cert = "/etc/mfa-server/server.pem"
        tls_key = "/etc/mfa-server/server.key"
        audit_log = "/var/log/mfa-server/audit.log"
    "#;

    fn parse(table: &str) -> Result<crate::config::Config, String> {
        crate::config::Config::parse(&format!("{BASE}\n[web_push]\n{table}\n"))
    }

    #[test]
    fn table_defaults_and_refusals() {
        let c = parse("subject = \"mailto:admin@example.org\"").unwrap();
        let w = c.web_push.unwrap();
        assert!(w.enabled && !w.allow_http_loopback);
        assert_eq!((w.timeout, w.max_in_flight), (10, 64));
        assert_eq!(w.ca_file, PathBuf::from(SYSTEM_CA_FILE));
        assert!(crate::config::Config::parse(BASE).unwrap().web_push.is_none());
        for bad in [
            "",
            "subject = \"admin@example.org\"",
            "subject = \"mailto:a@b\"\ntimeout = 0",
            "subject = \"mailto:a@b\"\ntimeout = 61",
            "subject = \"mailto:a@b\"\nmax_in_flight = 0",
            "subject = \"mailto:a@b\"\nca_file = \"certs.pem\"",
            "subject = \"mailto:a@b\"\nunknown = 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subjects() {
        for ok in ["mailto:admin@example.org", "https://push.example/contact"] {
            assert!(is_subject(ok), "{ok}");
        }
        for bad in [
            "",
            "admin@example.org",
            "mailto:",
            "mailto:@x",
            "mailto:a b@x",
            "http://x",
            "https://",
            "mailto:a\"@x",
        ] {
            assert!(!is_subject(bad), "{bad}");
        }
    }
}
