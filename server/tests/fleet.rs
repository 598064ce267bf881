//! Fleet mode, first slice (issue 20), against the real service over TLS on both databases:
//! TOTP codes and recovery codes verified by the service, each accepted once, wrong answers
//! adding up to one lockout, receipts the host checks with push-proto, garbage, oversized and
//! replayed requests refused without changing state; one code sent by 20 parallel requests
//! from three hosts over two instances on one PostgreSQL accepted exactly once, over
//! `MFA_FLEET_RACE_TRIALS` trials (default 50); an instance killed (SIGKILL) in the middle of
//! such a race accepts nothing twice and loses no record.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::{Backend, Host, Server};
use mfa_factors::recovery::RecoveryCodes;
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, FleetReceipt, Verdict, VerifyRequest, VerifyResponse};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// RFC 6238's SHA-1 test key, base32.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";

/// The `[fleet]` table after `[limits]`.
fn fleet_limits(body: &str) -> String {
    format!("\n[fleet]\n{body}")
}

fn private_file(s: &Server, name: &str, text: &str) -> PathBuf {
    let path = s.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn admin_ok(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = s.admin(args);
    assert!(ok, "{args:?}: {out} {err}");
    out
}

fn set_totp(s: &Server, user: &str) {
    let f = private_file(s, "totp.b32", SECRET_B32);
    let out = admin_ok(
        s,
        &["fleet", "user", "set-totp", "--user", user, "--secret-file", f.to_str().unwrap()],
    );
    assert!(!out.contains(SECRET_B32), "{out}");
}

fn show(s: &Server, user: &str) -> Value {
    serde_json::from_str(&admin_ok(s, &["fleet", "user", "show", "--user", user, "--json"]))
        .unwrap()
}

fn current_code() -> String {
    totp::code_at(SECRET, &Params::default(), mfa_server::time::now()).to_string()
}

/// A code that is none of the window's (wrong for sure).
fn wrong_code() -> String {
    let now = mfa_server::time::now();
    let window: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp::code_at(SECRET, &Params::default(), *t).to_string())
        .collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !window.contains(c)).unwrap()
}

fn request(user: &str, factor: Factor, answer: &str) -> VerifyRequest {
    VerifyRequest {
        user: user.into(),
        factor,
        answer: answer.into(),
        service: "sshd".into(),
        rhost: Some("192.0.2.7".into()),
        time: mfa_server::time::now(),
        nonce: push_proto::random_token(32).unwrap(),
    }
}

/// Sends `req`; (HTTP status, body).
fn send(host: &Host, req: &VerifyRequest) -> (u16, Value) {
    host.call("POST", "/v2/fleet/verify", Some(serde_json::to_value(req).unwrap()))
}

/// Sends `req` and checks the receipt as the module will; returns the verdict.
fn verify(s: &Server, host: &Host, req: &VerifyRequest) -> Verdict {
    let (st, v) = send(host, req);
    assert_eq!(st, 200, "{v}\n{}", s.log());
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, req).unwrap()
}

fn right_code_accepted_once_then_refused(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    set_totp(&s, "alice");
    let code = current_code();
    let first = request("alice", Factor::Totp, &code);
    assert_eq!(verify(&s, &host, &first), Verdict::Accept);
    // The same code in a new request (new nonce): used before.
    assert_eq!(verify(&s, &host, &request("alice", Factor::Totp, &code)), Verdict::Reject);
    // The very same request again: its nonce is spent, nothing is counted.
    let before = show(&s, "alice");
    let (st, v) = send(&host, &first);
    assert_eq!((st, common::code(&v)), (409, "replayed"), "{v}");
    assert_eq!(show(&s, "alice")["failures"], before["failures"]);
    assert!(show(&s, "alice")["totp"]["last_step"].as_u64().is_some());
    // No code, the factor or the secret in the audit log or the service's output.
    let audit = s.audit_log();
    assert!(audit.contains("fleet.verify.totp") && audit.contains("accepted"), "{audit}");
    for text in [audit, s.log()] {
        assert!(!text.contains(&code) && !text.contains(SECRET_B32));
    }
    // A user without TOTP is refused.
    assert_eq!(verify(&s, &host, &request("bob", Factor::Totp, &code)), Verdict::Reject);
}

fn wrong_codes_add_up_to_a_lockout(backend: Backend) {
    let s = Server::start(backend, &fleet_limits("max_failures = 3\nlockout = 600"));
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    set_totp(&s, "carol");
    // Wrong codes from two hosts count towards one lockout.
    for (i, host) in [&web1, &web2, &web1].into_iter().enumerate() {
        let verdict = verify(&s, host, &request("carol", Factor::Totp, &wrong_code()));
        assert_eq!(verdict, Verdict::Reject, "attempt {i}");
    }
    assert!(show(&s, "carol")["locked_until"].as_u64().is_some(), "{}", show(&s, "carol"));
    // Locked: even the right code is not checked, and not used up.
    let code = current_code();
    assert_eq!(verify(&s, &web2, &request("carol", Factor::Totp, &code)), Verdict::Locked);
    assert!(show(&s, "carol")["totp"]["last_step"].is_null());
    admin_ok(&s, &["fleet", "user", "unlock", "--user", "carol"]);
    assert_eq!(verify(&s, &web2, &request("carol", Factor::Totp, &code)), Verdict::Accept);
    assert_eq!(show(&s, "carol")["failures"], 0);
    assert!(s.audit_log().contains("lockout started"));
}

fn recovery_codes_are_single_use(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    let (codes, set) = RecoveryCodes::generate(mfa_server::time::now()).unwrap();
    let f = private_file(&s, "recovery.json", &serde_json::to_string(&set).unwrap());
    let out = admin_ok(
        &s,
        &["fleet", "user", "set-recovery", "--user", "dave", "--hashes-file", f.to_str().unwrap()],
    );
    assert!(codes.iter().all(|c| !out.contains(c.as_str())), "{out}");
    let code = codes[3].to_string();
    // As a TOTP code it is wrong (no TOTP for dave).
    assert_eq!(verify(&s, &web1, &request("dave", Factor::Totp, &code)), Verdict::Reject);
    assert_eq!(verify(&s, &web1, &request("dave", Factor::Recovery, &code)), Verdict::Accept);
    // Used on web1, refused on web2 and on web1.
    assert_eq!(verify(&s, &web2, &request("dave", Factor::Recovery, &code)), Verdict::Reject);
    assert_eq!(verify(&s, &web1, &request("dave", Factor::Recovery, &code)), Verdict::Reject);
    assert_eq!(
        verify(&s, &web2, &request("dave", Factor::Recovery, "3-AAAAA-AAAAA")),
        Verdict::Reject
    );
    // Another code of the set still works (typed in lower case without dashes).
    let other = codes[7].to_lowercase().replace('-', "");
    assert_eq!(verify(&s, &web2, &request("dave", Factor::Recovery, &other)), Verdict::Accept);
    assert_eq!(show(&s, "dave")["recovery_codes"], json!({"unused": 8, "used": 2}));
    let audit = s.audit_log();
    assert!(codes.iter().all(|c| !audit.contains(c.as_str())));
}

fn receipts_bind_host_user_and_nonce(backend: Backend) {
    let s = Server::start(backend, "");
    let web1 = s.add_host("web1");
    let web2 = s.add_host("web2");
    set_totp(&s, "erin");
    let req = request("erin", Factor::Totp, &current_code());
    let (st, v) = send(&web1, &req);
    assert_eq!(st, 200, "{v}");
    let receipt: FleetReceipt = serde_json::from_value(v["receipt"].clone()).unwrap();
    let key = s.service_key().public();
    assert_eq!(receipt.check(&key, &web1.cred.host_id, &req), Ok(Verdict::Accept));
    // Another host, user, nonce or factor: refused.
    assert!(receipt.check(&key, &web2.cred.host_id, &req).is_err());
    let mut other = req.clone();
    other.user = "frank".into();
    assert!(receipt.check(&key, &web1.cred.host_id, &other).is_err());
    let mut other = req.clone();
    other.nonce = push_proto::random_token(32).unwrap();
    assert!(receipt.check(&key, &web1.cred.host_id, &other).is_err());
    let mut other = req.clone();
    other.factor = Factor::Recovery;
    assert!(receipt.check(&key, &web1.cred.host_id, &other).is_err());
    // Another service key (a service the host does not pin): refused.
    let stranger = push_proto::SecretKey::generate().unwrap().public();
    assert!(receipt.check(&stranger, &web1.cred.host_id, &req).is_err());
}

fn garbage_oversized_and_unauthenticated_requests_change_nothing(backend: Backend) {
    let s = Server::start(backend, "");
    let host = s.add_host("web1");
    set_totp(&s, "gina");
    let before = show(&s, "gina");
    let good = serde_json::to_value(request("gina", Factor::Totp, "123456")).unwrap();
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let mut unknown = good.clone();
    unknown["extra"] = json!(1);
    let bodies: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"{}".to_vec(),
        serde_json::to_vec(&unknown).unwrap(),
        serde_json::to_vec(&with("answer", json!("1".repeat(65)))).unwrap(),
        serde_json::to_vec(&with("answer", json!(""))).unwrap(),
        serde_json::to_vec(&with("answer", json!("12\n3456"))).unwrap(),
        serde_json::to_vec(&with("nonce", json!("short"))).unwrap(),
        serde_json::to_vec(&with("user", json!("-gina"))).unwrap(),
        serde_json::to_vec(&with("factor", json!("password"))).unwrap(),
        serde_json::to_vec(&with("time", json!(1))).unwrap(),
        serde_json::to_vec(&with("time", json!(u64::MAX))).unwrap(),
    ];
    for body in &bodies {
        let r = host.raw("POST", "/v2/fleet/verify", Some(body), 0);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    let big = vec![b'x'; 70 * 1024];
    assert_eq!(host.raw("POST", "/v2/fleet/verify", Some(&big), 0).status, 413);
    // Without the host's token.
    let anon = s.anon();
    let body = serde_json::to_vec(&good).unwrap();
    let r = anon.request("POST", "/v2/fleet/verify", &[], Some(&body), std::time::Duration::ZERO);
    assert_eq!(r.unwrap().status, 401);
    let bad = [("authorization", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    let r = anon.request("POST", "/v2/fleet/verify", &bad, Some(&body), std::time::Duration::ZERO);
    assert_eq!(r.unwrap().status, 401);
    assert_eq!(show(&s, "gina"), before, "a refused request changed the user's state");
    // And the right code still works.
    assert_eq!(verify(&s, &host, &request("gina", Factor::Totp, &current_code())), Verdict::Accept);
}

fn a_master_key_that_does_not_open_the_secret_is_a_service_error(backend: Backend) {
    let mut s = Server::start(backend, "");
    let host = s.add_host("web1");
    set_totp(&s, "hank");
    let key = s.root.join("data/fleet.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The database alone does not hold the key: with a new key file the secret is unreadable.
    std::fs::remove_file(&key).unwrap();
    s.restart();
    let (st, v) = send(&host, &request("hank", Factor::Totp, &current_code()));
    assert_eq!(st, 500, "{v}");
    assert!(s.audit_log().contains("does not open with the master key"));
    assert!(show(&s, "hank")["locked_until"].is_null());
}

on_both_backends!(
    right_code_accepted_once_then_refused,
    wrong_codes_add_up_to_a_lockout,
    recovery_codes_are_single_use,
    receipts_bind_host_user_and_nonce,
    garbage_oversized_and_unauthenticated_requests_change_nothing,
    a_master_key_that_does_not_open_the_secret_is_a_service_error,
);

/// Limits that stay out of the race's way: it tests single use, not the rate limit or lockout
/// (20 parallel attempts would otherwise lock the user).
const RACE_LIMITS: &str = "\n[fleet]\nmax_failures = 1000\nuser_per_minute = 1000\n\
                           host_per_minute = 1000000";

fn trials() -> usize {
    std::env::var("MFA_FLEET_RACE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(50)
}

/// One code, 20 parallel requests spread over `hosts` (each a client of an instance); returns
/// how many were accepted.
fn race(s: &Server, hosts: &[Host], user: &str) -> usize {
    let code = current_code();
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let host = &hosts[i % hosts.len()];
                let code = &code;
                sc.spawn(move || verify(s, host, &request(user, Factor::Totp, code)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|v| *v == Verdict::Accept).count()
    })
}

/// Three hosts (three credentials), clients of instance `a`, `b`, `a`.
fn three_hosts_over(a: &Server, b: &Server) -> [Host; 3] {
    let web1 = a.add_host("web1");
    let web2 = a.add_host("web2");
    let web3 = a.add_host("web3");
    [web1, Host { client: b.anon(), cred: web2.cred }, web3]
}

#[test]
fn one_code_raced_over_three_hosts_and_two_postgres_instances_is_accepted_once() {
    let a = Server::start(Backend::Postgres, RACE_LIMITS);
    let b = a.second_instance(RACE_LIMITS);
    let hosts = three_hosts_over(&a, &b);
    for t in 0..trials() {
        let user = format!("race{t}");
        set_totp(&a, &user);
        let accepted = race(&a, &hosts, &user);
        assert_eq!(accepted, 1, "trial {t}: {accepted} accepted\n{}\n{}", a.log(), b.log());
    }
    // Both instances decided (and accepted) some of them.
    for s in [&a, &b] {
        let audit = s.audit_log();
        assert!(audit.contains("fleet.verify.totp") && audit.contains("\"accepted\""), "{audit}");
    }
}

#[test]
fn one_code_raced_on_one_sqlite_instance_is_accepted_once() {
    let s = Server::start(Backend::Sqlite, RACE_LIMITS);
    let hosts = [s.add_host("web1")];
    for t in 0..trials().min(10) {
        let user = format!("race{t}");
        set_totp(&s, &user);
        assert_eq!(race(&s, &hosts, &user), 1, "trial {t}");
    }
}

/// Sends `req` from `host`, checking a receipt as the module does; `None` when no reply came
/// (the instance died).
fn try_verify(s: &Server, host: &Host, req: &VerifyRequest) -> Option<Verdict> {
    let body = serde_json::to_vec(req).unwrap();
    let auth = format!("Bearer {}", host.cred.token);
    let r = host
        .client
        .request(
            "POST",
            "/v2/fleet/verify",
            &[("authorization", &auth)],
            Some(&body),
            Default::default(),
        )
        .ok()?;
    // A reply cut off by the kill is no reply; anything else must be a well-formed one.
    let r: VerifyResponse = match r.status {
        200 => serde_json::from_slice(&r.body).ok()?,
        st => panic!("status {st}: {}", String::from_utf8_lossy(&r.body)),
    };
    Some(r.receipt.check(&s.service_key().public(), &host.cred.host_id, req).unwrap())
}

#[test]
fn an_instance_killed_mid_verification_accepts_nothing_twice_and_loses_no_record() {
    let a = Server::start(Backend::Postgres, RACE_LIMITS);
    let mut b = a.second_instance(RACE_LIMITS);
    let hosts = three_hosts_over(&a, &b);
    let (mut accepted_total, mut answered_by_b) = (0, 0);
    for t in 0..20u64 {
        let user = format!("crash{t}");
        set_totp(&a, &user);
        let code = current_code();
        let (verdicts, killed_after) = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let (host, code, user, s) = (&hosts[i % 3], &code, &user, &a);
                    sc.spawn(move || try_verify(s, host, &request(user, Factor::Totp, code)))
                })
                .collect();
            // SIGKILL instance b a little later each trial: before, during and after its
            // transactions.
            std::thread::sleep(std::time::Duration::from_millis(t * 6));
            b.kill();
            let v: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (v, t * 6)
        });
        let accepted = verdicts.iter().filter(|v| **v == Some(Verdict::Accept)).count();
        assert!(accepted <= 1, "trial {t} (kill after {killed_after} ms): {verdicts:?}");
        accepted_total += accepted;
        answered_by_b += verdicts.iter().skip(1).step_by(3).filter(|v| v.is_some()).count();
        b.serve();
        // Whatever happened, the code is used at most once more: never accepted again now.
        assert_eq!(
            try_verify(&a, &hosts[1], &request(&user, Factor::Totp, &code)),
            Some(Verdict::Reject)
        );
        // And the record survived: the next step's code is accepted, once, on either instance.
        let next = totp::code_at(SECRET, &Params::default(), mfa_server::time::now() + 30);
        assert_eq!(
            try_verify(&a, &hosts[(t % 3) as usize], &request(&user, Factor::Totp, next.as_ref())),
            Some(Verdict::Accept),
            "trial {t}: {}",
            b.log()
        );
    }
    // Instance a answered some races, and b was killed before, during and after its
    // transactions (from 0 to 114 ms into the race): the test is not vacuous.
    assert!(accepted_total >= 1, "no trial accepted the code at all");
    assert!(answered_by_b >= 1, "b never answered before being killed: kill later");
}
