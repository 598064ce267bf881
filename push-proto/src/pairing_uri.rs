//! The pairing link shown as a QR code: `https://<service>/pair#c=<one-time credential>`.
//!
//! The credential sits in the fragment, which browsers never send to a server, so it does not
//! end up in access logs of proxies in front of the service; the web app reads it from
//! `location.hash`, the CLI device from the text.

use crate::limits::{NONCE_LEN, is_token};

/// Length of a pairing credential (32 random bytes, base64url).
pub const CREDENTIAL_LEN: usize = NONCE_LEN;

/// Builds the link for `base_url` (the service's public `https://` URL, no trailing slash).
pub fn build(base_url: &str, credential: &str) -> String {
    format!("{}/pair#c={credential}", base_url.trim_end_matches('/'))
}

/// Splits a link into the service's base URL and the credential. `None` unless it is an
/// `https://` link (or an `http://` one to a loopback address, for tests) of exactly that shape.
pub fn parse(uri: &str) -> Option<(String, String)> {
    let uri = uri.trim();
    let (base, cred) = uri.split_once("/pair#c=")?;
    let (rest, plain) = match base.strip_prefix("https://") {
        Some(r) => (r, false),
        None => (base.strip_prefix("http://")?, true),
    };
    if plain && !is_loopback_authority(rest) {
        return None;
    }
    if rest.is_empty()
        || rest.len() > 255
        || rest.contains(['/', '?', '#', '@'])
        || rest.chars().any(|c| c.is_control() || c.is_whitespace())
        || !is_token(cred, CREDENTIAL_LEN)
    {
        return None;
    }
    Some((base.to_string(), cred.to_string()))
}

/// Whether `host[:port]` names a loopback address (`localhost`, `127.x`, `[::1]`).
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_refusals() {
        let c = "A".repeat(CREDENTIAL_LEN);
        let u = build("https://push.example:8443/", &c);
        assert_eq!(u, format!("https://push.example:8443/pair#c={c}"));
        assert_eq!(parse(&u), Some(("https://push.example:8443".into(), c.clone())));
        let local = build("http://127.0.0.1:8080", &c);
        assert_eq!(parse(&local), Some(("http://127.0.0.1:8080".into(), c.clone())));
        for bad in [
            format!("ftp://x/pair#c={c}"),
            format!("https://user@x/pair#c={c}"),
            format!("https://x/y/pair#c={c}"),
            "https://x/pair#c=short".to_string(),
            format!("https://x/pair?c={c}"),
            format!("https:///pair#c={c}"),
            format!("http://push.example/pair#c={c}"),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
