//! How the module reaches a central service (mfa-server, privacyIDEA): the `url`, CA file,
//! proxy and timeouts of `[push]` and `[privacyidea]`, checked when the configuration is
//! loaded. The client that uses it lives in the `mfa-remote` crate.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::PathBuf;

/// How to reach a central service: `url`, CA, proxy and timeouts (part of `[push]` and
/// `[privacyidea]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Base URL, `https://host[:port]` (`http://` only for loopback addresses).
    pub url: String,
    /// PEM file with the CA certificate(s) that signed the service's certificate (root-owned,
    /// not group/world-writable). Required for `https://`.
    pub ca_file: Option<PathBuf>,
    /// Proxy URL (`http://proxy:3128`); none unless set here. The environment is never read.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Seconds to wait for the TCP and TLS connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait for a reply to an ordinary request (long-polls add their hold time).
    #[serde(default = "default_io_timeout")]
    pub io_timeout: u64,
}

fn default_connect_timeout() -> u64 {
    5
}
fn default_io_timeout() -> u64 {
    10
}

impl Endpoint {
    /// Checks the values (done when the configuration is loaded).
    pub fn validate(&self, section: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(format!("{section}: {m}")));
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return bad("url must start with https://");
        };
        let host = host_of(rest);
        if host.is_empty() || rest.contains(['?', '#', '@']) || self.url.len() > 512 {
            return bad("url must be https://host[:port][/path] without query or user");
        }
        match scheme {
            "https" => {
                if self.ca_file.is_none() {
                    return bad("ca_file is required for https:// (the system store is not used)");
                }
            }
            "http" if is_loopback(host) => {}
            "http" => return bad("plain http:// is only allowed to a loopback address"),
            _ => return bad("url must start with https://"),
        }
        if self.ca_file.as_ref().is_some_and(|p| !p.is_absolute()) {
            return bad("ca_file must be an absolute path");
        }
        if self.proxy.as_deref().is_some_and(|p| !valid_proxy(p)) {
            return bad(
                "proxy must be scheme://host[:port] (http, https, socks4, socks4a, socks5)",
            );
        }
        if !(1..=60).contains(&self.connect_timeout) {
            return bad("connect_timeout must be between 1 and 60 seconds");
        }
        if !(1..=120).contains(&self.io_timeout) {
            return bad("io_timeout must be between 1 and 120 seconds");
        }
        Ok(())
    }
}

fn host_of(after_scheme: &str) -> &str {
    let authority = after_scheme.split('/').next().unwrap_or("");
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A proxy URL the client accepts: `scheme://[user[:password]@]host[:port]` with one of the
/// schemes ureq supports, no path beyond `/`. Checked here so a bad proxy is a configuration
/// error at load time; the client still refuses what it cannot use (a setup error, never an
/// outage).
fn valid_proxy(p: &str) -> bool {
    let Some((scheme, rest)) = p.split_once("://") else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let port_ok = match host_port.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && h.contains(':') => !port.is_empty(), // bare IPv6
        Some((_, port)) => port.parse::<u16>().is_ok_and(|n| n > 0),
        None => true,
    };
    matches!(scheme, "http" | "https" | "socks4" | "socks4a" | "socks5")
        && !host_of(rest).is_empty()
        && p.len() <= 512
        && !rest.contains(['/', '?', '#'])
        && !p.chars().any(|c| c.is_whitespace() || c.is_control())
        && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(url: &str, ca: bool) -> Endpoint {
        Endpoint {
            url: url.into(),
            ca_file: ca.then(|| PathBuf::from("/etc/pam_mfa/ca.pem")),
            proxy: None,
            connect_timeout: 5,
            io_timeout: 10,
        }
    }

    #[test]
    fn endpoint_validation() {
        assert!(ep("https://push.example:8443", true).validate("push").is_ok());
        assert!(ep("https://push.example", false).validate("push").is_err(), "no CA");
        assert!(ep("http://push.example", true).validate("push").is_err(), "plain remote");
        assert!(ep("http://127.0.0.1:5000", false).validate("push").is_ok());
        assert!(ep("http://[::1]:5000", false).validate("push").is_ok());
        assert!(ep("http://localhost:5000/pi", false).validate("push").is_ok());
        assert!(ep("http://127.0.0.1.evil.example", false).validate("push").is_err());
        assert!(ep("https://user@push.example", true).validate("push").is_err());
        assert!(ep("https://push.example?x=1", true).validate("push").is_err());
        assert!(ep("ftp://push.example", true).validate("push").is_err());
        assert!(ep("push.example", true).validate("push").is_err());
        let mut e = ep("https://push.example", true);
        e.connect_timeout = 0;
        assert!(e.validate("push").is_err());
    }

    #[test]
    fn proxy_validation() {
        for good in [
            "http://proxy:3128",
            "http://10.0.0.1:3128/",
            "socks5://u:p@proxy:1080",
            "https://proxy",
        ] {
            assert!(valid_proxy(good), "{good}");
        }
        for bad in [
            "proxy:3128",
            "ftp://proxy",
            "http://",
            "http://proxy:x",
            "http://proxy:0",
            "http://proxy/path",
            "http://pro xy",
        ] {
            assert!(!valid_proxy(bad), "{bad}");
        }
    }
}
