//! Without root: a screen locker (a PAM client running as the user) and `mfa-enroll` reach the
//! user's own state only through the setuid helper, installed setuid root in the sandbox.

use mfa_tests::client::*;
use mfa_tests::fixture::{Outcome, client_path, now, oathtool, wait_for_step_margin};
use mfa_tests::sandbox::{Sandbox, enroll_tool};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const LOCKER: u32 = 4250;
const OTHER: u32 = 4251;

const PASSWORD: &str = "screen lock pass";

fn sandbox(extra: &str) -> Sandbox {
    let s = Sandbox::new();
    s.add_user("lockuser", LOCKER, Some(PASSWORD));
    s.add_user("alice", OTHER, None);
    let helper = s.install_helper();
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("test step");
    std::fs::write(s.dir.join("etc.upper/pam.d/locker"), "auth required pam_mfa.so\n")
        .expect("test step");
    s.configure(&format!(
        "helper = \"{}\"\nhelper_services = [\"locker\", \"xscreensaver\"]\n{extra}",
        helper.display()
    ));
    s
}

#[test]
fn screen_locker_verifies_its_own_user_through_the_helper() {
    let s = sandbox("[lockout]\nmax_failures = 3\nfail_delay_ms = 0\n");
    let e = s.enroll("lockuser");
    wait_for_step_margin(30, 5);
    let code = e.code_now();
    let o = s.login_as(LOCKER, "locker", "lockuser", &["--answer", &code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(o.messages, vec![(PAM_PROMPT_ECHO_OFF, "Verification code: ".to_string())]);
    assert_eq!(
        s.login_as(LOCKER, "locker", "lockuser", &["--answer", &code]).code,
        PAM_AUTH_ERR,
        "replay"
    );

    // Wrong codes through the helper count towards the same lockout as the module's.
    for _ in 0..3 {
        assert_eq!(
            s.login_as(LOCKER, "locker", "lockuser", &["--answer", "000000"]).code,
            PAM_AUTH_ERR
        );
    }
    let o = s.login(
        "locker",
        "lockuser",
        &["--answer", &oathtool(&e.secret, "SHA1", 6, 30, now() + 30)],
    );
    assert_eq!(o.code, PAM_AUTH_ERR, "root-side login sees the helper's lockout: {o:?}");
    assert!(o.decision_lines()[0].contains("locked"), "{:?}", o.syslog);
}

#[test]
fn the_helper_never_acts_on_another_user() {
    let s = sandbox("");
    let alice = s.enroll("alice");
    let record = s.dir.join("state/users/alice");
    let before = std::fs::read(&record).expect("test step");
    let o = s.login_as(LOCKER, "locker", "alice", &["--answer", &alice.code_now()]);
    assert_ne!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(std::fs::read(&record).expect("test step"), before, "alice's record untouched");
}

#[test]
fn the_helper_refuses_hostile_input_with_a_clear_error() {
    let s = sandbox("");
    let helper = s.dir.join("bin/mfa-helper");
    let huge = vec![b'x'; 1 << 20];
    // The caller gets the decision and its kind only; the reason is in the helper's log.
    let line = |s: &[u8]| -> Vec<u8> { s.iter().copied().chain(*b"\n").collect() };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("huge line", huge, "config"),
        ("bad bytes", b"\xff\xfe{}\n".to_vec(), "config"),
        ("not JSON", b"hello\n".to_vec(), "config"),
        ("unknown operation", line(br#""delete_all""#), "config"),
        ("extra field", line(br#"{"enroll_totp":{"replace":false,"user":"alice"}}"#), "config"),
        ("closed stdin", Vec::new(), "conversation"),
        (
            "another user",
            line(br#"{"login":{"pam_user":"alice","service":"locker","remote":false,"silent":false,"args":[]}}"#),
            "bad_user",
        ),
        (
            "config= argument",
            line(br#"{"login":{"pam_user":"lockuser","service":"locker","remote":false,"silent":false,"args":["config=/tmp/x.toml"]}}"#),
            "config",
        ),
        (
            "a service not in helper_services",
            line(br#"{"login":{"pam_user":"lockuser","service":"sshd","remote":false,"silent":false,"args":[]}}"#),
            "config",
        ),
        (
            "a made-up remote host",
            line(br#"{"login":{"pam_user":"lockuser","service":"locker","rhost":"10.9.9.9","remote":false,"silent":false,"args":[]}}"#),
            "config",
        ),
    ];
    for (name, input, denial) in cases {
        let out = s.run_as(LOCKER, &helper, &[], &input);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "{{\"done\":{{\"decision\":{{\"deny\":\"{denial}\"}},\"factor\":null,\"status\":null}}}}\n"
        );
        assert_eq!(stdout, expected, "{name}");
    }
    // A well-formed request for the caller's own status works.
    let out = s.run_as(LOCKER, &helper, &[], b"\"status\"\n");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"decision\":\"success\""), "{out:?}");
}

/// Runs `mfa-enroll ARGS` as the unprivileged user, answering the confirmation code from the
/// URI it shows, then `rest` (further lines).
fn self_enroll(s: &Sandbox, args: &[&str], rest: &str) -> (bool, String) {
    let mut child = Command::new(mfa_tests::sandbox::repo().join("scripts/sandbox.sh"))
        .arg("run")
        .arg(&s.dir)
        .arg(mfa_tests::fixture::module_path())
        .args([
            "setpriv",
            &format!("--reuid={LOCKER}"),
            &format!("--regid={LOCKER}"),
            "--clear-groups",
            "--",
        ])
        .arg(enroll_tool())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("test step");
    let mut stdin = child.stdin.take().expect("test step");
    let mut reader = BufReader::new(child.stdout.take().expect("test step"));
    let mut seen = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).expect("test step") > 0 {
        seen.push_str(&line);
        if let Some(uri) = line.trim().strip_prefix("otpauth://").map(|_| line.trim().to_string()) {
            let secret = uri
                .split("secret=")
                .nth(1)
                .expect("test step")
                .split('&')
                .next()
                .expect("test step");
            writeln!(stdin, "{}", oathtool(secret, "SHA1", 6, 30, now())).expect("test step");
            write!(stdin, "{rest}").expect("test step");
            break;
        }
        line.clear();
    }
    drop(stdin);
    let mut tail = String::new();
    std::io::Read::read_to_string(&mut reader, &mut tail).expect("test step");
    seen.push_str(&tail);
    let status = child.wait().expect("test step");
    (status.success(), seen)
}

#[test]
fn a_user_enrolls_and_removes_their_own_factor_without_root() {
    let s = sandbox("");
    wait_for_step_margin(30, 8);
    let (ok, shown) = self_enroll(&s, &["totp"], "\n");
    assert!(ok, "self-service enrollment: {shown}");
    assert!(shown.contains('█') && shown.contains("recovery codes"), "{shown}");
    let status = s.run_as(LOCKER, &enroll_tool(), &["status"], b"");
    assert!(String::from_utf8_lossy(&status.stdout).contains("lockuser: enrolled"), "{status:?}");

    // Removing needs a current factor: a wrong code is refused and nothing changes.
    let out = s.run_as(LOCKER, &enroll_tool(), &["remove"], b"y\n000000\n");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&s.run_as(LOCKER, &enroll_tool(), &["status"], b"").stdout)
            .contains("enrolled")
    );
    // With a recovery code shown at enrollment it works.
    let recovery = shown
        .lines()
        .map(str::trim)
        .find(|l| mfa_login::recovery::Attempt::parse(l).is_some() && l.len() == 13)
        .expect("recovery codes shown")
        .to_string();
    let removed =
        s.run_as(LOCKER, &enroll_tool(), &["remove"], format!("y\n{recovery}\n").as_bytes());
    assert!(removed.status.success(), "{removed:?}");
    let status = s.run_as(LOCKER, &enroll_tool(), &["status"], b"");
    assert!(String::from_utf8_lossy(&status.stdout).contains("Nothing is enrolled"), "{status:?}");
}

#[test]
fn first_enrollment_can_be_reserved_for_admins_and_root_only_options_are_refused() {
    let s = sandbox("first_enrollment = \"admin\"\n");
    let out = s.run_as(LOCKER, &enroll_tool(), &["totp"], b"");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("set up by an administrator"), "{out:?}");
    assert!(!s.dir.join("state/users/lockuser").exists());
    let out = s.run_as(LOCKER, &enroll_tool(), &["--user", "alice", "status"], b"");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user"), "{out:?}");
}

/// A screen locker's real stack, run as the user: pam_unix checks the password through
/// unix_chkpwd, then pam_mfa the code through the setuid helper.
#[test]
fn xscreensaver_stack_unlocks_with_password_and_code_as_the_user() {
    let s = sandbox("");
    s.install("config/pam.d/xscreensaver", "pam.d/xscreensaver");
    let e = s.enroll("lockuser");
    wait_for_step_margin(30, 5);
    let code = e.code_now();
    let o =
        s.login_as(LOCKER, "xscreensaver", "lockuser", &["--answer", PASSWORD, "--answer", &code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let prompts: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(prompts, ["Password: ", "Verification code: "]);
    let o =
        s.login_as(LOCKER, "xscreensaver", "lockuser", &["--answer", "wrong", "--answer", &code]);
    assert_ne!(o.code, PAM_SUCCESS, "{o:?}");
}

/// Security keys without sudo, through the helper: a first key follows first_enrollment; a
/// second key, and removing one, need a current factor first.
#[test]
fn a_user_manages_their_own_security_keys_through_the_helper() {
    let s = Sandbox::new();
    s.add_user("lockuser", LOCKER, None);
    let helper = s.install_helper();
    let key = s.dir.join("key.json");
    s.configure(&format!(
        "helper = \"{}\"\nhelper_services = [\"locker\"]\n[fido2]\nrp_id = \"pam://test-host\"\ntest_device = \"{}\"\n",
        helper.display(),
        key.display()
    ));
    let first = s.run_as(LOCKER, &enroll_tool(), &["fido2", "--name", "blue"], b"");
    let shown = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(first.status.success(), "{first:?}");
    assert!(
        shown.contains("Security key 'blue' registered") && shown.contains("recovery codes"),
        "{shown}"
    );
    // A second key needs proof: a wrong code is refused, nothing is added.
    let out = s.run_as(LOCKER, &enroll_tool(), &["fido2", "--name", "red"], b"000000\n");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let list = s.run_as(LOCKER, &enroll_tool(), &["fido2", "--list"], b"");
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "blue");
    // With a recovery code shown at the first registration, it works; so does removing one.
    let codes: Vec<String> = shown
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 13 && mfa_login::recovery::Attempt::parse(l).is_some())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{shown}");
    let out = s.run_as(
        LOCKER,
        &enroll_tool(),
        &["fido2", "--name", "red"],
        format!("{}\n", codes[0]).as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    let out = s.run_as(
        LOCKER,
        &enroll_tool(),
        &["fido2", "--remove", "blue"],
        format!("{}\n", codes[1]).as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    let list = s.run_as(LOCKER, &enroll_tool(), &["fido2", "--list"], b"");
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "red");
    // The remaining key unlocks the screen locker's stack (through the helper as well), in a
    // desktop session at this computer's seat.
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(s.dir.join("etc.upper/pam.d/locker"), "auth required pam_mfa.so\n")
        .expect("write");
    let args = ["--service", "locker", "--user", "lockuser", "--answer", ""];
    let out = s.command_in_session("local", LOCKER, &client_path(), &args).output().expect("run");
    let o = Outcome::parse(&out.stdout);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?} {}", String::from_utf8_lossy(&out.stderr));

    // Both log lines of a key login through the helper name the security key: the helper's
    // own, and the module's, from the helper's typed answer (once `factor=other`).
    let uid = LOCKER.to_string();
    let o =
        s.login("locker", "lockuser", &["--session", "local", "--as-uid", &uid, "--answer", ""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let module = o.decision_lines();
    assert_eq!(module.len(), 1, "{:?}", o.syslog);
    assert!(
        module[0].contains("decision=success") && module[0].contains(" factor=fido2 "),
        "{module:?}"
    );
    assert!(
        o.syslog
            .iter()
            .any(|l| l.contains("mfa-helper")
                && l.contains("op=login decision=success factor=fido2 ")),
        "{:?}",
        o.syslog
    );
}

/// A fail-open login through the helper is a fail-open in the module's log too (its own
/// decision, at warning level), never a verified login: the helper's answer carries the typed
/// decision and factor.
#[test]
fn a_fail_open_through_the_helper_is_logged_as_fail_open_by_the_module() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let s = sandbox(&format!(
        "[privacyidea]\nurl = \"http://127.0.0.1:{port}\"\nfailmode = \"open\"\n\
         connect_timeout = 2\nio_timeout = 2\n[[rule]]\nbackend = \"privacyidea\"\n"
    ));
    let uid = LOCKER.to_string();
    let o = s.login("locker", "lockuser", &["--as-uid", &uid, "--answer", ""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let module = o.decision_lines();
    assert_eq!(module.len(), 1, "{:?}", o.syslog);
    assert!(
        module[0].contains("decision=fail-open") && module[0].contains(" factor=privacyidea "),
        "{module:?}"
    );
    assert!(
        o.syslog.iter().any(|l| l.contains("mfa-helper")
            && l.contains("op=login decision=fail-open factor=privacyidea ")),
        "{:?}",
        o.syslog
    );
}

/// A helper without its setuid bit (an administrator's `dpkg-statoverride`, a copy that lost
/// it): self-service says so instead of a vague refusal, and changes nothing.
#[test]
fn self_service_names_a_helper_that_is_not_setuid_root() {
    use std::os::unix::fs::PermissionsExt;
    let s = sandbox("");
    s.enroll("lockuser");
    let helper = s.dir.join("bin/mfa-helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("test step");
    let out = s.run_as(LOCKER, &enroll_tool(), &["status"], b"");
    assert!(!out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is not installed setuid root"), "{out:?}");
    let o = s.login_as(LOCKER, "locker", "lockuser", &["--answer", "000000"]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
}
