//! `mfa-enroll doctor` on small system trees: `tests/doctor/good/` (Debian 12's files with the
//! repository's `config/` files in place) and one case per finding, `tests/doctor/<case>/`,
//! holding only the files that differ from `good/`. Each test copies `good/` and the case into
//! a temporary root (owned by the user running the tests, modes fixed: git keeps no owners), makes
//! a real store there with `init` (and enrolls alice), and runs `doctor --root`.

mod common;
#[path = "doctor/harness.rs"]
mod harness;

use common::*;
use harness::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[test]
fn good_tree_has_no_findings_and_shows_no_secret() {
    let tree = Tree::new("good", Store::Enrolled);
    let (out, list) = tree.findings(&[]);
    assert_findings(&out, &list, &[]);
    assert_ok(&out);
    let text = tree.doctor(&[]);
    assert_ok(&text);
    assert!(
        stdout(&text).ends_with("No problems found.\n0 errors, 0 warnings\n"),
        "{}",
        stdout(&text)
    );
    let secret = tree.secret.as_deref().expect("secret");
    for o in [&out, &text] {
        assert!(!stdout(o).contains(secret) && !stderr(o).contains(secret));
    }
}

#[test]
fn good_tree_uses_the_repository_files() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (ours, theirs) in [
        ("etc/pam.d/sshd", "config/pam.d/sshd"),
        ("etc/pam.d/sudo", "config/pam.d/sudo"),
        ("etc/pam.d/login", "config/pam.d/login"),
        ("etc/ssh/sshd_config.d/pam_mfa.conf", "config/sshd_config.d/pam_mfa.conf"),
        ("etc/pam_mfa/pam_mfa.toml", "config/pam_mfa.toml"),
    ] {
        let a = std::fs::read_to_string(Path::new(FIXTURES).join("good").join(ours)).expect(ours);
        let b = std::fs::read_to_string(repo.join(theirs)).expect(theirs);
        assert_eq!(a, b, "tests/doctor/good/{ours} differs from {theirs}: copy it again");
    }
}

#[test]
fn sufficient_is_a_bypass() {
    one_finding("sufficient", "pam.sufficient", "error", "/etc/pam.d/sshd", Some(8));
}

#[test]
fn optional_is_a_bypass() {
    one_finding("optional", "pam.optional", "error", "/etc/pam.d/sudo", Some(9));
}

#[test]
fn bracket_control_ignoring_failures_is_a_bypass() {
    let f =
        one_finding("control-bypass", "pam.control-bypass", "error", "/etc/pam.d/login", Some(60));
    assert!(f["message"].as_str().expect("message").contains("auth_err=ignore"), "{f}");
}

#[test]
fn nullok_is_a_warning() {
    one_finding("nullok", "pam.nullok", "warning", "/etc/pam.d/sshd", Some(8));
}

#[test]
fn code_before_password_is_a_warning() {
    let f = one_finding(
        "before-password",
        "pam.before-password",
        "warning",
        "/etc/pam.d/sudo",
        Some(8),
    );
    assert!(f["message"].as_str().expect("message").contains("/etc/pam.d/common-auth:17"), "{f}");
}

#[test]
fn the_shipped_locker_stacks_have_no_findings() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for locker in ["xscreensaver", "xsecurelock", "i3lock", "swaylock"] {
        let ours = Path::new(FIXTURES).join("lockers/etc/pam.d").join(locker);
        let a = std::fs::read_to_string(&ours).expect("fixture");
        let b = std::fs::read_to_string(repo.join("config/pam.d").join(locker)).expect(locker);
        assert_eq!(a, b, "{} differs from config/pam.d/{locker}: copy it again", ours.display());
    }
    let tree = Tree::new("lockers", Store::Enrolled);
    let (out, list) = tree.findings(&[]);
    assert_findings(&out, &list, &[]);
    assert_ok(&out);
}

#[test]
fn a_one_question_locker_under_a_two_prompt_stack_is_an_error() {
    let f = one_finding(
        "locker-one-question",
        "pam.locker-one-question",
        "error",
        "/etc/pam.d/i3lock",
        Some(3),
    );
    assert!(f["fix"].as_str().expect("fix").contains("single_prompt"), "{f}");
}

#[test]
fn a_locker_without_the_locker_argument_is_a_warning() {
    one_finding(
        "locker-messages",
        "pam.locker-messages",
        "warning",
        "/etc/pam.d/xscreensaver",
        Some(3),
    );
}

#[test]
fn ignoring_without_pam_permit_locks_out() {
    let f = one_finding("no-permit", "pam.no-permit", "warning", "/etc/pam.d/sshd", Some(8));
    assert!(f["fix"].as_str().expect("fix").contains("auth required pam_permit.so"), "{f}");
}

#[test]
fn missing_module_locks_out() {
    one_finding("module-missing", "pam.module-missing", "error", "/etc/pam.d/login", Some(60));
}

#[test]
fn missing_module_in_the_module_directory_locks_out() {
    let tree = Tree::new("good", Store::Enrolled);
    std::fs::remove_file(tree.root.join("usr/lib/x86_64-linux-gnu/security/pam_permit.so"))
        .expect("rm");
    let (out, list) = tree.findings(&[]);
    // pam_permit is in common-auth (sudo, login) and in sshd.
    assert_findings(
        &out,
        &list,
        &[
            ("pam.module-missing", "error", "/etc/pam.d/common-auth", Some(23)),
            ("pam.module-missing", "error", "/etc/pam.d/sshd", Some(13)),
        ],
    );
    assert_exit(&out, 1);
}

#[test]
fn configuration_that_does_not_load_denies_everyone() {
    let f =
        one_finding("config-invalid", "config.invalid", "error", "/etc/pam_mfa/pam_mfa.toml", None);
    assert!(f["message"].as_str().expect("message").contains("unknown field `nulok`"), "{f}");
}

/// Issue 15, finding 8: a group or user a rule names that does not exist is an error (the
/// module denies every login through the configuration), reported with every missing name.
#[test]
fn unknown_rule_names_are_errors() {
    let f = one_finding(
        "unknown-name",
        "config.unknown-name",
        "error",
        "/etc/pam_mfa/pam_mfa.toml",
        None,
    );
    let m = f["message"].as_str().expect("message");
    assert!(
        m.contains("rule 1: group 'admins' does not exist")
            && m.contains("rule 2: user 'deploy' does not exist")
            && !m.contains("'wheel'"),
        "{f}"
    );
}

#[test]
fn config_option_names_the_configuration_to_check() {
    let tree = Tree::new("good", Store::Enrolled);
    let bad = tree.dir.path().join("other.toml");
    std::fs::write(&bad, "enrollment = \"sometimes\"\n").expect("write");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (out, list) = tree.findings(&["--config", bad.to_str().expect("utf8")]);
    assert_findings(&out, &list, &[("config.invalid", "error", bad.to_str().expect("utf8"), None)]);
    assert_exit(&out, 1);
    // Group-writable: refused by the module's loader, so reported too.
    std::fs::write(&bad, "").expect("write");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o620)).expect("chmod");
    let (out, list) = tree.findings(&["--config", bad.to_str().expect("utf8")]);
    assert_findings(&out, &list, &[("config.invalid", "error", bad.to_str().expect("utf8"), None)]);
}

#[test]
fn unknown_module_argument_denies_everyone() {
    let f = one_finding("bad-argument", "pam.bad-argument", "error", "/etc/pam.d/sudo", Some(9));
    assert!(f["message"].as_str().expect("message").contains("singleprompt"), "{f}");
}

#[test]
fn usepam_no_bypasses_pam_mfa() {
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    one_finding("usepam", "sshd.usepam", "error", conf, Some(8));
}

#[test]
fn keyboard_interactive_off_is_an_error() {
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    let f = one_finding("kbdinteractive", "sshd.kbdinteractive", "error", conf, Some(9));
    assert!(f["message"].as_str().expect("message").contains("sshd -t"), "{f}");
}

#[test]
fn challenge_response_is_the_same_setting_and_the_first_value_wins() {
    // The drop-in's ChallengeResponseAuthentication comes before Debian's own
    // "KbdInteractiveAuthentication no" in sshd_config: the drop-in's line is reported.
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    one_finding("challenge-response", "sshd.kbdinteractive", "error", conf, Some(9));
}

#[test]
fn missing_authentication_methods_lets_keys_skip_the_code() {
    let f = one_finding(
        "authentication-methods",
        "sshd.authentication-methods",
        "error",
        "/etc/ssh/sshd_config",
        None,
    );
    let fix = f["fix"].as_str().expect("fix");
    assert!(fix.contains("AuthenticationMethods publickey,keyboard-interactive"), "{f}");
}

#[test]
fn a_method_list_without_keyboard_interactive_skips_the_code() {
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    let f = one_finding(
        "authentication-methods-list",
        "sshd.authentication-methods",
        "error",
        conf,
        Some(11),
    );
    assert!(f["message"].as_str().expect("message").contains("gssapi-with-mic"), "{f}");
}

#[test]
fn password_authentication_feeds_the_password_to_the_code_prompt() {
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    one_finding(
        "password-authentication",
        "sshd.password-authentication",
        "warning",
        conf,
        Some(13),
    );
}

#[test]
fn match_blocks_are_reported_as_conditional() {
    let conf = "/etc/ssh/sshd_config.d/pam_mfa.conf";
    let f = one_finding("match", "sshd.authentication-methods", "warning", conf, Some(17));
    assert_eq!(f["condition"], "User deploy", "{f}");
}

#[test]
fn missing_include_locks_out() {
    let f =
        one_finding("include-missing", "pam.include-missing", "error", "/etc/pam.d/sudo", Some(8));
    assert!(f["message"].as_str().expect("message").contains("common-auth-mfa"), "{f}");
}

#[test]
fn sufficient_module_before_pam_mfa_skips_it() {
    let f = one_finding("skipped", "pam.skipped", "error", "/etc/pam.d/login", Some(58));
    assert!(f["message"].as_str().expect("message").contains("/etc/pam.d/login:60"), "{f}");
}

#[test]
fn no_stack_using_pam_mfa_is_noted() {
    one_finding("unused", "pam.unused", "info", "/etc/pam.d", None);
}

#[test]
fn nobody_enrolled_with_required_enrollment_locks_out() {
    let tree = Tree::new("good", Store::Empty);
    let (out, list) = tree.findings(&[]);
    assert_findings(
        &out,
        &list,
        &[
            ("store.nobody-enrolled", "error", "/etc/pam.d/login", Some(60)),
            ("store.nobody-enrolled", "error", "/etc/pam.d/sshd", Some(8)),
            ("store.nobody-enrolled", "error", "/etc/pam.d/sudo", Some(9)),
        ],
    );
    assert_exit(&out, 1);
    // With enrollment on login, nobody is locked out (sshd has pam_permit).
    let tree = Tree::new("no-permit", Store::Empty);
    std::fs::copy(
        Path::new(FIXTURES).join("good/etc/pam.d/sshd"),
        tree.root.join("etc/pam.d/sshd"),
    )
    .expect("copy");
    let (out, list) = tree.findings(&[]);
    assert_findings(&out, &list, &[]);
}

#[test]
fn store_that_cannot_be_opened_denies_everyone() {
    let tree = Tree::new("good", Store::Missing);
    let (out, list) = tree.findings(&[]);
    assert_findings(&out, &list, &[("store.unusable", "error", "/var/lib/pam_mfa", None)]);
    assert_exit(&out, 1);
    assert!(list[0]["message"].as_str().expect("message").contains("master.key"));
}

#[test]
fn text_report_groups_by_file_with_fixes_and_a_summary() {
    let tree = Tree::new("nullok", Store::Empty);
    std::fs::copy(
        Path::new(FIXTURES).join("optional/etc/pam.d/sudo"),
        tree.root.join("etc/pam.d/sudo"),
    )
    .expect("copy");
    let out = tree.doctor(&[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.starts_with("Checked /etc/pam.d and /etc/ssh/sshd_config below "), "{text}");
    assert!(
        text.contains("\n/etc/pam.d/sudo:\n  line 9: error [pam.optional] pam_mfa is `optional`"),
        "{text}"
    );
    assert!(text.contains("    fix: make the control required: `auth required pam_mfa.so`\n"));
    assert!(text.contains("\n/etc/pam.d/sshd:\n  line 8: warning [pam.nullok] "), "{text}");
    // login still requires enrollment, and nobody is enrolled.
    assert!(text.contains("\n/etc/pam.d/login:\n  line 60: error [store.nobody-enrolled] "));
    assert!(text.ends_with("\n2 errors, 1 warning\n"), "{text}");
    assert_eq!(stderr(&out), "mfa-enroll: doctor found 2 errors (see above)\n");
}

#[test]
fn root_is_needed_only_without_root_option() {
    let tree = Tree::new("good", Store::Enrolled);
    std::fs::set_permissions(tree.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "doctor"])
            .args(args)
            .output()
            .expect("setpriv")
    };
    let out = as_nobody(&[]);
    assert_exit(&out, 1);
    assert!(stderr(&out).starts_with("mfa-enroll: must be run as root"), "{}", stderr(&out));
    assert!(stderr(&out).contains("sudo mfa-enroll doctor"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = as_nobody(&["--json", "--root", tree.root.to_str().expect("utf8")]);
    assert!(!stderr(&out).contains("must be run as root"), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON array");
    // The stacks were read: pam_mfa is in use (no "pam.unused").
    assert!(list.as_array().expect("array").iter().all(|f| f["id"] != "pam.unused"), "{list}");
}

#[test]
fn user_option_is_refused() {
    let tree = Tree::new("good", Store::Missing);
    let out = tree.doctor(&["--user", "alice"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--user has no meaning for `doctor`"), "{}", stderr(&out));
}
