//! A user or group lookup that finds nothing is an error, never a silently skipped rule
//! (issue 15, finding 8): with a strict rule for a group and a lenient default, a group the
//! user database does not know (a typo, or a directory that is down and answers "no such
//! group") must not let its members fall through to the lenient default.

use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;

/// Optional enrollment for everyone, required for `admins` (whose members are not enrolled);
/// `pam_permit` after the module, as in stacks that let `PAM_IGNORE` through.
fn fixture(rule: &str) -> Fixture {
    let f = Fixture::with_config(&format!("enrollment = \"optional\"\n{rule}\n"));
    f.stack("permit", "auth required {module} {config}\nauth required pam_permit.so");
    f
}

#[test]
fn a_rule_naming_an_unknown_group_denies_instead_of_falling_through() {
    let f = fixture("[[rule]]\ngroup = [\"admins\"]\nenrollment = \"required\"\n");
    // The group database has no `admins` (the member below is not enrolled).
    let o = f.login_with("permit", "adminuser", &[], &[]);
    assert_eq!(o.code, PAM_SERVICE_ERR, "{o:?}");
    assert!(
        o.decision_lines()[0].contains("rule 1: group 'admins' does not exist"),
        "{:?}",
        o.syslog
    );
    // With the group present and the user in it, the rule applies: not enrolled, denied.
    f.nss.ensure("adminuser");
    f.nss.add_group("admins", 64_000, &["adminuser"]);
    let o = f.login_with("permit", "adminuser", &[], &[]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    // Someone else falls to the lenient default.
    let o = f.login_with("permit", "otheruser", &[], &[]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}

#[test]
fn a_rule_naming_an_unknown_user_denies_every_login() {
    let f = fixture("[[rule]]\nuser = [\"deploy\"]\nenrollment = \"required\"\n");
    let o = f.login_with("permit", "someone", &[], &[]);
    assert_eq!(o.code, PAM_SERVICE_ERR, "{o:?}");
    assert!(
        o.decision_lines()[0].contains("rule 1: user 'deploy' does not exist"),
        "{:?}",
        o.syslog
    );
}

/// The same through the system's own user database (glibc's files backend answers "no such
/// group" with an empty result, which the old code took for "not a member").
#[test]
fn an_unknown_group_in_the_system_database_denies() {
    use mfa_tests::accounts::{fresh_name, fresh_uid};
    let s = mfa_tests::sandbox::Sandbox::new();
    let user = fresh_name("mfa");
    s.add_user(&user, fresh_uid(), None);
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(
        s.dir.join("etc.upper/pam.d/permit"),
        "auth required pam_mfa.so\nauth required pam_permit.so\n",
    )
    .expect("stack");
    let group = fresh_name("nogroup");
    s.configure(&format!(
        "enrollment = \"optional\"\n[[rule]]\ngroup = [\"{group}\"]\nenrollment = \"required\"\n"
    ));
    let o = s.login("permit", &user, &[]);
    assert_eq!(o.code, PAM_SERVICE_ERR, "{o:?}");
    assert!(o.decision_lines()[0].contains("does not exist"), "{:?}", o.syslog);
}
