//! Regression tests for findings 3, 6, 7 and 9 of the outside review (issue 15), each running
//! the attack: a helper caller recording state it may not, a security key offered to a remote
//! login, a stopped helper holding a user's lock, a remote host that is not UTF-8.
//! (Finding 1 is in `hostile_caller.rs`, 2 and 8 in `user_aliases.rs` and
//! `directory_lookups.rs`, 4 in `privacyidea.rs`.)

use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, Outcome};
use mfa_tests::sandbox::Sandbox;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

const UID: u32 = 4270;
const NAME: &str = "deskuser";

fn sandbox(extra: &str) -> (Sandbox, std::path::PathBuf) {
    let s = Sandbox::new();
    s.add_user(NAME, UID, Some("unused password"));
    let helper = s.install_helper();
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(s.dir.join("etc.upper/pam.d/locker"), "auth required pam_mfa.so\n")
        .expect("write");
    s.configure(&format!(
        "helper = \"{}\"\nhelper_services = [\"locker\"]\n{extra}",
        helper.display()
    ));
    (s, helper)
}

/// Finding 3: with `first_enrollment = "admin"`, a login through the helper (where nothing
/// proves who is at the keyboard) must not record anything: no enrollment menu, no skip, no
/// opt-out, even where the configuration says `enrollment = "on-login"`.
#[test]
fn a_helper_login_cannot_record_enrollment_state_when_first_enrollment_is_admin() {
    let (s, _) =
        sandbox("first_enrollment = \"admin\"\nenrollment = \"on-login\"\nallow_opt_out = true\n");
    for choice in ["2", "3", "1"] {
        let o = s.login_as(UID, "locker", NAME, &["--answer", choice, "--answer", ""]);
        assert_ne!(o.code, PAM_SUCCESS, "{choice}: {o:?}");
        assert_ne!(o.code, PAM_IGNORE, "{choice}: {o:?}");
        assert!(
            !o.messages.iter().any(|(_, m)| m.contains("not set up for your account")),
            "{choice}: the menu was offered: {o:?}"
        );
        assert!(!s.dir.join("state/users").join(NAME).exists(), "{choice}: a record was made");
    }
}

/// Finding 7: the caller of the setuid helper cannot stop it (it runs as root in every uid),
/// so it cannot hold the user's lock forever; and a lock held too long (by anything) makes a
/// login give up after `[store] lock_wait` with a clear message instead of hanging.
#[test]
fn the_helper_cannot_be_stopped_by_its_caller_and_a_held_lock_is_waited_for_boundedly() {
    let (s, helper) = sandbox("");
    let _ = s.enroll(NAME);
    let script = format!(
        "coproc H {{ exec {helper}; }}\n\
         echo '{{\"login\":{{\"pam_user\":\"{NAME}\",\"service\":\"locker\",\"remote\":false,\"silent\":false,\"args\":[]}}}}' >&${{H[1]}}\n\
         read -r a <&${{H[0]}}; read -r b <&${{H[0]}}; echo \"$b\"\n\
         if kill -STOP $H_PID 2>/dev/null; then echo STOPPED; kill -CONT $H_PID; else echo REFUSED; fi\n\
         eval \"exec ${{H[1]}}>&-\"; wait $H_PID || true\n",
        helper = helper.display()
    );
    let out = s.run_as(UID, Path::new("/bin/bash"), &["-c", &script], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("prompt_secret"), "the helper was at its prompt: {out:?}");
    assert!(text.contains("REFUSED") && !text.contains("STOPPED"), "{out:?}");

    // Someone holds the user's lock (as a stopped login would): the login gives up.
    let cfg = s.config_path();
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text = text.replace("[store]\n", "[store]\nlock_wait = 1\n");
    std::fs::write(&cfg, text).expect("config");
    let store = Store::open(&mfa_login::config::StoreConfig {
        state_dir: s.dir.join("state"),
        master_key: s.dir.join("master.key"),
        lock_wait: 10,
    })
    .expect("store");
    let held = store.lock(&UserName::parse(NAME).expect("name")).expect("lock");
    let o = s.login("locker", NAME, &["--answer", "123456"]);
    drop(held);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(o.messages.iter().any(|(_, m)| m.contains("Another login of your account")), "{o:?}");
}

/// Finding 9: a `PAM_RHOST` that is not UTF-8 is a remote host, and matches no rule: it does
/// not get a rule for local logins.
#[test]
fn a_remote_host_that_is_not_utf8_is_remote() {
    let f = Fixture::with_config("[[rule]]\nrhost = [\"local\"]\nexempt = true\n");
    let _ = f.enroll("alice");
    // A local login is exempt (not asked)...
    let o = f.login("alice", &[]);
    assert!(o.messages.is_empty(), "{o:?}");
    // ...a remote one with a host name that is not UTF-8 is asked for its code.
    let o = f.login_with("mfa", "alice", &["000000"], &["--rhost-hex", "fffe31302e302e302e31"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert_eq!(o.messages, vec![(PAM_PROMPT_ECHO_OFF, "Verification code: ".to_string())]);
}

fn key_fixture() -> (Fixture, std::path::PathBuf) {
    let f = Fixture::new();
    let key = f.root.join("key.json");
    f.write_config(&format!(
        "[fido2]\nrp_id = \"pam://test-host\"\ntest_device = \"{}\"\n",
        key.display()
    ));
    (f, key)
}

fn register(f: &Fixture, user: &str) {
    let mut child = f
        .enroll_tool(&["--user", user, "fido2", "--name", "desk-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mfa-enroll");
    child.stdin.take().expect("stdin").write_all(b"").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn touched(o: &Outcome) -> bool {
    o.messages.iter().any(|(_, m)| m.starts_with("Touch your security key now"))
}

/// Finding 6: over SSH (a remote host), or from a session logind calls remote (sudo inside an
/// SSH session), Enter must not ask the key plugged into this computer; at the local seat it
/// does.
#[test]
fn security_keys_are_offered_only_at_the_local_seat() {
    let (f, _key) = key_fixture();
    register(&f, "alice");
    let at_desk = f.login_with("mfa", "alice", &[""], &["--session", "local"]);
    assert_eq!(at_desk.code, PAM_SUCCESS, "{at_desk:?}");
    assert!(touched(&at_desk));
    for (name, extra) in [
        ("ssh", vec!["--session", "remote", "--rhost", "192.0.2.7"]),
        ("sudo inside ssh", vec!["--session", "remote"]),
        ("rhost set at the desk", vec!["--session", "local", "--rhost", "192.0.2.7"]),
        ("no login session", vec!["--session", "none", "--tty", "/dev/pts/4"]),
    ] {
        let o = f.login_with("mfa", "alice", &[""], &extra);
        assert_ne!(o.code, PAM_SUCCESS, "{name}: {o:?}");
        assert!(!touched(&o), "{name}: the key was asked: {o:?}");
        assert_eq!(o.messages[0].1, "Verification code: ", "{name}: a code instead: {o:?}");
    }
    // Only a key, no codes: refused away from the seat, with a message saying why.
    let store = Store::open(&f.config().store).expect("store");
    let name = UserName::parse("alice").expect("name");
    let lock = store.lock(&name).expect("lock");
    let mut r = lock.load().expect("load").expect("record");
    r.recovery = None;
    r.totp = None;
    lock.save(&r).expect("save");
    drop(lock);
    let o = f.login_with("mfa", "alice", &[""], &["--session", "remote"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(!touched(&o));
    assert!(o.messages.iter().any(|(_, m)| m.contains("only at this computer")), "{o:?}");
}
