//! The HTTP client the module uses to reach a central service (mfa-server, privacyIDEA).
//!
//! It runs inside sshd and sudo, so it is built to be boring:
//! - `ureq` 3 with rustls and the `ring` provider passed explicitly (no process-wide default
//!   provider is installed; nothing global is touched);
//! - no threads: only per-phase timeouts are set (connect, send, receive, body), never the
//!   global or per-call ones that make ureq resolve names on a helper thread;
//! - trust comes only from the root-owned CA file named in the configuration, never from the
//!   system store or `SSL_CERT_FILE`, and a proxy only from the configuration, never from
//!   `http_proxy` & co (under sudo the caller controls the environment);
//! - plain `http://` is refused unless the host is a loopback address;
//! - bodies are bounded; redirects are not followed.

use mfa_login::endpoint::Endpoint;
use mfa_login::secure_fs::{self, FilePolicy};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Largest CA file accepted.
pub const MAX_CA_FILE: u64 = 256 * 1024;
/// Largest response body accepted.
pub const MAX_BODY: u64 = 256 * 1024;

/// Why a request got no usable answer. Messages never contain request bodies or tokens.
#[derive(Debug)]
pub enum HttpError {
    /// The endpoint or CA file is unusable (a local setup error: never an outage).
    Setup(String),
    /// An outage: no connection (refused, reset, unreachable, name not found) or no answer in
    /// time. The one case `failmode` decides.
    Outage(String),
    /// Something arrived that is not a usable reply: a TLS failure (a certificate that does
    /// not verify, as a man in the middle would present), an oversized or unreadable reply,
    /// a redirect. Never an outage.
    Transport(String),
}

impl HttpError {
    /// Whether this is an outage (see [`crate::policy::FailMode`]).
    pub fn is_outage(&self) -> bool {
        matches!(self, HttpError::Outage(_))
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Setup(m) => write!(f, "setup: {m}"),
            HttpError::Outage(m) => write!(f, "outage: {m}"),
            HttpError::Transport(m) => write!(f, "transport: {m}"),
        }
    }
}

/// Whether an HTTP status is a gateway's "the service behind me is down or slow" (502, 503,
/// 504): an outage. Every other 5xx is the service failing on this request: not one.
pub fn is_gateway_outage(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// A request body.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// `application/json`.
    Json(&'a [u8]),
    /// `application/x-www-form-urlencoded` from name/value pairs.
    Form(&'a [(&'a str, &'a str)]),
}

/// A reply: status code and bounded body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

impl Reply {
    /// Decodes the body as JSON of type `T`.
    pub fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::Transport(format!(
                "unexpected reply (HTTP {}): {}",
                self.status,
                mfa_login::error::json_error_kind(&e)
            ))
        })
    }
}

/// A client for one endpoint.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    io_timeout: Duration,
}

impl Client {
    /// Builds a client: reads the CA file (checked like every file we trust), sets the proxy
    /// and the per-phase timeouts.
    pub fn new(ep: &Endpoint) -> Result<Client, HttpError> {
        use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
        let mut tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()));
        if let Some(path) = &ep.ca_file {
            let pem = secure_fs::read_file(path, FilePolicy::config(MAX_CA_FILE))
                .map_err(|e| HttpError::Setup(format!("CA file: {e}")))?;
            let mut certs: Vec<Certificate<'static>> = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(_) => {
                        return Err(HttpError::Setup(format!(
                            "CA file {} is not valid PEM",
                            path.display()
                        )));
                    }
                }
            }
            if certs.is_empty() {
                return Err(HttpError::Setup(format!(
                    "CA file {} holds no certificate",
                    path.display()
                )));
            }
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        } else {
            // Only reachable for loopback http:// (validate() insists on a CA for https).
            tls = tls.root_certs(RootCerts::Specific(Arc::new(Vec::new())));
        }
        let proxy = match &ep.proxy {
            Some(p) => Some(
                ureq::Proxy::new(p).map_err(|_| HttpError::Setup("proxy URL is invalid".into()))?,
            ),
            None => None,
        };
        let connect = Duration::from_secs(ep.connect_timeout);
        let io = Duration::from_secs(ep.io_timeout);
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .proxy(proxy)
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(!ep.url.starts_with("http://"))
            .user_agent(concat!("pam_mfa/", env!("CARGO_PKG_VERSION")))
            .max_response_header_size(16 * 1024)
            .timeout_connect(Some(connect))
            .timeout_send_request(Some(io))
            .timeout_send_body(Some(io))
            .timeout_recv_response(Some(io))
            .timeout_recv_body(Some(io))
            // A fresh connection per request: a pooled one the service has closed (it does so
            // after refusing a request before reading its body) would fail a POST with a broken
            // pipe, which the login would take for an unreachable service. A login makes a
            // handful of requests, each long-poll up to 30 s: the extra handshakes cost nothing.
            .max_idle_connections(0)
            .build();
        Ok(Client {
            agent: config.new_agent(),
            base: ep.url.trim_end_matches('/').to_string(),
            io_timeout: io,
        })
    }

    /// Sends one request to `base + path`. `hold` is extra time the server may take before it
    /// starts replying (a long-poll's wait). Any status is a [`Reply`]; only transport problems
    /// are errors.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        hold: Duration,
    ) -> Result<Reply, HttpError> {
        let url = format!("{}{path}", self.base);
        let recv = Some(self.io_timeout + hold);
        let transport = classify;
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = match body {
            Body::Empty => {
                let req = builder
                    .body(())
                    .map_err(|_| HttpError::Setup("request could not be built".into()))?;
                let req = self.agent.configure_request(req).timeout_recv_response(recv).build();
                self.agent.run(req)
            }
            Body::Json(bytes) => {
                let req = builder
                    .header("content-type", "application/json")
                    .body(bytes.to_vec())
                    .map_err(|_| HttpError::Setup("request could not be built".into()))?;
                let req = self.agent.configure_request(req).timeout_recv_response(recv).build();
                self.agent.run(req)
            }
            Body::Form(pairs) => {
                let encoded = form_encode(pairs);
                let req = builder
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(encoded.into_bytes())
                    .map_err(|_| HttpError::Setup("request could not be built".into()))?;
                let req = self.agent.configure_request(req).timeout_recv_response(recv).build();
                self.agent.run(req)
            }
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let body =
            response.into_body().with_config().limit(MAX_BODY).read_to_vec().map_err(transport)?;
        Ok(Reply { status, body })
    }
}

/// Sorts a transport error into an outage (no connection, no answer in time) and everything
/// else, with a short description without URLs' query strings or bodies.
fn classify(e: ureq::Error) -> HttpError {
    use std::io::ErrorKind as K;
    match &e {
        ureq::Error::Timeout(t) => HttpError::Outage(format!("timed out ({t})")),
        ureq::Error::HostNotFound => HttpError::Outage("host not found".into()),
        ureq::Error::ConnectionFailed => HttpError::Outage("connection failed".into()),
        ureq::Error::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            // rustls reports certificate and handshake failures through the I/O error.
            Some(tls) => HttpError::Transport(format!("TLS failed: {tls}")),
            None => match io.kind() {
                K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable
                | K::NetworkDown
                | K::AddrNotAvailable
                | K::UnexpectedEof => {
                    HttpError::Outage(format!("connection failed: {}", io.kind()))
                }
                kind => HttpError::Transport(format!("connection failed: {kind}")),
            },
        },
        ureq::Error::Tls(m) => HttpError::Transport(format!("TLS failed: {m}")),
        ureq::Error::Rustls(r) => HttpError::Transport(format!("TLS failed: {r}")),
        ureq::Error::BodyExceedsLimit(n) => {
            HttpError::Transport(format!("reply larger than {n} bytes"))
        }
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            HttpError::Transport("redirect refused".into())
        }
        other => HttpError::Transport(other.to_string().chars().take(200).collect()),
    }
}

/// `application/x-www-form-urlencoded` encoding.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, k);
        out.push('=');
        percent_encode_into(&mut out, v);
    }
    out
}

/// Percent-encodes a query or form component (unreserved characters stay).
pub fn percent_encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Reads a root-owned secret file (a host credential): mode 0600 or stricter.
pub fn read_secret_file(
    path: &std::path::Path,
    max: u64,
) -> mfa_login::Result<zeroize::Zeroizing<Vec<u8>>> {
    Ok(secure_fs::read_file(path, FilePolicy::secret(max))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
    fn form_encoding() {
        assert_eq!(form_encode(&[("user", "a b"), ("pass", "1&2=3")]), "user=a%20b&pass=1%262%3D3");
        assert_eq!(form_encode(&[("x", "é")]), "x=%C3%A9");
    }

    #[test]
    fn unreachable_service_is_an_outage_within_the_timeout() {
        // A port nothing listens on (bound, then closed).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = Client::new(&ep(&format!("http://127.0.0.1:{port}"), false)).unwrap();
        let start = std::time::Instant::now();
        let r = c.request("GET", "/v1/health", &[], Body::Empty, Duration::ZERO);
        assert!(matches!(r, Err(HttpError::Outage(_))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(6));
    }
}
