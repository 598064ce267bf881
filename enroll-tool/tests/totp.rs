//! `mfa-enroll totp`, interactive and provisioning, against a private temporary store.

mod common;

use common::*;
use mfa_login::otpauth::TotpUri;
use mfa_login::secret::SecretBytes;
use mfa_login::totp::{Algorithm, Params};
use std::io::{BufRead, BufReader, Read, Write};

#[test]
fn provisioning_prints_one_json_object_and_saves_unconfirmed() {
    let env = Env::new();
    let out = env.run(&["--user", "alice", "totp", "--yes", "--json"], b"");
    assert_ok(&out);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "only the JSON object on stdout: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    let mut want = ["user", "secret", "uri", "algorithm", "digits", "period", "recovery_codes"];
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(v["user"], "alice");
    assert_eq!(
        (v["algorithm"].as_str(), v["digits"].as_u64(), v["period"].as_u64()),
        (Some("SHA1"), Some(6), Some(30))
    );
    let secret = v["secret"].as_str().expect("secret");
    let key = SecretBytes::from_base32(secret).expect("secret is base32");
    assert_eq!(key.len(), 20, "160-bit secret");
    let uri = TotpUri::parse(v["uri"].as_str().expect("uri")).expect("valid otpauth URI");
    assert_eq!(uri.secret, key);
    assert_eq!(uri.issuer, "pam_mfa");
    assert!(uri.account.starts_with("alice@"), "{}", uri.account);
    let codes: Vec<&str> =
        v["recovery_codes"].as_array().expect("array").iter().filter_map(|c| c.as_str()).collect();
    assert_eq!(codes.len(), 10);
    for (i, c) in codes.iter().enumerate() {
        assert!(is_recovery_code(c, i), "{c}");
    }
    // The stored factor is this secret, and no step is marked used (nobody typed a code).
    let record = env.record("alice").expect("saved");
    let totp = record.totp.expect("totp");
    assert_eq!(totp.secret, key);
    assert_eq!(totp.last_used_step, None);
    assert_eq!(record.recovery.expect("codes").remaining(), 10);
    // oathtool and mfa-login agree on the current code for the issued secret.
    let code = current_code(secret);
    assert_eq!(code.len(), 6);
}

#[test]
fn provisioning_as_text_shows_the_same_things() {
    let env = Env::new();
    let out = env.run(&["--user", "bob", "totp", "--yes", "--qr", "none"], b"");
    assert_ok(&out);
    let text = stdout(&out);
    assert!(!text.trim_start().starts_with('{'));
    let secret_line = text.lines().find(|l| l.starts_with("Secret:")).expect("secret line");
    let secret: String = secret_line["Secret:".len()..].split_whitespace().collect();
    assert_eq!(
        env.record("bob").expect("saved").totp.expect("totp").secret,
        SecretBytes::from_base32(&secret).expect("base32")
    );
    assert!(text.lines().any(|l| l.starts_with("URI:") && l.contains("otpauth://totp/")));
    assert_eq!(recovery_codes_in(&text).len(), 10);
    assert!(text.contains("shown only this once"));
}

/// Starts an interactive enrollment and reads stdout up to the secret.
fn start_interactive(
    env: &Env,
    args: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = env.cmd(args).spawn().expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut secret = None;
    let mut line = String::new();
    while secret.is_none() && reader.read_line(&mut line).expect("read") > 0 {
        secret = line.strip_prefix("Secret:").map(|s| s.split_whitespace().collect::<String>());
        line.clear();
    }
    match secret {
        Some(secret) => (child, reader, secret),
        None => {
            let status = child.wait().expect("wait");
            panic!("no secret line before EOF (exit {status})");
        }
    }
}

/// Types `answers` and returns (exit code, rest of stdout, stderr).
fn answer(
    mut child: std::process::Child,
    mut reader: BufReader<std::process::ChildStdout>,
    answers: &str,
) -> (Option<i32>, String, String) {
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(answers.as_bytes()).expect("write answers");
    drop(stdin);
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("read");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read");
    (child.wait().expect("wait").code(), rest, err)
}

#[test]
fn interactive_enrollment_with_the_right_code() {
    let env = Env::new();
    let (child, reader, secret) =
        start_interactive(&env, &["--user", "carol", "totp", "--qr", "none"]);
    let code = current_code(&secret);
    let (status, rest, err) = answer(child, reader, &format!("{code}\n"));
    assert_eq!(status, Some(0), "stdout: {rest}\nstderr: {err}");
    assert!(rest.contains("Enter the 6-digit code from your app to confirm: "));
    let codes = recovery_codes_in(&rest);
    assert_eq!(codes.len(), 10, "{rest}");
    assert!(rest.contains("replace any earlier recovery codes"));
    let status = env.status("carol");
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["recovery_codes_left"], 10);
    assert_eq!(status["totp"]["algorithm"], "SHA1");
    // The confirmation code's step is recorded as used, so it cannot be replayed at login.
    let totp = env.record("carol").expect("saved").totp.expect("totp");
    assert_eq!(totp.secret, SecretBytes::from_base32(&secret).expect("base32"));
    assert!(totp.last_used_step.is_some());
}

#[test]
fn three_wrong_codes_exit_3_and_save_nothing() {
    let env = Env::new();
    let (child, reader, secret) =
        start_interactive(&env, &["--user", "carol", "totp", "--qr", "none"]);
    let wrong = wrong_code(&secret);
    // A fourth line would be the right code: it must not be read any more.
    let right = current_code(&secret);
    let (status, rest, err) =
        answer(child, reader, &format!("{wrong}\n{wrong}\n{wrong}\n{right}\n"));
    assert_eq!(status, Some(3), "stdout: {rest}\nstderr: {err}");
    assert_eq!(rest.matches("not right").count(), 2, "{rest}");
    assert!(err.contains("nothing was saved"), "{err}");
    assert!(recovery_codes_in(&rest).is_empty());
    assert_eq!(env.status("carol")["enrolled"], false);
    assert!(env.record("carol").is_none());
}

#[test]
fn one_wrong_code_then_the_right_one_succeeds() {
    let env = Env::new();
    let (child, reader, secret) =
        start_interactive(&env, &["--user", "dan", "totp", "--qr", "none"]);
    let (wrong, right) = (wrong_code(&secret), current_code(&secret));
    let (status, rest, err) = answer(child, reader, &format!("{wrong}\n{right}\n"));
    assert_eq!(status, Some(0), "stdout: {rest}\nstderr: {err}");
    assert_eq!(env.status("dan")["enrolled"], true);
}

#[test]
fn end_of_input_or_empty_answer_aborts_and_saves_nothing() {
    let env = Env::new();
    for input in [&b""[..], b"\n"] {
        let out = env.run(&["--user", "erin", "totp", "--qr", "none"], input);
        assert_exit(&out, 3);
        assert!(stderr(&out).contains("nothing was saved"), "{}", stderr(&out));
        assert!(env.record("erin").is_none());
    }
}

#[test]
fn existing_enrollment_is_kept_without_force() {
    let env = Env::new();
    let first = env.provision("frank");
    let out = env.run(&["--user", "frank", "totp", "--qr", "none"], b"123456\n");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already has an authenticator app"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"));
    assert!(stdout(&out).is_empty(), "no new secret shown: {}", stdout(&out));
    let kept = env.record("frank").expect("kept").totp.expect("totp").secret;
    assert_eq!(kept, SecretBytes::from_base32(first["secret"].as_str().expect("s")).expect("b32"));

    // --force replaces it, after confirmation.
    let (child, reader, secret) =
        start_interactive(&env, &["--user", "frank", "totp", "--force", "--qr", "plain"]);
    let (status, rest, err) = answer(child, reader, &format!("{}\n", current_code(&secret)));
    assert_eq!(status, Some(0), "stdout: {rest}\nstderr: {err}");
    let now = env.record("frank").expect("saved").totp.expect("totp");
    assert_eq!(now.secret, SecretBytes::from_base32(&secret).expect("b32"));
    assert_ne!(now.secret, kept);
    // --yes implies --force.
    let again = env.provision("frank");
    assert_ne!(again["secret"], first["secret"]);
}

#[test]
fn configured_parameters_are_used() {
    let env = Env::new();
    let mut text = std::fs::read_to_string(&env.config).expect("read");
    text.push_str("[totp]\nalgorithm = \"SHA256\"\ndigits = 8\nissuer = \"ACME\"\n");
    std::fs::write(&env.config, text).expect("write");
    let v = env.provision("gina");
    assert_eq!((v["algorithm"].as_str(), v["digits"].as_u64()), (Some("SHA256"), Some(8)));
    let uri = TotpUri::parse(v["uri"].as_str().expect("uri")).expect("uri");
    assert_eq!(uri.params, Params { algorithm: Algorithm::Sha256, digits: 8, step: 30 });
    assert_eq!(uri.issuer, "ACME");
    let out = env.run(&["--user", "hank", "totp", "--qr", "none"], b"");
    assert!(stdout(&out).contains("Enter the 8-digit code"), "{}", stdout(&out));
}
