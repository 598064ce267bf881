//! Push approval end to end: the real pam_mfa.so through the real libpam, the real mfa-server
//! on loopback with real TLS, the real `mfa-enroll push` pairing (with the pairing code typed
//! at the host), and `mfa-push-device` as the phone.

use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::live::{Live, push_number};
use mfa_tests::push::{
    Backend, Device, Proxy, ProxyMode, PushService, pairing_link, printed_pairing_code,
    recovery_codes,
};
use mfa_tests::sandbox::enroll_tool;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The service's backend in this binary. `push_postgres.rs` runs this same file as a module,
/// where `crate::BACKEND` names its own constant (PostgreSQL) and this one goes unused.
#[allow(dead_code)]
const BACKEND: Backend = Backend::Sqlite;
use crate::BACKEND as SERVICE_BACKEND;

const WAIT: Duration = Duration::from_secs(30);

/// A service, a host credential, a pam_mfa fixture configured for push, and alice's phone.
struct World {
    svc: PushService,
    f: Fixture,
    phone: Device,
    credential: PathBuf,
}

fn limits_default() -> &'static str {
    "user_per_minute = 100\nhost_per_minute = 1000\nfraud_cooldown = 600\n"
}

fn world_with(limits: &str, push_extra: &str) -> World {
    let svc = PushService::start_on(SERVICE_BACKEND, limits);
    let f = Fixture::new();
    let credential = f.root.join("push-host.json");
    svc.add_host("host-a", &credential);
    f.write_config(&svc.push_section(&credential, push_extra));
    let phone = Device::new(f.root.join("phone.json"), &svc);
    World { svc, f, phone, credential }
}

fn world() -> World {
    world_with(limits_default(), "timeout = 10")
}

/// Pairs `device` for `user` through the real `mfa-enroll push`: link, pairing, test push
/// approved with the number shown, recovery codes. Returns the enrollment output.
fn enroll(w: &World, user: &str, device: &Device, name: &str) -> String {
    let text = mfa_tests::push::pair_with_mfa_enroll(&w.f.config_path, user, device, name);
    // The recovery codes shown are secrets for the log check.
    for code in recovery_codes(&text) {
        w.f.add_secret(&code);
    }
    text
}

fn enrolled_world() -> World {
    let w = world();
    let text = enroll(&w, "alice", &w.phone, "pixel");
    assert!(text.contains("Push approval is set up with 'pixel'"), "{text}");
    w
}

/// Drops alice's recovery codes so push is her only factor (failmode tests).
fn push_only(w: &World, user: &str) {
    let store = Store::open(&w.f.config().store).expect("store");
    let name = UserName::parse(user).expect("name");
    let lock = store.lock(&name).expect("lock");
    let mut r = lock.load().expect("load").expect("record");
    r.recovery = None;
    r.totp = None;
    lock.save(&r).expect("save");
}

/// Starts a login answering Enter to the push prompt, waits for the number it shows.
fn start_push_login(w: &World, user: &str) -> (Live, u8) {
    let live = w.f.start_login("mfa", user, &[""], &[]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    (live, n)
}

fn decision(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

fn errors(o: &Outcome) -> String {
    o.messages
        .iter()
        .filter(|(s, _)| *s == PAM_ERROR_MSG)
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn approve_with_the_right_number_logs_in() {
    let w = enrolled_world();
    for _ in 0..2 {
        let (live, n) = start_push_login(&w, "alice");
        let prompt = live.text();
        assert!(
            prompt.contains(&format!(
                "Push sent to 'pixel': type {n} on it to approve, then press Enter (or type a code); Enter waits up to 10 s: "
            )),
            "{prompt}"
        );
        // The phone sees the login's context and no numbers: the user types the one shown.
        let pending = w.phone.pending_json(5);
        let c = &pending[0];
        assert_eq!(c["user"], "alice");
        assert_eq!(c["service"], "mfa");
        assert_eq!(c["hostname"], "host-a");
        assert_eq!(c["choices"], serde_json::json!([]), "the phone must not offer the number");
        let a = w.phone.approve(n);
        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        let o = w.f.finish_login(live, &[""]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
        assert!(
            decision(&o).contains("factor=push")
                && decision(&o).contains("push approved on 'pixel'"),
            "{o:?}"
        );
    }
    assert!(w.svc.audit().contains("approved"), "{}", w.svc.audit());
}

#[test]
fn enter_before_the_phone_answers_says_waiting_at_a_local_login() {
    let w = enrolled_world();
    // Local (sudo, console): Enter came first, so the user is told, while it waits.
    let (live, n) = start_push_login(&w, "alice");
    live.wait_for(WAIT, |t| t.contains("Waiting for your phone to answer (up to ").then_some(()));
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(
        o.messages
            .iter()
            .any(|(s, m)| *s == PAM_TEXT_INFO && m.starts_with("Waiting for your phone")),
        "{o:?}"
    );
    // Remote (sshd holds messages until the login is over, when "waiting" would come too late):
    // not said; the prompt has told what Enter does.
    let live = w.f.start_login("mfa", "alice", &[""], &["--rhost", "192.0.2.9"]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(!o.messages.iter().any(|(_, m)| m.contains("Waiting")), "{o:?}");
    // A screen locker's stack (`locker`): not said, since xscreensaver would hold the
    // conversation on it until OK is pressed.
    w.f.stack("xlock", "auth required {module} {config} locker");
    let live = w.f.start_login("xlock", "alice", &[""], &[]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(!o.messages.iter().any(|(_, m)| m.contains("Waiting")), "{o:?}");
}

#[test]
fn deny_wrong_number_and_fraud_are_refused() {
    let w = enrolled_world();

    let (live, _) = start_push_login(&w, "alice");
    assert!(w.phone.deny().status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(errors(&o).contains("denied on your phone"), "{o:?}");

    let (live, n) = start_push_login(&w, "alice");
    // Another number typed on the phone: the service relays it (it does not know the number
    // shown); the module refuses it.
    let wrong = if n == 99 { 98 } else { n + 1 };
    let a = w.phone.approve(wrong);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("wrong number"), "{o:?}");

    let (live, _) = start_push_login(&w, "alice");
    assert!(w.phone.fraud().status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("not theirs"), "{o:?}");
    // The cooldown: no push is sent; alice (who has recovery codes) is asked for a code.
    let o = w.f.login("alice", &["", ""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(errors(&o).contains("Push is paused"), "{o:?}");
    assert!(decision(&o).contains("cooldown"), "{o:?}");
    assert!(w.svc.audit().contains("fraud"), "{}", w.svc.audit());
}

#[test]
fn no_answer_times_out_and_is_refused() {
    let w = enrolled_world();
    let start = Instant::now();
    let (live, _) = start_push_login(&w, "alice");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("no answer within 10 s"), "{o:?}");
    assert!(start.elapsed() < Duration::from_secs(10 + 10), "{:?}", start.elapsed());
    // The withdrawn challenge can no longer be approved.
    let pending = w.phone.pending_json(0);
    assert_eq!(pending.as_array().map(Vec::len), Some(0), "{pending}");
}

#[test]
fn typing_a_code_withdraws_the_push() {
    let w = enrolled_world();
    let text = enroll(&w, "bob", &Device::new(w.f.root.join("bob.json"), &w.svc), "bobphone");
    let code = recovery_codes(&text).into_iter().next().expect("a recovery code in the output");
    let o = w.f.login("bob", &[&code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("factor=recovery"), "{o:?}");
    let bob = Device::new(w.f.root.join("bob.json"), &w.svc);
    assert_eq!(bob.pending_json(0).as_array().map(Vec::len), Some(0));
}

#[test]
fn pushes_withdrawn_by_typed_codes_leave_the_push_rate_alone() {
    let w = world_with("user_per_minute = 2\nhost_per_minute = 1000\n", "timeout = 10");
    // The enrollment's test push is one of the two pushes a minute.
    let text = enroll(&w, "alice", &w.phone, "pixel");
    let codes = recovery_codes(&text);
    for code in &codes[..3] {
        let o = w.f.login("alice", &[code]);
        assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
        assert!(decision(&o).contains("factor=recovery"), "{o:?}");
        assert!(!errors(&o).contains("Too many push requests"), "{o:?}");
    }
    // Three pushes were sent and withdrawn by the codes; the second push of the minute still
    // goes out.
    let (live, n) = start_push_login(&w, "alice");
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn service_down_honours_failmode_within_the_timeout() {
    let mut w = enrolled_world();
    push_only(&w, "alice");
    w.svc.stop();
    let start = Instant::now();
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(decision(&o).contains("failmode=closed"), "{o:?}");
    assert!(start.elapsed() < Duration::from_secs(10));

    // failmode = "open" (here as a rule override): in, with a loud log line.
    let cfg = std::fs::read_to_string(&w.f.config_path).expect("config");
    let push = w.svc.push_section(&w.credential, "timeout = 10");
    w.f.write_config(&format!("{push}\n[[rule]]\nservice = [\"mfa\"]\nfailmode = \"open\"\n"));
    let start = Instant::now();
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(
        decision(&o).contains("FAIL-OPEN")
            && decision(&o).contains("decision=fail-open")
            && decision(&o).contains("factor=push"),
        "{o:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(cfg);

    // A service that accepts connections and never answers: the io timeout bounds the wait.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = hang.local_addr().expect("addr").port();
    w.f.write_config(&format!(
        "[push]\nurl = \"http://127.0.0.1:{port}\"\ncredential = \"{}\"\ntimeout = 10\n\
         connect_timeout = 1\nio_timeout = 2\n",
        w.credential.display()
    ));
    let start = Instant::now();
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(decision(&o).contains("timed out"), "{o:?}");
    assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
    drop(hang);
}

#[test]
fn service_down_with_a_code_available_asks_for_the_code() {
    let mut w = enrolled_world();
    let text = enroll(&w, "bob", &Device::new(w.f.root.join("bob.json"), &w.svc), "bobphone");
    let code = recovery_codes(&text).into_iter().next().expect("a recovery code in the output");
    w.svc.stop();
    let o = w.f.login("bob", &[&code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(errors(&o).contains("cannot be reached: type a code"), "{o:?}");
}

#[test]
fn a_replayed_receipt_is_refused() {
    let w = enrolled_world();
    let proxy = Proxy::start(&w.svc);
    w.f.write_config(&format!(
        "[push]\nurl = \"{}\"\ncredential = \"{}\"\ntimeout = 10\n",
        proxy.url,
        w.credential.display()
    ));
    // A real approval through the proxy, which keeps the receipt.
    let (live, n) = start_push_login(&w, "alice");
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(proxy.approved.lock().expect("lock").is_some());
    // The next login gets that old receipt back as the answer to its own challenge. A receipt
    // that does not verify is never an approval; with push as the only factor and failmode
    // closed, the login is refused.
    proxy.set_mode(ProxyMode::ReplayApproved);
    push_only(&w, "alice");
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(decision(&o).contains("receipt rejected"), "{o:?}");
    assert!(decision(&o).contains("another transaction"), "{o:?}");
}

#[test]
fn a_revoked_device_cannot_approve() {
    let w = enrolled_world();
    let id = w.phone.id();
    let (live, n) = start_push_login(&w, "alice");
    let r = w.svc.admin(&["device", "revoke", &id]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let a = w.phone.approve(n);
    assert!(!a.status.success(), "a revoked device's answer was accepted");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    // And no push goes to it any more.
    push_only(&w, "alice");
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("no_device"), "{o:?}");
}

#[test]
fn another_hosts_credential_cannot_see_or_approve_this_hosts_login() {
    let w = enrolled_world();
    let cred_b = w.f.root.join("push-host-b.json");
    w.svc.add_host("host-b", &cred_b);
    let (live, n) = start_push_login(&w, "alice");
    let txid = w.phone.pending_json(5)[0]["txid"].as_str().expect("txid").to_string();
    // Host B asks for host A's transaction with its own (valid) credential.
    let cfg_b = mfa_login::push::PushConfig {
        url: w.svc.url.clone(),
        ca_file: Some(w.svc.ca.clone()),
        proxy: None,
        connect_timeout: 5,
        io_timeout: 10,
        credential: cred_b,
        timeout: 10,
        pairing_timeout: 300,
        failmode: Default::default(),
        number_entry: Default::default(),
        number_entry_services: Default::default(),
    };
    let b = mfa_remote::push::PushClient::new(&cfg_b).expect("host b client");
    // Nor can it push to this host's device itself.
    let created = b.create_challenge(&push_proto::api::CreateChallenge {
        user: "alice".into(),
        service: "sshd".into(),
        rhost: None,
        time: 1,
        nonce: "N".repeat(43),
        choices: Vec::new(),
        devices: vec![w.phone.id()],
        ttl: 10,
    });
    match created {
        Err(mfa_login::push::PushError::Refused { code, .. }) => assert_eq!(code, "no_device"),
        other => panic!("host B pushed to host A's device: {other:?}"),
    }
    for r in [b.challenge_state(&txid, 0).map(|_| ()), b.cancel(&txid).map(|_| ())] {
        match r {
            Err(mfa_login::push::PushError::Refused { code, .. }) => assert_eq!(code, "not_found"),
            other => panic!("host B reached host A's challenge: {other:?}"),
        }
    }
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn a_pairing_link_works_once_and_a_refused_test_push_saves_nothing() {
    let w = world();
    let c = w.f.enroll_tool(&["--user", "alice", "push"]);
    let mut live = Live::spawn(c);
    let link = live.wait_for(WAIT, pairing_link);
    let code = w.phone.pair_ok(&link, "pixel");
    let second = Device::new(w.f.root.join("second.json"), &w.svc);
    let again = second.pair(&link, "second");
    assert!(!again.status.success(), "a used pairing link paired a second device");
    live.send_line(&code);
    live.wait_for(WAIT, |t| t.contains("Test push sent to").then(|| push_number(t)).flatten());
    // Refusing the test push: nothing is saved.
    assert!(w.phone.deny().status.success());
    live.send_line("");
    let out = live.finish();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the phone was not added"));
    let store = Store::open(&w.f.config().store).expect("store");
    let rec = store.load(&UserName::parse("alice").expect("name")).expect("load");
    assert!(rec.is_none_or(|r| r.push.is_empty()), "a refused test push saved the device");
}

/// Issue 15, item 10: whoever sees the pairing link (the terminal, a screen recording) and
/// uses it first pairs a device, but the user, whose own phone is then refused by the service,
/// cannot type that device's pairing code at the host: the host refuses, sends the intruder
/// no test push, and saves nothing. (Before the fix the intruder approved the test push and
/// became alice's push device.)
#[test]
fn a_device_that_used_the_pairing_link_first_is_refused_at_the_host() {
    let w = world();
    let c = w.f.enroll_tool(&["--user", "alice", "push"]);
    let mut live = Live::spawn(c);
    let link = live.wait_for(WAIT, pairing_link);
    let intruder = Device::new(w.f.root.join("intruder.json"), &w.svc);
    let intruder_code = intruder.pair_ok(&link, "intruder");
    let mine = w.phone.pair(&link, "pixel");
    assert!(!mine.status.success(), "the user's own phone paired after the intruder");
    assert!(printed_pairing_code(&String::from_utf8_lossy(&mine.stdout)).is_none());
    // The user's phone shows no code; whatever they type is not the intruder's.
    let typed = if intruder_code == "123456" { "654321" } else { "123456" };
    for _ in 0..3 {
        live.wait_for(WAIT, |t| t.contains("code").then_some(()));
        live.send_line(typed);
    }
    let out = live.finish();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("not the code of the device that used the pairing link"), "{text}");
    assert!(!text.contains("Test push sent to"), "{text}");
    assert_eq!(
        intruder.pending_json(0).as_array().map(Vec::len),
        Some(0),
        "a push to the intruder"
    );
    let store = Store::open(&w.f.config().store).expect("store");
    let rec = store.load(&UserName::parse("alice").expect("name")).expect("load");
    assert!(rec.is_none_or(|r| r.push.is_empty()), "the intruder's device was saved");
}

/// The three-number screen stays available, here for one PAM service.
#[test]
fn the_three_number_screen_is_an_option_per_service() {
    let w =
        world_with(limits_default(), "timeout = 10\nnumber_entry_services = { mfa = \"choose\" }");
    enroll(&w, "alice", &w.phone, "pixel");
    let (live, n) = start_push_login(&w, "alice");
    assert!(live.text().contains(&format!("choose {n} on it to approve")), "{}", live.text());
    let pending = w.phone.pending_json(5);
    let choices: Vec<u8> = pending[0]["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(|v| v.as_u64())
        .map(|v| v as u8)
        .collect();
    assert_eq!(choices.len(), 3, "{pending}");
    assert!(choices.contains(&n), "{choices:?} {n}");
    let outside = (10..=99).find(|x| !choices.contains(x)).expect("a number not offered");
    assert!(!w.phone.approve(outside).status.success(), "a number not offered was sent");
    assert!(w.phone.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn root_status_and_list_show_push_devices() {
    let w = enrolled_world();
    let run = |args: &[&str]| {
        let out = w.f.enroll_tool(args).output().expect("mfa-enroll");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let id = w.phone.id();
    let line = format!("  Push device:       pixel (id {id}; paired ");
    let status = run(&["--user", "alice", "status"]);
    assert!(status.starts_with("alice: enrolled\n") && status.contains(&line), "{status}");
    let list = run(&["list"]);
    assert!(list.contains(&line), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["--user", "alice", "status", "--json"])).expect("json");
    assert_eq!(json["push_devices"][0]["name"], "pixel", "{json}");
    assert_eq!(json["push_devices"][0]["id"], id.as_str(), "{json}");
}

#[test]
fn a_second_device_with_the_same_name_is_refused() {
    let w = enrolled_world();
    let c = w.f.enroll_tool(&["--user", "alice", "push"]);
    let mut live = Live::spawn(c);
    let link = live.wait_for(WAIT, pairing_link);
    let tablet = Device::new(w.f.root.join("tablet.json"), &w.svc);
    let code = tablet.pair_ok(&link, "pixel");
    live.send_line(&code);
    let out = live.finish();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("alice already has a push device named 'pixel'; this one was not added"),
        "{text}"
    );
    assert!(!text.contains("Test push sent to"), "no test push for a refused name: {text}");
    let store = Store::open(&w.f.config().store).expect("store");
    let rec = store.load(&UserName::parse("alice").expect("name")).expect("load").expect("rec");
    assert_eq!(rec.push.len(), 1, "{:?}", rec.push);
    assert_eq!(rec.push[0].id, w.phone.id());
}

#[test]
fn the_rate_limit_stops_push_spam() {
    let w = world_with("user_per_minute = 2\nhost_per_minute = 1000\n", "timeout = 10");
    enroll(&w, "alice", &w.phone, "pixel");
    push_only(&w, "alice");
    // The enrollment's test push counted once; one more login fits, the next is refused.
    let (live, _) = start_push_login(&w, "alice");
    assert!(w.phone.deny().status.success());
    let _ = w.f.finish_login(live, &[""]);
    let o = w.f.login("alice", &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("rate_limited"), "{o:?}");
    assert!(errors(&o).contains("Too many push requests"), "{o:?}");
}

#[test]
fn enroll_on_login_offers_push_and_confirms_it_with_a_test_push() {
    let w = world();
    let push = w.svc.push_section(&w.credential, "timeout = 10");
    w.f.write_config(&format!("enrollment = \"on-login\"\n{push}"));
    // Answers: menu choice 5, the pairing code (read from stdin when asked: the phone shows
    // it only once paired), Enter after the test push, Enter after the recovery codes. The
    // module waits for the approval while we act.
    let answers = ["5"];
    let rest = ["--answer-stdin", "--answer", "", "--answer", ""];
    let mut live = w.f.start_login("mfa", "carol", &answers, &rest);
    let link = live.wait_for(WAIT, pairing_link);
    assert!(live.text().contains("5) Approve logins on your phone (push)"), "{}", live.text());
    let carol = Device::new(w.f.root.join("carol.json"), &w.svc);
    let code = carol.pair_ok(&link, "carolphone");
    live.send_line(&code);
    let n =
        live.wait_for(WAIT, |t| t.contains("Test push sent to").then(|| push_number(t)).flatten());
    assert!(carol.approve(n).status.success());
    let o = w.f.finish_login(live, &answers);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("factor=enroll-push"), "{o:?}");
    // From now on carol approves her logins.
    let (live, n) = start_push_login(&w, "carol");
    assert!(carol.approve(n).status.success());
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn without_root_a_user_pairs_their_phone_and_a_screen_locker_uses_push() {
    use mfa_tests::sandbox::Sandbox;
    const USER: u32 = 4260;
    let svc = PushService::start_on(SERVICE_BACKEND, limits_default());
    let s = Sandbox::new();
    s.add_user("pushuser", USER, None);
    let helper = s.install_helper();
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(s.dir.join("etc.upper/pam.d/locker"), "auth required pam_mfa.so\n")
        .expect("stack");
    let credential = s.dir.join("push-host.json");
    svc.add_host("host-a", &credential);
    s.configure(&format!(
        "helper = \"{}\"\nhelper_services = [\"locker\"]\n{}",
        helper.display(),
        svc.push_section(&credential, "timeout = 10")
    ));
    // `mfa-enroll push` as the user goes through the setuid helper.
    let phone = Device::new(s.dir.join("phone.json"), &svc);
    let mut live = s.spawn_as(USER, &enroll_tool(), &["push"]);
    let link = live.wait_for(WAIT, pairing_link);
    let code = phone.pair_ok(&link, "pixel");
    live.send_line(&code);
    let n =
        live.wait_for(WAIT, |t| t.contains("Test push sent to").then(|| push_number(t)).flatten());
    assert!(phone.approve(n).status.success());
    live.send_line("");
    live.wait_for(WAIT, |t| t.contains("Press Enter when you have stored").then_some(()));
    live.send_line("");
    let out = live.finish();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = s.run_as(USER, &enroll_tool(), &["status"], b"");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("Push devices:      pixel"),
        "{status:?}"
    );

    // A screen locker running as the user: the module goes through the helper, which relays
    // the push prompt.
    let live = s.spawn_as(
        USER,
        &mfa_tests::fixture::client_path(),
        &["--service", "locker", "--user", "pushuser", "--answer", "", "--echo-messages"],
    );
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    assert!(phone.approve(n).status.success());
    let out = live.finish();
    let o = Outcome::parse(&out.stdout);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

/// Waits for `find` to see something in the prompts (the askpass log `file`) of the running
/// ssh login.
fn wait_prompts<T>(file: &std::path::Path, find: impl Fn(&str) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        let text =
            String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).replace('\0', "\n");
        if let Some(t) = find(&text) {
            return t;
        }
        assert!(start.elapsed() < WAIT, "prompts so far: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn over_ssh_a_user_pairs_on_first_login_then_approves_logins() {
    use mfa_tests::sandbox::Sshd;
    let svc = PushService::start_on(SERVICE_BACKEND, limits_default());
    let dir = tempfile::tempdir().expect("tempdir");
    let credential = dir.path().join("push-host.json");
    svc.add_host("ssh-host", &credential);
    let sshd = Sshd::start(&format!(
        "enrollment = \"on-login\"\n{}",
        svc.push_section(&credential, "timeout = 15")
    ));
    let phone = Device::new(dir.path().join("phone.json"), &svc);
    let prompts = sshd.sandbox.dir.join("prompts");
    // The pairing link reaches the user inside the prompt text (sshd shows messages only with
    // the next prompt), and so does the test push's number: the "phone" acts on what it reads.
    let run = std::thread::scope(|scope| {
        let phone_side = scope.spawn(|| {
            let link = wait_prompts(&prompts, pairing_link);
            let code = phone.pair_ok(&link, "pixel");
            // What the user types at the pairing-code prompt (the askpass helper waits for it).
            std::fs::write(sshd.sandbox.dir.join("answer.pairing"), format!("{code}\n"))
                .expect("answer");
            let n = wait_prompts(&prompts, |t| {
                t.contains("Test push sent to 'pixel'").then(|| push_number(t)).flatten()
            });
            assert!(phone.approve(n).status.success());
        });
        let run = sshd.ssh(&sshd.key(), "", "5", "echo ok-$((6*7))");
        phone_side.join().expect("phone thread");
        run
    });
    assert!(run.ok, "enroll push on login over ssh: {run:?}\n{}", sshd.log());
    assert_eq!(run.stdout.trim(), "ok-42");

    let run = std::thread::scope(|scope| {
        let phone_side = scope.spawn(|| {
            // Wait for the prompts file of the new login (ssh() removes the old one first).
            std::thread::sleep(Duration::from_millis(300));
            let n = wait_prompts(&prompts, |t| {
                t.contains("Push sent to 'pixel': type").then(|| push_number(t)).flatten()
            });
            assert!(phone.approve(n).status.success());
        });
        let run = sshd.ssh(&sshd.key(), "", "", "echo ok-$((6*7))");
        phone_side.join().expect("phone thread");
        run
    });
    assert!(run.ok, "push login over ssh: {run:?}\n{}", sshd.log());
    assert_eq!(run.prompts.len(), 1, "{:?}", run.prompts);
    // sshd would show "waiting" only after the login, so it is not said over ssh.
    assert!(!run.stderr.contains("Waiting for your phone"), "{run:?}");
}
