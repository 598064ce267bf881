//! N logins in parallel processes with one TOTP code: exactly one may succeed.
//!
//! This is the race google-authenticator-libpam loses (2 to 15 of 20 parallel logins accepted
//! one code, see shared/REFERENCES.md). Each trial enrolls a fresh user, so every trial gets a
//! code that has never been used. `MFA_REPLAY_TRIALS` sets the number of trials (default 25).

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, wait_for_step_margin};

#[test]
fn twenty_parallel_logins_with_one_code_exactly_one_succeeds() {
    let trials: usize =
        std::env::var("MFA_REPLAY_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    let f = Fixture::new();
    let mut logins = 0;
    for trial in 0..trials {
        let user = format!("racer{trial}");
        let e = f.enroll(&user);
        wait_for_step_margin(30, 2);
        let outcomes = f.parallel_logins(20, &user, &e.code_now());
        logins += outcomes.len();
        let codes: Vec<i32> = outcomes.iter().map(|o| o.code).collect();
        let ok = codes.iter().filter(|c| **c == PAM_SUCCESS).count();
        assert_eq!(ok, 1, "trial {trial}: {codes:?}");
        assert!(
            codes.iter().all(|c| *c == PAM_SUCCESS || *c == PAM_AUTH_ERR),
            "trial {trial}: {codes:?}"
        );
    }
    eprintln!("concurrent replay: {trials} trials, {logins} logins, exactly one success per trial");
}

/// The hardening bar: 50 parallel logins with one code, repeated.
#[test]
fn fifty_parallel_logins_with_one_code_exactly_one_succeeds() {
    let f = Fixture::new();
    for trial in 0..10 {
        let user = format!("crowd{trial}");
        let e = f.enroll(&user);
        wait_for_step_margin(30, 2);
        let codes: Vec<i32> =
            f.parallel_logins(50, &user, &e.code_now()).iter().map(|o| o.code).collect();
        assert_eq!(
            codes.iter().filter(|c| **c == PAM_SUCCESS).count(),
            1,
            "trial {trial}: {codes:?}"
        );
        assert!(
            codes.iter().all(|c| *c == PAM_SUCCESS || *c == PAM_AUTH_ERR),
            "trial {trial}: {codes:?}"
        );
    }
}
