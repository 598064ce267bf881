//! Lockout through libpam: exact under parallel attempts, refuses even a right code, lifted by
//! `mfa-enroll admin unlock`; failures are delayed with pam_fail_delay.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, wait_for_step_margin};
use std::time::Instant;

#[test]
fn fifty_parallel_wrong_codes_check_exactly_five_then_lock() {
    let f = Fixture::with_config(
        "[lockout]\nmax_failures = 5\nwindow = 900\nduration = 900\nfail_delay_ms = 0\n",
    );
    // Repeated on fresh users: the count is exact every time.
    for trial in 0..5 {
        let user = format!("locked{trial}");
        let e = f.enroll(&user);
        let wrong = format!("{:06}", (e.code_now().parse::<u32>().unwrap() + 1) % 1_000_000);
        let outcomes = f.parallel_logins(50, &user, &wrong);
        assert!(outcomes.iter().all(|o| o.code == PAM_AUTH_ERR));
        let reasons: Vec<String> = outcomes.iter().map(|o| o.decision_lines()[0].clone()).collect();
        let checked = reasons.iter().filter(|r| r.contains("reason=\"wrong code")).count();
        let locked_now = reasons.iter().filter(|r| r.contains("factor now locked")).count();
        let refused = reasons.iter().filter(|r| r.contains("reason=\"locked for")).count();
        assert_eq!((checked, locked_now, refused), (5, 1, 45), "trial {trial}: {reasons:#?}");
    }
    let e = f.enroll("alice");
    let wrong = format!("{:06}", (e.code_now().parse::<u32>().unwrap() + 1) % 1_000_000);
    f.parallel_logins(50, "alice", &wrong);

    // Locked: even the right code is refused, without a prompt, and the user is told.
    wait_for_step_margin(30, 3);
    let o = f.login("alice", &[&e.code_now()]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    assert_eq!(o.messages.len(), 1, "{:?}", o.messages);
    assert_eq!(o.messages[0].0, PAM_ERROR_MSG);
    assert!(o.messages[0].1.contains("locked for 15 more minutes"), "{:?}", o.messages);

    // mfa-enroll shows the lock, and admin unlock lifts it.
    let status = f.enroll_tool(&["--user", "alice", "status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("Locked:"), "{status:?}");
    // The command exactly as the message prints it.
    let printed = o.messages[0].1.split("(admin: mfa-enroll ").nth(1).expect("the command");
    let args: Vec<&str> = printed.trim_end_matches(')').split_whitespace().collect();
    assert_eq!(args, ["--user", "alice", "admin", "unlock"]);
    let unlock = f.enroll_tool(&args).status().unwrap();
    assert!(unlock.success());
    assert_eq!(f.login("alice", &[&e.code_at(now() + 30)]).code, PAM_SUCCESS);
}

#[test]
fn failures_are_delayed_by_pam_fail_delay() {
    let f = Fixture::with_config("[lockout]\nmax_failures = 0\nfail_delay_ms = 1000\n");
    f.enroll("alice");
    let start = Instant::now();
    assert_eq!(f.login("alice", &["000000"]).code, PAM_AUTH_ERR);
    let elapsed = start.elapsed();
    // libpam randomizes the delay around the requested value; well above zero either way.
    assert!(elapsed.as_millis() >= 400, "failure reported after {elapsed:?}");
}
