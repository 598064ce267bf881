//! Where a Web Push endpoint may point: only globally routable unicast addresses.
//!
//! The endpoint is chosen by whoever holds a device key, so the service must not become a way
//! to reach addresses inside its network (cloud metadata at 169.254.169.254, a database on
//! 10.x, its own loopback). A DNS name is checked by what it resolves to, when the subscription
//! is registered and again for every message; for sending, the addresses checked are the ones
//! connected to ([`GlobalOnly`] is the HTTP client's resolver), so a name that answers a public
//! address to the check and a private one to the connection (DNS rebinding) gets nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Whether `ip` is a globally routable unicast address: not loopback, private, shared (CGNAT),
/// link-local, unique-local, multicast, broadcast, documentation, benchmarking, reserved or
/// unspecified; IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4) is judged as IPv4.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network" (0/8)
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)              // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    match s {
        // IPv4-compatible (deprecated) and ::, ::1: never a push service.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 (64:ff9b::/96): the IPv4 address it reaches decides.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_global_v4(embedded_v4(hi, lo)),
        // 6to4 (2002::/16): likewise.
        [0x2002, hi, lo, ..] => is_global_v4(embedded_v4(hi, lo)),
        // Documentation (2001:db8::/32, 3fff::/20), IETF protocol assignments (2001::/23,
        // Teredo and ORCHID among them).
        [0x2001, 0x0db8, ..] => false,
        [0x3fff, b, ..] if b < 0x1000 => false,
        [0x2001, b, ..] if b < 0x0200 => false,
        // Global unicast is 2000::/3; everything else (ULA fc00::/7, link-local fe80::/10,
        // site-local, multicast ff00::/8, discard 100::/64, NAT64 local 64:ff9b:1::/48) is not.
        [a, ..] => (0x2000..0x4000).contains(&a),
    }
}

/// The marker inside the I/O error [`GlobalOnly`] fails with.
#[derive(Debug)]
pub struct NonGlobal;

impl std::fmt::Display for NonGlobal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the endpoint resolves to a non-global address")
    }
}

impl std::error::Error for NonGlobal {}

/// Whether a ureq error is [`GlobalOnly`]'s refusal.
pub fn is_non_global(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Io(io) if io.get_ref().is_some_and(|r| r.is::<NonGlobal>()))
}

/// Whether every address is global (an empty list is not).
pub fn all_global(addrs: &[SocketAddr]) -> bool {
    !addrs.is_empty() && addrs.iter().all(|a| is_global(a.ip()))
}

/// The HTTP client's resolver for push services: the system's resolver, then a refusal if any
/// address is not global; the connection then goes only to the addresses checked here. With
/// `allow_loopback_literal` (the tests' switch) an endpoint that *is* a loopback IP literal
/// passes; names never get that exception.
#[derive(Debug)]
pub struct GlobalOnly {
    /// Let loopback IP literals through (`web_push.allow_http_loopback`).
    pub allow_loopback_literal: bool,
}

impl Resolver for GlobalOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        let host = uri.host().unwrap_or("");
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        if self.allow_loopback_literal && literal.is_some_and(|ip| ip.is_loopback()) {
            return Ok(addrs);
        }
        if !all_global(&addrs) {
            return Err(ureq::Error::Io(std::io::Error::other(NonGlobal)));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_not() {
        for ip in [
            "8.8.8.8",
            "142.250.74.110",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "2607:f8b0:4004:c07::5f",
            "2a00:1450:4001:82a::200a",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_global(ip.parse().unwrap()), "{ip} should be global");
        }
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.7",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2002:7f00:1::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_global(ip.parse().unwrap()), "{ip} should not be global");
        }
        assert!(!all_global(&[]));
    }
}
