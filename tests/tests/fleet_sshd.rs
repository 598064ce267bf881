//! Fleet mode with a host behind real OpenSSH (issue 20): three hosts with their own
//! credentials and configurations against the real service over TLS on loopback; host A is a
//! real `sshd` (the repository's PAM and sshd configuration, keyboard-interactive through the
//! real `ssh` client), hosts B and C the real module through libpam. The user's factors live
//! only at the service: a code or recovery code used over SSH on A is refused on B, the next
//! one works on C, and wrong answers on the three hosts add up to one fleet-wide lockout.

use mfa_login::recovery::RecoveryCodes;
use mfa_login::totp::{self, Params};
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};
use mfa_tests::sandbox::Sshd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// RFC 6238's SHA-1 test key, base32.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";
const COMMAND: &str = "echo ok-$((6*7))";
/// The user `Sshd` authorizes (it exists only inside its sandbox).
const USER: &str = "mfauser";

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Params::default(), t).to_string()
}

/// The `[fleet]` table and a rule sending every login through it.
fn fleet_config(svc: &PushService, credential: &Path) -> String {
    let section = svc.push_section(credential, "").replacen("[push]", "[fleet]", 1);
    format!("{section}\n[[rule]]\nbackend = \"fleet\"\n")
}

/// A host through libpam with its own fixture and credential.
fn host(svc: &PushService, name: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    f.write_config(&fleet_config(svc, &credential));
    f
}

/// A private file with `text` for the admin CLI.
fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn admin_ok(svc: &PushService, args: &[&str]) {
    let out = svc.admin(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn three_hosts_one_behind_sshd_share_the_users_factors_and_each_answer_is_used_once() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nmax_failures = 3\nlockout = 600");
    let dir = tempfile::tempdir().expect("tempdir");
    let credential_a = dir.path().join("host-a.json");
    svc.add_host("host-a", &credential_a);
    let a = Sshd::start(&fleet_config(&svc, &credential_a));
    let b = host(&svc, "host-b");
    let c = host(&svc, "host-c");
    let secret = private_file(dir.path(), "secret.b32", SECRET_B32);
    let secret = secret.to_str().expect("UTF-8 path");
    admin_ok(&svc, &["fleet", "user", "set-totp", "--user", USER, "--secret-file", secret]);
    let (codes, set) = RecoveryCodes::generate(now()).expect("recovery codes");
    let hashes = serde_json::to_string(&set).expect("JSON");
    let hashes = private_file(dir.path(), "recovery.json", &hashes);
    let hashes = hashes.to_str().expect("UTF-8 path");
    admin_ok(&svc, &["fleet", "user", "set-recovery", "--user", USER, "--hashes-file", hashes]);

    // A code over SSH on A; the same code on B is refused; the next step's code works on C.
    wait_for_step_margin(30, 5);
    let code = code_at(now());
    let run = a.ssh(&a.key(), &code, "", COMMAND);
    assert!(run.ok, "fleet login over ssh: {run:?}\n{}\n{}", a.log(), svc.log());
    assert_eq!(run.stdout.trim(), "ok-42");
    assert!(run.prompts[0].ends_with("Verification code: "), "{:?}", run.prompts);
    assert_eq!(b.login(USER, &[&code]).code, PAM_AUTH_ERR, "a code used on A, on B");
    let o = c.login(USER, &[&code_at(now() + 30)]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    // No host holds a record of the user.
    assert!(!b.user_file(USER).exists() && !c.user_file(USER).exists());

    // A recovery code over SSH on A: refused afterwards on B (and on A), another one works on B.
    let run = a.ssh(&a.key(), &codes[0], "", COMMAND);
    assert!(run.ok, "recovery code over ssh: {run:?}");
    assert_eq!(b.login(USER, &[&codes[0]]).code, PAM_AUTH_ERR);
    assert!(!a.ssh(&a.key(), &codes[0], "", COMMAND).ok);
    assert_eq!(b.login(USER, &[&codes[1]]).code, PAM_SUCCESS);

    // Wrong answers (the success just cleared the count): one on each host locks the user
    // everywhere (max_failures = 3), even with a right answer.
    let wrong = (0..)
        .map(|n| format!("{n:06}"))
        .find(|w| [now() - 30, now(), now() + 30].iter().all(|t| code_at(*t) != *w))
        .expect("a wrong code");
    assert!(!a.ssh(&a.key(), &wrong, "", COMMAND).ok);
    assert_eq!(b.login(USER, &[&wrong]).code, PAM_AUTH_ERR);
    assert_eq!(c.login(USER, &[&wrong]).code, PAM_AUTH_ERR);
    let o = b.login(USER, &[&codes[2]]);
    assert_eq!(o.code, PAM_AUTH_ERR, "locked fleet-wide: {o:?}");
    assert!(o.messages.iter().any(|(_, m)| m.contains("locked")), "{o:?}");
    assert!(!a.ssh(&a.key(), &codes[3], "", COMMAND).ok, "locked over ssh too");
    assert!(svc.audit_log().contains("lockout started"), "{}", svc.audit_log());
}
