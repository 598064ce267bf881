//! Migration from google-authenticator-libpam: files made by the real `google-authenticator`
//! tool (Debian libpam-google-authenticator) are imported with `mfa-enroll import`, then used
//! to log in through libpam with oathtool codes and scratch codes.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn make_ga_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let st = Command::new("google-authenticator")
        .args(["--time-based", "--disallow-reuse", "--force", "--rate-limit=3", "--rate-time=30"])
        .args(["--window-size=5", "--emergency-codes=5", "--quiet", "--no-confirm"])
        .arg(format!("--secret={}", path.display()))
        .status()
        .expect("google-authenticator is installed (libpam-google-authenticator)");
    assert!(st.success());
    path
}

fn import(f: &Fixture, user: &str, file: &Path, extra: &[&str]) -> Output {
    f.enroll_tool(&["--user", user, "import", "google-authenticator"])
        .arg(file)
        .args(extra)
        .output()
        .expect("mfa-enroll")
}

struct GaFile {
    secret: String,
    scratch: Vec<String>,
}

fn read(path: &Path) -> GaFile {
    let text = std::fs::read_to_string(path).expect("read file");
    let mut lines = text.lines();
    let secret = lines.next().expect("secret line").to_string();
    let scratch = lines.filter(|l| !l.starts_with('"')).map(str::to_string).collect();
    GaFile { secret, scratch }
}

#[test]
fn imported_file_logs_in_with_codes_and_scratch_codes() {
    let f = Fixture::new();
    let path = make_ga_file(&f.root, "alice.ga");
    let ga = read(&path);
    f.remember(&mfa_tests::fixture::Enrolled {
        secret: ga.secret.clone(),
        recovery_codes: ga.scratch.clone(),
    });
    assert_eq!(ga.scratch.len(), 5);
    let out = import(&f, "alice", &path, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WINDOW_SIZE 5") && text.contains("Not carried over: RATE_LIMIT 3 30"),
        "{text}"
    );
    assert!(!text.contains(&ga.secret), "the secret is not printed");

    wait_for_step_margin(30, 4);
    let code = oathtool(&ga.secret, "SHA1", 6, 30, now());
    assert_eq!(f.login("alice", &[&code]).code, PAM_SUCCESS);
    assert_eq!(f.login("alice", &[&code]).code, PAM_AUTH_ERR, "replay");
    // WINDOW_SIZE 5 → two steps either side (the default window is one).
    assert_eq!(
        f.login("alice", &[&oathtool(&ga.secret, "SHA1", 6, 30, now() + 60)]).code,
        PAM_SUCCESS
    );

    // Scratch codes work once each, as recovery codes.
    let o = f.login("alice", &[&ga.scratch[1]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(
        o.messages.iter().any(|(_, m)| m.contains("4 recovery codes left")),
        "{:?}",
        o.messages
    );
    assert_eq!(f.login("alice", &[&ga.scratch[1]]).code, PAM_AUTH_ERR);

    // Importing again without --force is refused; with --force it replaces.
    assert!(!import(&f, "alice", &path, &[]).status.success());
    assert!(import(&f, "alice", &path, &["--force"]).status.success());
}

#[test]
fn steps_used_under_google_authenticator_stay_used() {
    let f = Fixture::new();
    let path = make_ga_file(&f.root, "bob.ga");
    let ga = read(&path);
    f.remember(&mfa_tests::fixture::Enrolled {
        secret: ga.secret.clone(),
        recovery_codes: ga.scratch.clone(),
    });
    wait_for_step_margin(30, 4);
    let step = now() / 30;
    // As pam_google_authenticator records a used code.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\" DISALLOW_REUSE", &format!("\" DISALLOW_REUSE {step}"));
    let edited = f.root.join("bob-used.ga");
    std::fs::write(&edited, text).unwrap();
    assert!(import(&f, "bob", &edited, &[]).status.success());
    let code = oathtool(&ga.secret, "SHA1", 6, 30, now());
    assert_eq!(f.login("bob", &[&code]).code, PAM_AUTH_ERR, "used under google-authenticator");
    assert_eq!(
        f.login("bob", &[&oathtool(&ga.secret, "SHA1", 6, 30, now() + 30)]).code,
        PAM_SUCCESS
    );
}

#[test]
fn unsafe_or_unsupported_files_are_refused() {
    let f = Fixture::new();
    let path = make_ga_file(&f.root, "carol.ga");
    let link = f.root.join("link.ga");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let out = import(&f, "carol", &link, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    let hotp = f.root.join("hotp.ga");
    std::fs::write(&hotp, "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" HOTP_COUNTER 1\n").unwrap();
    let out = import(&f, "carol", &hotp, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOTP"), "{out:?}");
    assert!(!f.user_file("carol").exists(), "nothing imported");
}
