//! A small blocking HTTPS client (ureq 3, rustls with `ring`), trusting only a given CA file:
//! what `mfa-push-device` and the tests use to talk to the service.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Largest reply body read.
pub const MAX_REPLY: u64 = push_proto::limits::MAX_BODY as u64;

/// The certificates in the PEM file `path` (at most `max` bytes), for a TLS client to trust;
/// an error unless it holds at least one. `what` names the setting in the error (may be empty).
pub fn ca_certificates(
    path: &Path,
    max: u64,
    what: &str,
) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    use ureq::tls::PemItem;
    let pem = crate::files::read_public(path, max)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(_) => return Err(format!("{}: not valid PEM", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!("{}: no certificate{what}", path.display()));
    }
    Ok(certs)
}

/// A rustls (`ring`) TLS configuration trusting exactly `certs` (no system store).
pub fn tls_trusting(certs: Vec<ureq::tls::Certificate<'static>>) -> ureq::tls::TlsConfig {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::Specific(Arc::new(certs)))
        .build()
}

/// A client for one service.
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

/// A reply: status and body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body (bounded).
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("unexpected reply (HTTP {}): {e}", self.status))
    }

    /// The `error` code and message of an `ErrorBody`, or a description of the status.
    pub fn error_text(&self) -> String {
        match serde_json::from_slice::<push_proto::api::ErrorBody>(&self.body) {
            Ok(e) => format!("{} ({}, HTTP {})", e.message, e.error, self.status),
            Err(_) => format!("HTTP {}", self.status),
        }
    }
}

impl Client {
    /// A client for `base` (`https://host:port`), trusting only the certificates in
    /// `ca_file` (or, for `http://` loopback URLs, none).
    pub fn new(base: &str, ca_file: Option<&Path>) -> Result<Client, String> {
        let certs = match ca_file {
            Some(path) => ca_certificates(path, 256 * 1024, "")?,
            None if base.starts_with("https://") => {
                return Err("an https:// service needs a CA file (--ca-file)".into());
            }
            None => Vec::new(),
        };
        let tls = tls_trusting(certs);
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(base.starts_with("https://"))
            .timeout_connect(Some(Duration::from_secs(10)))
            // A fresh connection per request: the service closes a connection whose request
            // it refused before reading the body, and a POST on such a pooled connection
            // fails with a broken pipe (seen as a flaky test); a CLI makes few requests.
            .max_idle_connections(0)
            .build();
        Ok(Client { agent: config.new_agent(), base: base.trim_end_matches('/').to_string() })
    }

    /// Sends `method path` with `headers` and an optional JSON `body`; `hold` is how long the
    /// service may take (a long-poll's wait) on top of 15 s.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        hold: Duration,
    ) -> Result<Reply, String> {
        let url = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let timeout = Some(Duration::from_secs(15) + hold);
        let result = match body {
            None => {
                let req = builder.body(()).map_err(|e| format!("request: {e}"))?;
                let req = self.agent.configure_request(req).timeout_global(timeout).build();
                self.agent.run(req)
            }
            Some(bytes) => {
                let req = builder
                    .header("content-type", "application/json")
                    .body(bytes.to_vec())
                    .map_err(|e| format!("request: {e}"))?;
                let req = self.agent.configure_request(req).timeout_global(timeout).build();
                self.agent.run(req)
            }
        };
        let response = result.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_REPLY)
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(Reply { status, body })
    }
}
