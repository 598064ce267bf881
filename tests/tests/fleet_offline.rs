//! Fleet mode offline (issue 21) end to end: the real pam_mfa.so through the real libpam at
//! this computer's seat, against the real service over TLS, which is killed and started
//! again. After an online login the host holds a bundle; with the service down a TOTP code, a
//! recovery code and a security key (the software authenticator) each work from it once, a
//! wrong code counts; with the service back the offline uses are reported: the fleet-wide
//! watermark moved (the code used offline is refused on another host), the recovery code
//! used offline is refused online, the failure is counted. A refusal by a reachable service
//! is never followed by an offline acceptance; a removed user's bundle is dropped at the next
//! contact; a tampered bundle file, and a clock far ahead or behind (libfaketime), deny.

use mfa_login::fido2::authdata::AuthData;
use mfa_login::fido2::device::{Authenticator, Registration};
use mfa_login::fido2::soft::SoftAuthenticator;
use mfa_login::fido2::{Fido2Credential, b64};
use mfa_login::recovery::RecoveryCodes;
use mfa_login::totp::{self, Params};
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome, client_path, now, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";
const FLEET_RP: &str = "pam://fleet";
const USER: &str = "alice";

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Params::default(), t).to_string()
}

fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn admin_ok(svc: &PushService, args: &[&str]) -> String {
    let out = svc.admin(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fleet host at the local seat with the software authenticator `key` plugged in; short
/// timeouts so that a stopped service is an outage at once.
fn host(svc: &PushService, name: &str, key: &Path) -> Fixture {
    let f = Fixture::new();
    f.at_local_seat();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let extra = "connect_timeout = 1\nio_timeout = 15";
    let section = svc.push_section(&credential, extra).replacen("[push]", "[fleet]", 1);
    f.write_config(&format!(
        "{section}\n[fido2]\ntest_device = \"{}\"\n[lockout]\nmax_failures = 3\n\
         [[rule]]\nbackend = \"fleet\"\n",
        key.display()
    ));
    f
}

/// The user's factors at the service: a TOTP, recovery codes (returned), a security key.
fn enroll_at_service(svc: &PushService, dir: &Path, key: &Path) -> Vec<String> {
    let secret = private_file(dir, "secret.b32", SECRET_B32);
    let secret = secret.to_str().expect("UTF-8 path");
    admin_ok(svc, &["fleet", "user", "set-totp", "--user", USER, "--secret-file", secret]);
    let (codes, set) = RecoveryCodes::generate(now()).expect("recovery codes");
    let hashes = private_file(dir, "recovery.json", &serde_json::to_string(&set).expect("json"));
    let hashes = hashes.to_str().expect("UTF-8 path");
    admin_ok(svc, &["fleet", "user", "set-recovery", "--user", USER, "--hashes-file", hashes]);
    let mut dev = SoftAuthenticator::open(key).expect("soft authenticator");
    let auth_data = dev
        .make_credential(&Registration {
            rp_id: FLEET_RP,
            user_id: b"alice-handle",
            user_name: USER,
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
    let file = private_file(dir, "credential.json", &serde_json::to_string(&cred).expect("json"));
    let file = file.to_str().expect("UTF-8 path");
    admin_ok(svc, &["fleet", "user", "add-key", "--user", USER, "--credential-file", file]);
    codes.iter().map(|c| c.to_string()).collect()
}

fn decision(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

/// The service's limits for these tests: a one-hour window (made in seconds), and room for
/// the polling of `wait_for_bundle` in the per-user rate.
const LIMITS: &str = "\n[fleet]\nmax_failures = 6\nlockout = 600\nuser_per_minute = 100\n\
                      [offline]\ntotp_window_hours = 1";

/// Brings the host's bundle for alice up to date with `mfa-enroll offline-bundles` until it
/// holds one (the service may answer "being made" first); panics after a minute.
fn wait_for_bundle(f: &Fixture, svc: &PushService) {
    for _ in 0..60 {
        let out = f.enroll_tool(&["--user", USER, "offline-bundles"]).output().expect("mfa-enroll");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = f.enroll_tool(&["--user", USER, "status"]).output().expect("mfa-enroll");
        if String::from_utf8_lossy(&status.stdout).contains("Offline bundle: valid until") {
            return;
        }
        eprintln!("offline-bundles: {said} {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    panic!("no bundle within a minute: {}", svc.log());
}

/// Logs in with a code (the key prompt answered with it) and expects `code`.
fn code_login(f: &Fixture, answer: &str, want: i32) -> Outcome {
    let o = f.login(USER, &[answer]);
    assert_eq!(o.code, want, "{o:?}");
    o
}

fn offline_uses_are_single_and_reconciled(backend: Backend) {
    let mut svc = PushService::start_on(backend, LIMITS);
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.json");
    let a = host(&svc, "host-a", &key);
    let b = host(&svc, "host-b", &key);
    let recovery = enroll_at_service(&svc, dir.path(), &key);

    // Online on A: accepted by the service, and A now holds a bundle for alice.
    wait_for_step_margin(30, 8);
    let t0 = now();
    let o = code_login(&a, &code_at(t0), PAM_SUCCESS);
    let line = decision(&o);
    assert!(line.contains("bundle stored") || line.contains("being made"), "{line}");
    wait_for_bundle(&a, &svc);

    svc.stop();
    // Service down: the next step's code from the bundle, once; logged as an offline decision.
    let next = code_at(t0 + 30);
    let o = code_login(&a, &next, PAM_SUCCESS);
    let line = decision(&o);
    assert!(line.contains("decision=offline") && line.contains("factor=totp"), "{line}");
    code_login(&a, &next, PAM_AUTH_ERR);
    // A recovery code, once.
    code_login(&a, &recovery[2], PAM_SUCCESS);
    code_login(&a, &recovery[2], PAM_AUTH_ERR);
    // The security key (Enter at the key prompt), from the bundle's public key.
    let o = a.login(USER, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("factor=fido2") && decision(&o).contains("offline"), "{o:?}");
    // A wrong code: counted (the third wrong answer in a row, with the two replays above
    // cleared by the key's success: one now).
    code_login(&a, "000000", PAM_AUTH_ERR);
    // B never held a bundle: failmode (closed).
    code_login(&b, &code_at(t0 + 60), PAM_AUTHINFO_UNAVAIL);

    svc.serve();
    // Back online: the next login on A reports what was used offline.
    wait_for_step_margin(30, 8);
    let o = code_login(&a, &code_at(now() + 30), PAM_SUCCESS);
    assert!(decision(&o).contains("reported"), "{}", decision(&o));
    // The fleet-wide watermark moved: the code A used offline is refused on B (still in
    // the window if the test is quick; refused either way), and so is the recovery code.
    code_login(&b, &next, PAM_AUTH_ERR);
    code_login(&b, &recovery[2], PAM_AUTH_ERR);
    // The three refusals offline (two replays, one wrong code) were counted at the service
    // with the report, after A's accepted login: with the two on B, one more wrong answer
    // reaches max_failures = 6: even a good recovery code is then refused, locked.
    code_login(&b, "000000", PAM_AUTH_ERR);
    let o = code_login(&b, &recovery[3], PAM_AUTH_ERR);
    assert!(o.messages.iter().any(|(_, m)| m.contains("locked")), "{o:?}");
    let audit = svc.audit();
    assert!(audit.contains("fleet.offline.report"), "{audit}");
}

#[test]
fn sqlite_offline_uses_are_single_and_reconciled() {
    offline_uses_are_single_and_reconciled(Backend::Sqlite);
}

#[test]
fn postgres_offline_uses_are_single_and_reconciled() {
    offline_uses_are_single_and_reconciled(Backend::Postgres);
}

#[test]
fn refusals_removals_tampering_and_clocks_never_open_the_bundle() {
    let mut svc = PushService::start_on(Backend::Sqlite, LIMITS);
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.json");
    let a = host(&svc, "host-a", &key);
    enroll_at_service(&svc, dir.path(), &key);
    wait_for_step_margin(30, 8);
    let t0 = now();
    code_login(&a, &code_at(t0), PAM_SUCCESS);
    wait_for_bundle(&a, &svc);

    // A reachable service's refusal is final: a wrong code is refused, never tried offline.
    let o = code_login(&a, "000000", PAM_AUTH_ERR);
    assert!(!decision(&o).contains("decision=offline"), "{}", decision(&o));

    // A clock far ahead (the bundle expired) or far behind (not issued yet): denied.
    svc.stop();
    for fake in ["+30d", "-2d"] {
        let o = login_at(&a, fake, &code_at(t0 + 30));
        assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{fake}: {o:?}");
        assert!(decision(&o).contains("offline:"), "{}", decision(&o));
    }
    // A tampered bundle file (one byte of its ciphertext): denied.
    let file = a.state_dir().join("offline").join(USER);
    let good = std::fs::read(&file).expect("offline file");
    let mut bad = good.clone();
    let at = bad.len() - 20;
    bad[at] ^= 1;
    std::fs::write(&file, &bad).expect("tamper");
    code_login(&a, &code_at(t0 + 30), PAM_AUTHINFO_UNAVAIL);
    std::fs::write(&file, &good).expect("restore");

    // Removed at the service: the next contact drops the bundle; offline then denies.
    svc.serve();
    admin_ok(&svc, &["fleet", "user", "remove", "--user", USER, "--yes"]);
    let o = code_login(&a, &code_at(t0 + 30), PAM_AUTH_ERR);
    assert!(decision(&o).contains("bundle dropped"), "{}", decision(&o));
    svc.stop();
    code_login(&a, &code_at(t0 + 60), PAM_AUTHINFO_UNAVAIL);
}

/// One login with the clock moved by libfaketime (`+30d`, `-2d`).
fn login_at(f: &Fixture, fake: &str, answer: &str) -> Outcome {
    let mut c = Command::new("faketime");
    f.with_user(&mut c, USER);
    let out = c
        .arg("-f")
        .arg(fake)
        .arg(client_path())
        .arg("--confdir")
        .arg(&f.pamd)
        .args(["--service", "mfa", "--user", USER, "--answer", answer, "--capture-syslog"])
        .args(["--session", "local"])
        .output()
        .expect("faketime (Debian package faketime) is installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Outcome::parse(&out.stdout)
}
