//! Real OpenSSH: `sshd` on 127.0.0.1 in a private mount namespace with the repository's
//! config/pam.d/sshd and config/sshd_config.d/pam_mfa.conf, and the real `ssh` client
//! answering keyboard-interactive prompts through SSH_ASKPASS.

use mfa_tests::fixture::{now, oathtool, wait_for_step_margin};
use mfa_tests::sandbox::Sshd;
use std::process::Command;

const COMMAND: &str = "echo ok-$((6*7))";

#[test]
fn public_key_and_code_log_in_and_everything_else_is_refused() {
    let sshd = Sshd::start("");
    let e = sshd.sandbox.enroll("mfauser");
    wait_for_step_margin(30, 5);
    let code = e.code_now();

    let run = sshd.ssh(&sshd.key(), &code, "", COMMAND);
    assert!(run.ok, "key + right code: {run:?}\n{}", sshd.log());
    assert_eq!(run.stdout.trim(), "ok-42");
    assert_eq!(run.prompts.len(), 1);
    assert!(run.prompts[0].ends_with("Verification code: "), "{:?}", run.prompts);

    // The same code again: refused.
    let run = sshd.ssh(&sshd.key(), &code, "", COMMAND);
    assert!(!run.ok && run.stdout.is_empty(), "replayed code: {run:?}");
    assert!(run.stderr.contains("Permission denied"), "{}", run.stderr);

    // A wrong code: refused.
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let run = sshd.ssh(&sshd.key(), &wrong, "", COMMAND);
    assert!(!run.ok && run.stdout.is_empty(), "wrong code: {run:?}");

    // No authorized key: refused before any code is asked, even with a valid code.
    let other = sshd.sandbox.dir.join("other_key");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen");
    assert!(keygen.success());
    let next = oathtool(&e.secret, "SHA1", 6, 30, now() + 30);
    let run = sshd.ssh(&other, &next, "", COMMAND);
    assert!(!run.ok && run.stdout.is_empty(), "no key: {run:?}");
    assert!(run.prompts.is_empty(), "the code must not even be asked: {:?}", run.prompts);
    assert!(run.stderr.contains("Permission denied (publickey)"), "{}", run.stderr);

    // The next step's code still works with the key.
    let run = sshd.ssh(&sshd.key(), &next, "", COMMAND);
    assert!(run.ok, "{run:?}");
}

#[test]
fn enroll_on_first_login_over_ssh_then_log_in_with_a_code() {
    let sshd = Sshd::start("enrollment = \"on-login\"");
    wait_for_step_margin(30, 5);
    let run = sshd.ssh(&sshd.key(), "", "1", COMMAND);
    assert!(run.ok, "enroll on login: {run:?}\n{}", sshd.log());
    assert_eq!(run.stdout.trim(), "ok-42");
    assert_eq!(run.prompts.len(), 3, "menu, confirmation code, press Enter: {:?}", run.prompts);
    assert!(run.prompts[0].contains("1) Set up an authenticator app now"));
    let setup = &run.prompts[1];
    assert!(setup.contains('█') && setup.contains('▄'), "QR code shown: {setup}");
    assert!(setup.contains("otpauth://totp/pam_mfa:mfauser@"), "{setup}");
    let codes = &run.prompts[2];
    let shown = codes
        .lines()
        .filter(|l| mfa_login::recovery::Attempt::parse(l.trim()).is_some() && l.contains('-'))
        .count();
    assert_eq!(shown, 10, "ten recovery codes shown: {codes}");

    // Second login: the secret from the QR code's URI, the next step's code (the confirmation
    // code's step is used up).
    let secret = setup.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let run = sshd.ssh(&sshd.key(), &oathtool(&secret, "SHA1", 6, 30, now() + 30), "", COMMAND);
    assert!(run.ok, "login with a code after enrolling: {run:?}");
    assert!(run.prompts[0].ends_with("Verification code: "), "{:?}", run.prompts);
}
