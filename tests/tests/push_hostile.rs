//! Issue 16: the service alone cannot approve a login. A compromised push service (the
//! stand-in `mfa_tests::hostile`, which holds the service key the host pins) tries each way of
//! turning a real approval on the user's real device (`mfa-push-device`) into a login the user
//! did not approve, against the real pam_mfa.so through libpam: it shows the phone another
//! host, user, service, remote address or nonce; changes the number or the order of the
//! choices; replays an earlier approval; or reports a device other than the user's at pairing.
//! Each time the device approves with the number shown at login, and each time the module
//! refuses the receipt, whether the receipt states what the device saw or the host's own
//! login. Before protocol 2 the device signed only (txid, nonce, decision, number), and such
//! receipts verified completely.

use mfa_login::store::{Store, UserRecord};
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::hostile::{HostileService, Lies, ReceiptLie, View};
use mfa_tests::live::{Live, push_number};
use mfa_tests::push::{Device, pair_with_mfa_enroll, pairing_link};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

struct World {
    svc: HostileService,
    f: Fixture,
    phone: Device,
}

/// The stand-in, a host "host-a" pinning its key, and alice's phone enrolled through the real
/// `mfa-enroll push` while the stand-in is honest; push is alice's only factor.
fn world(push_extra: &str) -> World {
    let svc = HostileService::start();
    let f = Fixture::new();
    let credential = f.root.join("push-host.json");
    svc.add_host("host-a", &credential);
    f.write_config(&format!(
        "[push]\nurl = \"{}\"\ncredential = \"{}\"\ntimeout = 10\n{push_extra}\n",
        svc.url,
        credential.display()
    ));
    let phone = Device::plain(f.root.join("phone.json"));
    let text = pair_with_mfa_enroll(&f.config_path, "alice", &phone, "pixel");
    assert!(text.contains("Push approval is set up with 'pixel'"), "{text}");
    let w = World { svc, f, phone };
    keep_only_push(&w, "alice", None);
    w
}

/// Leaves `user` with push only (no recovery codes); with `device_of`, gives `user` the push
/// device of that user (one phone serving two accounts, e.g. alice and alice-admin).
fn keep_only_push(w: &World, user: &str, device_of: Option<&str>) {
    let store = Store::open(&w.f.config().store).expect("store");
    let devices = device_of.map(|other| {
        let name = UserName::parse(other).expect("name");
        store.load(&name).expect("load").expect("record").push
    });
    let name = UserName::parse(user).expect("name");
    let lock = store.lock(&name).expect("lock");
    let mut r = lock.load().expect("load").unwrap_or_else(|| UserRecord::new(&name, 1));
    r.recovery = None;
    r.totp = None;
    if let Some(d) = devices {
        r.push = d;
    }
    lock.save(&r).expect("save");
}

/// One login of `user` on PAM service `service`: the phone approves with the number the login
/// shows (or `typed`, when the user types another), then the outcome.
fn login(w: &World, user: &str, service: &str, typed: Option<u8>) -> (Outcome, u8) {
    let live = w.f.start_login(service, user, &[""], &["--rhost", "203.0.113.7"]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    let a = w.phone.approve(typed.unwrap_or(n));
    assert!(a.status.success(), "the phone did not answer: {}", String::from_utf8_lossy(&a.stderr));
    (w.f.finish_login(live, &[""]), n)
}

fn decision(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

fn refused(o: &Outcome, why: &str, what: &str) {
    assert_ne!(o.code, PAM_SUCCESS, "{what}: the login was let in: {o:?}");
    assert!(decision(o).contains(why), "{what}: expected {why:?}: {}", decision(o));
}

/// The two ways a lying service can state the login in its receipt, and what the module says.
const RECEIPTS: [(ReceiptLie, Option<&str>); 2] = [
    // What the device saw: the module's comparison names the field (filled in per case).
    (ReceiptLie::WhatTheDeviceSaw, None),
    // The host's own login: the device's signature is not over it.
    (ReceiptLie::TheHostsLogin, Some("device signature does not cover this login")),
];

#[test]
fn an_honest_stand_in_lets_the_approved_login_in() {
    let w = world("");
    let (o, _) = login(&w, "alice", "mfa", None);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("push approved on 'pixel'"), "{o:?}");
}

#[test]
fn a_compromised_service_cannot_redirect_an_approval_to_another_login() {
    let w = world("");
    keep_only_push(&w, "bob", Some("alice"));
    let views: Vec<(&str, &str, View, &str)> = vec![
        (
            "the phone shows another host",
            "alice",
            View { hostname: Some("host-b".into()), ..View::default() },
            "receipt is for another host",
        ),
        (
            // bob's login, shown to the phone (which serves alice and bob) as alice's.
            "the phone shows another user",
            "bob",
            View { user: Some("alice".into()), ..View::default() },
            "receipt is for another user",
        ),
        (
            "the phone shows another service",
            "alice",
            View { service: Some("sudo".into()), ..View::default() },
            "receipt is for another service",
        ),
        (
            "the phone shows another remote address",
            "alice",
            View { rhost: Some(None), ..View::default() },
            "receipt is for another remote address",
        ),
        (
            "the phone shows another login's nonce",
            "alice",
            View { nonce: Some("M".repeat(43)), ..View::default() },
            "receipt is for another login's nonce",
        ),
    ];
    for (what, user, view, field_reason) in views {
        for (receipt, reason) in RECEIPTS {
            let label = format!("{what}, receipt {receipt:?}");
            w.svc.lie(Lies { view: view.clone(), receipt, ..Lies::default() });
            let (o, _) = login(&w, user, "mfa", None);
            refused(&o, reason.unwrap_or(field_reason), &label);
        }
    }
    // The stand-in, honest again: the same phone and hosts still work.
    w.svc.lie(Lies::default());
    let (o, _) = login(&w, "alice", "mfa", None);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn a_compromised_service_cannot_change_the_number() {
    let w = world("");
    // The user types another number than this login shows (say, the one on another screen);
    // the service, which learns the right one from an accomplice at this host, approves it.
    for lie in [ReceiptLie::TheHostsLogin, ReceiptLie::WhatTheDeviceSaw] {
        let lying = matches!(lie, ReceiptLie::TheHostsLogin);
        // The number the host will show is not known before the login starts, so the lie is
        // set from the prompt: a login of its own per case.
        let live = w.f.start_login("mfa", "alice", &[""], &[]);
        let n =
            live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
        let typed = if n == 99 { 98 } else { n + 1 };
        let receipt = if lying { ReceiptLie::Number(n) } else { lie.clone() };
        w.svc.lie(Lies { receipt, ..Lies::default() });
        assert!(w.phone.approve(typed).status.success());
        let o = w.f.finish_login(live, &[""]);
        let why = if lying { "device signature does not cover" } else { "wrong number" };
        refused(&o, why, &format!("{lie:?}"));
    }
}

#[test]
fn a_compromised_service_cannot_reorder_the_choices() {
    let w = world("number_entry = \"choose\"");
    let view = View { reverse_choices: true, ..View::default() };
    for (receipt, reason) in RECEIPTS {
        w.svc.lie(Lies { view: view.clone(), receipt: receipt.clone(), ..Lies::default() });
        let (o, _) = login(&w, "alice", "mfa", None);
        refused(
            &o,
            reason.unwrap_or("other choices than this host offered"),
            &format!("{receipt:?}"),
        );
    }
}

#[test]
fn a_compromised_service_cannot_replay_an_approval() {
    let w = world("");
    // A real approval of an earlier login, which the service keeps.
    let (o, _) = login(&w, "alice", "mfa", None);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    // The next login gets that approval, its login fields rewritten to the new login's and
    // signed by the service; the phone's own answer to the new login is thrown away.
    w.svc.lie(Lies { receipt: ReceiptLie::ReplayLast, ..Lies::default() });
    let (o, _) = login(&w, "alice", "mfa", None);
    refused(&o, "device signature does not cover this login", "replayed approval");
}

/// Issue 15 item 10 with a service that lets two devices use one pairing link and reports the
/// other one's key to the host: the code the user's phone shows is not the code of the key the
/// host was given, so the host refuses (and, reporting the user's own device, accepts).
#[test]
fn a_compromised_service_cannot_swap_the_device_at_pairing() {
    let svc = HostileService::start();
    let f = Fixture::new();
    let credential = f.root.join("push-host.json");
    svc.add_host("host-a", &credential);
    f.write_config(&format!(
        "[push]\nurl = \"{}\"\ncredential = \"{}\"\ntimeout = 10\n",
        svc.url,
        credential.display()
    ));
    for (report, accepted) in [(0, false), (1, true)] {
        svc.lie(Lies { pairing_report: Some(report), ..Lies::default() });
        let intruder = Device::plain(f.root.join(format!("intruder{report}.json")));
        let phone = Device::plain(f.root.join(format!("phone{report}.json")));
        let c = f.enroll_tool(&["--user", "alice", "push"]);
        let mut live = Live::spawn(c);
        let link = live.wait_for(WAIT, pairing_link);
        let _ = intruder.pair_ok(&link, "intruder");
        let code = phone.pair_ok(&link, "pixel");
        live.send_line(&code);
        if !accepted {
            // The user tries again, as the host lets them, with the code their phone shows.
            for tries in 2..=3 {
                live.wait_for(WAIT, |t| {
                    (t.matches("That code does not match").count() == tries - 1).then_some(())
                });
                live.send_line(&code);
            }
        } else {
            let n = live.wait_for(WAIT, |t| {
                t.contains("Test push sent to").then(|| push_number(t)).flatten()
            });
            assert!(phone.approve(n).status.success());
            live.send_line("");
            live.wait_for(WAIT, |t| t.contains("Press Enter when you have stored").then_some(()));
            live.send_line("");
        }
        let out = live.finish();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.success(), accepted, "report {report}: {text}");
        if !accepted {
            assert!(
                text.contains("not the code of the device that used the pairing link"),
                "{text}"
            );
        } else {
            assert!(text.contains("Push approval is set up with 'pixel'"), "{text}");
        }
    }
}
