//! Security keys through the real libpam, with the software authenticator behind the
//! test-only `fido2.test_device` key (no USB/HID here): registration with the real mfa-enroll,
//! logins, every tamper case, PIN handling, fallback to codes, pam_u2f import.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome, wait_for_step_margin};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

fn fixture() -> (Fixture, PathBuf) {
    let f = Fixture::new();
    f.at_local_seat();
    let key = f.root.join("key.json");
    f.write_config(&format!(
        "[fido2]\nrp_id = \"pam://test-host\"\ntest_device = \"{}\"\n",
        key.display()
    ));
    (f, key)
}

fn set_key(key: &PathBuf, field: &str, value: serde_json::Value) {
    let mut state: serde_json::Value = std::fs::read(key)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("key state"))
        .unwrap_or_else(|| serde_json::json!({}));
    state[field] = value;
    std::fs::write(key, serde_json::to_vec(&state).expect("json")).expect("write");
    std::fs::set_permissions(key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
}

fn register(
    f: &Fixture,
    user: &str,
    name: &str,
    extra: &[&str],
    stdin: &str,
) -> std::process::Output {
    let mut child = f
        .enroll_tool(&["--user", user, "fido2", "--name", name])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mfa-enroll");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    child.wait_with_output().expect("wait")
}

fn reason(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

#[test]
fn register_then_log_in_by_touching_the_key() {
    let (f, _key) = fixture();
    let out = register(&f, "alice", "yubikey-blue", &[], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Touch your security key to register it")
            && text.contains("Touch it once more"),
        "{text}"
    );
    assert!(text.contains("registered for alice") && text.contains("recovery codes"), "{text}");
    for _ in 0..2 {
        let o = f.login("alice", &[""]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
        assert_eq!(
            o.messages[0],
            (PAM_PROMPT_ECHO_OFF, "Press Enter to use your security key, or type a code: ".into())
        );
        assert!(
            o.messages
                .iter()
                .any(|(s, m)| *s == PAM_TEXT_INFO && m.starts_with("Touch your security key now"))
        );
        let r = reason(&o);
        assert!(
            r.contains("factor=fido2") && r.contains("yubikey-blue") && r.contains("TEST DEVICE"),
            "{r}"
        );
    }
    // Listing shows the key with its counter; a second key with the same name is refused.
    let list = f.enroll_tool(&["--user", "alice", "fido2", "--list"]).output().expect("list");
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .contains("yubikey-blue  (RP id pam://test-host, touch only, counter 3)"),
        "{list:?}"
    );
    let status = f.enroll_tool(&["--user", "alice", "status"]).output().expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("\n  Security keys:     yubikey-blue\n"), "{status}");
    assert!(!register(&f, "alice", "yubikey-blue", &[], "").status.success());
}

#[test]
fn every_tampered_or_wrong_assertion_is_refused_through_pam() {
    let (f, key) = fixture();
    assert!(register(&f, "alice", "k1", &[], "").status.success());
    let cases = [
        ("wrong_rp", "RP id hash does not match"),
        ("tamper_auth_data", "signature does not verify"),
        ("tamper_signature", "signature does not verify"),
        ("replay", "signature does not verify"),
        ("unknown_credential", "unknown credential"),
        ("no_up", "user presence flag missing"),
        ("counter_back", "possible cloned key"),
        ("timeout", "no touch within"),
    ];
    for (fault, expected) in cases {
        set_key(&key, "fault", serde_json::json!(fault));
        let o = f.login("alice", &[""]);
        assert_eq!(o.code, PAM_AUTH_ERR, "{fault}: {o:?}");
        assert!(reason(&o).contains(expected), "{fault}: {}", reason(&o));
    }
    set_key(&key, "fault", serde_json::Value::Null);
    assert_eq!(f.login("alice", &[""]).code, PAM_SUCCESS, "the key still works afterwards");
}

#[test]
fn user_verification_needs_the_pin_and_an_empty_or_cancelled_pin_denies() {
    let (f, key) = fixture();
    set_key(&key, "pin", serde_json::json!("4711"));
    let out = register(&f, "alice", "pinned", &["--uv"], "4711\n");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let o = f.login("alice", &["", "4711"]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.messages.iter().any(|(_, m)| m == "Security key PIN: "));
    // Empty PIN: denied, never "no PIN needed" (pam_u2f CVE-2021-31924).
    let o = f.login("alice", &["", ""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(reason(&o).contains("empty PIN"));
    assert_eq!(f.login_with("mfa", "alice", &[""], &["--null-answer"]).code, PAM_CONV_ERR);
    let o = f.login("alice", &["", "0000"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "wrong PIN: {o:?}");
    // The key answers without the UV flag although UV is required.
    set_key(&key, "fault", serde_json::json!("no_uv"));
    let o = f.login("alice", &["", "4711"]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    assert!(reason(&o).contains("user verification required"), "{}", reason(&o));
}

#[test]
fn without_a_key_the_user_types_a_code_instead() {
    let (f, key) = fixture();
    let e = f.enroll("alice");
    assert!(register(&f, "alice", "k1", &[], "").status.success());
    wait_for_step_margin(30, 4);
    // A code typed at the key prompt.
    let o = f.login("alice", &[&e.code_now()]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(reason(&o).contains("factor=totp"));
    // No key plugged in: told so, then asked for a code.
    set_key(&key, "fault", serde_json::json!("absent"));
    let o = f.login("alice", &["", &e.recovery_codes[0]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(
        o.messages.iter().any(|(s, m)| *s == PAM_ERROR_MSG && m.contains("No security key found"))
    );
    assert!(o.messages.iter().any(|(_, m)| m == "Verification code: "));
}

#[test]
fn keys_imported_from_a_pam_u2f_authfile_keep_working() {
    use mfa_login::fido2::device::{Authenticator, Registration};
    let (f, key) = fixture();
    // A key registered earlier "through pam_u2f": make the credential on the device, then write
    // the authfile line pamu2fcfg would have written.
    let mut dev = mfa_login::fido2::soft::SoftAuthenticator::open(&key).expect("device");
    let raw = dev
        .make_credential(&Registration {
            rp_id: "pam://test-host",
            user_id: b"bob",
            user_name: "bob",
            challenge: &[7; 32],
            user_verification: false,
            pin: None,
        })
        .expect("make credential");
    let att = mfa_login::fido2::authdata::AuthData::parse(&raw)
        .expect("authData")
        .attested
        .expect("attested");
    let mfa_login::fido2::cose::PublicKey::Es256(pk) =
        mfa_login::fido2::cose::PublicKey::from_cose(&att.public_key).expect("key")
    else {
        panic!("ES256 expected")
    };
    let point = pk.to_encoded_point(false);
    let line = format!(
        "bob:{},{},es256,+presence\n",
        data_encoding::BASE64.encode(&att.credential_id),
        data_encoding::BASE64.encode(&point.as_bytes()[1..])
    );
    let authfile = f.root.join("u2f_keys");
    std::fs::write(&authfile, line).expect("write");
    let out = f
        .enroll_tool(&["--user", "bob", "import", "pam-u2f"])
        .arg(&authfile)
        .output()
        .expect("import");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Imported 1 of 1 security key"));
    let o = f.login("bob", &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(reason(&o).contains("pam_u2f-1"));
}

#[test]
fn enroll_on_login_registers_a_key_at_the_console_but_not_remotely() {
    let f = Fixture::new();
    f.at_local_seat();
    let key = f.root.join("key.json");
    f.write_config(&format!(
        "enrollment = \"on-login\"\n[fido2]\nrp_id = \"pam://test-host\"\ntest_device = \"{}\"\n",
        key.display()
    ));
    // Remote (PAM_RHOST set): no security-key choice, and the menu says why.
    let o = f.login_with("mfa", "carol", &["4", "4", "4"], &["--rhost", "192.0.2.1"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(
        o.messages
            .iter()
            .any(|(_, m)| m.contains("Security keys can be registered at the console"))
    );
    // Local: choose 4, touch twice, note the recovery codes, and the login succeeds.
    let o = f.login("carol", &["4", ""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(reason(&o).contains("factor=enroll-fido2"), "{}", reason(&o));
    assert!(o.messages.iter().any(|(_, m)| m.contains("Touch it once more")));
    assert!(o.messages.iter().any(|(_, m)| m.contains("recovery codes")));
    // From now on the key logs in.
    let o = f.login("carol", &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(o.messages[0].1, "Press Enter to use your security key, or type a code: ");
}
