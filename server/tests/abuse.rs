//! Attacks and limits against the real service: rate limits, host isolation and device
//! binding, revocation, concurrent answers and pairings, replayed device requests, bad
//! signatures, garbage input, secrets in logs.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Server, code};
use push_proto::SecretKey;
use push_proto::api::{Decision, DeviceAuth};
use push_proto::signed;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn per_user_and_per_host_rate_limits(backend: Backend) {
    let s = Server::start(backend, "user_per_minute = 2\nhost_per_minute = 3");
    let host = s.add_host("web1");
    let (_, d1) = s.pair(&host, "u1", "d1");
    let (_, d2) = s.pair(&host, "u2", "d2");
    let (_, d3) = s.pair(&host, "u3", "d3");
    for _ in 0..2 {
        let (st, c, _) = host.challenge("u1", &[&d1], 60);
        assert_eq!(st, 201);
        let (st, _) =
            host.call("DELETE", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
        assert_eq!(st, 200);
    }
    let (st, v, _) = host.challenge("u1", &[&d1], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"), "per user");
    let (st, _, _) = host.challenge("u2", &[&d2], 60);
    assert_eq!(st, 201);
    let (st, v, _) = host.challenge("u3", &[&d3], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"), "per host");
    // Counted in the database: a restart does not reset them.
    let mut s = s;
    s.restart();
    let (st, v, _) = host.challenge("u1", &[&d1], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"));
}

/// A push the host withdrew because the user typed a code (`?reason=code_typed`) does not count
/// against the user's rate; one withdrawn without a reason (gave up, timed out) does, and so
/// does an answered one, whatever the host says afterwards. The host's rate counts them all.
fn a_push_withdrawn_for_a_typed_code_does_not_count_against_the_user(backend: Backend) {
    let s = Server::start(backend, "user_per_minute = 2\nhost_per_minute = 6");
    let host = s.add_host("web1");
    let (key, d1) = s.pair(&host, "u1", "d1");
    let cancel = |txid: &str, query: &str| {
        let (st, v) = host.call("DELETE", &format!("/v2/challenges/{txid}{query}"), None);
        assert_eq!(st, 200, "{v}");
        v
    };
    for _ in 0..4 {
        let (st, c, _) = host.challenge("u1", &[&d1], 60);
        assert_eq!(st, 201, "{c}");
        let v = cancel(c["txid"].as_str().unwrap(), "?reason=code_typed");
        assert_eq!(v["status"], "cancelled");
    }
    assert!(s.audit_log().contains("code typed at the login; not counted"), "{}", s.audit_log());
    // Answered, then "withdrawn for a code": already settled, still counted.
    let (st, c, sent) = host.challenge("u1", &[&d1], 60);
    assert_eq!(st, 201, "{c}");
    let number = sent.number.to_string();
    let (ok, out, err) = s.device(&key, &["approve", "--number", &number, "--wait", "5"]);
    assert!(ok, "{out}{err}");
    assert_eq!(cancel(c["txid"].as_str().unwrap(), "?reason=code_typed")["status"], "approved");
    // Withdrawn without a reason: counted. That makes two: the user's limit is reached.
    let (st, c, _) = host.challenge("u1", &[&d1], 60);
    assert_eq!(st, 201, "{c}");
    cancel(c["txid"].as_str().unwrap(), "");
    let (st, v, _) = host.challenge("u1", &[&d1], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"), "{v}");
    // The host's limit saw all six.
    let (_, d2) = s.pair(&host, "u2", "d2");
    let (st, v, _) = host.challenge("u2", &[&d2], 60);
    assert_eq!((st, code(&v)), (429, "rate_limited"), "per host: {v}");
    // An unknown reason is a bad request.
    let (st, v) = host.call("DELETE", "/v2/challenges/AAAAAAAAAAAAAAAAAAAAAA?reason=bored", None);
    assert_eq!((st, code(&v)), (400, "bad_request"), "{v}");
}

fn hosts_are_isolated_and_revocation_bites(backend: Backend) {
    let s = Server::start(backend, "");
    let a = s.add_host("host-a");
    let b = s.add_host("host-b");
    let (key, dev) = s.pair(&a, "gina", "cli");
    let (st, c, sent) = a.challenge("gina", &[&dev], 60);
    assert_eq!(st, 201);
    let txid = c["txid"].as_str().unwrap().to_string();
    let (st, v) = b.call("GET", &format!("/v2/challenges/{txid}"), None);
    assert_eq!((st, code(&v)), (404, "not_found"));
    let (st, _) = b.call("DELETE", &format!("/v2/challenges/{txid}"), None);
    assert_eq!(st, 404);
    let (st, p) = a.call("POST", "/v2/pairings", Some(json!({"user": "gina", "ttl": 60})));
    assert_eq!(st, 201);
    let (st, _) =
        b.call("GET", &format!("/v2/pairings/{}", p["pairing_id"].as_str().unwrap()), None);
    assert_eq!(st, 404);
    // Still pending for A (B's DELETE did nothing); the receipt names A.
    let (ok, _, err) = s.device(&key, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "{err}");
    let (_, v) = a.call("GET", &format!("/v2/challenges/{txid}"), None);
    assert_eq!(v["receipt"]["host_id"].as_str(), Some(a.cred.host_id.as_str()));
    assert_ne!(a.cred.host_id, b.cred.host_id);

    // Revoked device: refused at once, and no longer asked.
    let (st, _, _) = a.challenge("gina", &[&dev], 60);
    assert_eq!(st, 201);
    let (ok, _, err) = s.admin(&["device", "revoke", &dev]);
    assert!(ok, "{err}");
    let (ok, _, err) = s.device(&key, &["approve", "--number", "42"]);
    assert!(!ok && err.contains("revoked") && err.contains("403"), "{err}");
    let (ok, out, _) = s.admin(&["device", "list", "--user", "gina", "--json"]);
    assert!(ok);
    let devices: Value = serde_json::from_str(&out).unwrap();
    assert!(devices[0]["revoked_at"].as_u64().is_some());

    // Revoked host: 401.
    let (ok, _, _) = s.admin(&["host", "revoke", "host-b"]);
    assert!(ok);
    let (st, v) = b.call("POST", "/v2/pairings", Some(json!({"user": "gina", "ttl": 60})));
    assert_eq!((st, code(&v)), (401, "unauthorized"));
    let (ok, out, _) = s.admin(&["host", "list", "--json"]);
    assert!(ok);
    let hosts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 2);
    let audit = s.audit_log();
    assert!(audit.contains("\"event\":\"device.revoked\"") && audit.contains("host revoked"));
}

/// A host may push only to devices paired through it (its push scope): another host's
/// credential can neither send them a push, nor hold their user's open-challenge slot, burn
/// their rate limit, or pause them with a fraud report of its own device.
fn a_host_pushes_only_to_devices_paired_through_it(backend: Backend) {
    let s = Server::start(backend, "user_per_minute = 3");
    let a = s.add_host("host-a");
    let b = s.add_host("host-b");
    let (key_a, dev_a) = s.pair(&a, "gina", "gina-phone");
    // Host B names host A's device: refused, and the device gets nothing.
    let (st, v, _) = b.challenge("gina", &[&dev_a], 60);
    assert_eq!((st, code(&v)), (404, "no_device"), "{v}");
    let (ok, out, _) = s.device(&key_a, &["pending", "--json"]);
    assert!(ok && out.trim() == "[]", "{out}");
    // Host B with a device of its own for "gina" (a compromised host can pair any name):
    // its open challenge, its rate-limit use and its fraud report stay in its own scope.
    let (key_b, dev_b) = s.pair(&b, "gina", "attacker");
    for _ in 0..2 {
        let (st, c, _) = b.challenge("gina", &[&dev_b], 60);
        assert_eq!(st, 201, "{c}");
        let (st, _) =
            b.call("DELETE", &format!("/v2/challenges/{}", c["txid"].as_str().unwrap()), None);
        assert_eq!(st, 200);
    }
    let (st, _, _) = b.challenge("gina", &[&dev_b], 60);
    assert_eq!(st, 201, "B's open challenge, the last of B's rate limit");
    // Host A meanwhile: a free slot and its own rate limit; B's device is not A's to push to.
    let (st, c, sent) = a.challenge("gina", &[&dev_a, &dev_b], 60);
    assert_eq!(st, 201, "{c}");
    let ids: Vec<&str> =
        c["devices"].as_array().unwrap().iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, [dev_a.as_str()]);
    let (ok, _, err) = s.device(&key_a, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "{err}");
    // B's device reports fraud: B's scope pauses, A's does not.
    assert!(s.device(&key_b, &["fraud"]).0);
    let (st, v, _) = b.challenge("gina", &[&dev_b], 60);
    assert_eq!((st, code(&v)), (429, "cooldown"), "B's own scope is paused");
    let (st, c, _) = a.challenge("gina", &[&dev_a], 60);
    assert_eq!(st, 201, "{c}");
    assert!(s.device(&key_a, &["deny"]).0);
    let (ok, out, _) = s.device(&key_b, &["pending", "--json"]);
    assert!(ok && out.trim() == "[]", "{out}");
}

/// A device request seen on the wire (say, by whoever reads the TLS stream) cannot be sent
/// again: not as it was (its nonce is spent), not with another body (the signature covers
/// the body's hash).
fn captured_device_requests_cannot_be_replayed(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (key_file, dev) = s.pair(&host, "kim", "phone");
    let (_, key) = device_key(&key_file);
    let client = s.anon();
    let send = |method: &str, path: &str, auth: &str, body: Option<&[u8]>| {
        client.request(method, path, &[("authorization", auth)], body, Duration::ZERO).unwrap()
    };
    // A listing, as the device sends it, then the very same request again.
    let path = "/v2/device/challenges?wait=0";
    let auth = device_auth(&dev, &key, mfa_server::time::now(), "GET", path, b"");
    assert_eq!(send("GET", path, &auth, None).status, 200);
    let again = send("GET", path, &auth, None);
    assert_eq!(again.status, 401, "a replayed listing was served");
    assert!(again.error_text().contains("replayed"), "{}", again.error_text());

    // An answer: the device denies; whoever holds its request first sends the header with
    // another body (an approval of their choosing), then, after the device's own, the same
    // request again.
    let (st, c, sent) = host.challenge("kim", &[&dev], 60);
    assert_eq!(st, 201);
    let txid = c["txid"].as_str().unwrap().to_string();
    let pending: Vec<push_proto::api::PendingChallenge> =
        serde_json::from_str(&s.device(&key_file, &["pending", "--json"]).1).unwrap();
    let hash = pending[0].login_hash();
    let deny = json!({"decision": "deny", "number": null,
                      "signature": key.sign(&signed::answer(&hash, Decision::Deny, None))});
    let deny = serde_json::to_vec(&deny).unwrap();
    let path = format!("/v2/device/challenges/{txid}/answer");
    let auth = device_auth(&dev, &key, mfa_server::time::now(), "POST", &path, &deny);
    let approve = json!({"decision": "approve", "number": sent.number,
        "signature": key.sign(&signed::answer(&hash, Decision::Approve, Some(sent.number)))});
    let approve = serde_json::to_vec(&approve).unwrap();
    let r = send("POST", &path, &auth, Some(&approve));
    assert_eq!(r.status, 401, "the header was accepted for another body");
    let r = send("POST", &path, &auth, Some(&deny));
    assert_eq!(r.status, 200, "{}", r.error_text());
    let r = send("POST", &path, &auth, Some(&deny));
    assert_eq!(r.status, 401, "the same request was accepted twice");
    let r = send("POST", &path, &auth, Some(&approve));
    assert_eq!(r.status, 401);
    let (_, v) = host.call("GET", &format!("/v2/challenges/{txid}"), None);
    assert_eq!(v["status"], "denied");
    let audit = s.audit_log();
    assert!(audit.contains("request nonce used before (replayed request)"), "{audit}");
    assert!(audit.contains("bad request signature"), "{audit}");
}

fn revoked_device_gets_no_new_challenges(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (_, dev) = s.pair(&host, "hank", "cli");
    assert!(s.admin(&["device", "revoke", &dev]).0);
    let (st, v, _) = host.challenge("hank", &[&dev], 60);
    assert_eq!((st, code(&v)), (404, "no_device"));
}

fn concurrent_answers_and_pairings_have_one_winner(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    // Two devices of one user both receive the challenge and approve at once.
    let (k1, d1) = s.pair(&host, "ivy", "one");
    let (k2, d2) = s.pair(&host, "ivy", "two");
    for round in 0..3 {
        let (st, c, sent) = host.challenge("ivy", &[&d1, &d2], 60);
        assert_eq!(st, 201, "round {round}: {c}");
        let txid = c["txid"].as_str().unwrap().to_string();
        let n = sent.number.to_string();
        let results: Vec<(bool, String, String)> = std::thread::scope(|sc| {
            let hs: Vec<_> = [&k1, &k1, &k2, &k2]
                .into_iter()
                .map(|k| {
                    let (txid, n, s) = (&txid, &n, &s);
                    sc.spawn(move || s.device(k, &["approve", txid, "--number", n]))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wins = results.iter().filter(|r| r.0).count();
        assert_eq!(wins, 1, "{results:?}");
        for r in results.iter().filter(|r| !r.0) {
            assert!(r.2.contains("already_used") || r.2.contains("no such pending"), "{}", r.2);
        }
    }
    // One pairing credential, two devices at once: one pairs.
    let (st, p) = host.call("POST", "/v2/pairings", Some(json!({"user": "ivy", "ttl": 60})));
    assert_eq!(st, 201);
    let link =
        push_proto::pairing_uri::with_host_secret(p["uri"].as_str().unwrap(), &"K".repeat(22));
    let uri = link.as_str();
    let ca = s.ca.to_str().unwrap();
    let results: Vec<(bool, String, String)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let k = s.key_file(&format!("race{i}"));
                let s = &s;
                sc.spawn(move || s.device(&k, &["pair", uri, "--name", "race", "--ca-file", ca]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.0).count(), 1, "{results:?}");
    // And once more afterwards: refused as used.
    let (ok, _, err) =
        s.device(&s.key_file("late"), &["pair", uri, "--name", "x", "--ca-file", ca]);
    assert!(!ok && err.contains("already_used"), "{err}");
}

fn device_key(key_file: &Path) -> (String, SecretKey) {
    let kf: Value = serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let key = SecretKey::decode(kf["private_key"].as_str().unwrap()).unwrap();
    (kf["device_id"].as_str().unwrap().to_string(), key)
}

fn device_auth(
    id: &str,
    key: &SecretKey,
    ts: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> String {
    DeviceAuth::sign(key, id, ts, method, path, body).unwrap().header()
}

fn bad_signatures_garbage_and_no_secrets_in_logs(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (st, p) = host.call("POST", "/v2/pairings", Some(json!({"user": "jo", "ttl": 60})));
    assert_eq!(st, 201);
    let uri =
        push_proto::pairing_uri::with_host_secret(p["uri"].as_str().unwrap(), &"K".repeat(22));
    let credential = uri.split("#c=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let key_file = s.key_file("jo");
    let (ok, _, err) =
        s.device(&key_file, &["pair", &uri, "--name", "jo", "--ca-file", s.ca.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (dev, key) = device_key(&key_file);
    let (st, c, sent) = host.challenge("jo", &[&dev], 60);
    let nonce = sent.nonce.clone();
    assert_eq!(st, 201);
    let txid = c["txid"].as_str().unwrap().to_string();
    let client = s.anon();
    let now = mfa_server::time::now();

    // An answer signed over another login (another nonce): 400 bad_signature.
    let path = format!("/v2/device/challenges/{txid}/answer");
    let other = signed::LoginFields {
        txid: &txid,
        host_id: &host.cred.host_id,
        hostname: &host.cred.hostname,
        user: "jo",
        service: "sshd",
        rhost: Some("192.0.2.7"),
        time: sent.time,
        nonce: &"A".repeat(43),
        choices: &sent.choices,
    };
    let n = sent.choices[0];
    let wrong = key.sign(&signed::answer(&signed::login_hash(&other), Decision::Approve, Some(n)));
    let body = serde_json::to_vec(&json!({"decision": "approve", "number": n, "signature": wrong}))
        .unwrap();
    let auth = device_auth(&dev, &key, now, "POST", &path, &body);
    let r = client.request("POST", &path, &[("authorization", &auth)], Some(&body), Duration::ZERO);
    let r = r.unwrap();
    assert_eq!(r.status, 400);
    assert!(r.error_text().contains("bad_signature"));
    // Request signature over another path or body, stale timestamp, another device's id: 401.
    for auth in [
        device_auth(&dev, &key, now, "POST", "/v2/device/challenges", &body),
        device_auth(&dev, &key, now, "POST", &path, b"{}"),
        device_auth(&dev, &key, now - 600, "POST", &path, &body),
        device_auth("AAAAAAAAAAAAAAAAAAAAAA", &key, now, "POST", &path, &body),
        "PamMfaDevice garbage".to_string(),
        format!("Bearer {}", host.cred.token),
    ] {
        let r = client
            .request("POST", &path, &[("authorization", &auth)], Some(&body), Duration::ZERO)
            .unwrap();
        assert_eq!(r.status, 401, "{auth}");
    }
    // Garbage to every endpoint: 4xx with an ErrorBody, never 5xx.
    let big = vec![b'{'; push_proto::limits::MAX_BODY + 10];
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"null",
        b"{",
        b"[]",
        b"{\"user\":\"x\",\"extra\":1}",
        b"\xff\xfe\x00",
        b"{\"user\":\"../../etc\",\"ttl\":18446744073709551615}",
        &big,
    ];
    let bearer = format!("Bearer {}", host.cred.token);
    for (method, path) in [
        ("POST", "/v2/challenges"),
        ("POST", "/v2/pairings"),
        ("POST", "/v2/device/pair"),
        ("POST", path.as_str()),
        ("GET", "/v2/challenges/..%2F..%2Fetc"),
        ("GET", "/v2/challenges/x?wait=abc"),
        ("DELETE", "/v2/pairings/x"),
        ("GET", "/nope"),
    ] {
        for body in &bodies {
            for auth in [bearer.as_str(), "Bearer \u{7f}", "", "Basic Zm9vOmJhcg=="] {
                let headers: Vec<(&str, &str)> =
                    if auth.is_empty() { vec![] } else { vec![("authorization", auth)] };
                let body = (method != "GET").then_some(*body);
                let Ok(r) = client.request(method, path, &headers, body, Duration::ZERO) else {
                    continue; // the client itself refused an invalid header value
                };
                assert!((400..500).contains(&r.status), "{method} {path}: {}", r.status);
                let e: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                assert!(e["error"].is_string(), "{method} {path} {}: {:?}", r.status, r.body);
            }
        }
    }
    let (st, v, _) = host.challenge("jo", &["not-an-id"], 60);
    assert_eq!((st, code(&v)), (400, "bad_request"));
    for bad in [
        json!({"user": "jo\n", "service": "sshd", "rhost": null, "time": 1, "nonce": nonce,
               "choices": [], "devices": [dev], "ttl": 60}),
        json!({"user": "jo", "service": "sshd", "rhost": null, "time": 1, "nonce": nonce,
               "choices": [12, 12, 13], "devices": [dev], "ttl": 60}),
        json!({"user": "jo", "service": "sshd", "rhost": null, "time": 1, "nonce": nonce,
               "choices": [12, 13], "devices": [dev], "ttl": 60}),
        json!({"user": "jo", "service": "sshd", "rhost": null, "time": 1, "nonce": nonce,
               "choices": [9, 13, 14], "devices": [dev], "ttl": 60}),
        json!({"user": "jo", "service": "sshd", "rhost": null, "time": 1, "nonce": nonce,
               "devices": [dev], "ttl": 60}),
    ] {
        let (st, v) = host.call("POST", "/v2/challenges", Some(bad.clone()));
        assert_eq!((st, code(&v)), (400, "bad_request"), "{bad}");
    }
    // Still healthy, and the challenge still answerable by the real device.
    let (ok, out, err) = s.device(&key_file, &["approve", "--number", &sent.number.to_string()]);
    assert!(ok, "{out} {err}");

    // Nothing secret in the audit log or on stderr.
    let audit = s.audit_log();
    let stderr = s.log();
    let device_private = key.encode().to_string();
    let service_private = std::fs::read_to_string(s.dir.path().join("data/service.key")).unwrap();
    let tls_key = std::fs::read_to_string(s.dir.path().join("tls/server.key")).unwrap();
    let tls_key_line = tls_key.lines().nth(1).unwrap();
    for secret in
        [&host.cred.token, &credential, &device_private, service_private.trim(), tls_key_line]
    {
        assert!(!audit.contains(secret), "secret in the audit log");
        assert!(!stderr.contains(secret), "secret on stderr");
    }
    assert!(audit.contains("\"event\":\"auth.device\"") && audit.contains("bad request signature"));
    assert!(audit.contains("answer signature does not verify"));
    for line in audit.lines() {
        let v: Value = serde_json::from_str(line).expect("every audit line is JSON");
        assert!(v["time"].is_string() && v["event"].is_string() && v["outcome"].is_string());
    }
}

on_both_backends!(
    per_user_and_per_host_rate_limits,
    a_push_withdrawn_for_a_typed_code_does_not_count_against_the_user,
    hosts_are_isolated_and_revocation_bites,
    revoked_device_gets_no_new_challenges,
    a_host_pushes_only_to_devices_paired_through_it,
    captured_device_requests_cannot_be_replayed,
    concurrent_answers_and_pairings_have_one_winner,
    bad_signatures_garbage_and_no_secrets_in_logs,
);
