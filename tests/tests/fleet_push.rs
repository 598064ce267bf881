//! Fleet mode's push devices end to end (issue 20): the real pam_mfa.so through the real libpam
//! on several hosts (their own configurations and host credentials, all in the fleet's push
//! scope) against the real service over TLS on loopback. A phone paired with the real
//! `mfa-enroll push` on host A becomes a factor at the service; hosts B and C, which never saw
//! it, fetch the user's signed device list and approve logins with it; a denial on the phone is
//! refused; a code typed at the push prompt goes to the service; once the user is removed at the service, B no longer offers push.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::live::{Live, push_number};
use mfa_tests::push::{Backend, Device, PushService, pairing_link};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A fleet host in the push scope: `[fleet]` and `[push]` with the same credential.
fn host(svc: &PushService, name: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let out = svc.admin(&["fleet", "host", "join", name]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fleet = svc.push_section(&credential, "").replacen("[push]", "[fleet]", 1);
    let push = svc.push_section(&credential, "timeout = 10");
    f.write_config(&format!("{fleet}\n{push}\n[[rule]]\nbackend = \"fleet\"\n"));
    f
}

/// Pairs `phone` for `user` with the real `mfa-enroll push` on `f`: link, pairing code, test
/// push approved with the number shown, then the registration at the service.
fn pair_on(f: &Fixture, user: &str, phone: &Device) -> String {
    let mut live = Live::spawn(f.enroll_tool(&["--user", user, "push"]));
    let link = live.wait_for(WAIT, pairing_link);
    let code = phone.pair_ok(&link, "pixel");
    live.wait_for(WAIT, |t| t.contains("Type the pairing code").then_some(()));
    live.send_line(&code);
    let n =
        live.wait_for(WAIT, |t| t.contains("Test push sent to").then(|| push_number(t)).flatten());
    let approved = phone.approve(n);
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    live.send_line("");
    let out = live.finish();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mfa-enroll push: {text}");
    text
}

/// A push login on `f` answering Enter, and the number it shows.
fn start_push_login(f: &Fixture, user: &str) -> (Live, u8) {
    let live = f.start_login("mfa", user, &[""], &["--rhost", "192.0.2.9"]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    (live, n)
}

fn decision(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

#[test]
fn a_phone_paired_on_a_approves_logins_on_b_and_c_until_removed() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let (a, b, c) = (host(&svc, "host-a"), host(&svc, "host-b"), host(&svc, "host-c"));
    let phone = Device::new(a.root.join("phone.json"), &svc);
    let user = mfa_tests::accounts::fresh_name("fp");
    let text = pair_on(&a, &user, &phone);
    assert!(text.contains("at the fleet's service"), "{text}\n{}", svc.audit());
    assert!(!a.user_file(&user).exists(), "nothing of the user's on host A");

    for f in [&b, &c] {
        let (live, n) = start_push_login(f, &user);
        assert!(phone.approve(n).status.success());
        let o = f.finish_login(live, &[""]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}\n{}", svc.audit());
        let d = decision(&o);
        assert!(d.contains("factor=push") && d.contains("fleet push approved on 'pixel'"), "{d}");
        assert!(!f.user_file(&user).exists());
    }

    // Denied on the phone: refused.
    let (live, _) = start_push_login(&b, &user);
    assert!(phone.deny().status.success());
    let o = b.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("push denied on the device"), "{o:?}");

    // A code typed at the push prompt goes to the fleet service (which has no code of the
    // user's, so refuses it); the push is withdrawn.
    let o = c.login_with("mfa", &user, &["123456"], &["--rhost", "192.0.2.9"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(o.messages[0].1.contains("Push sent to 'pixel'"), "{o:?}");
    assert!(decision(&o).contains("rejected by the fleet service"), "{o:?}");

    // Removed at the service: B no longer offers push, only the code prompt.
    let out = svc.admin(&["fleet", "user", "remove", "--user", &user, "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let o = b.login(&user, &["123456"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert_eq!(o.messages[0].1, "Verification code: ", "{o:?}");
}
