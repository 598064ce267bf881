//! Push scopes: which hosts share a user's devices, open challenge, rate limit and fraud
//! cooldown.
//!
//! A device is bound at pairing to the host that paired it, and only hosts of the same scope
//! may send it challenges: a host credential (stolen, or a compromised host) cannot send
//! phishing pushes to devices enrolled on other hosts, hold their users' open-challenge slot,
//! burn their rate limit or set off their fraud cooldown. Today every host is its own scope.
//!
//! Fleet mode hook: host groups will map a host to its group's scope here (and devices paired
//! on one host of a group will reach the group's other hosts); everything else keys on
//! [`of_host`] already.

use crate::store::{Device, Host};

/// The push scope of the host `host_id`.
pub fn of_host(host_id: &str) -> String {
    host_id.to_string()
}

/// Whether `host` may send challenges to `device`: the device was paired through a host of
/// the same scope (devices paired before protocol 2 have no host and reach none).
pub fn may_push(host: &Host, device: &Device) -> bool {
    device.host_id.as_deref().is_some_and(|h| of_host(h) == of_host(&host.id))
}

/// The fleet scope every host verifies in today: one for the whole service (FLEET.md's
/// default "all hosts may authenticate all users"). Host groups do not change it: they
/// restrict which hosts may act for a user within the scope ([`crate::fleet::access`]).
/// It cannot collide with a push scope (a host id is 22 characters).
pub const DEFAULT_FLEET_SCOPE: &str = "fleet";

/// The fleet scope of `host`: where its users' fleet records (TOTP, recovery codes, lockout)
/// are looked up.
pub fn fleet_of_host(_host: &Host) -> String {
    DEFAULT_FLEET_SCOPE.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_admin_cli_default_scope_is_the_fleet_scope() {
        let c =
            crate::cli::Cli::try_parse_from(["mfa-server", "fleet", "user", "show", "--user", "a"])
                .unwrap();
        let crate::cli::Command::Fleet(crate::cli::FleetCommand::User(
            crate::cli::FleetUserCommand::Show { who, .. },
        )) = c.command
        else {
            panic!("parsed as {:?}", c.command);
        };
        assert_eq!(who.scope, DEFAULT_FLEET_SCOPE);
    }
}
