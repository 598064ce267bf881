//! Fleet mode's security keys and push end to end (issue 20): the real pam_mfa.so through the
//! real libpam on several hosts (their own configurations and host credentials) against the
//! real service over TLS on loopback. A key registered once at the service (`fleet user
//! add-key`, for the fleet's RP id) logs in on hosts B and C with the software authenticator;
//! its assertion is verified by the service, which raises the counter fleet-wide. And a key
//! registered with the real `mfa-enroll fido2` on host A logs in on B and C; a second key
//! from B needs a current factor (a wrong code refused by the service), and the first key
//! signing the service's enrollment challenge is that factor.

use mfa_login::fido2::authdata::AuthData;
use mfa_login::fido2::device::{Authenticator, Registration};
use mfa_login::fido2::soft::SoftAuthenticator;
use mfa_login::fido2::{Fido2Credential, b64};
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::push::{Backend, PushService};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};

/// The service's default `[fleet] rp_id`.
const FLEET_RP: &str = "pam://fleet";

/// A host at the local seat whose logins go through the fleet, with the software
/// authenticator `key` plugged in.
fn host(svc: &PushService, name: &str, key: &Path, extra: &str) -> Fixture {
    let f = Fixture::new();
    f.at_local_seat();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let section = svc.push_section(&credential, extra).replacen("[push]", "[fleet]", 1);
    f.write_config(&format!(
        "{section}\n[fido2]\ntest_device = \"{}\"\n[[rule]]\nbackend = \"fleet\"\n",
        key.display()
    ));
    f
}

/// Registers a new credential of the software authenticator `key` for the fleet's RP id and
/// puts it at the service for `user` (as a migration would: the module's stored shape).
fn register_at_service(svc: &PushService, dir: &Path, key: &Path, user: &str) {
    let mut dev = SoftAuthenticator::open(key).expect("soft authenticator");
    let auth_data = dev
        .make_credential(&Registration {
            rp_id: FLEET_RP,
            user_id: b"alice-handle",
            user_name: user,
            challenge: &[7u8; 32],
            user_verification: false,
            pin: None,
        })
        .expect("make_credential");
    let attested = AuthData::parse(&auth_data).expect("authData").attested.expect("attested");
    let cred = Fido2Credential {
        name: "yubikey-blue".into(),
        credential_id: b64(&attested.credential_id),
        public_key: b64(&attested.public_key),
        rp_id: FLEET_RP.into(),
        sign_count: 0,
        user_verification: false,
        created: 0,
    };
    let file = dir.join("credential.json");
    std::fs::write(&file, serde_json::to_vec(&cred).expect("json")).expect("credential file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let path = file.to_str().expect("UTF-8 path");
    let out = svc.admin(&["fleet", "user", "add-key", "--user", user, "--credential-file", path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn reason(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

fn key_state(key: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(key).expect("key state")).expect("json")
}

fn set_fault(key: &Path, fault: Option<&str>) {
    let mut dev = SoftAuthenticator::open(key).expect("soft authenticator");
    dev.set_fault(fault).expect("fault");
}

#[test]
fn a_key_registered_at_the_service_logs_in_on_every_fleet_host() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("key.json");
    let b = host(&svc, "host-b", &key, "");
    let c = host(&svc, "host-c", &key, "");
    register_at_service(&svc, keys.path(), &key, "alice");

    for f in [&b, &c, &b] {
        let o = f.login("alice", &[""]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}\n{}", svc.audit());
        assert_eq!(
            o.messages[0],
            (PAM_PROMPT_ECHO_OFF, "Press Enter to use your security key, or type a code: ".into())
        );
        let r = reason(&o);
        assert!(r.contains("factor=fido2") && r.contains("TEST DEVICE"), "{r}");
        // Nothing of alice's on the host: the service decided.
        assert!(!f.user_file("alice").exists());
    }
    assert!(svc.audit().contains("fleet.verify.security_key"));

    // The key's counter going back (a clone, or a replay of an old state): refused at the
    // service, on any host.
    set_fault(&key, Some("counter_back"));
    let o = c.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(svc.audit().contains("signature counter did not increase"), "{}", svc.audit());
    // A key signing for another RP id: refused.
    set_fault(&key, Some("wrong_rp"));
    assert_eq!(b.login("alice", &[""]).code, PAM_AUTH_ERR);
    set_fault(&key, None);
    assert_eq!(b.login("alice", &[""]).code, PAM_SUCCESS);
    assert!(key_state(&key)["credentials"][0]["counter"].as_u64().unwrap_or(0) >= 4);
}

#[test]
fn without_a_key_at_the_service_or_plugged_in_the_user_types_a_code() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("key.json");
    let b = host(&svc, "host-b", &key, "");
    // No key at the service: the code prompt, as before.
    let o = b.login("bob", &["123456"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert_eq!(o.messages[0].1, "Verification code: ", "{o:?}");
    // A key at the service but none plugged in: told so, then asked for a code.
    register_at_service(&svc, keys.path(), &key, "alice");
    set_fault(&key, Some("absent"));
    let o = b.login("alice", &["", "123456"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(o.messages.iter().any(|(_, m)| m.contains("No security key found")), "{o:?}");
    assert_eq!(o.messages.last().map(|m| m.1.as_str()), Some("Verification code: "), "{o:?}");
    set_fault(&key, None);
    // A host that pins another RP id refuses the service's challenge.
    let pinned = host(&svc, "host-p", &key, "rp_id = \"pam://elsewhere\"");
    let o = pinned.login("alice", &[""]);
    assert_ne!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(reason(&o).contains("rp_id"), "{}", reason(&o));
}

/// `mfa-enroll --user USER fido2 --name NAME` on `f` (not over SSH), `input` on its stdin.
fn enroll_key(f: &Fixture, user: &str, name: &str, input: &str) -> Output {
    let mut child = f
        .enroll_tool(&["--user", user, "fido2", "--name", name])
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_CLIENT")
        .env_remove("SSH_TTY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mfa-enroll");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("input");
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn keys_at_service(svc: &PushService, user: &str) -> usize {
    let out = svc.admin(&["fleet", "user", "show", "--user", user, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["security_keys"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_key_enrolled_with_mfa_enroll_on_a_logs_in_on_b_and_c_and_proves_the_next_change() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("key.json");
    let a = host(&svc, "host-a", &key, "");
    let b = host(&svc, "host-b", &key, "");
    let c = host(&svc, "host-c", &key, "");
    let user = mfa_tests::accounts::fresh_name("fk");
    // A first factor: no proof asked (first_enrollment = "self").
    let o = enroll_key(&a, &user, "blue", "");
    assert!(o.status.success(), "{}\n{}", text(&o), svc.audit());
    assert!(text(&o).contains("at the fleet's service"), "{}", text(&o));
    assert_eq!(keys_at_service(&svc, &user), 1);
    assert!(!a.user_file(&user).exists());
    for f in [&b, &c] {
        let o = f.login(&user, &[""]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}\n{}", svc.audit());
        assert!(reason(&o).contains("factor=fido2"), "{}", reason(&o));
    }
    // A second key from B with a wrong code as the current factor: refused by the service.
    let o = enroll_key(&b, &user, "red", "123456\n");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));
    assert_eq!(keys_at_service(&svc, &user), 1);
    // With the first key as the current factor (Enter at the prompt): added.
    let o = enroll_key(&b, &user, "red", "\n");
    assert!(o.status.success(), "{}\n{}", text(&o), svc.audit());
    assert!(text(&o).contains("press Enter to use your security key"), "{}", text(&o));
    assert_eq!(keys_at_service(&svc, &user), 2);
    assert!(svc.audit().contains("fleet.enroll.add_key"));
    let o = c.login(&user, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn a_rate_limited_key_challenge_denies_with_one_clear_line() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nuser_per_minute = 1");
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("key.json");
    let b = host(&svc, "host-b", &key, "");
    register_at_service(&svc, keys.path(), &key, "alice");
    let o = b.login("alice", &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}\n{}", svc.audit());
    // The second key challenge within a minute: refused by the service, denied here.
    let o = b.login("alice", &[""]);
    assert_ne!(o.code, PAM_SUCCESS, "{o:?}");
    let r = reason(&o);
    assert!(r.contains("rate-limited") && r.contains("rate_limited"), "{r}");
    assert_eq!(o.decision_lines().len(), 1, "{o:?}");
}
