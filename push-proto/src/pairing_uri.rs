//! The pairing link shown as a QR code: `https://<service>/pair#c=<credential>&k=<host secret>`.
//!
//! The credential is the service's one-time secret; the host secret is the host's own, added
//! by the host to the link the service made and never sent to the service. The device uses it
//! to compute the pairing code ([`crate::signed::pairing_code`]) the user types at the host,
//! so a service that swaps the device's key cannot search for one with the same code.
//!
//! Both sit in the fragment, which browsers never send to a server, so they do not end up in
//! access logs of proxies in front of the service; the web app reads them from `location.hash`,
//! the CLI device from the text.

use crate::limits::{ID_LEN, NONCE_LEN, is_token};

/// Length of a pairing credential (32 random bytes, base64url).
pub const CREDENTIAL_LEN: usize = NONCE_LEN;

/// Length of the host's secret in a pairing link (16 random bytes, base64url).
pub const HOST_SECRET_LEN: usize = ID_LEN;

/// A parsed pairing link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingLink {
    /// The service's base URL (`https://host[:port]`).
    pub base: String,
    /// The one-time credential.
    pub credential: String,
    /// The host's secret, when the link has one (links as the service makes them do not).
    pub host_secret: Option<String>,
}

/// Builds the link for `base_url` (the service's public `https://` URL, no trailing slash).
pub fn build(base_url: &str, credential: &str) -> String {
    format!("{}/pair#c={credential}", base_url.trim_end_matches('/'))
}

/// The link as the host shows it: `uri` (the service's) with the host's secret added.
pub fn with_host_secret(uri: &str, host_secret: &str) -> String {
    format!("{uri}&k={host_secret}")
}

/// Splits a link. `None` unless it is an `https://` link (or an `http://` one to a loopback
/// address, for tests) of exactly that shape.
pub fn parse(uri: &str) -> Option<PairingLink> {
    let uri = uri.trim();
    let (base, fragment) = uri.split_once("/pair#c=")?;
    let (cred, host_secret) = match fragment.split_once("&k=") {
        Some((c, k)) if is_token(k, HOST_SECRET_LEN) => (c, Some(k.to_string())),
        Some(_) => return None,
        None => (fragment, None),
    };
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
    Some(PairingLink { base: base.to_string(), credential: cred.to_string(), host_secret })
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
        let k = "K".repeat(HOST_SECRET_LEN);
        let u = build("https://push.example:8443/", &c);
        assert_eq!(u, format!("https://push.example:8443/pair#c={c}"));
        let link = |base: &str, host_secret: Option<&str>| PairingLink {
            base: base.into(),
            credential: c.clone(),
            host_secret: host_secret.map(str::to_string),
        };
        assert_eq!(parse(&u), Some(link("https://push.example:8443", None)));
        let shown = with_host_secret(&u, &k);
        assert_eq!(shown, format!("https://push.example:8443/pair#c={c}&k={k}"));
        assert_eq!(parse(&shown), Some(link("https://push.example:8443", Some(&k))));
        let local = build("http://127.0.0.1:8080", &c);
        assert_eq!(parse(&local), Some(link("http://127.0.0.1:8080", None)));
        for bad in [
            format!("ftp://x/pair#c={c}"),
            format!("https://user@x/pair#c={c}"),
            format!("https://x/y/pair#c={c}"),
            "https://x/pair#c=short".to_string(),
            format!("https://x/pair?c={c}"),
            format!("https:///pair#c={c}"),
            format!("http://push.example/pair#c={c}"),
            format!("https://x/pair#c={c}&k=short"),
            format!("https://x/pair#c={c}&k={k}&x=1"),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
