//! Fleet mode's host groups end to end (issue 20): the real pam_mfa.so through the real libpam
//! on three hosts (three configurations, three host credentials) against the real service.
//! The user may authenticate only on hosts of group `db` (A and B): logins work there and are
//! refused on C, where the refusal looks exactly like a wrong code and uses nothing up.

use mfa_login::totp::{self, Params};
use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;
use mfa_tests::push::{Backend, PushService};
use std::os::unix::fs::PermissionsExt;

/// RFC 6238's SHA-1 test key, base32 and raw.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Params::default(), t).to_string()
}

/// Runs `mfa-server ARGS` against `svc`, which must succeed.
fn admin(svc: &PushService, args: &[&str]) {
    let out = svc.admin(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A fleet host named `name`: its own fixture and credential, every login through the fleet.
fn fleet_host(svc: &PushService, name: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let fleet = svc.push_section(&credential, "").replacen("[push]", "[fleet]", 1);
    f.write_config(&format!("{fleet}\n[[rule]]\nbackend = \"fleet\"\n"));
    f
}

#[test]
fn a_user_restricted_to_a_group_logs_in_only_on_its_hosts() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let [a, b, c] = ["host-a", "host-b", "host-c"].map(|n| fleet_host(&svc, n));
    let secret = a.root.join("secret.b32");
    std::fs::write(&secret, SECRET_B32).expect("secret file");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let secret = secret.to_str().expect("UTF-8 path");
    admin(&svc, &["fleet", "user", "set-totp", "--user", "alice", "--secret-file", secret]);
    admin(&svc, &["fleet", "group", "add", "db"]);
    admin(&svc, &["fleet", "group", "add-host", "db", "host-a"]);
    admin(&svc, &["fleet", "group", "add-host", "db", "host-b"]);
    admin(&svc, &["fleet", "user", "groups", "--user", "alice", "--authenticate", "db"]);

    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // C is outside the group: refused, and the code is not used up.
    let refused = c.login("alice", &[&code_at(t0)]);
    assert_eq!(refused.code, PAM_AUTH_ERR, "{refused:?}");
    let o = a.login("alice", &[&code_at(t0)]);
    assert_eq!(o.code, PAM_SUCCESS, "the code C was refused is still good on A: {o:?}");
    let o = b.login("alice", &[&code_at(t0 + 30)]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");

    // What C's user saw is what a wrong code shows: no word of groups or refusal.
    let wrong = a.login("alice", &["000000"]);
    assert_eq!(wrong.code, PAM_AUTH_ERR);
    assert_eq!(refused.messages, wrong.messages, "{refused:?}\n{wrong:?}");
    for (_, m) in &refused.messages {
        let m = m.to_lowercase();
        assert!(!m.contains("group") && !m.contains("refused") && !m.contains("host"), "{m}");
    }
    assert!(svc.audit().contains("host not in the user's host groups"));
}
