//! End-to-end flows against the real binaries: pairing, approval with number matching and a
//! verified receipt, deny, typed numbers, fraud with cooldown, expiry, cancel, restart.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Server, code};
use push_proto::PublicKey;
use push_proto::api::{Decision, PendingChallenge, Receipt};
use push_proto::numbers::Entry;
use push_proto::signed::{self, LoginFields};
use serde_json::Value;
use std::time::{Duration, Instant};

fn pending(s: &Server, key: &std::path::Path, wait: u64) -> Vec<PendingChallenge> {
    let (ok, out, err) = s.device(key, &["pending", "--wait", &wait.to_string(), "--json"]);
    assert!(ok, "pending: {err}");
    serde_json::from_str(&out).unwrap()
}

fn pair_challenge_approve_with_verified_receipt(backend: Backend) {
    let s = Server::start(backend, "");
    let (st, h) = s.host_call_health();
    assert_eq!((st, h["status"].as_str(), h["protocol"].as_u64()), (200, Some("ok"), Some(2)));
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "alice", "cli-1");
    let service_key = PublicKey::decode(&host.cred.service_key).unwrap();

    // The device long-polls before the challenge exists and wakes when it is created.
    let (s2, key2) = (&s, key.clone());
    std::thread::scope(|scope| {
        let waiter = scope.spawn(move || {
            let t = Instant::now();
            (pending(s2, &key2, 20), t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(500));
        let (st, created, sent) = host.challenge("alice", &[&dev], 60);
        assert_eq!(st, 201, "{created}");
        assert!(created.get("number").is_none(), "the service does not know the number");
        let (list, took) = waiter.join().unwrap();
        assert!(took < Duration::from_secs(10), "long-poll did not wake: {took:?}");
        assert_eq!(list.len(), 1);
        let c = &list[0];
        let (nonce, number) = (sent.nonce.clone(), sent.number);
        let txid = created["txid"].as_str().unwrap().to_string();
        assert_eq!(c.txid, txid);
        assert_eq!(c.nonce, nonce);
        assert_eq!(c.hostname, "web1", "hostname comes from the registration");
        assert_eq!(c.host_id, host.cred.host_id);
        assert_eq!((c.service.as_str(), c.rhost.as_deref()), ("sshd", Some("192.0.2.7")));
        assert_eq!(c.choices, sent.choices, "the host's choices, in the host's order");
        assert!(c.choices.contains(&number));
        let msg = c.signed_bytes();
        assert!(service_key.verify(&msg, &c.signature));
        assert_eq!(created["devices"][0]["id"].as_str(), Some(dev.as_str()));

        // The host long-polls; the device approves; the poll returns promptly.
        let h = &host;
        let tx = txid.clone();
        let poll = scope.spawn(move || {
            let (st, v) = h.call("GET", &format!("/v2/challenges/{tx}?wait=20"), None);
            (st, v, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let (ok, out, err) = s.device(&key, &["approve", "--number", &number.to_string()]);
        let answered = Instant::now();
        assert!(ok, "approve: {out} {err}");
        assert_eq!(out.trim(), "approved");
        let (st, state, returned) = poll.join().unwrap();
        assert_eq!(st, 200);
        assert!(returned.duration_since(answered) < Duration::from_secs(3));
        assert_eq!(state["status"], "approved");
        let r = &state["receipt"];
        assert_eq!(r["txid"].as_str(), Some(txid.as_str()));
        assert_eq!(r["host_id"].as_str(), Some(host.cred.host_id.as_str()));
        assert_eq!(r["user"], "alice");
        assert_eq!(r["nonce"].as_str(), Some(nonce.as_str()));
        assert_eq!(r["number"].as_u64(), Some(u64::from(number)));
        assert_eq!(r["device_id"].as_str(), Some(dev.as_str()));
        let receipt: Receipt = serde_json::from_value(r.clone()).unwrap();
        assert!(service_key.verify(&receipt.signed_bytes(), &receipt.signature));
        let mut other = receipt.clone();
        other.host_id = "AAAAAAAAAAAAAAAAAAAAAA".into();
        assert!(!service_key.verify(&other.signed_bytes(), &receipt.signature), "binds host_id");
        // The device's own signature covers the host's own login, with the number.
        let kf: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let dev_pub =
            push_proto::SecretKey::decode(kf["private_key"].as_str().unwrap()).unwrap().public();
        let login = LoginFields {
            txid: &txid,
            host_id: &host.cred.host_id,
            hostname: &host.cred.hostname,
            user: "alice",
            service: "sshd",
            rhost: Some("192.0.2.7"),
            time: sent.time,
            nonce: &nonce,
            choices: &sent.choices,
        };
        let answer = signed::answer(&signed::login_hash(&login), Decision::Approve, Some(number));
        assert!(dev_pub.verify(&answer, r["device_signature"].as_str().unwrap()));
        // A second answer is refused: the challenge is closed.
        let (ok, _, _) = s.device(&key, &["deny", &txid]);
        assert!(!ok);
    });
    assert!(s.audit_log().contains("\"event\":\"challenge.answered\""));
}

fn pairing_state_deny_typed_number_cancel_and_one_open_challenge(backend: Backend) {
    let s = Server::start(backend, "user_per_minute = 20");
    let host = s.add_host("web1");
    let (st, p) =
        host.call("POST", "/v2/pairings", Some(serde_json::json!({"user":"bob","ttl":5000})));
    assert_eq!(st, 201);
    assert!(p["expires_at"].as_u64().unwrap() <= mfa_server::time::now() + 600, "ttl capped");
    let pid = p["pairing_id"].as_str().unwrap().to_string();
    let (_, state) = host.call("GET", &format!("/v2/pairings/{pid}"), None);
    assert_eq!(state["status"], "pending");
    let key = s.key_file("bob");
    let uri = p["uri"].as_str().unwrap();
    let ca = s.ca.to_str().unwrap();
    // The service's own link lacks the host's secret: a device refuses it.
    let (ok, _, err) = s.device(&key, &["pair", uri, "--name", "phone", "--ca-file", ca]);
    assert!(!ok && err.contains("lacks the host's part"), "{err}");
    let link = push_proto::pairing_uri::with_host_secret(uri, &"K".repeat(22));
    let (ok, out, err) = s.device(&key, &["pair", &link, "--name", "phone", "--ca-file", ca]);
    assert!(ok, "{err}");
    let (_, state) = host.call("GET", &format!("/v2/pairings/{pid}?wait=5"), None);
    assert_eq!(state["status"], "paired");
    let dev = state["device"]["id"].as_str().unwrap().to_string();
    assert_eq!(state["device"]["name"], "phone");
    assert!(state["device"].get("passkey").is_none());
    let credential = push_proto::pairing_uri::parse(uri).unwrap().credential;
    let public_key = state["device"]["public_key"].as_str().unwrap();
    let want = signed::pairing_code(&"K".repeat(22), &credential, public_key, None);
    assert_eq!(common::pairing_code(&out).as_deref(), Some(want.as_str()), "{out}");

    // deny
    let (st, c, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201);
    let (ok, out, _) = s.device(&key, &["deny"]);
    assert!(ok);
    assert_eq!(out.trim(), "denied");
    let (_, v) = host.call("GET", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
    assert_eq!(v["status"], "denied");
    assert_eq!(v["receipt"]["decision"], "deny");

    // A typed number: no choices on the phone; any two-digit number is signed and relayed
    // (only the host knows whether it is the one it showed), anything else is refused.
    let (st, c, sent) = host.challenge_with("bob", &[&dev], 60, Entry::Type);
    assert_eq!(st, 201);
    let list = pending(&s, &key, 0);
    assert!(list[0].choices.is_empty());
    let (ok, _, err) = s.device(&key, &["approve", "--number", "100"]);
    assert!(!ok && err.contains("two-digit"), "{err}");
    let typed = if sent.number == 99 { 98 } else { sent.number + 1 };
    let (ok, out, err) = s.device(&key, &["approve", "--number", &typed.to_string(), "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "approved");
    let (_, v) = host.call("GET", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
    assert_eq!(v["status"], "approved");
    assert_eq!(v["receipt"]["number"].as_u64(), Some(u64::from(typed)));
    assert_eq!(v["receipt"]["choices"], serde_json::json!([]));
    // With choices, a number that is not one of them is refused by the device.
    let (st, _, sent) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201);
    let outside = (10..=99).find(|n| !sent.choices.contains(n)).unwrap();
    let (ok, _, err) = s.device(&key, &["approve", "--number", &outside.to_string()]);
    assert!(!ok && err.contains("not one of the choices"), "{err}");
    let (ok, _, _) = s.device(&key, &["deny"]);
    assert!(ok);

    // cancel, then one open challenge per user
    let (st, c, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201);
    let txid = c["txid"].as_str().unwrap();
    let (st, v) = host.call("DELETE", &format!("/v2/challenges/{txid}"), None);
    assert_eq!((st, v["status"].as_str()), (200, Some("cancelled")));
    assert!(pending(&s, &key, 0).is_empty());
    let (st, _, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!(st, 201);
    let (st, v, _) = host.challenge("bob", &[&dev], 60);
    assert_eq!((st, code(&v)), (409, "challenge_pending"));
    // Unknown or foreign device ids reach nobody.
    let (st, v, _) = host.challenge("carol", &[&dev], 60);
    assert_eq!((st, code(&v)), (404, "no_device"));
    let audit = s.audit_log();
    assert!(audit.contains("\"event\":\"challenge.cancelled\""));
    assert!(audit.contains("the user has an open challenge"));
}

fn fraud_starts_cooldown_and_is_audited(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "dave", "cli");
    let (st, c, _) = host.challenge("dave", &[&dev], 60);
    assert_eq!(st, 201);
    let (ok, out, err) = s.device(&key, &["fraud", "--wait", "5"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "fraud");
    let (_, v) = host.call("GET", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
    assert_eq!(v["status"], "fraud");
    let (st, v, _) = host.challenge("dave", &[&dev], 60);
    assert_eq!((st, code(&v)), (429, "cooldown"));
    let audit = s.audit_log();
    assert!(audit.contains("user reported login as not theirs"), "{audit}");
    assert!(audit.contains("cooldown after a fraud report"));
    let (ok, out, _) = s.admin(&["user", "list", "--json"]);
    assert!(ok);
    let users: Value = serde_json::from_str(&out).unwrap();
    assert!(users[0]["cooldown_until"].as_u64().unwrap() > mfa_server::time::now() + 800);
}

fn challenges_and_pairing_credentials_expire(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "erin", "cli");
    let (st, p) =
        host.call("POST", "/v2/pairings", Some(serde_json::json!({"user":"erin","ttl":1})));
    assert_eq!(st, 201);
    let (st, c, _) = host.challenge("erin", &[&dev], 1);
    assert_eq!(st, 201);
    let txid = c["txid"].as_str().unwrap().to_string();
    let now = mfa_server::time::now();
    assert!(c["expires_at"].as_u64().unwrap() >= now + 9, "ttl raised to the minimum");
    let t = Instant::now();
    let (st, v) = host.call("GET", &format!("/v2/challenges/{txid}?wait=25"), None);
    assert_eq!((st, v["status"].as_str()), (200, Some("expired")));
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    assert!(pending(&s, &key, 0).is_empty());
    let (ok, _, err) = s.device(&key, &["approve", &txid, "--number", "42"]);
    assert!(!ok && err.contains("no such pending request"), "{err}");
    // The pairing credential (ttl 10 s as well) expired meanwhile.
    let link =
        push_proto::pairing_uri::with_host_secret(p["uri"].as_str().unwrap(), &"K".repeat(22));
    let (ok, _, err) = s.device(
        &s.key_file("late"),
        &["pair", &link, "--name", "late", "--ca-file", s.ca.to_str().unwrap()],
    );
    assert!(!ok && err.contains("expired"), "{err}");
    assert!(!s.key_file("late").exists());
    let (_, v) =
        host.call("GET", &format!("/v2/pairings/{}", p["pairing_id"].as_str().unwrap()), None);
    assert_eq!(v["status"], "expired");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(s.audit_log().contains("\"event\":\"challenge.expired\""));
}

fn restart_keeps_hosts_devices_and_service_key(backend: Backend) {
    let mut s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (key, dev) = s.pair(&host, "frank", "cli");
    let key_file = s.dir.path().join("data/service.key");
    let before = std::fs::read(&key_file).unwrap();
    s.restart();
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    let (st, c, sent) = host.challenge("frank", &[&dev], 60);
    assert_eq!(st, 201, "{c}");
    // The device's pending check verifies the signature with the key it got at pairing.
    let list = pending(&s, &key, 5);
    assert_eq!(list.len(), 1);
    let (ok, out, _) = s.device(&key, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "{out}");
    assert!(s.stop(), "SIGTERM ends the service cleanly");
    assert!(s.audit_log().contains("\"event\":\"service.stopped\""));
}

impl Server {
    fn host_call_health(&self) -> (u16, Value) {
        let r = self.anon().request("GET", "/v2/health", &[], None, Duration::ZERO).unwrap();
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }
}

on_both_backends!(
    pair_challenge_approve_with_verified_receipt,
    pairing_state_deny_typed_number_cancel_and_one_open_challenge,
    fraud_starts_cooldown_and_is_audited,
    challenges_and_pairing_credentials_expire,
    restart_keeps_hosts_devices_and_service_key,
);
