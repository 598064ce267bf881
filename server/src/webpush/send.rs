//! One Web Push message over HTTP: the blocking POST (ureq, rustls with `ring`, trusting the
//! configured CA file) and what the push service's answer means.
//!
//! Runs on tokio's blocking pool with a hard overall timeout; no redirects, no proxy from the
//! environment, only to global addresses (the agent's resolver, [`super::address`]), plain
//! HTTP only where the configuration allows loopback endpoints. Error texts name a category,
//! never the endpoint (it is a capability to send to the browser).

use std::path::Path;
use std::time::Duration;

/// What became of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The push service accepted it (2xx).
    Accepted,
    /// The subscription is gone (404, 410): the browser unsubscribed or it expired.
    Gone(u16),
    /// Not delivered, for this reason; the subscription stays.
    Failed(&'static str),
}

/// What an HTTP status from a push service means (RFC 8030 §5, RFC 8292 §4).
pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Accepted,
        404 | 410 => Outcome::Gone(status),
        400 => Outcome::Failed("push service refused the request (400)"),
        401 | 403 => Outcome::Failed("push service refused the VAPID authorization"),
        413 => Outcome::Failed("push service refused the payload size (413)"),
        429 => Outcome::Failed("push service rate-limited the service (429)"),
        500..=599 => Outcome::Failed("push service failed (5xx)"),
        _ => Outcome::Failed("push service answered an unexpected status"),
    }
}

/// The HTTP agent for push services: `ca_file`'s roots, `https_only` unless loopback HTTP is
/// allowed, and a resolver that refuses names resolving to non-global addresses.
pub fn agent(ca_file: &Path, allow_http_loopback: bool) -> Result<ureq::Agent, String> {
    let certs = crate::client::ca_certificates(ca_file, 4 * 1024 * 1024, " (web_push.ca_file)")?;
    let tls = crate::client::tls_trusting(certs);
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(0)
        .https_only(!allow_http_loopback)
        .user_agent("mfa-server")
        .build();
    let resolver = super::address::GlobalOnly { allow_loopback_literal: allow_http_loopback };
    Ok(ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        resolver,
    ))
}

/// POSTs `request` within `timeout` (blocking; call from the blocking pool).
pub fn post(
    agent: &ureq::Agent,
    request: ureq::http::Request<Vec<u8>>,
    timeout: Duration,
) -> Outcome {
    let request = agent.configure_request(request).timeout_global(Some(timeout)).build();
    match agent.run(request) {
        // The body is not read: nothing in it changes what happens next.
        Ok(response) => classify(response.status().as_u16()),
        Err(e) => Outcome::Failed(describe(&e)),
    }
}

fn describe(e: &ureq::Error) -> &'static str {
    if super::address::is_non_global(e) {
        return "endpoint resolves to a private, loopback or other non-global address";
    }
    match e {
        ureq::Error::Timeout(_) => "push service did not answer in time",
        ureq::Error::HostNotFound => "push service host not found",
        ureq::Error::ConnectionFailed => "cannot connect to the push service",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            "TLS with the push service failed"
        }
        ureq::Error::RequireHttpsOnly(_) => "endpoint is not https",
        ureq::Error::Io(_) => "connection to the push service failed",
        _ => "HTTP exchange with the push service failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(201), Outcome::Accepted);
        assert_eq!(classify(410), Outcome::Gone(410));
        assert_eq!(classify(404), Outcome::Gone(404));
        assert!(matches!(classify(403), Outcome::Failed(_)));
        assert!(matches!(classify(500), Outcome::Failed(_)));
        assert!(matches!(classify(301), Outcome::Failed(_)));
    }
}
