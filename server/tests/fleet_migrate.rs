//! Migration of a standalone host's records (issue 20, `Change::Migrate`) against the real
//! service over TLS on both databases: applied once, only for a user without factors (else a
//! 409 `already_enrolled` that changes nothing); the host's TOTP watermark holds (a code at it
//! is refused, the next step's accepted); migrated recovery hashes accept an unused code once;
//! a host outside the user's host groups is refused with nothing counted; garbage and
//! oversized migrations are refused.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Host, Server};
use mfa_factors::recovery::RecoveryCodes;
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, Verdict, VerifyRequest, VerifyResponse};
use push_proto::fleet_enroll::{Change, ENROLL, EnrollRequest, TotpAlgorithm};
use push_proto::fleet_migrate::{MigratedCode, MigratedTotp, Migration};
use serde_json::{Value, json};

const SECRET: &[u8; 20] = b"migrated-secret-0123";

fn now() -> u64 {
    mfa_server::time::now()
}

/// The code of step `step`.
fn code_of(step: u64) -> String {
    totp::code_at(SECRET, &Params::default(), step * 30).to_string()
}

/// A migration whose watermark is the current step, with the given codes' hashes (slots 0..).
fn migration(codes: &RecoveryCodes, take: usize) -> Migration {
    let b32 = mfa_factors::secret::SecretBytes::new(SECRET.to_vec()).to_base32().to_string();
    Migration {
        totp: Some(MigratedTotp {
            secret: b32,
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            step: 30,
            last_step: Some(now() / 30),
        }),
        recovery: codes
            .slots
            .iter()
            .enumerate()
            .take(take)
            .map(|(n, h)| MigratedCode { slot: n as u8, hash: h.clone().unwrap() })
            .collect(),
        keys: Vec::new(),
    }
}

fn request(user: &str, m: Migration) -> Value {
    let req = EnrollRequest {
        user: user.into(),
        time: now(),
        nonce: push_proto::random_token(32).unwrap(),
        proof: None,
        change: Change::Migrate(m),
    };
    serde_json::to_value(req).unwrap()
}

fn migrate(host: &Host, user: &str, m: Migration) -> (u16, Value) {
    host.call("POST", ENROLL, Some(request(user, m)))
}

fn verify(s: &Server, host: &Host, user: &str, factor: Factor, answer: &str) -> Verdict {
    let req = VerifyRequest {
        user: user.into(),
        factor,
        answer: answer.into(),
        service: "sshd".into(),
        rhost: None,
        time: now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    let (st, v) = host.call("POST", "/v2/fleet/verify", Some(serde_json::to_value(&req).unwrap()));
    assert_eq!(st, 200, "{v}");
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, &req).unwrap()
}

fn show(s: &Server, user: &str) -> Value {
    let (ok, out, err) = s.admin(&["fleet", "user", "show", "--user", user, "--json"]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn admin_ok(s: &Server, args: &[&str]) {
    let (ok, out, err) = s.admin(args);
    assert!(ok, "{args:?}: {out} {err}");
}

fn migrate_once_then_conflict_watermark_and_codes_hold(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nuser_per_minute = 100");
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    let (codes, set) = RecoveryCodes::generate(now()).unwrap();
    let m = migration(&set, 5);
    let step = m.totp.as_ref().unwrap().last_step.unwrap();
    let (st, v) = migrate(&web1, "alice", m);
    assert_eq!(st, 200, "{v}");
    let before = show(&s, "alice");
    // A second migration (another host, the same records or others): a conflict, nothing
    // changed.
    let (_, other) = RecoveryCodes::generate(now()).unwrap();
    let (st, v) = migrate(&web2, "alice", migration(&other, 10));
    assert_eq!((st, common::code(&v)), (409, "already_enrolled"), "{v}");
    assert_eq!(show(&s, "alice"), before);
    assert!(s.audit_log().contains("fleet.enroll.migrate"));
    // The watermark: the code of the migrated step is refused, the next step's accepted.
    assert_eq!(verify(&s, &web2, "alice", Factor::Totp, &code_of(step)), Verdict::Reject);
    assert_eq!(verify(&s, &web2, "alice", Factor::Totp, &code_of(step + 1)), Verdict::Accept);
    // Recovery: only the migrated (unused) codes, each once, on any host.
    assert_eq!(verify(&s, &web1, "alice", Factor::Recovery, &codes[2]), Verdict::Accept);
    assert_eq!(verify(&s, &web2, "alice", Factor::Recovery, &codes[2]), Verdict::Reject);
    assert_eq!(verify(&s, &web2, "alice", Factor::Recovery, &codes[7]), Verdict::Reject);
    assert_eq!(verify(&s, &web2, "alice", Factor::Recovery, &codes[4]), Verdict::Accept);
}

/// A user enrolled at the service the ordinary way is a conflict, and keeps their record.
fn enrolled_user_is_a_conflict(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let req = json!({"user": "bob", "time": now(), "nonce": push_proto::random_token(32).unwrap(),
        "change": "recovery_codes"});
    let (st, v) = web1.call("POST", ENROLL, Some(req));
    assert_eq!(st, 200, "{v}");
    let before = show(&s, "bob");
    let (_, set) = RecoveryCodes::generate(now()).unwrap();
    let (st, v) = migrate(&web1, "bob", migration(&set, 3));
    assert_eq!((st, common::code(&v)), (409, "already_enrolled"), "{v}");
    assert_eq!(show(&s, "bob"), before);
    assert!(show(&s, "bob")["totp"].is_null());
}

/// Host groups and the opt-in rule apply as to a first enrollment; a refused host counts
/// nothing.
fn host_groups_and_opt_in_decide(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nfirst_enrollment = \"admin\"");
    let (db1, web1) = (s.add_host("db1"), s.add_host("web1"));
    admin_ok(&s, &["fleet", "group", "add", "db"]);
    admin_ok(&s, &["fleet", "group", "add-host", "db", "db1"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "dba", "--authenticate", "db"]);
    let (_, set) = RecoveryCodes::generate(now()).unwrap();
    let (st, v) = migrate(&web1, "dba", migration(&set, 2));
    assert_eq!((st, common::code(&v)), (403, "host_not_allowed"), "{v}");
    let shown = show(&s, "dba");
    assert!(shown["totp"].is_null() && shown["failures"] == 0, "{shown}");
    let (st, v) = migrate(&db1, "dba", migration(&set, 2));
    assert_eq!((st, common::code(&v)), (403, "not_opted_in"), "{v}");
    admin_ok(&s, &["fleet", "user", "opt-in", "--user", "dba"]);
    let (st, v) = migrate(&db1, "dba", migration(&set, 2));
    assert_eq!(st, 200, "{v}");
}

fn garbage_and_oversized_migrations_are_refused(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let (_, set) = RecoveryCodes::generate(now()).unwrap();
    let good = request("erin", migration(&set, 2));
    let change = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b["change"]["migrate"]);
        b
    };
    let costly = set.slots[0].clone().unwrap().replace("m=19456", "m=2097152");
    let bodies = vec![
        change(&|m| m["extra"] = json!(1)),
        change(&|m| *m = json!({"totp": null, "recovery": [], "keys": []})),
        change(&|m| m["totp"]["secret"] = json!("A".repeat(200))),
        change(&|m| m["totp"]["secret"] = json!("GEZDGNBV")),
        change(&|m| m["totp"]["last_step"] = json!(now())),
        change(&|m| m["totp"]["digits"] = json!(7)),
        change(&|m| m["recovery"][0]["slot"] = json!(12)),
        change(&|m| m["recovery"][1]["slot"] = json!(0)),
        change(&|m| m["recovery"][0]["hash"] = json!(costly)),
        change(&|m| m["recovery"][0]["hash"] = json!("$argon2id$garbage")),
        change(&|m| {
            m["keys"] = json!([{"name": "k", "credential_id": "AAEC", "public_key": "AAEC",
                "rp_id": "pam://web1", "sign_count": 0, "user_verification": false, "created": 1}])
        }),
        change(&|m| m["recovery"] = json!(vec![json!({"slot": 0, "hash": "$argon2id$"}); 11])),
        {
            let mut b = good.clone();
            b["proof"] = json!({"factor": "totp", "answer": "123456"});
            b
        },
    ];
    for body in &bodies {
        let r = host.raw("POST", ENROLL, Some(&serde_json::to_vec(body).unwrap()), 0);
        assert_eq!(r.status, 400, "{body}");
    }
    let mut big = good.clone();
    big["change"]["migrate"]["keys"] = json!(vec![json!({"name": "x".repeat(2000)}); 40]);
    assert_eq!(host.raw("POST", ENROLL, Some(&serde_json::to_vec(&big).unwrap()), 0).status, 413);
    let shown = show(&s, "erin");
    assert!(shown["totp"].is_null() && shown["failures"] == 0, "{shown}");
    let (st, v) = host.call("POST", ENROLL, Some(good));
    assert_eq!(st, 200, "{v}");
}

on_both_backends!(
    migrate_once_then_conflict_watermark_and_codes_hold,
    enrolled_user_is_a_conflict,
    host_groups_and_opt_in_decide,
    garbage_and_oversized_migrations_are_refused,
);
