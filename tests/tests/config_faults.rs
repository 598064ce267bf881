//! A bad configuration or module argument denies every login (PAM_SERVICE_ERR) and says why.

use mfa_tests::client::*;
use mfa_tests::fixture::Fixture;
use std::os::unix::fs::{PermissionsExt, symlink};

fn denied(f: &Fixture, service: &str, hint: &str) {
    let o = f.login_with(service, "alice", &["123456"], &[]);
    assert_eq!(o.code, PAM_SERVICE_ERR, "{hint}: {o:?}");
    assert!(o.messages.is_empty(), "{hint}: no prompt with a broken configuration");
    let lines = o.decision_lines();
    assert_eq!(lines.len(), 1, "{:?}", o.syslog);
    assert!(lines[0].contains(hint), "expected '{hint}' in {}", lines[0]);
}

#[test]
fn unknown_key_bad_value_and_syntax_error() {
    let f = Fixture::new();
    f.enroll("alice");
    f.write_config("nullok_typo = true\n");
    denied(&f, "mfa", "unknown field `nullok_typo`");
    f.write_config("[totp]\nwindow = 99\n");
    denied(&f, "mfa", "totp.window must be between 0 and 10");
    f.write_config("[totp\n");
    denied(&f, "mfa", "configuration error");
}

#[test]
fn insecure_or_missing_config_file() {
    let f = Fixture::new();
    f.enroll("alice");
    std::fs::set_permissions(&f.config_path, std::fs::Permissions::from_mode(0o664)).unwrap();
    denied(&f, "mfa", "group- or world-writable");
    std::fs::set_permissions(&f.config_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&f.config_path, Some(65534), None).unwrap();
    denied(&f, "mfa", "owned by uid 65534");
    std::os::unix::fs::chown(&f.config_path, Some(0), None).unwrap();
    let real = f.root.join("real.toml");
    std::fs::rename(&f.config_path, &real).unwrap();
    denied(&f, "mfa", "No such file");
    symlink(&real, &f.config_path).unwrap();
    denied(&f, "mfa", "symbolic links");
}

#[test]
fn bad_module_arguments() {
    let f = Fixture::new();
    f.enroll("alice");
    f.stack("typo", "auth required {module} {config} nulok");
    denied(&f, "typo", "unknown module argument 'nulok'");
    f.stack("relative", "auth required {module} config=relative.toml");
    denied(&f, "relative", "absolute path");
}

#[test]
fn config_is_a_directory_or_not_utf8() {
    let f = Fixture::new();
    f.enroll("alice");
    std::fs::remove_file(&f.config_path).unwrap();
    std::fs::create_dir(&f.config_path).unwrap();
    denied(&f, "mfa", "not a regular file");
    std::fs::remove_dir(&f.config_path).unwrap();
    std::fs::write(&f.config_path, b"nullok = \xff\xfe\n").unwrap();
    denied(&f, "mfa", "not valid UTF-8");
}
