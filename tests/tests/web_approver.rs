//! The phone approver web app in real headless Chromium (Debian's chromium + chromedriver)
//! against the real mfa-server over TLS, with the real `mfa-enroll push` pairing (the pairing
//! code the page shows typed at the host) and logins through the real pam_mfa.so and libpam.
//! Screenshots of the pairing and approval screens go to `target/test-artifacts/web/`.

use mfa_tests::browser::{Browser, spki_hash};
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::live::{Live, push_number};
use mfa_tests::push::{Backend, Proxy, ProxyMode, PushService, enroll_push_with, recovery_codes};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The service's backend in this binary. `web_approver_postgres.rs` runs this same file as a
/// module, where `crate::BACKEND` names its own constant (PostgreSQL) and this one goes unused.
#[allow(dead_code)]
const BACKEND: Backend = Backend::Sqlite;
use crate::BACKEND as SERVICE_BACKEND;

const WAIT: Duration = Duration::from_secs(30);
const RHOST: &str = "203.0.113.7";

/// A service whose public URL is `https://localhost:<port>` (WebAuthn needs a domain), a
/// pam_mfa fixture for push, and a browser that trusts the service's certificate.
struct World {
    svc: PushService,
    f: Fixture,
    phone: Browser,
}

fn artifacts() -> PathBuf {
    mfa_tests::fixture::artifact_dir().join("../test-artifacts/web")
}

fn world() -> World {
    let svc = PushService::start_with(
        SERVICE_BACKEND,
        "user_per_minute = 100\nhost_per_minute = 1000\nfraud_cooldown = 600\n",
        "localhost",
    );
    let f = Fixture::new();
    let credential = f.root.join("push-host.json");
    svc.add_host("host-a", &credential);
    f.write_config(&svc.push_section(&credential, "timeout = 15"));
    let cert = svc.ca.with_file_name("server.pem");
    let phone = Browser::start(&spki_hash(&cert));
    World { svc, f, phone }
}

fn visible(id: &str) -> String {
    format!(
        "document.documentElement.dataset.ready === '1' && !document.getElementById('{id}').hidden"
    )
}

fn card(txid_or_any: Option<&str>) -> String {
    match txid_or_any {
        Some(t) => format!("#requests li.card[data-txid='{t}']"),
        None => "#requests li.card".to_string(),
    }
}

/// The status line once it contains `want`.
fn status_with(phone: &Browser, want: &str) -> String {
    let expr = format!(
        "document.getElementById('status').textContent.includes({want:?}) && document.getElementById('status').textContent"
    );
    phone
        .wait_for(&format!("status {want:?}"), WAIT, &expr)
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Types `n` into the card's number field and approves (the default number entry).
fn type_and_approve(phone: &Browser, card: &str, n: u8) {
    phone.type_into(&format!("{card} input.typed"), &n.to_string());
    phone.click(&format!("{card} button.approve"));
}

/// Opens the pairing link shown by the real `mfa-enroll push` in the browser, pairs (with a
/// passkey if `passkey`), types the pairing code the page shows at the host, approves the
/// enrollment's test push in the page, and finishes the enrollment.
fn enroll_in_browser(w: &World, screenshot: bool, passkey: bool) {
    let pair = |link: &str| {
        assert!(link.starts_with(&format!("{}/pair#c=", w.svc.public_url)), "{link}");
        assert!(link.contains("&k="), "the host's secret is in the link: {link}");
        w.phone.goto(link);
        w.phone.wait_for("the pairing screen", WAIT, &visible("pair-view"));
        // The one-time credential is gone from the address bar (and so from history) at once.
        let href = w.phone.js("return location.href", json!([]));
        assert_eq!(href, json!(format!("{}/", w.svc.public_url)), "credential left in the URL");
        w.phone.type_into("#device-name", "pixel-web");
        // Ticked by default exactly when the browser has a platform authenticator.
        let ticked = w.phone.wait_for(
            "the passkey choice",
            WAIT,
            &format!("document.getElementById('use-passkey').checked === {passkey} && 'settled'"),
        );
        assert_eq!(ticked, json!("settled"));
        if screenshot {
            w.phone.screenshot(&artifacts().join("pairing.png"));
        }
        w.phone.click("#pair-button");
        w.phone.wait_for("the paired main screen", WAIT, &visible("main-view"));
        assert_eq!(w.phone.text("#info-user"), "alice");
        assert_eq!(w.phone.text("#info-name"), "pixel-web");
        w.phone.wait_for("the pairing code", WAIT, &visible("pair-code-box"));
        if screenshot {
            w.phone.screenshot(&artifacts().join("pairing-code.png"));
        }
        let code: String =
            w.phone.text("#pair-code").chars().filter(char::is_ascii_digit).collect();
        assert_eq!(code.len(), 6, "{code}");
        code
    };
    let approve = |n: u8| {
        w.phone.wait_for(
            "the test push",
            WAIT,
            &format!("document.querySelector(\"{}\")", card(None)),
        );
        type_and_approve(&w.phone, &card(None), n);
        status_with(&w.phone, "Approved");
    };
    let text = enroll_push_with(&w.f.config_path, "alice", pair, approve);
    assert!(text.contains("Push approval is set up with 'pixel-web'"), "{text}");
    for code in recovery_codes(&text) {
        w.f.add_secret(&code);
    }
}

/// Starts a login from [`RHOST`] and waits for its card in the page; returns the login, the
/// number it shows and the card's transaction id.
fn login_until_card(w: &World) -> (Live, u8, String) {
    let live = w.f.start_login("mfa", "alice", &[""], &["--rhost", RHOST]);
    let n = live.wait_for(WAIT, |t| t.contains("Push sent to").then(|| push_number(t)).flatten());
    let txid = w.phone.wait_for(
        "the login's request",
        WAIT,
        &format!("document.querySelector(\"{}\")?.dataset.txid", card(None)),
    );
    (live, n, txid.as_str().expect("txid").to_string())
}

/// The numbers the card offers to tap (none when the user is to type the number).
fn choices(w: &World, txid: &str) -> Vec<u8> {
    let v = w.phone.js(
        "return [...document.querySelectorAll(arguments[0] + ' button.number')].map(b => Number(b.dataset.number))",
        json!([card(Some(txid))]),
    );
    v.as_array().expect("numbers").iter().filter_map(|x| x.as_u64()).map(|x| x as u8).collect()
}

fn decision(o: &Outcome) -> String {
    o.decision_lines().first().map(|l| l.to_string()).unwrap_or_default()
}

#[test]
fn pair_from_the_enrollment_link_then_approve_with_the_typed_number() {
    let w = world();
    enroll_in_browser(&w, true, false);
    // The app shell is installable and works offline: the service worker controls the page.
    w.phone.goto(&format!("{}/", w.svc.public_url));
    w.phone.wait_for("the service worker", WAIT, "navigator.serviceWorker.controller !== null");
    assert_eq!(
        w.phone.js("return document.documentElement.dataset.worker", json!([])),
        json!("registered")
    );

    // The page builds, byte for byte, what push-proto signs (every kind it uses).
    let from_page = w.phone.js(
        "return import('/proto.js').then(async p => {
           const c = {txid: 't', host_id: 'h', hostname: 'web', user: 'ü', service: 's',
                      rhost: null, time: 5, nonce: 'n', expires_at: 9, choices: [12, 34, 56]};
           const typed = {...c, rhost: '192.0.2.1', choices: []};
           const hash = await p.loginHash(c);
           const empty = p.b64(await p.sha256(new Uint8Array(0)));
           const reg = {credential_id: 'p', attestation_object: 'a', client_data_json: 'x'};
           return [
             p.loginBytes(c), p.loginBytes(typed), hash, await p.loginHash(typed),
             p.answerBytes(hash, 'deny', 7), p.answerBytes(hash, 'approve', null),
             p.pendingBytes(hash, 9), p.pairBytes('c', 'name', 'k'),
             p.deviceRequestBytes('d', 1, 'nn', 'GET', '/x?wait=25', empty),
             await p.passkeyPairingChallenge('c', 'k'),
             new TextEncoder().encode(await p.pairingCode('s', 'c', 'k', null)),
             new TextEncoder().encode(await p.pairingCode('s', 'c', 'k', reg)),
           ].map(b => Array.from(b));
         })",
        json!([]),
    );
    use push_proto::api::{Decision, PasskeyRegistration};
    use push_proto::signed::{self, LoginFields};
    let c = LoginFields {
        txid: "t",
        host_id: "h",
        hostname: "web",
        user: "ü",
        service: "s",
        rhost: None,
        time: 5,
        nonce: "n",
        choices: &[12, 34, 56],
    };
    let typed = LoginFields { rhost: Some("192.0.2.1"), choices: &[], ..c };
    let hash = signed::login_hash(&c);
    let reg = PasskeyRegistration {
        credential_id: "p".into(),
        attestation_object: "a".into(),
        client_data_json: "x".into(),
    };
    let from_rust = json!([
        signed::login(&c),
        signed::login(&typed),
        hash,
        signed::login_hash(&typed),
        signed::answer(&hash, Decision::Deny, Some(7)),
        signed::answer(&hash, Decision::Approve, None),
        signed::pending(&hash, 9),
        signed::pair("c", "name", "k"),
        signed::device_request("d", 1, "nn", "GET", "/x?wait=25", b""),
        signed::passkey_pairing_challenge("c", "k"),
        signed::pairing_code("s", "c", "k", None).into_bytes(),
        signed::pairing_code("s", "c", "k", Some(&reg)).into_bytes(),
    ]);
    assert_eq!(from_page, from_rust, "proto.js and push-proto/src/signed.rs disagree");

    // WebCrypto signs with a high s about half the time; the page always sends the low-S form,
    // the only one push-proto (and so the service and the module) accepts.
    let signed_by_page = w.phone.js(
        "return import('/proto.js').then(async p => {
           const k = await p.generateKey();
           const sigs = [];
           for (let i = 0; i < 40; i++) sigs.push(await p.sign(k.privateKey, Uint8Array.of(i)));
           return [await p.exportPublic(k.publicKey), sigs];
         })",
        json!([]),
    );
    let key = push_proto::PublicKey::decode(signed_by_page[0].as_str().expect("key")).expect("key");
    for (i, sig) in signed_by_page[1].as_array().expect("sigs").iter().enumerate() {
        assert!(key.verify(&[i as u8], sig.as_str().expect("sig")), "signature {i} refused");
    }

    // The page refuses requests for another account or with odd numbers, even signed ones.
    let problems = w.phone.js(
        "return import('/proto.js').then(p => [
           p.requestProblem({user: 'alice', choices: []}, 'alice'),
           p.requestProblem({user: 'alice', choices: [12, 34, 56]}, 'alice'),
           p.requestProblem({user: 'mallory', choices: []}, 'alice'),
           p.requestProblem({user: 'alice', choices: [12, 12, 56]}, 'alice'),
           p.requestProblem({user: 'alice', choices: [12, 34]}, 'alice'),
           p.requestProblem({user: 'alice', choices: [9, 34, 56]}, 'alice'),
           p.requestProblem({user: 'alice', choices: '12,34,56'}, 'alice'),
         ])",
        json!([]),
    );
    let p = problems.as_array().expect("list");
    assert!(p[0].is_null() && p[1].is_null(), "{problems}");
    assert!(p[2].as_str().is_some_and(|r| r.contains("another account")), "{problems}");
    assert!(p[3..].iter().all(|r| r.is_string()), "{problems}");

    let (live, n, txid) = login_until_card(&w);
    let c = card(Some(&txid));
    assert_eq!(w.phone.text(&format!("{c} .req-user")), "alice");
    assert_eq!(w.phone.text(&format!("{c} .req-host")), "host-a");
    assert_eq!(w.phone.text(&format!("{c} .req-service")), "mfa");
    assert_eq!(w.phone.text(&format!("{c} .req-rhost")), RHOST);
    assert!(choices(&w, &txid).is_empty(), "the page offers numbers to tap");
    // Readable on a 360 px wide phone: nothing sticks out sideways.
    let fits = w.phone.js("return document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === 360", json!([]));
    assert_eq!(fits, json!(true), "the page is wider than a 360 px phone screen");
    w.phone.screenshot(&artifacts().join("approval.png"));
    type_and_approve(&w.phone, &c, n);
    status_with(&w.phone, "Approved");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("push approved on 'pixel-web'"), "{o:?}");
    // The local history shows both decisions, newest first.
    let history = w.phone.text("#history");
    assert!(history.starts_with("Approved — alice on host-a (mfa, from 203.0.113.7)"), "{history}");
    assert_eq!(
        w.phone.js("return document.querySelectorAll('#history li').length", json!([])),
        json!(2)
    );

    // Offline: with the service gone, the installed app's shell still loads from the service
    // worker's cache (and says it cannot reach the service).
    let mut w = w;
    w.svc.stop();
    w.phone.goto(&format!("{}/", w.svc.public_url));
    w.phone.wait_for(
        "the cached shell",
        WAIT,
        "document.title === 'pam_mfa approver' && document.querySelector('h1') !== null",
    );
    assert!(w.phone.text("h1").contains("Login approvals"));
}

#[test]
fn a_wrong_number_deny_and_this_wasnt_me_are_refused() {
    let w = world();
    enroll_in_browser(&w, false, false);

    // A typed number that is not the one shown: the phone cannot know, the host refuses.
    let (live, n, txid) = login_until_card(&w);
    let wrong = if n == 99 { 98 } else { n + 1 };
    type_and_approve(&w.phone, &card(Some(&txid)), wrong);
    status_with(&w.phone, "Approved");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("wrong number"), "{o:?}");

    // The three-number screen, where the host offers it: tapping another number is refused.
    let credential = w.f.root.join("push-host.json");
    w.f.write_config(&w.svc.push_section(&credential, "timeout = 15\nnumber_entry = \"choose\""));
    let (live, n, txid) = login_until_card(&w);
    let offered = choices(&w, &txid);
    assert_eq!(offered.len(), 3, "{offered:?}");
    assert!(offered.contains(&n), "{offered:?} does not offer {n}");
    let wrong = offered.into_iter().find(|c| *c != n).expect("another number");
    w.phone.click(&format!("{} button.number[data-number='{wrong}']", card(Some(&txid))));
    status_with(&w.phone, "Approved");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("wrong number"), "{o:?}");
    let (live, n, txid) = login_until_card(&w);
    w.phone.click(&format!("{} button.number[data-number='{n}']", card(Some(&txid))));
    status_with(&w.phone, "Approved");
    assert_eq!(w.f.finish_login(live, &[""]).code, PAM_SUCCESS);

    let (live, _, txid) = login_until_card(&w);
    w.phone.click(&format!("{} button.deny", card(Some(&txid))));
    status_with(&w.phone, "Denied");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");

    let (live, _, txid) = login_until_card(&w);
    let c = card(Some(&txid));
    w.phone.click(&format!("{c} button.fraud"));
    // A confirmation step first; cancelling it sends nothing.
    w.phone.wait_for(
        "the fraud confirmation",
        WAIT,
        &format!("!document.querySelector(\"{c} .confirm-fraud\").hidden"),
    );
    w.phone.click(&format!("{c} button.fraud-no"));
    assert!(!w.svc.audit().contains("fraud_reported"), "cancel reported fraud");
    w.phone.click(&format!("{c} button.fraud"));
    w.phone.click(&format!("{c} button.fraud-yes"));
    status_with(&w.phone, "Reported");
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(decision(&o).contains("not theirs"), "{o:?}");
    assert!(w.svc.audit().contains("user.fraud_reported"), "{}", w.svc.audit());
}

/// Issue 16: with a passkey made while pairing, the host itself checks every approval's
/// passkey assertion against the key it kept at enrollment; a compromised service (here a
/// proxy holding the service key, between the module and the real service) that strips the
/// assertion or hands an old one gets a receipt the module refuses. The service also refuses
/// an answer without one.
#[test]
fn a_passkey_device_approves_with_its_passkey_and_not_without() {
    let w = world();
    // The phone's platform authenticator, unlocked by the user (Chromium's virtual one).
    let authenticator = w.phone.add_platform_authenticator();
    enroll_in_browser(&w, false, true);
    assert_eq!(w.phone.text("#info-passkey"), "Yes (passkey)");
    let count = |phone: &Browser| {
        let creds = phone.authenticator_credentials(&authenticator);
        assert_eq!(creds.as_array().map(Vec::len), Some(1), "{creds}");
        creds[0]["signCount"].as_u64().expect("signCount")
    };
    let before = count(&w.phone);
    // The module kept the passkey's public key with the device.
    let store = mfa_login::store::Store::open(&w.f.config().store).expect("store");
    let name = mfa_login::username::UserName::parse("alice").expect("name");
    let record = store.load(&name).expect("load").expect("record");
    let kept = record.push[0].passkey.clone().expect("the host kept the passkey");
    assert_eq!(kept.rp_id, "localhost");

    // The module talks to the service through a proxy that can play the compromised service.
    let proxy = Proxy::start(&w.svc);
    let credential = w.f.root.join("push-host.json");
    w.f.write_config(&format!(
        "[push]\nurl = \"{}\"\ncredential = \"{}\"\ntimeout = 15\n",
        proxy.url,
        credential.display()
    ));
    let approve_in_page = |w: &World| {
        let (live, n, txid) = login_until_card(w);
        type_and_approve(&w.phone, &card(Some(&txid)), n);
        status_with(&w.phone, "Approved");
        live
    };
    let live = approve_in_page(&w);
    let o = w.f.finish_login(live, &[""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(count(&w.phone) > before, "the passkey did not sign the approval");
    let old = proxy.approved.lock().expect("lock").clone().expect("an approved receipt");
    let old_assertion: push_proto::api::PasskeyAssertion =
        serde_json::from_value(old["receipt"]["passkey"].clone()).expect("an assertion");

    // The receipt without its assertion, or with the previous login's: refused by the host.
    push_only(&w);
    let service_key = w.svc.service_key();
    let edits: [(&str, mfa_tests::push::ReceiptEdit); 2] = [
        ("stripped", std::sync::Arc::new(|r: &mut push_proto::api::Receipt| r.passkey = None)),
        (
            "replayed",
            std::sync::Arc::new(move |r: &mut push_proto::api::Receipt| {
                r.passkey = Some(old_assertion.clone())
            }),
        ),
    ];
    for (what, edit) in edits {
        proxy.set_mode(ProxyMode::EditReceipts(edit, service_key.clone()));
        let live = approve_in_page(&w);
        let o = w.f.finish_login(live, &[""]);
        assert_ne!(o.code, PAM_SUCCESS, "{what}: {o:?}");
        assert!(decision(&o).contains("passkey"), "{what}: {o:?}");
    }
    proxy.set_mode(ProxyMode::Forward);
    w.f.write_config(&w.svc.push_section(&credential, "timeout = 15"));

    // A page that lost its passkey (stale or tampered storage) answers without one: the
    // service refuses it too.
    w.phone.js(
        "import('/db.js').then(async db => { const d = await db.loadDevice(); d.passkey = null; \
         await db.saveDevice(d); location.reload(); });",
        json!([]),
    );
    w.phone.wait_for(
        "the page without its passkey",
        WAIT,
        "document.documentElement.dataset.ready === '1' && document.getElementById('info-passkey').textContent === 'No'",
    );
    let (live, n, txid) = login_until_card(&w);
    type_and_approve(&w.phone, &card(Some(&txid)), n);
    status_with(&w.phone, "must confirm with its passkey");
    assert!(
        w.svc.audit().contains("this device must answer with its passkey"),
        "{}",
        w.svc.audit()
    );
    let o = w.f.finish_login(live, &[""]);
    assert_ne!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(decision(&o).contains("no answer"), "{o:?}");
}

/// Drops alice's recovery codes so push is her only factor (a refused receipt then denies
/// instead of asking for a code).
fn push_only(w: &World) {
    let store = mfa_login::store::Store::open(&w.f.config().store).expect("store");
    let name = mfa_login::username::UserName::parse("alice").expect("name");
    let lock = store.lock(&name).expect("lock");
    let mut r = lock.load().expect("load").expect("record");
    r.recovery = None;
    lock.save(&r).expect("save");
}
