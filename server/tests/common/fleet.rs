//! Fleet-mode helpers shared by the fleet test files: admin calls, a known TOTP secret, and
//! verification requests checked as the module checks them.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use super::{Host, Server};
use mfa_factors::totp::{self, Params};
use push_proto::fleet::{Factor, Verdict, VerifyRequest, VerifyResponse};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// RFC 6238's SHA-1 test key, base32.
pub const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
pub const SECRET: &[u8] = b"12345678901234567890";

/// The `[fleet]` table after `[limits]`.
pub fn fleet_limits(body: &str) -> String {
    format!("\n[fleet]\n{body}")
}

pub fn private_file(s: &Server, name: &str, text: &str) -> PathBuf {
    let path = s.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

pub fn admin_ok(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = s.admin(args);
    assert!(ok, "{args:?}: {out} {err}");
    out
}

/// An admin command that must fail; its stderr.
pub fn admin_err(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = s.admin(args);
    assert!(!ok, "{args:?} succeeded: {out}");
    err
}

pub fn admin_json(s: &Server, args: &[&str]) -> Value {
    let out = admin_ok(s, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

pub fn set_totp(s: &Server, user: &str) {
    let f = private_file(s, "totp.b32", SECRET_B32);
    let out = admin_ok(
        s,
        &["fleet", "user", "set-totp", "--user", user, "--secret-file", f.to_str().unwrap()],
    );
    assert!(!out.contains(SECRET_B32), "{out}");
}

pub fn show(s: &Server, user: &str) -> Value {
    admin_json(s, &["fleet", "user", "show", "--user", user, "--json"])
}

pub fn current_code() -> String {
    totp::code_at(SECRET, &Params::default(), mfa_server::time::now()).to_string()
}

/// A code that is none of the window's (wrong for sure).
pub fn wrong_code() -> String {
    let now = mfa_server::time::now();
    let window: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp::code_at(SECRET, &Params::default(), *t).to_string())
        .collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !window.contains(c)).unwrap()
}

pub fn request(user: &str, factor: Factor, answer: &str) -> VerifyRequest {
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
pub fn send(host: &Host, req: &VerifyRequest) -> (u16, Value) {
    host.call("POST", "/v2/fleet/verify", Some(serde_json::to_value(req).unwrap()))
}

/// Sends `req` and checks the receipt as the module will; returns the verdict.
pub fn verify(s: &Server, host: &Host, req: &VerifyRequest) -> Verdict {
    let (st, v) = send(host, req);
    assert_eq!(st, 200, "{v}\n{}", s.log());
    let r: VerifyResponse = serde_json::from_value(v).unwrap();
    r.receipt.check(&s.service_key().public(), &host.cred.host_id, req).unwrap()
}
