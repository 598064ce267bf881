//! Checking a device's push subscription: the endpoint URL the service will POST to and the
//! browser's keys.
//!
//! The endpoint is chosen by whoever holds a device key, so it is treated as hostile: `https://`
//! with a DNS name only (real push services are named; IP literals would let a device aim the
//! service at addresses inside the network), no user info, bounded length; what the name
//! resolves to is checked too ([`super::address`]). Plain `http://` is accepted only to a
//! loopback IP literal and only when the configuration allows it (tests).

use axum::http::Uri;
use push_proto::api::PushSubscription;
use std::net::IpAddr;

/// Longest endpoint URL accepted (real ones are a few hundred bytes).
pub const MAX_ENDPOINT: usize = 2048;

/// Length of the browser's authentication secret (RFC 8291 §3.2).
pub const AUTH_LEN: usize = 16;

/// A checked endpoint: its URI and its origin (the VAPID `aud`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL to POST to.
    pub uri: Uri,
    /// `scheme://host[:port]`, lower case, without a default port (RFC 6454).
    pub origin: String,
    /// The host is a loopback IP literal (only accepted with `allow_http_loopback`).
    pub loopback_literal: bool,
}

/// Checks `url`; `allow_http_loopback` admits `http://` to 127.0.0.0/8 and `[::1]`.
pub fn parse_endpoint(url: &str, allow_http_loopback: bool) -> Result<Endpoint, &'static str> {
    if url.len() > MAX_ENDPOINT || !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err("endpoint must be a printable URL of at most 2048 bytes");
    }
    let uri: Uri = url.parse().map_err(|_| "endpoint is not a URL")?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err("endpoint must be an absolute URL");
    };
    if authority.as_str().contains('@') {
        return Err("endpoint must not carry user information");
    }
    let host = authority.host().to_ascii_lowercase();
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    let default_port = match scheme {
        "https" => {
            match ip {
                None if is_dns_name(&host) => {}
                Some(ip) if allow_http_loopback && ip.is_loopback() => {}
                _ => return Err("endpoint host must be a DNS name"),
            }
            443
        }
        "http" if allow_http_loopback && ip.is_some_and(|ip| ip.is_loopback()) => 80,
        "http" => return Err("endpoint must be https:// (plain http only to loopback in tests)"),
        _ => return Err("endpoint must be https://"),
    };
    let origin = match authority.port_u16() {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    };
    Ok(Endpoint { uri, origin, loopback_literal: ip.is_some_and(|ip| ip.is_loopback()) })
}

/// Letters, digits, hyphens and dots, with at least one dot, as push services' names are.
fn is_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The browser's keys: the P-256 point and the authentication secret, decoded.
pub struct BrowserKeys {
    /// The browser's message public key.
    pub p256dh: web_push_native::p256::PublicKey,
    /// The authentication secret.
    pub auth: [u8; AUTH_LEN],
}

/// Checks a subscription as a whole: endpoint and keys.
pub fn check(
    sub: &PushSubscription,
    allow_http_loopback: bool,
) -> Result<(Endpoint, BrowserKeys), &'static str> {
    let endpoint = parse_endpoint(&sub.endpoint, allow_http_loopback)?;
    let point = push_proto::unb64(&sub.p256dh)
        .filter(|b| b.len() == 65 && b[0] == 4)
        .ok_or("p256dh must be an uncompressed P-256 point (65 bytes), base64url")?;
    let p256dh = web_push_native::p256::PublicKey::from_sec1_bytes(&point)
        .map_err(|_| "p256dh is not a point on P-256")?;
    let auth = push_proto::unb64(&sub.auth)
        .and_then(|b| <[u8; AUTH_LEN]>::try_from(b).ok())
        .ok_or("auth must be 16 bytes, base64url")?;
    Ok((endpoint, BrowserKeys { p256dh, auth }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint("https://fcm.googleapis.com/fcm/send/abc:def", false).unwrap();
        assert_eq!(e.origin, "https://fcm.googleapis.com");
        let e = parse_endpoint("https://Push.Example.org:443/x", false).unwrap();
        assert_eq!(e.origin, "https://push.example.org");
        let e = parse_endpoint("https://push.example.org:8443/x", false).unwrap();
        assert_eq!(e.origin, "https://push.example.org:8443");
        let e = parse_endpoint("http://127.0.0.1:9000/push/1", true).unwrap();
        assert_eq!(e.origin, "http://127.0.0.1:9000");
        assert!(parse_endpoint("http://[::1]:9000/p", true).is_ok());
        for (url, loopback_ok) in [
            ("http://127.0.0.1:9000/p", false),
            ("http://push.example.org/p", true),
            ("http://192.0.2.1/p", true),
            ("https://192.0.2.1/p", true),
            ("https://10.0.0.1/p", false),
            ("https://127.0.0.1/p", false),
            ("https://localhost/p", true),
            ("https://user@push.example.org/p", false),
            ("ftp://push.example.org/p", false),
            ("/relative", false),
            ("https://push.example.org/a b", false),
            ("https://push_example.org/p", false),
        ] {
            assert!(parse_endpoint(url, loopback_ok).is_err(), "{url}");
        }
        let long = format!("https://push.example.org/{}", "a".repeat(MAX_ENDPOINT));
        assert!(parse_endpoint(&long, false).is_err());
    }

    #[test]
    fn keys() {
        let point = push_proto::SecretKey::generate().unwrap().public().encode();
        let sub = |p256dh: &str, auth: &str| PushSubscription {
            endpoint: "https://push.example.org/p".into(),
            p256dh: p256dh.into(),
            auth: auth.into(),
        };
        let auth = push_proto::b64(&[7u8; 16]);
        assert!(check(&sub(&point, &auth), false).is_ok());
        assert!(check(&sub(&point, &push_proto::b64(&[7u8; 15])), false).is_err());
        assert!(check(&sub(&point, "not base64!"), false).is_err());
        assert!(check(&sub(&push_proto::b64(&[4u8; 65]), &auth), false).is_err(), "off curve");
        assert!(check(&sub(&push_proto::b64(&[2u8; 33]), &auth), false).is_err(), "compressed");
    }
}
