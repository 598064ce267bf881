//! Fleet mode when the service hangs (issue 20): the real pam_mfa.so through the real libpam
//! against the real service over TLS, stopped with SIGSTOP so that connections are accepted by
//! the kernel and never answered. `failmode` decides within the configured timeouts; a service
//! that answers is obeyed even with `failmode = "open"` (an outage may open, a refusal never).

use mfa_login::totp::{self, Params};
use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;
use mfa_tests::push::{Backend, PushService};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// RFC 6238's SHA-1 test key, base32.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";

/// The hosts' timeouts (seconds): connecting, then each read or write.
const CONNECT_TIMEOUT: u64 = 1;
const IO_TIMEOUT: u64 = 2;

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Params::default(), t).to_string()
}

fn now() -> u64 {
    mfa_tests::fixture::now()
}

/// A host whose every login goes through the fleet, with `failmode`.
fn host(svc: &PushService, name: &str, failmode: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let extra = format!(
        "connect_timeout = {CONNECT_TIMEOUT}\nio_timeout = {IO_TIMEOUT}\nfailmode = \"{failmode}\""
    );
    let section = svc.push_section(&credential, &extra).replacen("[push]", "[fleet]", 1);
    f.write_config(&format!("{section}\n[[rule]]\nbackend = \"fleet\"\n"));
    f
}

#[test]
fn a_service_that_hangs_honours_failmode_within_the_timeouts() {
    let svc = PushService::start_on(Backend::Sqlite, "");
    let closed = host(&svc, "host-c", "closed");
    let open = host(&svc, "host-o", "open");
    let file = closed.root.join("secret.b32");
    std::fs::write(&file, SECRET_B32).expect("secret file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = svc.admin(&[
        "fleet",
        "user",
        "set-totp",
        "--user",
        "alice",
        "--secret-file",
        file.to_str().expect("UTF-8 path"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    svc.pause(true);
    // A login waits for at most the connect timeout plus one read timeout (the TLS handshake
    // never gets an answer), plus the time to start the client and load the module: the
    // bound below leaves it 3 s for that, so a client that waited for the hanging service
    // twice, or forever, fails.
    let bound = Duration::from_secs(CONNECT_TIMEOUT + IO_TIMEOUT + 3);
    for (f, want) in [(&closed, PAM_AUTHINFO_UNAVAIL), (&open, PAM_SUCCESS)] {
        let start = Instant::now();
        let o = f.login("alice", &[&code_at(now())]);
        let took = start.elapsed();
        assert_eq!(o.code, want, "{o:?}");
        assert!(took < bound, "the login waited {took:?} for a hanging service");
        eprintln!("hanging service: decided in {took:?}");
    }
    svc.pause(false);

    // Answering again: its refusal is obeyed even by the failmode = "open" host, and a right
    // code is accepted.
    let wrong = (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| [now() - 30, now(), now() + 30].iter().all(|t| code_at(*t) != *c));
    let o = open.login("alice", &[&wrong.expect("a wrong code")]);
    assert_eq!(o.code, PAM_AUTH_ERR, "a refusal must never fail open: {o:?}");
    let o = open.login("alice", &[&code_at(now())]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}
