//! Security keys in fleet enrollment (issue 20) against the real service over TLS on both
//! databases: a key added from a fleet host (`Change::AddKey`) needs a current factor once the
//! user has one; a key's assertion over an enrollment challenge is that proof, accepted once
//! (a replayed assertion, or one whose counter did not increase, refused); a login's
//! assertion is never an enrollment proof, nor an enrollment's a login; a host outside the
//! user's enrollment groups adds nothing and counts nothing; a malformed key is refused
//! before anything is counted; key challenges are rate-limited per user.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fido::Key;
use common::fleet::admin_ok;
use common::{Backend, Host, Server};
use push_proto::fleet::{Factor, Verdict, VerifyResponse};
use push_proto::fleet_enroll::{Change, ENROLL, EnrollRequest, Proof};
use push_proto::fleet_key_enroll::{
    CHALLENGE, KeyEnrollChallengeRequest, KeyProof, NewKey, enroll_key_challenge,
};
use push_proto::fleet_keys::{KEY_ANSWER, KeyChallengeResponse, KeyLogin, KeyVerifyRequest};
use serde_json::Value;

/// The service's default `[fleet] rp_id`.
const RP: &str = "pam://fleet";

fn new_key(key: &Key, name: &str) -> Change {
    let c = key.credential(RP);
    Change::AddKey(NewKey {
        credential_id: c.credential_id,
        public_key: c.public_key,
        name: name.into(),
        user_verification: false,
        counter: 0,
    })
}

fn enroll(host: &Host, user: &str, proof: Option<KeyProof>, change: Change) -> (u16, Value) {
    let req = EnrollRequest {
        user: user.into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
        proof: proof.map(|k| Proof {
            factor: Factor::SecurityKey,
            answer: KEY_ANSWER.into(),
            key: Some(k),
        }),
        change,
    };
    host.call("POST", ENROLL, Some(serde_json::to_value(&req).unwrap()))
}

fn enroll_challenge(host: &Host, user: &str) -> (u16, Value) {
    let req = KeyEnrollChallengeRequest {
        user: user.into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    host.call("POST", CHALLENGE, Some(serde_json::to_value(&req).unwrap()))
}

/// A key proof: an enrollment challenge signed as an enrollment proof with `count`.
fn key_proof(host: &Host, user: &str, key: &Key, count: u32) -> KeyProof {
    let (st, v) = enroll_challenge(host, user);
    assert_eq!(st, 200, "{v}");
    let c: KeyChallengeResponse = serde_json::from_value(v).unwrap();
    assert_eq!(c.rp_id, RP);
    assert!(!c.credentials.is_empty());
    let signed = enroll_key_challenge(&c.challenge).unwrap();
    KeyProof { challenge: c.challenge, assertion: key.sign_raw(RP, &signed, count) }
}

fn login(user: &str) -> KeyLogin {
    KeyLogin {
        user: user.into(),
        service: "sshd".into(),
        rhost: None,
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    }
}

fn login_challenge(host: &Host, login: &KeyLogin) -> (u16, Value) {
    host.call("POST", "/v2/fleet/key/challenge", Some(serde_json::to_value(login).unwrap()))
}

fn key_verify(s: &Server, host: &Host, req: &KeyVerifyRequest) -> Verdict {
    let (st, v) =
        host.call("POST", "/v2/fleet/key/verify", Some(serde_json::to_value(req).unwrap()));
    assert_eq!(st, 200, "{v}");
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, &req.login.bound()).unwrap()
}

fn refused(reply: (u16, Value), status: u16, error: &str) {
    assert_eq!((reply.0, common::code(&reply.1)), (status, error), "{}", reply.1);
}

fn show(s: &Server, user: &str) -> Value {
    let out = admin_ok(s, &["fleet", "user", "show", "--user", user, "--json"]);
    serde_json::from_str(&out).unwrap()
}

fn keys_of(s: &Server, user: &str) -> usize {
    show(s, user)["security_keys"].as_array().map_or(0, Vec::len)
}

fn adding_a_key_needs_a_current_factor(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    let (first, second) = (Key::new(), Key::new());
    // A first factor needs no proof (first_enrollment = "self").
    let (st, v) = enroll(&web1, "alice", None, new_key(&first, "blue"));
    assert_eq!(st, 200, "{v}\n{}", s.log());
    assert_eq!(keys_of(&s, "alice"), 1);
    // Another key without a current factor: refused, nothing added.
    refused(enroll(&web2, "alice", None, new_key(&second, "red")), 403, "current_factor_required");
    assert_eq!(keys_of(&s, "alice"), 1);
    // With the first key as the proof: added, and the proof's counter raised.
    let proof = key_proof(&web2, "alice", &first, 1);
    let (st, v) = enroll(&web2, "alice", Some(proof), new_key(&second, "red"));
    assert_eq!(st, 200, "{v}\n{}", s.log());
    assert_eq!(keys_of(&s, "alice"), 2);
    let state = show(&s, "alice");
    let counters: Vec<u64> = state["security_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["sign_count"].as_u64().unwrap())
        .collect();
    assert!(counters.contains(&1), "{state}");
    // The same credential again (even another user's): refused, nothing added.
    let proof = key_proof(&web1, "alice", &second, 1);
    refused(enroll(&web1, "alice", Some(proof), new_key(&first, "again")), 409, "key_refused");
    refused(enroll(&web1, "bob", None, new_key(&first, "stolen")), 409, "key_refused");
    assert_eq!(keys_of(&s, "bob"), 0);
    // The new key logs in on any host.
    let l = login("alice");
    let (_, v) = login_challenge(&web1, &l);
    let c: KeyChallengeResponse = serde_json::from_value(v).unwrap();
    let req = KeyVerifyRequest {
        login: l,
        challenge: c.challenge.clone(),
        assertion: second.sign(RP, &c.challenge, 2),
    };
    assert_eq!(key_verify(&s, &web1, &req), Verdict::Accept);
    let audit = s.audit_log();
    assert!(
        audit.contains("fleet.enroll.add_key") && audit.contains("a current one is needed"),
        "{audit}"
    );
    // Removing the keys takes both, with a key as the proof.
    let proof = key_proof(&web1, "alice", &second, 3);
    let (st, v) = enroll(&web1, "alice", Some(proof), Change::Remove(Factor::SecurityKey));
    assert_eq!(st, 200, "{v}");
    assert_eq!(keys_of(&s, "alice"), 0);
}

fn a_key_proof_works_once(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let key = Key::new();
    assert_eq!(enroll(&web1, "carol", None, new_key(&key, "blue")).0, 200);
    let proof = key_proof(&web1, "carol", &key, 1);
    assert_eq!(enroll(&web1, "carol", Some(proof.clone()), new_key(&Key::new(), "k2")).0, 200);
    // The same assertion again (a new request, new nonce): its challenge is used up.
    refused(enroll(&web1, "carol", Some(proof), new_key(&Key::new(), "k3")), 403, "proof_rejected");
    // A fresh challenge signed with a counter that did not increase: a replay or a clone.
    let stale = key_proof(&web1, "carol", &key, 1);
    refused(enroll(&web1, "carol", Some(stale), new_key(&Key::new(), "k4")), 403, "proof_rejected");
    assert_eq!(keys_of(&s, "carol"), 2);
    // Both refusals were counted.
    assert_eq!(show(&s, "carol")["failures"], 2);
    let audit = s.audit_log();
    assert!(audit.contains("challenge unknown, used"), "{audit}");
    assert!(audit.contains("signature counter did not increase"), "{audit}");
}

fn a_login_assertion_is_not_an_enrollment_proof(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let key = Key::new();
    assert_eq!(enroll(&web1, "dave", None, new_key(&key, "blue")).0, 200);
    // A login's challenge, signed for a login, sent as an enrollment proof: refused.
    let l = login("dave");
    let (_, v) = login_challenge(&web1, &l);
    let c: KeyChallengeResponse = serde_json::from_value(v).unwrap();
    let as_login =
        KeyProof { challenge: c.challenge.clone(), assertion: key.sign(RP, &c.challenge, 1) };
    refused(
        enroll(&web1, "dave", Some(as_login), new_key(&Key::new(), "k")),
        403,
        "proof_rejected",
    );
    // The login's challenge is used up by that attempt: the login fails too.
    let req = KeyVerifyRequest {
        login: l,
        challenge: c.challenge.clone(),
        assertion: key.sign(RP, &c.challenge, 2),
    };
    assert_eq!(key_verify(&s, &web1, &req), Verdict::Reject);
    // An enrollment challenge signed as at a login (no purpose label): refused as a proof.
    let (_, v) = enroll_challenge(&web1, "dave");
    let c: KeyChallengeResponse = serde_json::from_value(v).unwrap();
    let unlabeled =
        KeyProof { challenge: c.challenge.clone(), assertion: key.sign(RP, &c.challenge, 3) };
    refused(
        enroll(&web1, "dave", Some(unlabeled), new_key(&Key::new(), "k")),
        403,
        "proof_rejected",
    );
    // An enrollment proof sent as a login: refused (the challenge is not a login's).
    let proof = key_proof(&web1, "dave", &key, 4);
    let req = KeyVerifyRequest {
        login: login("dave"),
        challenge: proof.challenge,
        assertion: proof.assertion,
    };
    assert_eq!(key_verify(&s, &web1, &req), Verdict::Reject);
    assert_eq!(keys_of(&s, "dave"), 1);
    assert_eq!(show(&s, "dave")["security_keys"][0]["sign_count"], 0);
}

fn a_host_outside_the_groups_adds_no_key(backend: Backend) {
    let s = Server::start(backend, "");
    let db1 = s.add_host("db1");
    let web1 = s.add_host("web1");
    let key = Key::new();
    assert_eq!(enroll(&db1, "erin", None, new_key(&key, "blue")).0, 200);
    admin_ok(&s, &["fleet", "group", "add", "db"]);
    admin_ok(&s, &["fleet", "group", "add-host", "db", "db1"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "erin", "--enroll", "db"]);
    refused(enroll_challenge(&web1, "erin"), 403, "host_not_allowed");
    let proof = key_proof(&db1, "erin", &key, 1);
    refused(
        enroll(&web1, "erin", Some(proof.clone()), new_key(&Key::new(), "k")),
        403,
        "host_not_allowed",
    );
    // Nothing counted, nothing used: the proof still works from a host in the group.
    assert_eq!(show(&s, "erin")["failures"], 0);
    assert_eq!(enroll(&db1, "erin", Some(proof), new_key(&Key::new(), "k")).0, 200);
    assert_eq!(keys_of(&s, "erin"), 2);
}

fn a_malformed_key_is_refused(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let key = Key::new();
    let with = |f: fn(&mut NewKey)| {
        let Change::AddKey(mut k) = new_key(&key, "blue") else { unreachable!() };
        f(&mut k);
        Change::AddKey(k)
    };
    // Base64url, but not a COSE key.
    refused(
        enroll(&web1, "fay", None, with(|k| k.public_key = "AAAAAAAA".into())),
        400,
        "bad_request",
    );
    // Not base64url; too long; an empty name.
    refused(enroll(&web1, "fay", None, with(|k| k.public_key = "AA==".into())), 400, "bad_request");
    refused(
        enroll(&web1, "fay", None, with(|k| k.credential_id = "A".repeat(2000))),
        400,
        "bad_request",
    );
    refused(enroll(&web1, "fay", None, with(|k| k.name = String::new())), 400, "bad_request");
    assert_eq!(keys_of(&s, "fay"), 0);
    assert_eq!(show(&s, "fay")["failures"], 0);
}

fn key_challenges_are_rate_limited(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nuser_per_minute = 3");
    let web1 = s.add_host("web1");
    let key = Key::new();
    assert_eq!(enroll(&web1, "gus", None, new_key(&key, "blue")).0, 200);
    for _ in 0..2 {
        assert_eq!(login_challenge(&web1, &login("gus")).0, 200);
    }
    assert_eq!(enroll_challenge(&web1, "gus").0, 200);
    // The fourth in a minute, of either purpose: rate-limited.
    refused(login_challenge(&web1, &login("gus")), 429, "rate_limited");
    refused(enroll_challenge(&web1, "gus"), 429, "rate_limited");
    // Another user is not limited by gus's challenges.
    assert_eq!(login_challenge(&web1, &login("hal")).0, 200);
    assert!(s.audit_log().contains("rate limit"));
}

on_both_backends!(
    adding_a_key_needs_a_current_factor,
    a_key_proof_works_once,
    a_login_assertion_is_not_an_enrollment_proof,
    a_host_outside_the_groups_adds_no_key,
    a_malformed_key_is_refused,
    key_challenges_are_rate_limited,
);
