//! Fleet mode end to end (issue 20, first slice): the real pam_mfa.so through the real libpam
//! on two hosts (two configurations, two host credentials) against the real service over TLS
//! on loopback. The user's TOTP secret is only at the service; a code used on one host is
//! refused on the other; wrong codes on both hosts add up to one lockout; a service that is
//! down honours `failmode`; a user removed at the service is refused on every host.

use mfa_login::totp::{self, Params};
use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;
use mfa_tests::push::{Backend, PushService};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// RFC 6238's SHA-1 test key, base32.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Params::default(), t).to_string()
}

/// A host: its own fixture (configuration, store, PAM stack) and credential, every login
/// through the fleet.
fn host(svc: &PushService, name: &str, extra: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let section = svc.push_section(&credential, extra).replacen("[push]", "[fleet]", 1);
    f.write_config(&format!("{section}\n[[rule]]\nbackend = \"fleet\"\n"));
    f
}

fn set_totp(svc: &PushService, dir: &Path, user: &str) {
    let file = dir.join("secret.b32");
    std::fs::write(&file, SECRET_B32).expect("secret file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = svc.admin(&[
        "fleet",
        "user",
        "set-totp",
        "--user",
        user,
        "--secret-file",
        file.to_str().expect("UTF-8 path"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_code_used_on_one_host_is_refused_on_the_other_and_failures_add_up() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nmax_failures = 3\nlockout = 600");
    let a = host(&svc, "host-a", "");
    let b = host(&svc, "host-b", "");
    set_totp(&svc, &a.root, "alice");

    let code = code_at(now());
    let o = a.login("alice", &[&code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    // Neither host holds a secret or a record of alice: the service decided.
    assert!(!a.user_file("alice").exists() && !b.user_file("alice").exists());
    let o = b.login("alice", &[&code]);
    assert_eq!(o.code, PAM_AUTH_ERR, "the same code on another host: {o:?}");

    // Wrong codes on both hosts: one fleet-wide count (max_failures = 3), then locked on both.
    let wrong = "000000";
    assert_ne!(code_at(now()), wrong);
    for f in [&a, &b, &a] {
        assert_eq!(f.login("alice", &[wrong]).code, PAM_AUTH_ERR);
    }
    let o = b.login("alice", &[&code_at(now() + 30)]);
    assert_eq!(o.code, PAM_AUTH_ERR, "locked fleet-wide: {o:?}");
    assert!(o.messages.iter().any(|(_, m)| m.contains("locked")), "{o:?}");
}

#[test]
fn a_service_that_is_down_honours_failmode() {
    let mut svc = PushService::start_on(Backend::Sqlite, "");
    let closed = host(&svc, "host-c", "connect_timeout = 1\nio_timeout = 2");
    let open = host(&svc, "host-o", "connect_timeout = 1\nio_timeout = 2\nfailmode = \"open\"");
    set_totp(&svc, &closed.root, "alice");
    svc.stop();
    let o = closed.login("alice", &[&code_at(now())]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    let o = open.login("alice", &[&code_at(now())]);
    assert_eq!(o.code, PAM_SUCCESS, "failmode open, service down: {o:?}");
}

#[test]
fn a_user_removed_at_the_service_is_refused_on_every_host() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let hosts = ["host-a", "host-b", "host-c"].map(|n| host(&svc, n, ""));
    set_totp(&svc, &hosts[0].root, "alice");
    let t0 = now();
    let o = hosts[0].login("alice", &[&code_at(t0)]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");

    let out = svc.admin(&["fleet", "user", "remove", "--user", "alice", "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The next step's code would have been good: after the removal no host lets it in, and
    // none falls back to letting a user without factors through.
    for f in &hosts {
        let o = f.login("alice", &[&code_at(t0 + 30)]);
        assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    }
}
