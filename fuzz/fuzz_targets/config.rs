//! `Config::parse` on arbitrary text: Ok or Err, never a panic. A configuration that parses
//! must satisfy the documented limits, and its policy rules must resolve for any login without
//! panicking; every network in a rule contains its own address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::config::Config;
use mfa_login::fuzzing::FuzzDirectory;
use mfa_login::policy::{self, HostMatch, Subject};

const RHOSTS: &[Option<&str>] = &[
    None,
    Some(""),
    Some("10.1.2.3"),
    Some("::ffff:10.1.2.3"),
    Some("192.0.2.7"),
    Some("2001:db8::1"),
    Some("::1"),
    Some("host.example"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = Config::parse(text) else { return };

    assert!(cfg.store.state_dir.is_absolute() && cfg.store.master_key.is_absolute());
    assert!(cfg.totp.window <= 10);
    assert!(cfg.totp.digits == 6 || cfg.totp.digits == 8);
    assert!((10..=300).contains(&cfg.totp.step));

    for rule in &cfg.rules {
        for host in rule.rhost.iter().flatten() {
            if let HostMatch::Net { addr, prefix } = host {
                assert!(
                    host.matches(Some(&addr.to_string())),
                    "network {addr}/{prefix} does not contain its own address"
                );
            }
        }
    }
    let _ = policy::check_names(&cfg.rules, &FuzzDirectory);
    let alice = mfa_login::account::resolve(&FuzzDirectory, "alice").expect("alice");
    for rhost in RHOSTS {
        for service in ["sshd", "sudo"] {
            let subject = Subject { service, account: &alice, rhost: *rhost };
            let _ = policy::resolve(cfg.default_policy(), &cfg.rules, &subject, &FuzzDirectory);
        }
    }
});
