//! The system clock before 1970 or far in the future (libfaketime), and a read-only store.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, client_path};
use std::process::Command;

fn login_at(f: &Fixture, fake_time: &str, answer: &str) -> mfa_tests::fixture::Outcome {
    let out = f
        .with_user(&mut Command::new("faketime"), "alice")
        .arg(fake_time)
        .arg(client_path())
        .arg("--confdir")
        .arg(&f.pamd)
        .args(["--service", "mfa", "--user", "alice", "--answer", answer, "--capture-syslog"])
        .output()
        .expect("faketime (Debian package faketime) is installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    mfa_tests::fixture::Outcome::parse(&out.stdout)
}

#[test]
fn clock_before_1970_denies_with_a_clear_reason() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let before = f.snapshot();
    let o = login_at(&f, "1969-12-31 23:00:00", &e.code_now());
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(o.messages.is_empty(), "no prompt");
    assert!(o.decision_lines()[0].contains("clock: system clock is before 1970"), "{:?}", o.syslog);
    assert_eq!(f.snapshot(), before);
}

#[test]
fn far_future_clock_refuses_todays_code_and_accepts_only_that_times_code() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let o = login_at(&f, "2200-01-01 00:00:10", &e.code_now());
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    let then = mfa_tests::fixture::oathtool(&e.secret, "SHA1", 6, 30, 7_258_118_410);
    let o = login_at(&f, "2200-01-01 00:00:10", &then);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

/// Unmounts when dropped.
struct Mounted<'a>(&'a std::path::Path);
impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn read_only_store_refuses_a_code_whose_use_cannot_be_recorded() {
    let f = Fixture::new();
    let e = f.enroll("alice");
    let users = f.state_dir().join("users");
    for args in [vec!["--bind"], vec!["-o", "remount,bind,ro"]] {
        let st = Command::new("mount").args(&args).arg(&users).arg(&users).status().expect("mount");
        assert!(st.success(), "mount {args:?}");
    }
    let _guard = Mounted(&users);
    let before = std::fs::read(f.user_file("alice")).expect("read");
    // The lockout is off in this fixture, so nothing is written before the check: the right
    // code is checked, cannot be recorded as used, and is refused exactly like a wrong code
    // (issue 15, finding 1: a different answer would tell a guesser the code was right).
    let o = f.login("alice", &[&e.code_now()]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(o.decision_lines()[0].contains("could not be recorded as used"), "{:?}", o.syslog);
    assert!(o.decision_lines()[0].contains("Read-only file system"), "{:?}", o.syslog);
    assert_eq!(std::fs::read(f.user_file("alice")).expect("read"), before);
    // With the lockout on, the attempt cannot be counted, so no answer is checked at all.
    f.write_config("[lockout]\nmax_failures = 5\nfail_delay_ms = 0\n");
    let o = f.login("alice", &[&e.code_now()]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    assert!(o.decision_lines()[0].contains("cannot record the attempt"), "{:?}", o.syslog);
    assert_eq!(std::fs::read(f.user_file("alice")).expect("read"), before);
}
