//! Who must use a second factor, and what happens to users who have not enrolled.
//!
//! The top level of the configuration sets the defaults; `[[rule]]` tables refine them by PAM
//! service, user, group and source network (`PAM_RHOST`). The first rule whose conditions all
//! match decides; a rule's unset fields keep the defaults. Example:
//!
//! ```toml
//! enrollment = "on-login"
//!
//! [[rule]]                      # the management network needs no second factor
//! rhost = ["10.1.0.0/16"]
//! exempt = true
//!
//! [[rule]]                      # sudo: no opting out, no skipping enrollment
//! service = ["sudo"]
//! enrollment = "required"
//! allow_opt_out = false
//! ```

use crate::error::{Error, Result};
use crate::http::FailMode;
use serde::Deserialize;
use std::net::IpAddr;

/// What happens to a user without an enrolled factor.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Enrollment {
    /// Deny the login (`PAM_AUTH_ERR`).
    #[default]
    Required,
    /// Let the rest of the stack decide (`PAM_IGNORE`), like `nullok`.
    Optional,
    /// Offer to enroll right after the password: enroll now, skip (limited), or opt out (if
    /// allowed).
    OnLogin,
}

/// A `PAM_RHOST` condition: an address, a CIDR network, or `local` (no remote host).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum HostMatch {
    /// Matches logins without a remote host (console, local `su`/`sudo`).
    Local,
    /// Matches remote addresses inside the network.
    Net {
        /// Network address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
}

impl TryFrom<String> for HostMatch {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        if s == "local" {
            return Ok(HostMatch::Local);
        }
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.as_str(), None),
        };
        let addr: IpAddr =
            a.parse().map_err(|_| format!("'{s}' is not an address, network or \"local\""))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix length in '{s}'"))?,
        };
        if let IpAddr::V6(v6) = addr {
            if v6.to_ipv4_mapped().is_some() && prefix < 96 {
                return Err(format!(
                    "'{s}': an IPv4-mapped network needs a prefix of at least 96 (or write it \
                     as an IPv4 network)"
                ));
            }
        }
        let (addr, prefix) = canonical_net(addr, prefix);
        Ok(HostMatch::Net { addr, prefix })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A network in the form addresses are compared in: an IPv4-mapped network whose prefix
/// covers the mapping (`::ffff:10.0.0.0/104`) is the IPv4 network (`10.0.0.0/8`); any other
/// IPv6 network stays one (and matches no IPv4 client).
fn canonical_net(addr: IpAddr, prefix: u8) -> (IpAddr, u8) {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
            _ => (addr, prefix),
        },
        v4 => (v4, prefix),
    }
}

impl HostMatch {
    /// Whether `rhost` (as PAM gives it; may be a host name or empty) matches. A host name
    /// matches no network: rules about networks need sshd's default `UseDNS no`.
    pub fn matches(&self, rhost: Option<&str>) -> bool {
        let rhost = rhost.map(str::trim).filter(|r| !r.is_empty());
        match self {
            HostMatch::Local => rhost.is_none(),
            HostMatch::Net { addr, prefix } => {
                let Some(ip) = rhost.and_then(|r| r.parse::<IpAddr>().ok()).map(canonical) else {
                    return false;
                };
                // The prefix is at most 32 for an IPv4 network and 128 for an IPv6 one (parsing
                // checks that); saturating keeps a hand-made larger one exact, not matching all.
                let (net, prefix) = canonical_net(*addr, *prefix);
                match (net, ip) {
                    (IpAddr::V4(n), IpAddr::V4(a)) => {
                        let shift = 32u32.saturating_sub(u32::from(prefix));
                        let mask = u32::MAX.checked_shl(shift).unwrap_or(0);
                        u32::from(n) & mask == u32::from(a) & mask
                    }
                    (IpAddr::V6(n), IpAddr::V6(a)) => {
                        let shift = 128u32.saturating_sub(u32::from(prefix));
                        let mask = u128::MAX.checked_shl(shift).unwrap_or(0);
                        u128::from(n) & mask == u128::from(a) & mask
                    }
                    _ => false,
                }
            }
        }
    }
}

/// One `[[rule]]`: conditions (all given ones must match; a list matches if any entry does)
/// and the settings it applies.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// PAM service names (`sshd`, `sudo`, `login`, ...).
    pub service: Option<Vec<String>>,
    /// User names.
    pub user: Option<Vec<String>>,
    /// Group names (primary or supplementary membership).
    pub group: Option<Vec<String>>,
    /// Source addresses/networks, or `local`.
    pub rhost: Option<Vec<HostMatch>>,
    /// No second factor for matching logins (`PAM_IGNORE`, never success).
    #[serde(default)]
    pub exempt: bool,
    /// Overrides the top-level `enrollment`.
    pub enrollment: Option<Enrollment>,
    /// Overrides the top-level `allow_opt_out`.
    pub allow_opt_out: Option<bool>,
    /// Which service checks the second factor for matching logins (default `local`).
    pub backend: Option<Backend>,
    /// Overrides the central service's `failmode` for matching logins.
    pub failmode: Option<FailMode>,
}

/// Who checks the second factor.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// This host's encrypted store (TOTP, security keys, recovery codes) and, when `[push]` is
    /// configured, mfa-pushd for push approval.
    #[default]
    Local,
    /// A privacyIDEA server (`[privacyidea]`); local recovery codes keep working.
    #[serde(rename = "privacyidea")]
    PrivacyIdea,
}

/// The login being decided.
pub struct Subject<'a> {
    /// PAM service.
    pub service: &'a str,
    /// User name.
    pub user: &'a str,
    /// `PAM_RHOST`.
    pub rhost: Option<&'a str>,
}

/// The effective policy for one login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// No second factor needed.
    pub exempt: bool,
    /// What happens without enrollment.
    pub enrollment: Enrollment,
    /// Whether the enroll-on-login menu offers "opt out".
    pub allow_opt_out: bool,
    /// Who checks the second factor.
    pub backend: Backend,
    /// The rule's override of the central service's `failmode`, if any.
    pub failmode: Option<FailMode>,
    /// Index of the rule that decided (0-based), if any.
    pub rule: Option<usize>,
}

/// Looks up group membership (injected so tests need no system users).
pub trait Groups {
    /// Whether `user` is a member of `group`. `Err` when the user database cannot answer.
    fn is_member(&self, user: &str, group: &str) -> Result<bool>;
}

/// Group membership from the system's user database (NSS).
pub struct SystemGroups;

impl Groups for SystemGroups {
    fn is_member(&self, user: &str, group: &str) -> Result<bool> {
        use nix::unistd::{Group, User, getgrouplist};
        let lookup = |e: nix::Error| Error::Invalid(format!("user database lookup failed: {e}"));
        let Some(g) = Group::from_name(group).map_err(lookup)? else {
            return Ok(false);
        };
        let Some(u) = User::from_name(user).map_err(lookup)? else {
            return Ok(false);
        };
        if u.gid == g.gid {
            return Ok(true);
        }
        let c_user = std::ffi::CString::new(user)
            .map_err(|_| Error::Invalid("user name with NUL".into()))?;
        Ok(getgrouplist(&c_user, u.gid).map_err(lookup)?.contains(&g.gid))
    }
}

fn list_has(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|v| v == value))
}

impl Rule {
    fn matches(&self, s: &Subject<'_>, groups: &dyn Groups) -> Result<bool> {
        if !list_has(&self.service, s.service) || !list_has(&self.user, s.user) {
            return Ok(false);
        }
        if let Some(hosts) = &self.rhost {
            if !hosts.iter().any(|h| h.matches(s.rhost)) {
                return Ok(false);
            }
        }
        if let Some(gs) = &self.group {
            for g in gs {
                if groups.is_member(s.user, g)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        Ok(true)
    }
}

/// Resolves the policy: the first matching rule over the defaults. A failed group lookup is an
/// error (the login is denied), never a silent non-match.
pub fn resolve(
    defaults: Policy,
    rules: &[Rule],
    subject: &Subject<'_>,
    groups: &dyn Groups,
) -> Result<Policy> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.matches(subject, groups)? {
            return Ok(Policy {
                exempt: rule.exempt,
                enrollment: rule.enrollment.unwrap_or(defaults.enrollment),
                allow_opt_out: rule.allow_opt_out.unwrap_or(defaults.allow_opt_out),
                backend: rule.backend.unwrap_or(defaults.backend),
                failmode: rule.failmode.or(defaults.failmode),
                rule: Some(i),
            });
        }
    }
    Ok(defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Groups for Fake {
        fn is_member(&self, user: &str, group: &str) -> Result<bool> {
            match (user, group) {
                (_, "broken") => Err(Error::Invalid("nss down".into())),
                ("alice", "wheel") => Ok(true),
                _ => Ok(false),
            }
        }
    }

    fn host(s: &str) -> HostMatch {
        HostMatch::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn ipv4_mapped_network_matches_only_its_ipv4_addresses() {
        // Found while writing the `config` fuzz target (which panics on it): the prefix of an
        // IPv4-mapped network (0-128) was applied to the IPv4 address (0-32), so `32 - 104`
        // overflowed: a panic in debug builds and, in release builds, a mask of zero that
        // matched every IPv4 client.
        let net = host("::ffff:10.0.0.0/104");
        assert!(net.matches(Some("10.1.2.3")));
        assert!(net.matches(Some("::ffff:10.200.0.1")));
        assert!(!net.matches(Some("192.0.2.7")));
        assert!(!net.matches(Some("::ffff:192.0.2.7")));
        assert!(host("::ffff:192.0.2.7").matches(Some("192.0.2.7")));
        assert!(!host("::ffff:192.0.2.7").matches(Some("192.0.2.8")));
        assert_eq!(net, host("10.0.0.0/8"));
        // A shorter prefix would reach beyond the mapped addresses: refused.
        assert!(HostMatch::try_from("::ffff:0.0.0.0/64".to_string()).is_err());
        // Other IPv6 networks match no IPv4 client, as before.
        assert!(!host("::/0").matches(Some("192.0.2.7")));
        // A hand-made mapped network (not from parsing) cannot overflow either.
        let raw = HostMatch::Net { addr: "::ffff:10.0.0.0".parse().unwrap(), prefix: 104 };
        assert!(raw.matches(Some("10.9.9.9")) && !raw.matches(Some("11.0.0.1")));
    }

    #[test]
    fn networks() {
        assert!(host("10.0.0.0/8").matches(Some("10.200.3.4")));
        assert!(!host("10.0.0.0/8").matches(Some("11.0.0.1")));
        assert!(host("10.0.0.0/8").matches(Some("::ffff:10.1.2.3")));
        assert!(host("192.0.2.7").matches(Some("192.0.2.7")));
        assert!(!host("192.0.2.7").matches(Some("192.0.2.8")));
        assert!(host("2001:db8::/32").matches(Some("2001:db8:1::5")));
        assert!(!host("2001:db8::/32").matches(Some("10.0.0.1")));
        assert!(host("0.0.0.0/0").matches(Some("8.8.8.8")));
        assert!(!host("0.0.0.0/0").matches(Some("host.example.com")), "names never match");
        assert!(!host("0.0.0.0/0").matches(None));
        assert!(host("local").matches(None));
        assert!(host("local").matches(Some("")));
        assert!(!host("local").matches(Some("127.0.0.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129", ""] {
            assert!(HostMatch::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_matching_rule_wins_and_unset_fields_keep_defaults() {
        let defaults = Policy {
            exempt: false,
            enrollment: Enrollment::OnLogin,
            allow_opt_out: true,
            backend: Backend::Local,
            failmode: None,
            rule: None,
        };
        let rules = vec![
            Rule { rhost: Some(vec![host("10.1.0.0/16")]), exempt: true, ..Rule::default() },
            Rule {
                service: Some(vec!["sudo".into()]),
                group: Some(vec!["wheel".into()]),
                enrollment: Some(Enrollment::Required),
                allow_opt_out: Some(false),
                ..Rule::default()
            },
            Rule {
                service: Some(vec!["sudo".into()]),
                allow_opt_out: Some(false),
                backend: Some(Backend::PrivacyIdea),
                failmode: Some(FailMode::Open),
                ..Rule::default()
            },
        ];
        let r = |service, user, rhost| {
            resolve(defaults, &rules, &Subject { service, user, rhost }, &Fake).unwrap()
        };
        assert!(r("sshd", "bob", Some("10.1.2.3")).exempt);
        assert_eq!(r("sshd", "bob", Some("10.2.2.3")), defaults);
        let p = r("sudo", "alice", None);
        assert_eq!((p.enrollment, p.allow_opt_out, p.rule), (Enrollment::Required, false, Some(1)));
        let p = r("sudo", "bob", None);
        assert_eq!((p.enrollment, p.allow_opt_out, p.rule), (Enrollment::OnLogin, false, Some(2)));
        assert_eq!((p.backend, p.failmode), (Backend::PrivacyIdea, Some(FailMode::Open)));
        assert_eq!((defaults.backend, defaults.failmode), (Backend::Local, None));
    }

    #[test]
    fn failed_group_lookup_is_an_error() {
        let rules =
            vec![Rule { group: Some(vec!["broken".into()]), exempt: true, ..Rule::default() }];
        let defaults = Policy {
            exempt: false,
            enrollment: Enrollment::Required,
            allow_opt_out: false,
            backend: Backend::Local,
            failmode: None,
            rule: None,
        };
        assert!(
            resolve(defaults, &rules, &Subject { service: "s", user: "u", rhost: None }, &Fake)
                .is_err()
        );
    }

    #[test]
    fn system_groups_root_is_in_root() {
        assert!(SystemGroups.is_member("root", "root").unwrap());
        assert!(!SystemGroups.is_member("root", "no-such-group-xyz").unwrap());
        assert!(!SystemGroups.is_member("no-such-user-xyz", "root").unwrap());
    }
}
