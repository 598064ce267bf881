//! Fleet mode offline, the service's side (issue 21), against the real service over TLS on both
//! databases: a host gets a user's offline bundle only after an accepted online login of the
//! user from that host (or the admin's mark); the bundle opens only for that host, user and
//! request, holds no secret, and its hashed window matches the coming steps' real codes; it is
//! kept while current, replaced after a factor change, dropped after removal, lockout,
//! revocation or a host group change. The window is made in the background: a request that
//! finds none usable answers `later` instead of waiting for it (the host asks again), a
//! window made from an old TOTP secret is never used, and revocation and removal delete it. Reports raise the fleet-wide watermark, use recovery
//! codes, count refusals into the lockout, and count once when resent; garbage, oversized,
//! replayed and unauthenticated requests change nothing.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fleet::{
    SECRET, SECRET_B32, admin_err, admin_json, admin_ok, current_code, private_file, request,
    set_totp, show, verify, wrong_code,
};
use common::{Backend, Host, Server};
use mfa_factors::fido2::{Fido2Credential, b64, cose};
use mfa_factors::offline_window::{Binding, HashedWindow};
use mfa_factors::recovery::RecoveryCodes;
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, Verdict};
use push_proto::offline::{
    BUNDLE, Bundle, BundleAnswer, BundleRequest, BundleResponse, OfflineFactor, OfflineUse,
    OpenError, REPORT, ReportRequest, ReportResponse, SignedBundle,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Enough requests per user for a test that makes many; a one-hour window at the least hash
/// cost, so a fresh bundle is built well within the client's timeout on a loaded machine.
const LIMITS: &str = "\n[fleet]\nuser_per_minute = 1000";
const CHEAP: &str = "\n[offline]\ntotp_window_hours = 1\nhash_memory_kib = 8192";
/// Another TOTP secret, base32.
const OTHER_B32: &str = "MFRGGZDFMZTWQ2LKIFBEGRCFIZDUQSKK";
const OTHER: &[u8] = b"abcdefghijABCDEFGHIJ";
/// A one-hour window at the default hash cost (the measured one).
const DEFAULT_COST: &str = "\n[offline]\ntotp_window_hours = 1";

fn now() -> u64 {
    mfa_server::time::now()
}

fn bundle_req(user: &str, held: Option<&Bundle>) -> BundleRequest {
    BundleRequest {
        user: user.into(),
        time: now(),
        nonce: push_proto::random_token(32).unwrap(),
        held_issued_at: held.map(|b| b.issued_at),
        held_last_step: held.and_then(|b| b.totp.as_ref()).map(last_step),
    }
}

fn last_step(w: &push_proto::offline::TotpWindow) -> u64 {
    HashedWindow::from_wire(w).unwrap().last_step()
}

/// Asks for the user's bundle; the answer.
fn ask(host: &Host, req: &BundleRequest) -> BundleAnswer {
    let (st, v) = host.call("POST", BUNDLE, Some(serde_json::to_value(req).unwrap()));
    assert_eq!(st, 200, "{v}");
    serde_json::from_value::<BundleResponse>(v).unwrap().answer
}

fn fetch(host: &Host, user: &str, held: Option<&Bundle>) -> BundleAnswer {
    ask(host, &bundle_req(user, held))
}

/// A fresh bundle for `user` on `host`, opened as the host opens it: asked again a second
/// later while the answer is `later` (its TOTP window being made), for at most a minute.
fn fresh(s: &Server, host: &Host, user: &str, held: Option<&Bundle>) -> (Bundle, SignedBundle) {
    for _ in 0..60 {
        let req = bundle_req(user, held);
        match ask(host, &req) {
            BundleAnswer::Fresh { bundle } => {
                let pk = s.service_key().public();
                let opened = bundle.open(&pk, &host.cred.host_id, user, now()).unwrap();
                assert_eq!(opened.nonce, req.nonce, "the bundle answers this request");
                return (opened, bundle);
            }
            BundleAnswer::Later => std::thread::sleep(Duration::from_secs(1)),
            other => panic!("not fresh: {other:?}\n{}", s.log()),
        }
    }
    panic!("no fresh bundle within a minute of asking\n{}", s.log())
}

/// How many TOTP windows the service keeps for `user` (any host).
fn windows(s: &Server, user: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM fleet_offline_windows WHERE \"user\" = '{user}'");
    match &s.pg {
        Some(db) => db.cluster.psql("mfa_server", &sql).trim().parse().unwrap(),
        None => {
            let path = s.root.join("data").join("pushd.db");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
                let mut c = sqlx::ConnectOptions::connect(&opts).await.unwrap();
                sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut c).await.unwrap()
            })
        }
    }
}

/// Whether `w` matches `secret`'s code at each of `times` (and, where the other secret's
/// code differs, not that one).
fn window_of(w: &HashedWindow, binding: Binding<'_>, secret: &[u8], other: &[u8], times: &[u64]) {
    let params = Params::default();
    for &t in times {
        let code = totp::code_at(secret, &params, t).to_string();
        assert_eq!(w.check(&code, t, None, binding), Some(t / 30), "at {t}");
        let wrong = totp::code_at(other, &params, t).to_string();
        if wrong != code {
            assert_eq!(w.check(&wrong, t, None, binding), None, "the other secret's code at {t}");
        }
    }
}

fn report_req(user: &str, uses: Vec<OfflineUse>) -> ReportRequest {
    ReportRequest {
        user: user.into(),
        time: now(),
        nonce: push_proto::random_token(32).unwrap(),
        uses,
    }
}

fn report(host: &Host, req: &ReportRequest) -> (u16, Value) {
    host.call("POST", REPORT, Some(serde_json::to_value(req).unwrap()))
}

fn applied(host: &Host, req: &ReportRequest) -> u32 {
    let (st, v) = report(host, req);
    assert_eq!(st, 200, "{v}");
    serde_json::from_value::<ReportResponse>(v).unwrap().applied
}

fn used(accepted: bool, used: OfflineFactor) -> OfflineUse {
    OfflineUse { id: push_proto::random_token(16).unwrap(), at: now(), accepted, used }
}

fn refused_use() -> OfflineUse {
    used(false, OfflineFactor::Totp { step: None })
}

fn set_recovery(s: &Server, user: &str) -> (Vec<Zeroizing<String>>, RecoveryCodes) {
    let (codes, set) = RecoveryCodes::generate(now()).unwrap();
    let f = private_file(s, "recovery.json", &serde_json::to_string(&set).unwrap());
    admin_ok(
        s,
        &["fleet", "user", "set-recovery", "--user", user, "--hashes-file", f.to_str().unwrap()],
    );
    (codes, set)
}

fn mark(s: &Server, user: &str, host: &str) {
    admin_ok(s, &["fleet", "offline", "mark", "--user", user, "--host", host]);
}

fn login(s: &Server, host: &Host, user: &str) {
    assert_eq!(verify(s, host, &request(user, Factor::Totp, &current_code())), Verdict::Accept);
}

fn no_bundle_without_a_login_from_that_host_then_one_that_opens_only_there(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}{DEFAULT_COST}"));
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    set_totp(&s, "alice");
    let (_codes, set) = set_recovery(&s, "alice");
    assert_eq!(fetch(&web1, "alice", None), BundleAnswer::Drop, "no login yet");
    login(&s, &web1, "alice");
    // Right after the login: its window is being made (or made already), nothing waited for.
    let started = Instant::now();
    let first = fetch(&web1, "alice", None);
    assert!(matches!(first, BundleAnswer::Later | BundleAnswer::Fresh { .. }), "{first:?}");
    assert_eq!(fetch(&web2, "alice", None), BundleAnswer::Drop, "logged in on web1 only");
    let (b, signed) = fresh(&s, &web1, "alice", None);
    let took = started.elapsed();
    // Only for web1 and alice.
    let pk = s.service_key().public();
    assert_eq!(
        signed.open(&pk, &web2.cred.host_id, "alice", now()),
        Err(OpenError::Foreign("host"))
    );
    assert_eq!(signed.open(&pk, &web1.cred.host_id, "bob", now()), Err(OpenError::Foreign("user")));
    assert_eq!(b.expires_at - b.issued_at, 3 * 86_400);
    assert_eq!(b.watermark, show(&s, "alice")["totp"]["last_step"].as_u64());
    assert!(b.watermark.is_some(), "the login raised it");
    // No secret: not the seed in any encoding, not in the answer nor the payload.
    let payload = push_proto::unb64(&signed.payload).unwrap();
    let text = String::from_utf8(payload.clone()).unwrap();
    for needle in [SECRET_B32.to_string(), b64(SECRET), String::from_utf8(SECRET.to_vec()).unwrap()]
    {
        assert!(!text.contains(&needle), "{needle} in the bundle");
    }
    assert!(!payload.windows(SECRET.len()).any(|w| w == SECRET));
    // The recovery hashes, all unused slots.
    let hashes: Vec<&str> = b.recovery.iter().map(|r| r.hash.as_str()).collect();
    let stored: Vec<&str> = set.slots.iter().flatten().map(String::as_str).collect();
    assert_eq!(hashes, stored);
    // The window: the coming steps' real codes match, at their own time only.
    let w = HashedWindow::from_wire(b.totp.as_ref().unwrap()).unwrap();
    let binding = Binding { host_id: &web1.cred.host_id, user: "alice" };
    // An hour's window, made in the background, from the current step (more than half left).
    assert!(w.hashes.len() > 60 && w.hashes.len() <= 120, "{}", w.hashes.len());
    assert_eq!((w.cost.memory_kib, w.cost.passes), (16 * 1024, 1), "the default cost");
    let t0 = now();
    assert!(w.first_step <= t0 / 30 && w.first_step + 1 >= t0 / 30);
    let params = Params::default();
    for t in [t0 + 30, t0 + 1800, w.last_step() * 30] {
        let code = totp::code_at(SECRET, &params, t).to_string();
        assert_eq!(w.check(&code, t, None, binding), Some(t / 30), "at {t}");
        let other = Binding { host_id: &web2.cred.host_id, user: "alice" };
        assert_eq!(w.check(&code, t, None, other), None, "another host's binding");
    }
    let after = (w.last_step() + 2) * 30;
    let code = totp::code_at(SECRET, &params, after).to_string();
    assert_eq!(w.check(&code, after, None, binding), None, "past the window");
    // Kept while current; listed; shown.
    assert_eq!(fetch(&web1, "alice", Some(&b)), BundleAnswer::Keep);
    let list = admin_json(&s, &["fleet", "offline", "list", "--user", "alice", "--json"]);
    assert_eq!(list[0]["host"], "web1", "{list}");
    assert_eq!(list[0]["expires_at"], b.expires_at);
    assert_eq!(show(&s, "alice")["offline_bundles"][0]["host"], "web1");
    let text = admin_ok(&s, &["fleet", "user", "show", "--user", "alice"]);
    assert!(text.contains("offline bundles: web1 until"), "{text}");
    assert!(s.audit_log().contains("fleet.offline.bundle"));
    println!(
        "offline bundle: {} bytes signed payload ({} bytes JSON), {} steps; fresh {} ms after \
         the login for an hour of window at the default cost (made in the background, asked \
         for every second)",
        signed.payload.len(),
        payload.len(),
        w.hashes.len(),
        took.as_millis()
    );
}

fn kept_while_current_fresh_after_a_change_dropped_when_it_must(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}\nmax_failures = 2\nlockout = 600{CHEAP}"));
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    set_totp(&s, "bob");
    mark(&s, "bob", "web1");
    let (b1, _) = fresh(&s, &web1, "bob", None);
    assert_eq!(fetch(&web1, "bob", Some(&b1)), BundleAnswer::Keep);
    // A factor change: fresh, with the new recovery codes in it.
    set_recovery(&s, "bob");
    let (b2, _) = fresh(&s, &web1, "bob", Some(&b1));
    assert_eq!(b2.recovery.len(), 10);
    assert_eq!(fetch(&web1, "bob", Some(&b2)), BundleAnswer::Keep);
    // A bundle the service did not issue last (or a window that does not cover): fresh.
    let mut short = b2.clone();
    short.totp.as_mut().unwrap().hashes.truncate(10);
    assert!(matches!(fetch(&web1, "bob", Some(&short)), BundleAnswer::Fresh { .. }));
    // Locked out: drop; unlocked: back.
    for _ in 0..2 {
        assert_eq!(
            verify(&s, &web2, &request("bob", Factor::Totp, &wrong_code())),
            Verdict::Reject
        );
    }
    assert_eq!(fetch(&web1, "bob", None), BundleAnswer::Drop);
    admin_ok(&s, &["fleet", "user", "unlock", "--user", "bob"]);
    let (b3, _) = fresh(&s, &web1, "bob", None);
    // Revoked on web1: dropped there, even with the held bundle; marked again: back.
    admin_ok(&s, &["fleet", "offline", "revoke", "--user", "bob", "--host", "web1"]);
    assert_eq!(fetch(&web1, "bob", Some(&b3)), BundleAnswer::Drop);
    assert_eq!(admin_json(&s, &["fleet", "offline", "list", "--json"]), json!([]));
    mark(&s, "bob", "web1");
    let (b4, _) = fresh(&s, &web1, "bob", Some(&b3));
    // Revoked everywhere: dropped until the next online login from that host.
    admin_ok(&s, &["fleet", "offline", "revoke", "--user", "bob"]);
    assert_eq!(fetch(&web1, "bob", Some(&b4)), BundleAnswer::Drop);
    login(&s, &web1, "bob");
    let (b5, _) = fresh(&s, &web1, "bob", None);
    // Host groups: web1 outside bob's groups now: dropped, and its report refused.
    admin_ok(&s, &["fleet", "group", "add", "db"]);
    admin_ok(&s, &["fleet", "group", "add-host", "db", "web2"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "bob", "--authenticate", "db"]);
    assert_eq!(fetch(&web1, "bob", Some(&b5)), BundleAnswer::Drop);
    let (st, v) = report(&web1, &report_req("bob", vec![refused_use()]));
    assert_eq!((st, common::code(&v)), (403, "host_not_allowed"), "{v}");
    assert_eq!(show(&s, "bob")["failures"], 0, "nothing applied");
    admin_ok(&s, &["fleet", "user", "groups", "--user", "bob", "--authenticate", ""]);
    assert_eq!(fetch(&web1, "bob", Some(&b5)), BundleAnswer::Keep);
    // Removed: dropped.
    admin_ok(&s, &["fleet", "user", "remove", "--user", "bob", "--yes"]);
    assert_eq!(fetch(&web1, "bob", Some(&b5)), BundleAnswer::Drop);
    let audit = s.audit_log();
    assert!(audit.contains("fleet.offline.revoked") && audit.contains("fleet.offline.marked"));
    assert!(audit.contains("no factor") && audit.contains("locked out"), "{audit}");
    assert!(
        admin_err(&s, &["fleet", "offline", "mark", "--user", "bob", "--host", "nope"])
            .contains("no active host")
    );
}

fn disabled_offline_drops_every_bundle(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}\n[offline]\nenabled = false"));
    let web1 = s.add_host("web1");
    set_totp(&s, "carl");
    mark(&s, "carl", "web1");
    assert_eq!(fetch(&web1, "carl", None), BundleAnswer::Drop);
    assert!(s.audit_log().contains("offline disabled"));
}

/// A software security key's credential for the fleet's RP id.
fn key_credential() -> Fido2Credential {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).unwrap();
    let signing = key_p256::ecdsa::SigningKey::from_slice(&seed).unwrap();
    Fido2Credential {
        name: "offline-key".into(),
        credential_id: b64(&seed[..16]),
        public_key: b64(&cose::PublicKey::Es256(*signing.verifying_key()).to_cose()),
        rp_id: "pam://fleet".into(),
        sign_count: 0,
        user_verification: false,
        created: 1_700_000_000,
    }
}

fn reports_apply_each_use_once(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}\nmax_failures = 3\nlockout = 600{CHEAP}"));
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    set_totp(&s, "dora");
    let (codes, set) = set_recovery(&s, "dora");
    let cred = key_credential();
    let f = private_file(&s, "key.json", &serde_json::to_string(&cred).unwrap());
    admin_ok(
        &s,
        &["fleet", "user", "add-key", "--user", "dora", "--credential-file", f.to_str().unwrap()],
    );
    let step = now() / 30;
    // The watermark: raised to the next step, never past the service's clock, never lowered.
    let totp = |s: u64| used(true, OfflineFactor::Totp { step: Some(s) });
    assert_eq!(applied(&web1, &report_req("dora", vec![totp(step + 1), totp(step + 5000)])), 2);
    assert_eq!(show(&s, "dora")["totp"]["last_step"], step + 1);
    assert_eq!(applied(&web1, &report_req("dora", vec![totp(step - 10)])), 1);
    assert_eq!(show(&s, "dora")["totp"]["last_step"], step + 1);
    // A code at or below it is refused online.
    assert_eq!(verify(&s, &web2, &request("dora", Factor::Totp, &current_code())), Verdict::Reject);
    // Recovery: slot 3 used (its hash matches), slot 5 not (a hash of another set).
    let recovery = |slot: u8, hash: &str| {
        used(true, OfflineFactor::Recovery { slot: Some(slot), hash: Some(hash.into()) })
    };
    let h3 = set.slots[3].clone().unwrap();
    let other = set.slots[6].clone().unwrap();
    let uses = vec![recovery(3, &h3), recovery(5, &other)];
    assert_eq!(applied(&web1, &report_req("dora", uses)), 2);
    assert_eq!(verify(&s, &web2, &request("dora", Factor::Recovery, &codes[3])), Verdict::Reject);
    assert_eq!(verify(&s, &web2, &request("dora", Factor::Recovery, &codes[5])), Verdict::Accept);
    // A key's counter is raised, never lowered.
    let key = |count: u32| {
        let id = Some(cred.credential_id.clone());
        used(true, OfflineFactor::SecurityKey { credential_id: id, sign_count: Some(count) })
    };
    assert_eq!(applied(&web1, &report_req("dora", vec![key(7), key(3)])), 2);
    assert_eq!(show(&s, "dora")["security_keys"][0]["sign_count"], 7);
    // Refusals count towards the fleet-wide lockout; a resent report counts once.
    let twice = report_req("dora", vec![refused_use(), refused_use()]);
    assert_eq!(applied(&web1, &twice), 2);
    assert_eq!(show(&s, "dora")["failures"], 2);
    let resent = ReportRequest { nonce: push_proto::random_token(32).unwrap(), ..twice.clone() };
    assert_eq!(applied(&web1, &resent), 0);
    assert_eq!(show(&s, "dora")["failures"], 2);
    // The same use ids from another host are that host's uses.
    assert_eq!(
        applied(&web2, &ReportRequest { nonce: push_proto::random_token(32).unwrap(), ..twice }),
        2
    );
    assert!(show(&s, "dora")["locked_until"].as_u64().is_some(), "{}", show(&s, "dora"));
    let audit = s.audit_log();
    assert!(audit.contains("fleet.offline.report") && audit.contains("refused: 2"), "{audit}");
    assert!(codes.iter().all(|c| !audit.contains(c.as_str())));
}

fn garbage_oversized_replayed_and_unauthenticated_requests_change_nothing(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}{CHEAP}"));
    let web1 = s.add_host("web1");
    set_totp(&s, "erin");
    mark(&s, "erin", "web1");
    let good_bundle = serde_json::to_value(bundle_req("erin", None)).unwrap();
    let good_report = serde_json::to_value(report_req("erin", vec![refused_use()])).unwrap();
    let with = |good: &Value, k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let bad_use = |u: Value| with(&good_report, "uses", json!([u]));
    let bodies: Vec<(&str, Value)> = vec![
        (BUNDLE, json!({})),
        (BUNDLE, with(&good_bundle, "extra", json!(1))),
        (BUNDLE, with(&good_bundle, "user", json!("-erin"))),
        (BUNDLE, with(&good_bundle, "nonce", json!("short"))),
        (BUNDLE, with(&good_bundle, "time", json!(1))),
        (BUNDLE, with(&good_bundle, "held_issued_at", json!("x"))),
        (REPORT, json!({})),
        (REPORT, with(&good_report, "uses", json!([]))),
        (REPORT, with(&good_report, "time", json!(now() + 3600))),
        (
            REPORT,
            with(&good_report, "uses", Value::Array(vec![good_report["uses"][0].clone(); 65])),
        ),
        (
            REPORT,
            bad_use(json!({"id": "x", "at": 1, "accepted": false, "used": {"factor": "totp"}})),
        ),
        (
            REPORT,
            bad_use(
                json!({"id": "A".repeat(22), "at": 1, "accepted": true, "used": {"factor": "password"}}),
            ),
        ),
        (
            REPORT,
            bad_use(json!({"id": "A".repeat(22), "at": 1, "accepted": true,
                "used": {"factor": "recovery", "slot": 12, "hash": "h"}})),
        ),
    ];
    for (path, body) in &bodies {
        let r = web1.raw("POST", path, Some(&serde_json::to_vec(body).unwrap()), 0);
        assert_eq!(r.status, 400, "{path} {body}");
    }
    for (path, good) in [(BUNDLE, &good_bundle), (REPORT, &good_report)] {
        assert_eq!(web1.raw("POST", path, Some(b"not json"), 0).status, 400);
        assert_eq!(web1.raw("POST", path, Some(&vec![b'x'; 70 * 1024]), 0).status, 413);
        let body = serde_json::to_vec(good).unwrap();
        let r = s.anon().request("POST", path, &[], Some(&body), Duration::ZERO);
        assert_eq!(r.unwrap().status, 401);
    }
    assert_eq!(show(&s, "erin")["failures"], 0);
    assert_eq!(admin_json(&s, &["fleet", "offline", "list", "--json"]), json!([]));
    // The good requests once, then replayed: refused, nothing applied twice.
    for good in [&good_bundle, &good_report] {
        let path = if good == &good_bundle { BUNDLE } else { REPORT };
        let (st, v) = web1.call("POST", path, Some(good.clone()));
        assert_eq!(st, 200, "{v}");
        let (st, v) = web1.call("POST", path, Some(good.clone()));
        assert_eq!((st, common::code(&v)), (409, "replayed"), "{v}");
    }
    assert_eq!(show(&s, "erin")["failures"], 1);
}

fn a_bundle_request_does_not_wait_for_a_window_being_made(backend: Backend) {
    // A day's window at the default cost: seconds to hash, far longer than two requests.
    let s = Server::start(backend, &format!("{LIMITS}\n[offline]\ntotp_window_hours = 24"));
    let web1 = s.add_host("web1");
    set_totp(&s, "gina");
    login(&s, &web1, "gina");
    assert_eq!(fetch(&web1, "gina", None), BundleAnswer::Later, "being made: not waited for");
    assert_eq!(fetch(&web1, "gina", None), BundleAnswer::Later, "still being made");
    assert!(s.audit_log().contains("the TOTP window is being made"), "{}", s.audit_log());
    // A user without a TOTP needs no window: fresh at once, with the recovery hashes.
    let (codes, set) = set_recovery(&s, "hank");
    login_with_recovery(&s, &web1, "hank", &codes[0]);
    let BundleAnswer::Fresh { bundle } = fetch(&web1, "hank", None) else { panic!("not fresh") };
    let pk = s.service_key().public();
    let b = bundle.open(&pk, &web1.cred.host_id, "hank", now()).unwrap();
    assert!(b.totp.is_none());
    assert_eq!(b.recovery.len(), set.slots.len() - 1, "the unused codes");
}

fn login_with_recovery(s: &Server, host: &Host, user: &str, code: &str) {
    assert_eq!(verify(s, host, &request(user, Factor::Recovery, code)), Verdict::Accept);
}

fn a_window_of_an_old_totp_secret_is_not_used(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}{CHEAP}"));
    let web1 = s.add_host("web1");
    set_totp(&s, "ivan");
    mark(&s, "ivan", "web1");
    let (b1, _) = fresh(&s, &web1, "ivan", None);
    let binding = Binding { host_id: &web1.cred.host_id, user: "ivan" };
    let w1 = HashedWindow::from_wire(b1.totp.as_ref().unwrap()).unwrap();
    let t0 = now();
    window_of(&w1, binding, SECRET, OTHER, &[t0 + 30, t0 + 900]);
    // A new secret: the stored window is not used, the next one is made from the new one.
    let f = private_file(&s, "other.b32", OTHER_B32);
    let args = ["fleet", "user", "set-totp", "--user", "ivan", "--secret-file"];
    admin_ok(&s, &[&args[..], &[f.to_str().unwrap()]].concat());
    assert_eq!(fetch(&web1, "ivan", Some(&b1)), BundleAnswer::Later, "the old window unused");
    let (b2, _) = fresh(&s, &web1, "ivan", Some(&b1));
    let w2 = HashedWindow::from_wire(b2.totp.as_ref().unwrap()).unwrap();
    assert_ne!(w2.salt, w1.salt, "a window made anew");
    let t1 = now();
    window_of(&w2, binding, OTHER, SECRET, &[t1 + 30, t1 + 900, w2.last_step() * 30]);
    assert_eq!(fetch(&web1, "ivan", Some(&b2)), BundleAnswer::Keep);
}

fn revocation_and_removal_delete_the_window(backend: Backend) {
    let s = Server::start(backend, &format!("{LIMITS}{CHEAP}"));
    let web1 = s.add_host("web1");
    set_totp(&s, "judy");
    assert_eq!(windows(&s, "judy"), 0);
    let made = |out: String| out.contains("its TOTP window is made");
    assert!(made(admin_ok(&s, &["fleet", "offline", "mark", "--user", "judy", "--host", "web1"])));
    assert_eq!(windows(&s, "judy"), 1, "made by the mark");
    let again = admin_ok(&s, &["fleet", "offline", "mark", "--user", "judy", "--host", "web1"]);
    assert!(!made(again), "the stored one is current");
    let (b, _) = fresh(&s, &web1, "judy", None);
    admin_ok(&s, &["fleet", "offline", "revoke", "--user", "judy", "--host", "web1"]);
    assert_eq!(windows(&s, "judy"), 0, "revoked: gone");
    assert_eq!(fetch(&web1, "judy", Some(&b)), BundleAnswer::Drop);
    assert!(made(admin_ok(&s, &["fleet", "offline", "mark", "--user", "judy", "--host", "web1"])));
    assert_eq!(windows(&s, "judy"), 1);
    admin_ok(&s, &["fleet", "user", "remove", "--user", "judy", "--yes"]);
    assert_eq!(windows(&s, "judy"), 0, "removed: gone");
    assert_eq!(fetch(&web1, "judy", Some(&b)), BundleAnswer::Drop);
}

on_both_backends!(
    no_bundle_without_a_login_from_that_host_then_one_that_opens_only_there,
    kept_while_current_fresh_after_a_change_dropped_when_it_must,
    disabled_offline_drops_every_bundle,
    reports_apply_each_use_once,
    garbage_oversized_replayed_and_unauthenticated_requests_change_nothing,
    a_bundle_request_does_not_wait_for_a_window_being_made,
    a_window_of_an_old_totp_secret_is_not_used,
    revocation_and_removal_delete_the_window,
);
