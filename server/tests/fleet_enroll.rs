//! Fleet enrollment (issue 20) against the real service over TLS on both databases: a first
//! factor under `first_enrollment = "self"` and `"admin"` (opt-in), every later change only
//! with a current factor the service checks (none: refused; wrong: refused and counted towards
//! the fleet-wide lockout; right: accepted and used up), recovery codes returned once with
//! only their hashes stored, a status without secrets, and garbage, oversized, replayed and
//! unauthenticated requests refused without changing anything.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Host, Server};
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, Verdict, VerifyRequest, VerifyResponse};
use push_proto::fleet_enroll::{
    Change, ENROLL, EnrollRequest, EnrollResponse, NewTotp, Proof, STATUS, StatusRequest,
    StatusResponse, TotpAlgorithm,
};
use serde_json::{Value, json};

/// A per-user 20-byte secret and its base32.
fn secret(user: &str) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = format!("{user:_<20}").bytes().take(20).collect();
    let b32 = mfa_factors::secret::SecretBytes::new(bytes.clone()).to_base32().to_string();
    (bytes, b32)
}

fn code(user: &str, offset: i64) -> String {
    let t = mfa_server::time::now().checked_add_signed(offset).unwrap();
    totp::code_at(&secret(user).0, &Params::default(), t).to_string()
}

/// A code of none of the window's steps.
fn wrong_code(user: &str) -> String {
    let window: Vec<String> = [-30, 0, 30, 60].iter().map(|o| code(user, *o)).collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !window.contains(c)).unwrap()
}

fn new_totp(user: &str, confirmation: &str) -> Change {
    Change::Totp(NewTotp {
        secret: secret(user).1,
        algorithm: TotpAlgorithm::Sha1,
        digits: 6,
        step: 30,
        confirmation: confirmation.into(),
    })
}

fn enroll_req(user: &str, proof: Option<(Factor, &str)>, change: Change) -> EnrollRequest {
    EnrollRequest {
        user: user.into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
        proof: proof.map(|(factor, a)| Proof { factor, answer: a.into(), key: None }),
        change,
    }
}

fn enroll(host: &Host, user: &str, proof: Option<(Factor, &str)>, change: Change) -> (u16, Value) {
    let req = enroll_req(user, proof, change);
    host.call("POST", ENROLL, Some(serde_json::to_value(&req).unwrap()))
}

fn refused(reply: (u16, Value), status: u16, error: &str) {
    assert_eq!((reply.0, common::code(&reply.1)), (status, error), "{}", reply.1);
}

fn status(host: &Host, user: &str) -> StatusResponse {
    let req = StatusRequest {
        user: user.into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    let (st, v) = host.call("POST", STATUS, Some(serde_json::to_value(&req).unwrap()));
    assert_eq!(st, 200, "{v}");
    serde_json::from_value(v).unwrap()
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

fn verify(s: &Server, host: &Host, user: &str, factor: Factor, answer: &str) -> Verdict {
    let req = VerifyRequest {
        user: user.into(),
        factor,
        answer: answer.into(),
        service: "sshd".into(),
        rhost: None,
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    let (st, v) = host.call("POST", "/v2/fleet/verify", Some(serde_json::to_value(&req).unwrap()));
    assert_eq!(st, 200, "{v}");
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, &req).unwrap()
}

/// Everything the service stored: its SQLite files, or a dump of the fleet tables.
fn stored(s: &Server) -> String {
    match &s.pg {
        Some(db) => db.cluster.psql(
            "mfa_server",
            "SELECT * FROM fleet_recovery; SELECT * FROM fleet_totp; SELECT * FROM fleet_opt_in;",
        ),
        None => {
            let mut all = String::new();
            for e in std::fs::read_dir(s.root.join("data")).unwrap() {
                let bytes = std::fs::read(e.unwrap().path()).unwrap();
                all.push_str(&String::from_utf8_lossy(&bytes));
            }
            all
        }
    }
}

fn recovery_codes(reply: (u16, Value)) -> Vec<String> {
    assert_eq!(reply.0, 200, "{}", reply.1);
    let r: EnrollResponse = serde_json::from_value(reply.1).unwrap();
    assert_eq!(r.recovery_codes.len(), 10);
    r.recovery_codes
}

fn first_enrollment_then_only_with_a_current_factor(backend: Backend) {
    // Status, enrollment and verification share the user's rate limit (10 a minute by
    // default); this test makes more requests than that.
    let s = Server::start(backend, "\n[fleet]\nuser_per_minute = 100");
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    let st = status(&web1, "alice");
    assert!(!st.enrolled() && st.may_enroll_first, "{st:?}");
    // A confirmation code that does not match the new secret: nothing stored.
    refused(
        enroll(&web1, "alice", None, new_totp("alice", &wrong_code("alice"))),
        400,
        "confirmation_wrong",
    );
    assert!(show(&s, "alice")["totp"].is_null());
    let confirmation = code("alice", 0);
    let (st, v) = enroll(&web1, "alice", None, new_totp("alice", &confirmation));
    assert_eq!(st, 200, "{v}");
    // The confirmation's step is the watermark: that code does not also log in.
    assert!(show(&s, "alice")["totp"]["last_step"].as_u64().is_some());
    assert_eq!(verify(&s, &web2, "alice", Factor::Totp, &confirmation), Verdict::Reject);
    // The status tells the factors, never the secret.
    let req = StatusRequest {
        user: "alice".into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    let (_, raw) = web2.call("POST", STATUS, Some(serde_json::to_value(&req).unwrap()));
    assert!(!raw.to_string().contains(&secret("alice").1), "{raw}");
    let st: StatusResponse = serde_json::from_value(raw).unwrap();
    assert!(st.enrolled() && !st.may_enroll_first && st.totp.is_some(), "{st:?}");
    // From another host: no current factor, refused; a wrong one, refused and counted.
    refused(enroll(&web2, "alice", None, Change::RecoveryCodes), 403, "current_factor_required");
    refused(
        enroll(&web2, "alice", None, new_totp("alice", &code("alice", 0))),
        403,
        "current_factor_required",
    );
    let wrong = wrong_code("alice");
    refused(
        enroll(&web2, "alice", Some((Factor::Totp, &wrong)), Change::RecoveryCodes),
        403,
        "proof_rejected",
    );
    // Counted: the login with the confirmation code above, and this proof.
    assert_eq!(show(&s, "alice")["failures"], 2);
    assert_eq!(show(&s, "alice")["recovery_codes"]["unused"], 0);
    // The right current code: accepted, the count cleared, the codes returned once.
    let next = code("alice", 30);
    let codes =
        recovery_codes(enroll(&web2, "alice", Some((Factor::Totp, &next)), Change::RecoveryCodes));
    assert_eq!(show(&s, "alice")["failures"], 0);
    assert_eq!(show(&s, "alice")["recovery_codes"]["unused"], 10);
    // That code is used up: not again for enrollment, nor for a login.
    refused(
        enroll(&web1, "alice", Some((Factor::Totp, &next)), Change::RecoveryCodes),
        403,
        "proof_rejected",
    );
    assert_eq!(verify(&s, &web1, "alice", Factor::Totp, &next), Verdict::Reject);
    // Only hashes are stored, and no code or secret is in the logs.
    let (db, audit, log) = (stored(&s), s.audit_log(), s.log());
    assert!(db.contains("$argon2id$"));
    for text in [&db, &audit, &log] {
        assert!(
            codes.iter().all(|c| !text.contains(c.as_str()) && !text.contains(&c.replace('-', "")))
        );
        assert!(!text.contains(&secret("alice").1));
    }
    assert!(
        audit.contains("fleet.enroll.recovery") && audit.contains("fleet.enroll.totp"),
        "{audit}"
    );
    // Remove TOTP with a recovery code: it is used up too, here and for logins.
    let (st, v) =
        enroll(&web1, "alice", Some((Factor::Recovery, &codes[2])), Change::Remove(Factor::Totp));
    assert_eq!(st, 200, "{v}");
    assert!(show(&s, "alice")["totp"].is_null());
    assert_eq!(verify(&s, &web2, "alice", Factor::Recovery, &codes[2]), Verdict::Reject);
    assert_eq!(verify(&s, &web2, "alice", Factor::Recovery, &codes[5]), Verdict::Accept);
    assert_eq!(show(&s, "alice")["recovery_codes"]["unused"], 8);
    // Remove everything (with a recovery code): not enrolled, a first enrollment is open again.
    let (st, v) = enroll(&web2, "alice", Some((Factor::Recovery, &codes[7])), Change::RemoveAll);
    assert_eq!(st, 200, "{v}");
    let st = status(&web1, "alice");
    assert!(!st.enrolled() && st.may_enroll_first, "{st:?}");
}

fn admin_first_enrollment_needs_an_opt_in(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nfirst_enrollment = \"admin\"");
    let web1 = s.add_host("web1");
    assert!(!status(&web1, "bob").may_enroll_first);
    refused(enroll(&web1, "bob", None, Change::RecoveryCodes), 403, "not_opted_in");
    refused(enroll(&web1, "bob", None, new_totp("bob", &code("bob", 0))), 403, "not_opted_in");
    assert_eq!(show(&s, "bob")["recovery_codes"]["unused"], 0);
    admin_ok(&s, &["fleet", "user", "opt-in", "--user", "bob"]);
    assert!(status(&web1, "bob").may_enroll_first);
    let codes = recovery_codes(enroll(&web1, "bob", None, Change::RecoveryCodes));
    // Enrolled now: opted in or not, the next change needs a current factor.
    refused(enroll(&web1, "bob", None, Change::RecoveryCodes), 403, "current_factor_required");
    let (st, v) =
        enroll(&web1, "bob", Some((Factor::Recovery, &codes[0])), new_totp("bob", &code("bob", 0)));
    assert_eq!(st, 200, "{v}");
    // Opted out: another user not opted in stays refused; bob keeps his factors.
    admin_ok(&s, &["fleet", "user", "opt-in", "--user", "carl"]);
    admin_ok(&s, &["fleet", "user", "opt-out", "--user", "carl"]);
    refused(enroll(&web1, "carl", None, Change::RecoveryCodes), 403, "not_opted_in");
    assert!(status(&web1, "bob").enrolled());
    let audit = s.audit_log();
    assert!(audit.contains("fleet.user.opted_in") && audit.contains("not opted"), "{audit}");
}

fn wrong_proofs_count_towards_the_fleet_lockout(backend: Backend) {
    let s = Server::start(backend, "\n[fleet]\nmax_failures = 2\nlockout = 600");
    let (web1, web2) = (s.add_host("web1"), s.add_host("web2"));
    let (st, v) = enroll(&web1, "dora", None, new_totp("dora", &code("dora", 0)));
    assert_eq!(st, 200, "{v}");
    let wrong = wrong_code("dora");
    // One wrong proof on web1, one wrong login on web2: the lockout starts.
    refused(
        enroll(&web1, "dora", Some((Factor::Totp, &wrong)), Change::RecoveryCodes),
        403,
        "proof_rejected",
    );
    assert_eq!(verify(&s, &web2, "dora", Factor::Totp, &wrong), Verdict::Reject);
    assert!(show(&s, "dora")["locked_until"].as_u64().is_some(), "{}", show(&s, "dora"));
    assert!(status(&web2, "dora").locked_until.is_some());
    // Locked: the right code is not checked, not used up, nothing changes.
    let next = code("dora", 30);
    let before = show(&s, "dora");
    refused(
        enroll(&web2, "dora", Some((Factor::Totp, &next)), Change::Remove(Factor::Totp)),
        403,
        "locked",
    );
    assert_eq!(show(&s, "dora")["totp"], before["totp"]);
    admin_ok(&s, &["fleet", "user", "unlock", "--user", "dora"]);
    let (st, v) = enroll(&web2, "dora", Some((Factor::Totp, &next)), Change::Remove(Factor::Totp));
    assert_eq!(st, 200, "{v}");
    assert!(!status(&web1, "dora").enrolled());
}

fn garbage_oversized_replayed_and_unauthenticated_requests_change_nothing(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    let good = serde_json::to_value(enroll_req("erin", None, Change::RecoveryCodes)).unwrap();
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let bodies: Vec<Value> = vec![
        json!({}),
        with("extra", json!(1)),
        with("user", json!("-erin")),
        with("nonce", json!("short")),
        with("time", json!(1)),
        with("change", json!("password")),
        with("change", json!({"remove": "password"})),
        with(
            "change",
            json!({"totp": {"secret": "A".repeat(200), "algorithm": "SHA1", "digits": 6, "step": 30, "confirmation": "1"}}),
        ),
        with(
            "change",
            json!({"totp": {"secret": "GEZDGNBV", "algorithm": "SHA1", "digits": 6, "step": 30, "confirmation": "123456"}}),
        ),
        with(
            "change",
            json!({"totp": {"secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "algorithm": "MD5", "digits": 6, "step": 30, "confirmation": "123456"}}),
        ),
        with("proof", json!({"factor": "totp", "answer": "1".repeat(65)})),
        with("proof", json!({"factor": "password", "answer": "x"})),
    ];
    for body in &bodies {
        let r = host.raw("POST", ENROLL, Some(&serde_json::to_vec(body).unwrap()), 0);
        assert_eq!(r.status, 400, "{body}");
    }
    for path in [ENROLL, STATUS] {
        assert_eq!(host.raw("POST", path, Some(b"not json"), 0).status, 400);
        assert_eq!(host.raw("POST", path, Some(&vec![b'x'; 70 * 1024]), 0).status, 413);
        let anon = s.anon();
        let body = serde_json::to_vec(&good).unwrap();
        let r = anon.request("POST", path, &[], Some(&body), std::time::Duration::ZERO);
        assert_eq!(r.unwrap().status, 401);
    }
    assert!(!status(&host, "erin").enrolled());
    // The good request once, then replayed: refused, nothing made twice.
    let (st, v) = host.call("POST", ENROLL, Some(good.clone()));
    assert_eq!(st, 200, "{v}");
    let (st, v) = host.call("POST", ENROLL, Some(good));
    assert_eq!((st, common::code(&v)), (409, "replayed"), "{v}");
    assert_eq!(status(&host, "erin").recovery_codes, 10);
}

/// Host groups decide who may enroll: a host outside the user's groups may neither enroll a
/// first factor nor read the user's status, and spends nothing of the user's; a host inside
/// may.
fn host_groups_decide_who_may_enroll(backend: Backend) {
    let s = Server::start(backend, "");
    let db1 = s.add_host("db1");
    let web1 = s.add_host("web1");
    admin_ok(&s, &["fleet", "group", "add", "db"]);
    admin_ok(&s, &["fleet", "group", "add-host", "db", "db1"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "dba", "--authenticate", "db"]);
    let first = || new_totp("dba", &code("dba", 0));
    refused(enroll(&web1, "dba", None, first()), 403, "host_not_allowed");
    let req = StatusRequest {
        user: "dba".into(),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    };
    refused(
        web1.call("POST", STATUS, Some(serde_json::to_value(&req).unwrap())),
        403,
        "host_not_allowed",
    );
    let v = show(&s, "dba");
    assert!(v["totp"].is_null() && v["failures"] == 0, "{v}");
    assert!(s.audit_log().contains("host not in the user's host groups"));
    let (st, v) = enroll(&db1, "dba", None, first());
    assert_eq!(st, 200, "{v}");
    assert!(status(&db1, "dba").enrolled());
}

on_both_backends!(
    first_enrollment_then_only_with_a_current_factor,
    admin_first_enrollment_needs_an_opt_in,
    wrong_proofs_count_towards_the_fleet_lockout,
    garbage_oversized_replayed_and_unauthenticated_requests_change_nothing,
    host_groups_decide_who_may_enroll,
);
