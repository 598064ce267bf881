//! Fleet mode's security keys (issue 20) against the real service over TLS on both databases:
//! a key registered with `fleet user add-key` signs a challenge the service issued; the
//! assertion is accepted once; a replayed request, a replayed assertion, a counter that does
//! not increase (a cloned key), another RP id, another host's or an expired challenge are
//! refused. Over two instances on one PostgreSQL, the same assertion sent by 12 parallel
//! requests, and 12 assertions of a cloned key with one counter, are each accepted exactly
//! once, over `MFA_FLEET_RACE_TRIALS` trials (default 50; at most 10 here). And push paired
//! once for the fleet: a device paired through fleet host A reaches fleet host B.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fido::Key;
use common::{Backend, Host, Server};
use mfa_factors::fido2::b64;
use push_proto::fleet::{Factor, Verdict, VerifyResponse};
use push_proto::fleet_keys::{KeyChallengeResponse, KeyLogin, KeyVerifyRequest};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

/// The service's default `[fleet] rp_id`.
const RP: &str = "pam://fleet";

fn admin(s: &Server, args: &[&str]) -> (bool, String) {
    let (ok, out, err) = s.admin(args);
    (ok, format!("{out}{err}"))
}

/// Registers `key` for `user` at `rp_id` with `fleet user add-key`.
fn add_key(s: &Server, user: &str, key: &Key, rp_id: &str) -> (bool, String) {
    let path = s.dir.path().join(format!("cred-{user}.json"));
    std::fs::write(&path, serde_json::to_string(&key.credential(rp_id)).unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    admin(
        s,
        &["fleet", "user", "add-key", "--user", user, "--credential-file", path.to_str().unwrap()],
    )
}

fn show(s: &Server, user: &str) -> Value {
    let (ok, out) = admin(s, &["fleet", "user", "show", "--user", user, "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap()
}

fn login(user: &str) -> KeyLogin {
    KeyLogin {
        user: user.into(),
        service: "sshd".into(),
        rhost: Some("192.0.2.7".into()),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    }
}

fn challenge(host: &Host, login: &KeyLogin) -> KeyChallengeResponse {
    let (st, v) =
        host.call("POST", "/v2/fleet/key/challenge", Some(serde_json::to_value(login).unwrap()));
    assert_eq!(st, 200, "{v}");
    serde_json::from_value(v).unwrap()
}

fn send(host: &Host, req: &KeyVerifyRequest) -> (u16, Value) {
    host.call("POST", "/v2/fleet/key/verify", Some(serde_json::to_value(req).unwrap()))
}

/// Sends `req` and checks the receipt as the module does; returns the verdict.
fn verify(s: &Server, host: &Host, req: &KeyVerifyRequest) -> Verdict {
    let (st, v) = send(host, req);
    assert_eq!(st, 200, "{v}\n{}", s.log());
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    assert_eq!(r.receipt.factor, Factor::SecurityKey);
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, &req.login.bound()).unwrap()
}

/// A full login on `host`: challenge, the key signs with `count` at `rp_id`.
fn key_login(host: &Host, user: &str, key: &Key, rp_id: &str, count: u32) -> KeyVerifyRequest {
    let login = login(user);
    let c = challenge(host, &login);
    assert_eq!(c.rp_id, RP);
    let assertion = key.sign(rp_id, &c.challenge, count);
    KeyVerifyRequest { login, challenge: c.challenge, assertion }
}

fn assertion_accepted_once_replays_and_clones_refused(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    let key = Key::new();
    let (ok, out) = add_key(&s, "alice", &key, RP);
    assert!(ok, "{out}");
    let c = challenge(&web1, &login("alice"));
    assert_eq!(c.credentials.len(), 1);
    assert_eq!(c.credentials[0].credential_id, b64(&key.id));
    let first = key_login(&web1, "alice", &key, RP, 1);
    assert_eq!(verify(&s, &web1, &first), Verdict::Accept);
    assert_eq!(show(&s, "alice")["security_keys"][0]["sign_count"], 1);
    // The very same request again: its nonce is spent.
    let (st, v) = send(&web1, &first);
    assert_eq!((st, common::code(&v)), (409, "replayed"), "{v}");
    // The same assertion in a new request (new nonce): its challenge is used up.
    let mut again = first.clone();
    again.login = login("alice");
    assert_eq!(verify(&s, &web1, &again), Verdict::Reject);
    // A fresh challenge signed with a counter that did not increase: a cloned key.
    assert_eq!(verify(&s, &web2, &key_login(&web2, "alice", &key, RP, 1)), Verdict::Reject);
    assert!(s.audit_log().contains("signature counter did not increase"), "{}", s.audit_log());
    // The real key counts on, on any host.
    assert_eq!(verify(&s, &web2, &key_login(&web2, "alice", &key, RP, 2)), Verdict::Accept);
    // Another user's login with alice's key: no such key.
    let (_, _) = add_key(&s, "bob", &Key::new(), RP);
    assert_eq!(verify(&s, &web1, &key_login(&web1, "bob", &key, RP, 3)), Verdict::Reject);
    let audit = s.audit_log();
    assert!(audit.contains("fleet.verify.security_key") && audit.contains("\"accepted\""));
    // Registering it twice is refused; removing it works once.
    assert!(!add_key(&s, "alice", &key, RP).0);
    let id = b64(&key.id);
    assert!(
        admin(&s, &["fleet", "user", "remove-key", "--user", "alice", "--credential-id", &id]).0
    );
    assert!(
        !admin(&s, &["fleet", "user", "remove-key", "--user", "alice", "--credential-id", &id]).0
    );
    assert!(challenge(&web1, &login("alice")).credentials.is_empty());
}

fn another_rp_id_is_refused(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let key = Key::new();
    // A key registered for a host's own RP id cannot be put at the fleet's.
    let (ok, out) = add_key(&s, "carol", &key, "pam://web1");
    assert!(!ok && out.contains("RP id"), "{out}");
    assert!(add_key(&s, "carol", &key, RP).0);
    // Signed for another RP id: refused, counted.
    let req = key_login(&web1, "carol", &key, "pam://web1", 1);
    assert_eq!(verify(&s, &web1, &req), Verdict::Reject);
    assert!(s.audit_log().contains("another relying party"));
    assert_eq!(show(&s, "carol")["failures"], 1);
    assert_eq!(show(&s, "carol")["security_keys"][0]["sign_count"], 0);
}

fn challenges_are_the_hosts_and_expire(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nkey_challenge_ttl = 1");
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    let key = Key::new();
    assert!(add_key(&s, "dave", &key, RP).0);
    // web1's challenge sent by web2: refused (and still web1's).
    let req = key_login(&web1, "dave", &key, RP, 1);
    assert_eq!(verify(&s, &web2, &req), Verdict::Reject);
    // Another login's nonce with this challenge: refused (and the challenge is used up).
    let mut other = req.clone();
    other.login.nonce = push_proto::random_token(32).unwrap();
    assert_eq!(verify(&s, &web1, &other), Verdict::Reject);
    assert_eq!(verify(&s, &web1, &req), Verdict::Reject);
    // An expired challenge: refused.
    let late = key_login(&web1, "dave", &key, RP, 2);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(verify(&s, &web1, &late), Verdict::Reject);
    assert!(s.audit_log().contains("challenge unknown, used, expired"));
    // A fresh one in time: accepted.
    assert_eq!(verify(&s, &web1, &key_login(&web1, "dave", &key, RP, 3)), Verdict::Accept);
    assert_eq!(show(&s, "dave")["failures"], 0);
}

fn garbage_is_refused_before_counting(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let key = Key::new();
    assert!(add_key(&s, "erin", &key, RP).0);
    let good = serde_json::to_value(key_login(&web1, "erin", &key, RP, 1)).unwrap();
    let mut bodies = Vec::new();
    for (k, v) in [("challenge", "short"), ("extra", "1")] {
        let mut b = good.clone();
        b[k] = Value::from(v);
        bodies.push(b);
    }
    let mut b = good.clone();
    b["assertion"]["signature"] = Value::from("A".repeat(600));
    bodies.push(b);
    let mut b = good.clone();
    b["login"]["time"] = Value::from(1);
    bodies.push(b);
    for body in bodies {
        let (st, v) = web1.call("POST", "/v2/fleet/key/verify", Some(body));
        assert_eq!(st, 400, "{v}");
    }
    assert_eq!(show(&s, "erin")["failures"], 0);
    let req: KeyVerifyRequest = serde_json::from_value(good).unwrap();
    assert_eq!(verify(&s, &web1, &req), Verdict::Accept);
}

/// Fleet hosts share one push scope (`fleet host join`): a device paired through host A gets
/// host B's challenge and its approval is bound to host B; a host that did not join (C)
/// stays its own scope, as before.
fn a_device_paired_through_one_fleet_host_reaches_another(backend: Backend) {
    let s = Server::start(backend, "");
    let a = s.add_host("host-a");
    let b = s.add_host("host-b");
    let c = s.add_host("host-c");
    for name in ["host-a", "host-b"] {
        let (ok, out) = admin(&s, &["fleet", "host", "join", name]);
        assert!(ok && out.contains("joined"), "{out}");
    }
    assert!(!admin(&s, &["fleet", "host", "join", "nowhere"]).0);
    let (key, dev) = s.pair(&a, "gina", "gina-phone");
    // Host C (standalone): refused, as for any other host's device.
    let (st, v, _) = c.challenge("gina", &[&dev], 60);
    assert_eq!((st, common::code(&v)), (404, "no_device"), "{v}");
    // Host B (fleet): the device gets the challenge and approves it.
    let (st, v, sent) = b.challenge("gina", &[&dev], 60);
    assert_eq!(st, 201, "{v}");
    let txid = v["txid"].as_str().unwrap().to_string();
    let (ok, _, err) = s.device(&key, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "{err}");
    let (st, state) = b.call("GET", &format!("/v2/challenges/{txid}"), None);
    assert_eq!(st, 200, "{state}");
    assert_eq!(state["status"], "approved", "{state}");
    assert_eq!(state["receipt"]["host_id"], b.cred.host_id.as_str(), "{state}");
    // Host A leaves the fleet: its device is its own again.
    assert!(admin(&s, &["fleet", "host", "leave", "host-a"]).0);
    let (st, v, _) = b.challenge("gina", &[&dev], 60);
    assert_eq!((st, common::code(&v)), (404, "no_device"), "{v}");
    assert!(s.audit_log().contains("fleet.host.push_joined"));
}

/// Host groups decide key logins and pushes too: a host outside the user's groups gets a
/// challenge that lists no key, its verification is rejected without counting, and it reaches
/// none of the user's devices in the fleet's push scope; a host inside gets all of that.
fn host_groups_decide_key_logins_and_pushes(backend: Backend) {
    let s = Server::start(backend, "");
    let db1 = s.add_host("db1");
    let web1 = s.add_host("web1");
    for args in [
        &["fleet", "group", "add", "db"][..],
        &["fleet", "group", "add-host", "db", "db1"],
        &["fleet", "user", "groups", "--user", "dba", "--authenticate", "db"],
        &["fleet", "host", "join", "db1"],
        &["fleet", "host", "join", "web1"],
    ] {
        let (ok, out) = admin(&s, args);
        assert!(ok, "{args:?}: {out}");
    }
    let key = Key::new();
    assert!(add_key(&s, "dba", &key, RP).0);
    assert!(challenge(&web1, &login("dba")).credentials.is_empty());
    assert_eq!(verify(&s, &web1, &key_login(&web1, "dba", &key, RP, 1)), Verdict::Reject);
    assert_eq!(show(&s, "dba")["failures"], 0, "a refused host counted an attempt");
    assert_eq!(verify(&s, &db1, &key_login(&db1, "dba", &key, RP, 2)), Verdict::Accept);
    let (_, dev) = s.pair(&db1, "dba", "dba-phone");
    let (st, v, _) = web1.challenge("dba", &[&dev], 60);
    assert_eq!((st, common::code(&v)), (404, "no_device"), "{v}");
    let (st, v, _) = db1.challenge("dba", &[&dev], 60);
    assert_eq!(st, 201, "{v}");
    assert!(s.audit_log().contains("host not in the user's host groups"));
}

/// A user whose only factor at the service is a security key is enrolled: adding a factor
/// without a current one is refused (before, keys were not counted and a host could add
/// recovery codes or a TOTP secret to such a user without any proof).
fn a_user_whose_only_factor_is_a_key_needs_a_current_factor(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    assert!(add_key(&s, "kim", &Key::new(), RP).0);
    let req = push_proto::fleet_enroll::EnrollRequest {
        user: "kim".into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
        proof: None,
        change: push_proto::fleet_enroll::Change::RecoveryCodes,
    };
    let (st, v) = web1.call(
        "POST",
        push_proto::fleet_enroll::ENROLL,
        Some(serde_json::to_value(&req).unwrap()),
    );
    assert_eq!((st, common::code(&v)), (403, "current_factor_required"), "{v}");
    assert_eq!(show(&s, "kim")["recovery_codes"]["unused"], 0);
}

on_both_backends!(
    a_device_paired_through_one_fleet_host_reaches_another,
    assertion_accepted_once_replays_and_clones_refused,
    another_rp_id_is_refused,
    challenges_are_the_hosts_and_expire,
    garbage_is_refused_before_counting,
    host_groups_decide_key_logins_and_pushes,
    a_user_whose_only_factor_is_a_key_needs_a_current_factor,
);

/// Limits that stay out of the race's way: it tests single use, not the rate limit or lockout.
const RACE_LIMITS: &str = "\n[fleet]\nmax_failures = 1000\nuser_per_minute = 1000\n\
                           host_per_minute = 1000000";

fn trials() -> usize {
    std::env::var("MFA_FLEET_RACE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(50).min(10)
}

/// Sends each request from its own thread, spread over `hosts`; how many were accepted
/// (a 409 for a spent nonce counts as not accepted).
fn race(s: &Server, hosts: &[Host], reqs: &[KeyVerifyRequest]) -> usize {
    std::thread::scope(|sc| {
        let handles: Vec<_> = reqs
            .iter()
            .enumerate()
            .map(|(i, req)| {
                let host = &hosts[i % hosts.len()];
                sc.spawn(move || {
                    let (st, v) = send(host, req);
                    if st == 409 {
                        return false;
                    }
                    assert_eq!(st, 200, "{v}\n{}", s.log());
                    let r: VerifyResponse = serde_json::from_value(v).unwrap();
                    let bound = req.login.bound();
                    let verdict =
                        r.receipt.check(&s.service_key().public(), &host.cred.host_id, &bound);
                    verdict.unwrap() == Verdict::Accept
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|a| *a).count()
    })
}

/// One trial of each race for `user`: the same assertion 12 times; then 12 challenges signed
/// by a cloned key with one counter value.
fn both_races(s: &Server, hosts: &[Host], user: &str) -> (usize, usize) {
    let key = Key::new();
    assert!(add_key(s, user, &key, RP).0);
    let one = key_login(&hosts[0], user, &key, RP, 1);
    let same = race(s, hosts, &vec![one; 12]);
    let clones: Vec<_> =
        (0..12).map(|i| key_login(&hosts[i % hosts.len()], user, &key, RP, 2)).collect();
    (same, race(s, hosts, &clones))
}

#[test]
fn one_assertion_raced_over_two_postgres_instances_is_accepted_once() {
    let a = Server::start(Backend::Postgres, RACE_LIMITS);
    let b = a.second_instance(RACE_LIMITS);
    let on_a = a.add_host("web1");
    let on_b = Host { client: b.anon(), cred: on_a.cred.clone() };
    let hosts = [on_a, on_b];
    for t in 0..trials() {
        let (same, clones) = both_races(&a, &hosts, &format!("race{t}"));
        assert_eq!((same, clones), (1, 1), "trial {t}\n{}\n{}", a.log(), b.log());
    }
    for s in [&a, &b] {
        let audit = s.audit_log();
        assert!(audit.contains("fleet.verify.security_key"), "{audit}");
    }
}

#[test]
fn one_assertion_raced_on_one_sqlite_instance_is_accepted_once() {
    let s = Server::start(Backend::Sqlite, RACE_LIMITS);
    let hosts = [s.add_host("web1")];
    for t in 0..trials().min(5) {
        assert_eq!(both_races(&s, &hosts, &format!("race{t}")), (1, 1), "trial {t}");
    }
}
