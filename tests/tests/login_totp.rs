//! TOTP logins through the real libpam and the built pam_mfa.so, with codes from oathtool.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};

#[test]
fn valid_code_is_accepted_and_prompt_is_echo_off() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    let o = f.login_with("mfa", "alice", &[&alice.code_now()], &["--rhost", "192.0.2.7"]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(o.messages, vec![(PAM_PROMPT_ECHO_OFF, "Verification code: ".to_string())]);
    let lines = o.decision_lines();
    assert_eq!(lines.len(), 1, "one log line per decision: {:?}", o.syslog);
    assert!(
        lines[0].contains("pam_mfa(mfa:auth): decision=success user=\"alice\""),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("rhost=\"192.0.2.7\" factor=totp"), "{}", lines[0]);
}

#[test]
fn wrong_code_is_refused_and_logged_without_the_code() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    let good = alice.code_now();
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    let before = f.snapshot();
    let o = f.login("alice", &[&wrong]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert_eq!(f.snapshot(), before, "a refused login changes nothing on disk");
    let line = o.decision_lines()[0].clone();
    assert!(line.contains("decision=deny") && line.contains("reason=\"wrong code\""), "{line}");
    assert!(!line.contains(&wrong), "the typed code must not be logged: {line}");
}

#[test]
fn the_same_code_is_never_accepted_twice() {
    let f = Fixture::new();
    let alice = f.enroll("alice");
    wait_for_step_margin(30, 3);
    let code = alice.code_now();
    assert_eq!(f.login("alice", &[&code]).code, PAM_SUCCESS);
    let o = f.login("alice", &[&code]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    assert!(o.decision_lines()[0].contains("code already used"), "{:?}", o.syslog);
    // The previous step's code (inside the window) is older than the used one: refused too.
    assert_eq!(f.login("alice", &[&alice.code_at(now() - 30)]).code, PAM_AUTH_ERR);
    // The next step's code is newer: accepted (phone clock slightly ahead).
    assert_eq!(f.login("alice", &[&alice.code_at(now() + 30)]).code, PAM_SUCCESS);
}

/// With the default window of 1 step, codes one step off are accepted and two steps off are
/// refused. Each case uses a fresh user, so the replay floor does not interfere.
#[test]
fn window_edges() {
    let f = Fixture::new();
    for (i, (offset, expected)) in [
        (-60i64, PAM_AUTH_ERR),
        (-30, PAM_SUCCESS),
        (0, PAM_SUCCESS),
        (30, PAM_SUCCESS),
        (60, PAM_AUTH_ERR),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("user{i}");
        let e = f.enroll(&user);
        wait_for_step_margin(30, 3);
        let code = e.code_at((now() as i64 + offset) as u64);
        assert_eq!(f.login(&user, &[&code]).code, expected, "offset {offset}s");
    }
    // window = 0: only the current step.
    f.write_config("[totp]\nwindow = 0\n");
    let e = f.enroll("strict");
    wait_for_step_margin(30, 3);
    assert_eq!(f.login("strict", &[&e.code_at(now() - 30)]).code, PAM_AUTH_ERR);
    assert_eq!(f.login("strict", &[&e.code_at(now() + 30)]).code, PAM_AUTH_ERR);
    assert_eq!(f.login("strict", &[&e.code_now()]).code, PAM_SUCCESS);
}

/// SHA256 and SHA512, 8 digits, and a 60-second step: our codes match oathtool's.
#[test]
fn other_algorithms_digits_and_steps_match_oathtool() {
    for (alg, digits, step) in [("SHA256", 8u8, 30u64), ("SHA512", 6, 30), ("SHA1", 8, 60)] {
        let f = Fixture::with_config(&format!(
            "[totp]\nalgorithm = \"{alg}\"\ndigits = {digits}\nstep = {step}\n"
        ));
        let e = f.enroll("alice");
        wait_for_step_margin(step, 3);
        let code = oathtool(&e.secret, alg, digits, step, now());
        assert_eq!(code.len(), usize::from(digits));
        assert_eq!(f.login("alice", &[&code]).code, PAM_SUCCESS, "{alg}/{digits}/{step}");
        // A 6-digit SHA1 code is wrong for these parameters.
        let sha1 = oathtool(&e.secret, "SHA1", 6, 30, now() + 30);
        assert_ne!(f.login("alice", &[&sha1]).code, PAM_SUCCESS);
    }
}

#[test]
fn not_enrolled_is_denied_and_nullok_gives_ignore_never_success() {
    let f = Fixture::new();
    let o = f.login("nobody-enrolled", &[]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    assert!(o.messages.is_empty(), "no prompt for a user without factors");
    assert!(o.decision_lines()[0].contains("reason=\"not enrolled\""));

    // nullok alone in the stack: PAM_IGNORE is not success; libpam denies a stack where
    // every module ignored.
    f.stack("nullok-alone", "auth required {module} {config} nullok");
    let o = f.login_with("nullok-alone", "nobody-enrolled", &[], &[]);
    assert_eq!(o.code, PAM_PERM_DENIED, "{o:?}");
    assert!(o.decision_lines()[0].contains("decision=ignore"));

    // nullok followed by another module: that module decides.
    f.stack("nullok-permit", "auth required {module} {config} nullok\nauth required pam_permit.so");
    assert_eq!(f.login_with("nullok-permit", "nobody-enrolled", &[], &[]).code, PAM_SUCCESS);
    f.stack("nullok-deny", "auth required {module} {config} nullok\nauth required pam_deny.so");
    assert_eq!(f.login_with("nullok-deny", "nobody-enrolled", &[], &[]).code, PAM_AUTH_ERR);

    // nullok does not let an enrolled user skip the code.
    let e = f.enroll("alice");
    assert_eq!(f.login_with("nullok-permit", "alice", &["000000"], &[]).code, PAM_AUTH_ERR);
    assert_eq!(f.login_with("nullok-permit", "alice", &[&e.code_now()], &[]).code, PAM_SUCCESS);

    // enrollment = "optional" in the configuration file works the same.
    f.write_config("enrollment = \"optional\"\n");
    assert_eq!(f.login("nobody-enrolled", &[]).code, PAM_PERM_DENIED);
}

#[test]
fn empty_cancelled_failed_huge_and_binary_answers_are_refused() {
    let f = Fixture::new();
    f.enroll("alice");
    let cases: [(&[&str], i32); 6] = [
        (&["--answer", ""], PAM_AUTH_ERR),
        (&["--null-answer"], PAM_CONV_ERR),
        (&["--conv-error"], PAM_CONV_ERR),
        (&["--answer", "   "], PAM_AUTH_ERR),
        (&["--answer-hex", "fffe31323334"], PAM_AUTH_ERR),
        (&["--answer", "not-a-code"], PAM_AUTH_ERR),
    ];
    for (args, expected) in cases {
        let o = f.login_with("mfa", "alice", &[], args);
        assert_eq!(o.code, expected, "{args:?}: {o:?}");
        assert_eq!(o.decision_lines().len(), 1, "{args:?}");
    }
    let o = f.login_with("mfa", "alice", &[], &["--answer-fill", "1048576"]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    assert!(o.decision_lines()[0].contains("answer too long"));
}

#[test]
fn hostile_user_names_are_refused() {
    let f = Fixture::new();
    f.enroll("alice");
    for user in ["../users/alice", "alice/../alice", ".hidden", "a\tb"] {
        let o = f.login(user, &["123456"]);
        assert_eq!(o.code, PAM_USER_UNKNOWN, "{user:?}");
        assert!(o.messages.is_empty());
    }
}
