//! The repository's example pam.d files for sudo and login, loaded by the system's libpam from
//! /etc/pam.d inside the sandbox: pam_unix checks a real password, then pam_mfa the code.

use mfa_tests::client::*;
use mfa_tests::fixture::wait_for_step_margin;
use mfa_tests::sandbox::Sandbox;

const PASSWORD: &str = "correct horse battery";

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.add_user("alice", 4243, Some(PASSWORD));
    s.install("config/pam.d/sudo", "pam.d/sudo");
    s.install("config/pam.d/login", "pam.d/login");
    s.configure("");
    s
}

#[test]
fn sudo_stack_password_then_code() {
    let s = sandbox();
    let e = s.enroll("alice");
    wait_for_step_margin(30, 5);
    let code = e.code_now();

    let o = s.login("sudo", "alice", &["--answer", PASSWORD, "--answer", &code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let prompts: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(prompts, ["Password: ", "Verification code: "]);

    // Right password, replayed code.
    let o = s.login("sudo", "alice", &["--answer", PASSWORD, "--answer", &code]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");

    // Wrong password: pam_deny (requisite) stops the stack before the code is asked.
    let o = s.login("sudo", "alice", &["--answer", "wrong", "--answer", &code]);
    assert_ne!(o.code, PAM_SUCCESS);
    assert_eq!(o.messages.len(), 1, "no code prompt after a wrong password: {:?}", o.messages);

    // Right password, no second factor enrolled: denied (enrollment = "required").
    s.add_user("bob", 4244, Some(PASSWORD));
    let o = s.login("sudo", "bob", &["--answer", PASSWORD]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
}

#[test]
fn login_stack_password_then_code() {
    let s = sandbox();
    let e = s.enroll("alice");
    wait_for_step_margin(30, 8);
    let o = s.login("login", "alice", &["--answer", PASSWORD, "--answer", &e.code_now()]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.messages.iter().any(|(_, m)| m == "Verification code: "), "{:?}", o.messages);
}

#[test]
fn single_prompt_hands_the_password_to_pam_unix() {
    let s = sandbox();
    std::fs::write(
        s.dir.join("etc.upper/pam.d/oneprompt"),
        "auth required pam_mfa.so single_prompt\nauth required pam_unix.so use_first_pass\n",
    )
    .unwrap();
    let e = s.enroll("alice");
    wait_for_step_margin(30, 5);
    let answer = format!("{PASSWORD}{}", e.code_now());
    let o = s.login("oneprompt", "alice", &["--answer", &answer]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(
        o.messages,
        vec![(PAM_PROMPT_ECHO_OFF, "Password and verification code: ".to_string())]
    );
    // Wrong password with a right code: pam_unix refuses what pam_mfa handed on.
    let answer = format!("wrong{}", e.code_at(mfa_tests::fixture::now() + 30));
    assert_ne!(s.login("oneprompt", "alice", &["--answer", &answer]).code, PAM_SUCCESS);
}

/// The sandbox has its own user database: a test user named like an account of the machine
/// (here `daemon`, which every Debian system has, with another uid and no password) is the
/// sandbox's user inside it, so the tests never depend on the host's accounts.
#[test]
fn a_host_account_with_the_same_name_is_not_seen_in_the_sandbox() {
    let host = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    assert!(host.lines().any(|l| l.starts_with("daemon:")), "no host account 'daemon'");
    let s = sandbox();
    s.add_user("daemon", 4245, Some(PASSWORD));
    let e = s.enroll("daemon");
    wait_for_step_margin(30, 5);
    let o = s.login("sudo", "daemon", &["--answer", PASSWORD, "--answer", &e.code_now()]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

/// The desktop greeters' stacks (run as root, like GDM and LightDM do): password, then code,
/// each prompt without echo, in that order.
#[test]
fn gdm_and_lightdm_stacks_password_then_code() {
    let s = sandbox();
    s.install("config/pam.d/gdm-password", "pam.d/gdm-password");
    s.install("config/pam.d/lightdm", "pam.d/lightdm");
    let e = s.enroll("alice");
    for (service, offset) in [("gdm-password", 0), ("lightdm", 30)] {
        wait_for_step_margin(30, 5);
        let code = e.code_at(mfa_tests::fixture::now() + offset);
        let o = s.login(service, "alice", &["--answer", PASSWORD, "--answer", &code]);
        assert_eq!(o.code, PAM_SUCCESS, "{service}: {o:?}");
        let prompts: Vec<(i32, &str)> =
            o.messages.iter().map(|(st, m)| (*st, m.as_str())).collect();
        assert_eq!(
            prompts,
            [(PAM_PROMPT_ECHO_OFF, "Password: "), (PAM_PROMPT_ECHO_OFF, "Verification code: ")],
            "{service}"
        );
    }
    // A recovery code in the greeter: the count arrives as an informational message.
    let o =
        s.login("gdm-password", "alice", &["--answer", PASSWORD, "--answer", &e.recovery_codes[0]]);
    assert_eq!(o.code, PAM_SUCCESS);
    assert!(
        o.messages
            .iter()
            .any(|(st, m)| *st == PAM_TEXT_INFO && m.contains("9 recovery codes left"))
    );
}
