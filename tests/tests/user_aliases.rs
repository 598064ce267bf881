//! Another spelling of a user name is the same account (issue 15, finding 2): the module
//! resolves `PAM_USER` (getpwnam → uid → the uid's first name) and keys records, lockout and
//! rules by that account. Two passwd names for one uid (like root/toor) and a case variant
//! (what sssd against AD accepts), in the sandbox's own passwd; a name that resolves to nobody is
//! refused before any policy runs, never `PAM_IGNORE`.

use mfa_tests::accounts::{fresh_name, fresh_uid};
use mfa_tests::client::*;
use mfa_tests::fixture::{now, wait_for_step_margin};
use mfa_tests::sandbox::{Sandbox, enroll_tool};

struct Accounts {
    s: Sandbox,
    user: String,
    uid: u32,
    alias: String,
    upper: String,
}

/// A user with two other names for its uid; a `nullok` stack (the shipped pam-auth-update
/// profile's leniency) as `mfa-alias`, a plain one as `mfa-plain`. `top` goes before the tables.
fn accounts(top: &str) -> Accounts {
    let s = Sandbox::new();
    let user = fresh_name("mfa");
    let uid = fresh_uid();
    s.add_user(&user, uid, None);
    let alias = fresh_name("toor");
    s.add_alias(&alias, uid);
    let upper = user.to_uppercase();
    s.add_alias(&upper, uid);
    std::fs::create_dir_all(s.dir.join("etc.upper/pam.d")).expect("mkdir");
    std::fs::write(s.dir.join("etc.upper/pam.d/mfa-alias"), "auth required pam_mfa.so nullok\n")
        .expect("stack");
    std::fs::write(s.dir.join("etc.upper/pam.d/mfa-plain"), "auth required pam_mfa.so\n")
        .expect("stack");
    s.configure(&format!("{top}\n[lockout]\nmax_failures = 3\nfail_delay_ms = 0\n"));
    Accounts { s, user, uid, alias, upper }
}

#[test]
fn an_alias_of_an_enrolled_user_is_asked_for_that_users_code_and_only_it_works() {
    let a = accounts("");
    let e = a.s.enroll(&a.user);
    for name in [&a.alias, &a.upper] {
        let o = a.s.login("mfa-alias", name, &["--answer", "000000"]);
        assert_eq!(o.code, PAM_AUTH_ERR, "{name}: {o:?}");
        assert_eq!(
            o.messages,
            vec![(PAM_PROMPT_ECHO_OFF, "Verification code: ".to_string())],
            "{name} is asked for the enrolled user's code"
        );
        assert!(
            o.decision_lines()[0].contains(&format!("user=\"{}\"", a.user)),
            "logged as the account: {:?}",
            o.syslog
        );
    }
    wait_for_step_margin(30, 5);
    let code = e.code_now();
    let o = a.s.login("mfa-alias", &a.alias, &["--answer", &code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    // One record: the code just used through the alias is spent for the other spellings too.
    for name in [&a.user, &a.upper] {
        assert_eq!(a.s.login("mfa-alias", name, &["--answer", &code]).code, PAM_AUTH_ERR, "{name}");
    }
    // One lockout: the two replays and one more wrong code, through three spellings, lock it.
    assert_eq!(a.s.login("mfa-alias", &a.alias, &["--answer", "000000"]).code, PAM_AUTH_ERR);
    let o = a.s.login("mfa-alias", &a.upper, &["--answer", &e.code_at(now() + 30)]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(o.decision_lines()[0].contains("locked"), "{:?}", o.syslog);
    // Nothing was stored under another spelling.
    let users: Vec<String> = std::fs::read_dir(a.s.dir.join("state/users"))
        .expect("users")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(users, vec![a.user.clone()], "uid {}", a.uid);
}

#[test]
fn a_name_that_resolves_to_nobody_is_refused_before_any_policy() {
    let a = accounts("enrollment = \"on-login\"\nallow_opt_out = true\n");
    let nobody = fresh_name("nobody");
    for stack in ["mfa-alias", "mfa-plain"] {
        let o = a.s.login(stack, &nobody, &["--answer", "3"]);
        assert_eq!(o.code, PAM_USER_UNKNOWN, "{stack}: never PAM_IGNORE: {o:?}");
        assert!(o.messages.is_empty(), "{stack}: no menu, no prompt: {:?}", o.messages);
    }
    assert!(!a.s.dir.join("state/users").join(&nobody).exists());
}

#[test]
fn enroll_on_login_through_an_alias_cannot_add_a_factor_to_the_account() {
    // The attack of the issue: with enroll-on-login, the alias has no record and the attacker
    // enrolls their own app as the alias. Now the alias is the enrolled account.
    let a = accounts("enrollment = \"on-login\"\n");
    a.s.enroll(&a.user);
    let o = a.s.login("mfa-plain", &a.alias, &["--answer", "000000"]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(!o.messages.iter().any(|(_, m)| m.contains("otpauth://")), "{:?}", o.messages);
}

#[test]
fn mfa_enroll_user_option_acts_on_the_account_of_an_alias() {
    let a = accounts("");
    a.s.enroll(&a.user);
    let tool = |args: &[&str]| {
        let mut all = vec!["--config".to_string(), a.s.config_path().display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        a.s.run_as(0, &enroll_tool(), &all, b"")
    };
    // The alias is the enrolled account: provisioning through it replaces the account's app
    // (it does not make a second record), and status shows the account.
    let out = tool(&["--user", &a.alias, "totp", "--yes", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["user"], a.user.as_str(), "{v}");
    let out = tool(&["--user", &a.upper, "status"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("{}: enrolled", a.user)), "{text}");
    // A name nobody has is refused.
    let out = tool(&["--user", &fresh_name("nobody"), "totp", "--yes", "--json"]);
    assert!(!out.status.success(), "{out:?}");
    let users: Vec<String> = std::fs::read_dir(a.s.dir.join("state/users"))
        .expect("users")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(users, vec![a.user.clone()]);
}
