//! Recovery-code logins through the real libpam.

use mfa_login::enroll;
use mfa_login::store::Store;
use mfa_login::username::UserName;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now};

#[test]
fn recovery_code_works_once_and_reports_how_many_are_left() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let o = f.login("alice", &[&e.recovery_codes[2]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(
        o.messages[1],
        (PAM_TEXT_INFO, "Recovery code accepted. 9 recovery codes left.".into())
    );
    assert!(o.decision_lines()[0].contains("factor=recovery"));
    assert!(!o.syslog.iter().any(|l| l.contains(&e.recovery_codes[2][2..])), "code not logged");
    assert_eq!(f.login("alice", &[&e.recovery_codes[2]]).code, PAM_AUTH_ERR);
    // Typed in lower case without dashes.
    let typed = e.recovery_codes[5].to_lowercase().replace('-', "");
    assert_eq!(f.login("alice", &[&typed]).code, PAM_SUCCESS);
}

#[test]
fn silent_flag_suppresses_the_count_message() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let o = f.login_with("mfa", "alice", &[&e.recovery_codes[0]], &["--silent"]);
    assert_eq!(o.code, PAM_SUCCESS);
    assert_eq!(o.messages.len(), 1, "only the prompt: {:?}", o.messages);
}

#[test]
fn low_count_warns_to_regenerate_and_regenerating_invalidates_the_old_set() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    for c in &e.recovery_codes[..7] {
        assert_eq!(f.login("alice", &[c]).code, PAM_SUCCESS);
    }
    let o = f.login("alice", &[&e.recovery_codes[7]]);
    assert_eq!(o.code, PAM_SUCCESS);
    assert!(o.messages.iter().any(|(_, m)| m.contains("2 recovery codes left")));
    assert!(o.messages.iter().any(|(_, m)| m.contains("mfa-enroll recovery-codes --regenerate")));

    let store = Store::open(&f.config().store).unwrap();
    let fresh =
        enroll::regenerate_recovery_codes(&store, &UserName::parse("alice").unwrap(), now())
            .unwrap()
            .unwrap();
    assert_eq!(f.login("alice", &[&e.recovery_codes[8]]).code, PAM_AUTH_ERR, "old set is void");
    assert_eq!(f.login("alice", &[&fresh[8]]).code, PAM_SUCCESS);
}

#[test]
fn a_recovery_code_from_another_user_is_refused() {
    let f = Fixture::new();
    f.enroll("alice");
    let bob = f.enroll("bob");
    for c in &bob.recovery_codes[..3] {
        assert_eq!(f.login("alice", &[c]).code, PAM_AUTH_ERR);
    }
}

#[test]
fn one_recovery_code_used_by_parallel_logins_succeeds_exactly_once() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let outcomes = f.parallel_logins(10, "alice", &e.recovery_codes[4]);
    let ok = outcomes.iter().filter(|o| o.code == PAM_SUCCESS).count();
    assert_eq!(ok, 1, "{:?}", outcomes.iter().map(|o| o.code).collect::<Vec<_>>());
    assert!(outcomes.iter().all(|o| o.code == PAM_SUCCESS || o.code == PAM_AUTH_ERR));
}
