//! Enroll-on-login in fleet mode end to end (issue 20): the real pam_mfa.so through the real
//! libpam on host A, whose policy has `enrollment = "on-login"`, asks the real service over TLS
//! for the user's status, sets up an authenticator app inside the login (QR code, secret,
//! confirmation) and sends it to the service as the first factor; host B
//! then logs the user in with the next code through the normal prompt. The service's `first_enrollment = "admin"` refusal denies with a plain
//! message.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};

const USER: &str = "fleetnew";

fn prompts(o: &mfa_tests::fixture::Outcome) -> Vec<&str> {
    o.messages
        .iter()
        .filter(|(s, _)| *s == PAM_PROMPT_ECHO_ON || *s == PAM_PROMPT_ECHO_OFF)
        .map(|(_, m)| m.as_str())
        .collect()
}

/// A host with its own credential, every factor at the service, enrollment on login.
fn host(svc: &PushService, name: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join(format!("{name}.json"));
    svc.add_host(name, &credential);
    let section = svc.push_section(&credential, "").replacen("[push]", "[fleet]", 1);
    f.write_config(&format!(
        "enrollment = \"on-login\"\n{section}\n[[rule]]\nbackend = \"fleet\"\n"
    ));
    f
}

#[test]
fn enrolled_at_login_on_one_host_then_logged_in_on_another() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nuser_per_minute = 100");
    let a = host(&svc, "host-a");
    let b = host(&svc, "host-b");
    wait_for_step_margin(30, 4);
    let o = a.login_with("mfa", USER, &[], &["--answer-shown-code", "--answer", ""]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(
        prompts(&o),
        ["Enter the 6-digit code from the app to finish: ", "Press Enter to continue: "]
    );
    assert!(o.decision_lines()[0].contains("factor=enroll-totp"), "{:?}", o.syslog);
    let all: String = o.messages.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("\n");
    assert!(all.contains('█'), "a QR code is shown");
    let uri = all.lines().find(|l| l.starts_with("otpauth://")).expect("the link is shown");
    let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_string();
    assert!(!a.user_file(USER).exists(), "nothing enrolled into host A's local store");

    // Host B: the normal prompt, the next code (the confirmation used this one).
    let o = b.login(USER, &[&oathtool(&secret, "SHA1", 6, 30, now() + 30)]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(prompts(&o), ["Verification code: "]);
    // Host A again: enrolled now, so the normal prompt.
    let o = a.login(USER, &["000000"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert_eq!(prompts(&o), ["Verification code: "]);
}

#[test]
fn admin_only_first_enrollment_denies_at_login_with_a_plain_message() {
    let svc = PushService::start_on(
        Backend::Sqlite,
        "\n[fleet]\nuser_per_minute = 100\nfirst_enrollment = \"admin\"",
    );
    let a = host(&svc, "host-a");
    let o = a.login(USER, &[]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    let all: String = o.messages.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("set up by an administrator"), "{all}");
    assert!(!all.contains("not_opted_in"), "{all}");
    assert!(prompts(&o).is_empty(), "no setup offered: {o:?}");
}
