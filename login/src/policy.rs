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

use crate::account::{Account, Directory};
use crate::error::{Error, Result};
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

/// What to do when the central service has an outage: it cannot be reached or does not answer
/// in time (or a gateway in front of it says so: HTTP 502, 503, 504). Anything else that goes
/// wrong (a TLS certificate that does not verify, a malformed or unexpected reply, a receipt
/// that does not verify, an unreadable CA file or credential) is a denial whatever this says.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// Deny the login (the default).
    #[default]
    Closed,
    /// Let the login through without the factor during an outage, logged at warning level
    /// (`decision=fail-open`). Only for services where an outage must not lock everyone out
    /// and the risk is accepted.
    Open,
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
    /// User names (any passwd name of the account; matched by uid).
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
    /// configured, mfa-server for push approval.
    #[default]
    Local,
    /// A privacyIDEA server (`[privacyidea]`); local recovery codes keep working.
    #[serde(rename = "privacyidea")]
    PrivacyIdea,
    /// The fleet's MFA service (`[fleet]`, issue 20): the user's factors live there, and a
    /// code is accepted at most once in the whole fleet.
    #[serde(rename = "fleet")]
    Fleet,
}

/// The login being decided.
pub struct Subject<'a> {
    /// PAM service.
    pub service: &'a str,
    /// The account (resolved from the user name as given; see [`crate::account`]).
    pub account: &'a Account,
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

/// Whether `list` (a rule's `user` or `group` condition) is absent or names one of `ids`.
/// Every name must exist: a name the database does not know is an error (a typo or a
/// directory outage must never turn into a silently skipped rule).
fn names_match(
    list: &Option<Vec<String>>,
    what: &str,
    lookup: impl Fn(&str) -> Result<Option<u32>>,
    ids: &[u32],
) -> Result<bool> {
    let Some(list) = list else { return Ok(true) };
    let mut found = false;
    for name in list {
        match lookup(name)? {
            Some(id) => found |= ids.contains(&id),
            None => {
                return Err(Error::UnknownUser(format!(
                    "{what} '{}' named in a rule does not exist",
                    crate::username::log_safe(name)
                )));
            }
        }
    }
    Ok(found)
}

impl Rule {
    fn matches(&self, s: &Subject<'_>, dir: &dyn Directory) -> Result<bool> {
        if !list_has(&self.service, s.service) {
            return Ok(false);
        }
        if let Some(hosts) = &self.rhost {
            if !hosts.iter().any(|h| h.matches(s.rhost)) {
                return Ok(false);
            }
        }
        // Users by uid, so any spelling of an account in the rule matches the account.
        let uid = |n: &str| Ok(dir.user_by_name(n)?.map(|u| u.uid));
        if !names_match(&self.user, "user", uid, &[s.account.uid])? {
            return Ok(false);
        }
        if self.group.is_some() {
            let gids = dir.group_ids(s.account)?;
            let gid = |n: &str| dir.group_by_name(n);
            return names_match(&self.group, "group", gid, &gids);
        }
        Ok(true)
    }
}

/// Checks that every user and group the rules name exists (done when a login loads the
/// configuration); the error names the first that does not.
pub fn check_names(rules: &[Rule], dir: &dyn Directory) -> Result<()> {
    match unknown_names(rules, dir)?.into_iter().next() {
        Some(m) => Err(Error::Config(m)),
        None => Ok(()),
    }
}

/// Every user and group the rules name that the user database does not know, as messages
/// ("rule 2: group 'whel' does not exist in the user database"); `mfa-enroll doctor` reports
/// them all. `Err` when the database cannot answer.
pub fn unknown_names(rules: &[Rule], dir: &dyn Directory) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let missing = |what: &str, name: &str| {
            format!(
                "rule {}: {what} '{}' does not exist in the user database",
                i + 1,
                crate::username::log_safe(name)
            )
        };
        for name in rule.user.iter().flatten() {
            if dir.user_by_name(name)?.is_none() {
                out.push(missing("user", name));
            }
        }
        for name in rule.group.iter().flatten() {
            if dir.group_by_name(name)?.is_none() {
                out.push(missing("group", name));
            }
        }
    }
    Ok(out)
}

fn list_has(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|v| v == value))
}

/// Resolves the policy: the first matching rule over the defaults. A failed or empty user or
/// group lookup is an error (the login is denied), never a silent non-match.
pub fn resolve(
    defaults: Policy,
    rules: &[Rule],
    subject: &Subject<'_>,
    dir: &dyn Directory,
) -> Result<Policy> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.matches(subject, dir)? {
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

    use crate::account::tests::ListDirectory;

    fn dir() -> ListDirectory {
        ListDirectory {
            users: vec![("alice", 1000, 1000), ("bob", 1001, 1001), ("ALICE", 1000, 1000)],
            groups: vec![("wheel", 10, vec!["alice"]), ("users", 100, vec![])],
        }
    }

    fn account(name: &str) -> Account {
        crate::account::resolve(&dir(), name).unwrap()
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
            let account = account(user);
            resolve(defaults, &rules, &Subject { service, account: &account, rhost }, &dir())
                .unwrap()
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
    fn failed_or_empty_lookups_are_errors_not_skipped_rules() {
        let defaults = Policy {
            exempt: false,
            enrollment: Enrollment::Required,
            allow_opt_out: false,
            backend: Backend::Local,
            failmode: None,
            rule: None,
        };
        let alice = account("alice");
        let s = Subject { service: "s", account: &alice, rhost: None };
        for (user, group) in [
            (None, Some("broken")),
            (None, Some("no-such-group")),
            (Some("no-such-user"), None),
            (Some("broken"), None),
        ] {
            // The rule would be lenient; an unknown name must not make the login skip it
            // (and fall through to a later rule or the defaults), nor match.
            let rules = vec![Rule {
                user: user.map(|u| vec![u.to_string()]),
                group: group.map(|g| vec![g.to_string()]),
                exempt: true,
                ..Rule::default()
            }];
            assert!(resolve(defaults, &rules, &s, &dir()).is_err(), "{user:?} {group:?}");
            assert!(check_names(&rules, &dir()).is_err(), "{user:?} {group:?}");
        }
    }

    #[test]
    fn rule_users_match_by_uid_and_groups_by_membership() {
        let defaults = Policy {
            exempt: false,
            enrollment: Enrollment::Required,
            allow_opt_out: false,
            backend: Backend::Local,
            failmode: None,
            rule: None,
        };
        let rules = vec![
            Rule { user: Some(vec!["ALICE".into()]), exempt: true, ..Rule::default() },
            Rule { group: Some(vec!["users".into(), "wheel".into()]), ..Rule::default() },
        ];
        assert!(check_names(&rules, &dir()).is_ok());
        let alice = account("alice");
        let p = resolve(
            defaults,
            &rules,
            &Subject { service: "s", account: &alice, rhost: None },
            &dir(),
        )
        .unwrap();
        assert_eq!((p.exempt, p.rule), (true, Some(0)), "ALICE in a rule is alice's uid");
        let bob = account("bob");
        let p = resolve(
            defaults,
            &rules,
            &Subject { service: "s", account: &bob, rhost: None },
            &dir(),
        )
        .unwrap();
        assert_eq!(p, defaults, "bob is in neither group");
    }
}
