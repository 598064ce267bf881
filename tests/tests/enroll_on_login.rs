//! The enroll-on-login flow through libpam: menu, skip limits, opt-out, setup in the
//! conversation, and policy rules.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, wait_for_step_margin};

const ON_LOGIN: &str =
    "enrollment = \"on-login\"\nallow_opt_out = true\n[on_login]\nmax_skips = 1\n";

fn prompts(o: &mfa_tests::fixture::Outcome) -> Vec<&str> {
    o.messages
        .iter()
        .filter(|(s, _)| *s == PAM_PROMPT_ECHO_ON || *s == PAM_PROMPT_ECHO_OFF)
        .map(|(_, m)| m.as_str())
        .collect()
}

#[test]
fn setup_during_login_then_code_login() {
    let f = Fixture::with_config(ON_LOGIN);
    wait_for_step_margin(30, 4);
    let o = f.login_with("mfa", "newbie", &["1"], &["--answer-shown-code", "--answer", ""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(
        prompts(&o),
        [
            "Choice: ",
            "Enter the 6-digit code from the app to finish: ",
            "Press Enter when you have stored the recovery codes: "
        ]
    );
    let all: String = o.messages.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("otpauth://totp/pam_mfa:newbie@") && all.contains('█'));
    assert!(o.decision_lines()[0].contains("factor=enroll-totp"), "{:?}", o.syslog);
    let secret_line = all.lines().find(|l| l.starts_with("otpauth://")).unwrap();
    assert!(!o.syslog.iter().any(|l| l.contains("secret=")), "secret never logged");
    let secret = secret_line.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    let next = mfa_tests::fixture::oathtool(secret, "SHA1", 6, 30, now() + 30);
    let o = f.login("newbie", &[&next]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(prompts(&o), ["Verification code: "]);
}

#[test]
fn skip_is_limited_and_opt_out_is_remembered() {
    let f = Fixture::with_config(ON_LOGIN);
    // Skip once (max_skips = 1): PAM_IGNORE, so a following pam_permit decides.
    f.stack("mfa-permit", "auth required {module} {config}\nauth required pam_permit.so");
    let o = f.login_with("mfa-permit", "skipper", &["2"], &[]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.decision_lines()[0].contains("decision=ignore"));
    // No skips left: the menu has no "Skip"; choosing it anyway is not accepted.
    let o = f.login_with("mfa-permit", "skipper", &["2", "2", "2"], &[]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(!o.messages.iter().any(|(_, m)| m.contains("Skip for now")));
    // Opt out: not asked again.
    let o = f.login_with("mfa-permit", "skipper", &["3"], &[]);
    assert_eq!(o.code, PAM_SUCCESS);
    let o = f.login_with("mfa-permit", "skipper", &[], &[]);
    assert_eq!(o.code, PAM_SUCCESS);
    assert!(o.messages.is_empty(), "{:?}", o.messages);
    // The admin resets it with mfa-enroll: the menu is back.
    let st = f.enroll_tool(&["--user", "skipper", "opt-in"]).status().unwrap();
    assert!(st.success());
    let o = f.login_with("mfa-permit", "skipper", &["2"], &[]);
    assert!(o.messages.iter().any(|(_, m)| m.contains("Skip for now")), "{:?}", o.messages);
}

#[test]
fn cancelled_or_empty_menu_answers_deny() {
    let f = Fixture::with_config(ON_LOGIN);
    assert_eq!(f.login_with("mfa", "u1", &[], &["--null-answer"]).code, PAM_CONV_ERR);
    assert_eq!(f.login("u1", &[""]).code, PAM_AUTH_ERR);
    assert_eq!(f.login("u1", &["x", "y", "z"]).code, PAM_AUTH_ERR);
    // Wrong confirmation codes three times: nothing is saved, the login is refused.
    let o = f.login("u1", &["1", "000000", "000001", "000002"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(!f.user_file("u1").exists(), "nothing saved without a confirmed code");
}

#[test]
fn policy_rules_by_service_and_network() {
    let f = Fixture::with_config(
        "enrollment = \"required\"\n\
         [[rule]]\nrhost = [\"10.1.0.0/16\"]\nexempt = true\n\
         [[rule]]\nservice = [\"mfa-permit\"]\nenrollment = \"optional\"\n",
    );
    f.stack("mfa-permit", "auth required {module} {config}\nauth required pam_permit.so");
    // Exempt network: no prompt, IGNORE (a stack of only pam_mfa then fails: never success).
    let o = f.login_with("mfa", "alice", &[], &["--rhost", "10.1.2.3"]);
    assert_eq!(o.code, PAM_PERM_DENIED, "{o:?}");
    assert!(o.decision_lines()[0].contains("exempt by rule 1"));
    let o = f.login_with("mfa-permit", "alice", &[], &["--rhost", "10.1.2.3"]);
    assert_eq!(o.code, PAM_SUCCESS);
    // Other network, not enrolled: denied on "mfa", optional on "mfa-permit".
    assert_eq!(f.login_with("mfa", "alice", &[], &["--rhost", "192.0.2.9"]).code, PAM_AUTH_ERR);
    let o = f.login_with("mfa-permit", "alice", &[], &["--rhost", "192.0.2.9"]);
    assert_eq!(o.code, PAM_SUCCESS);
    assert!(o.decision_lines()[0].contains("enrollment optional by rule 2"), "{:?}", o.syslog);
    // An enrolled user on the exempt network is not asked either; elsewhere they are.
    let e = f.enroll("alice");
    assert!(f.login_with("mfa-permit", "alice", &[], &["--rhost", "10.1.0.1"]).messages.is_empty());
    assert_eq!(
        f.login_with("mfa-permit", "alice", &["000000"], &["--rhost", "192.0.2.9"]).code,
        PAM_AUTH_ERR
    );
    assert_eq!(
        f.login_with("mfa-permit", "alice", &[&e.code_now()], &["--rhost", "192.0.2.9"]).code,
        PAM_SUCCESS
    );
}
