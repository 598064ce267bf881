//! How the module reaches the push service: trust only from `ca_file`, never from the caller's
//! environment (under sudo the caller sets it), and failures reported as what they are.

use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;
use mfa_tests::live::push_number;
use mfa_tests::push::{Device, PushService};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A service, a fixture configured for it, and alice paired with push as her only factor.
fn setup() -> (PushService, Fixture, Device, std::path::PathBuf) {
    let svc = PushService::start("user_per_minute = 100\n");
    let f = Fixture::new();
    let credential = f.root.join("push-host.json");
    svc.add_host("host-a", &credential);
    f.write_config(&svc.push_section(&credential, "timeout = 10"));
    let phone = Device::new(f.root.join("phone.json"), &svc);
    mfa_tests::push::pair_with_mfa_enroll(&f.config_path, "alice", &phone, "pixel");
    // Push as the only factor, so that failures are not hidden by the code fallback.
    let store = Store::open(&f.config().store).expect("store");
    let lock = store.lock(&UserName::parse("alice").expect("name")).expect("lock");
    let mut r = lock.load().expect("load").expect("record");
    r.recovery = None;
    lock.save(&r).expect("save");
    drop(lock);
    (svc, f, phone, credential)
}

fn decision(o: &mfa_tests::fixture::Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

#[test]
fn a_certificate_from_another_ca_is_a_tls_failure() {
    let (svc, f, _phone, credential) = setup();
    let other = PushService::start("");
    // The right service, but the module trusts another CA.
    f.write_config(&format!(
        "[push]\nurl = \"{}\"\nca_file = \"{}\"\ncredential = \"{}\"\ntimeout = 10\n",
        svc.url,
        other.ca.display(),
        credential.display()
    ));
    let o = f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(decision(&o).contains("TLS failed"), "{o:?}");
    // A certificate from another CA is what a man in the middle presents: never an outage,
    // so failmode does not apply (issue 15, finding 4).
    assert!(decision(&o).contains("not an outage"), "{o:?}");
}

#[test]
fn the_callers_environment_is_ignored() {
    let (_svc, f, phone, _credential) = setup();
    // A caller (e.g. of sudo) pointing every proxy variable at a dead port and the CA bundle
    // at nothing: the module uses only its configuration, so the login works.
    let live = f.start_login_env(
        "mfa",
        "alice",
        &[""],
        &[
            ("https_proxy", "http://127.0.0.1:1"),
            ("HTTPS_PROXY", "http://127.0.0.1:1"),
            ("http_proxy", "http://127.0.0.1:1"),
            ("ALL_PROXY", "http://127.0.0.1:1"),
            ("NO_PROXY", ""),
            ("SSL_CERT_FILE", "/nonexistent"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    assert!(phone.approve(n).status.success());
    let o = f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}
