//! `init`, `status`, `list`, `remove`, `recovery-codes`, QR image files, root checks and usage
//! errors, against a private temporary store.

mod common;

use common::*;
use mfa_login::recovery::{Attempt, Check};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn init_is_idempotent_and_reports_what_exists() {
    let env = Env::new();
    assert_eq!(mode(&env.path("master.key")), 0o600);
    assert_eq!(mode(&env.path("state")), 0o700);
    let key = std::fs::read(env.path("master.key")).expect("key");
    assert_eq!(key.len(), 32);
    let out = env.run(&["init"], b"");
    assert_ok(&out);
    assert_eq!(stdout(&out).matches("exists (checked)").count(), 2, "{}", stdout(&out));
    assert_eq!(std::fs::read(env.path("master.key")).expect("key"), key, "key unchanged");
}

#[test]
fn commands_before_init_point_to_init() {
    let env = Env::new();
    std::fs::remove_file(env.path("master.key")).expect("rm");
    let out = env.run(&["--user", "alice", "status"], b"");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("run `mfa-enroll init`"), "{}", stderr(&out));
}

#[test]
fn status_of_a_user_without_enrollment_is_not_an_error() {
    let env = Env::new();
    let out = env.run(&["--user", "nobody-here", "status"], b"");
    assert_ok(&out);
    assert_eq!(stdout(&out), "nobody-here: not enrolled\n");
    let v = env.status("nobody-here");
    assert_eq!(v["enrolled"], false);
    assert!(v["totp"].is_null());
}

#[test]
fn status_text_and_list() {
    let env = Env::new();
    env.provision("alice");
    env.provision("bob");
    let out = env.run(&["--user", "alice", "status"], b"");
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.starts_with("alice: enrolled\n"), "{text}");
    assert!(text.contains("SHA1, 6 digits, 30 s; enrolled 2"), "{text}");
    assert!(text.contains("10 of 10 left"), "{text}");
    let out = env.run(&["list", "--json"], b"");
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let users: Vec<&str> =
        v.as_array().expect("array").iter().filter_map(|s| s["user"].as_str()).collect();
    assert_eq!(users, ["alice", "bob"]);
    assert!(v.as_array().expect("array").iter().all(|s| s["recovery_codes_left"] == 10));
    let out = env.run(&["list"], b"");
    assert_ok(&out);
    assert!(stdout(&out).contains("alice: enrolled") && stdout(&out).contains("bob: enrolled"));
    // --user makes no sense for list: usage error.
    assert_exit(&env.run(&["--user", "alice", "list"], b""), 2);
}

#[test]
fn regenerate_recovery_codes_replaces_the_set() {
    let env = Env::new();
    let first = env.provision("alice");
    let old: Vec<String> = first["recovery_codes"]
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c.as_str().expect("str").to_string())
        .collect();
    let out = env.run(&["--user", "alice", "recovery-codes", "--regenerate"], b"");
    assert_ok(&out);
    let new = recovery_codes_in(&stdout(&out));
    assert_eq!(new.len(), 10, "{}", stdout(&out));
    assert!(new.iter().enumerate().all(|(i, c)| is_recovery_code(c, i)));
    assert!(new.iter().all(|c| !old.contains(c)));
    assert!(stdout(&out).contains("shown only this once"));
    // Old codes no longer work, new ones do (checked with the stored hashes).
    let mut stored = env.record("alice").expect("record").recovery.expect("codes");
    assert_eq!(stored.redeem(&Attempt::parse(&old[3]).expect("parse")), Check::Rejected);
    assert!(matches!(
        stored.redeem(&Attempt::parse(&new[3]).expect("parse")),
        Check::Accepted { .. }
    ));
    // The TOTP factor is untouched.
    assert!(env.record("alice").expect("record").totp.is_some());

    let out = env.run(&["--user", "alice", "recovery-codes"], b"");
    assert_ok(&out);
    assert_eq!(stdout(&out), "alice has 10 of 10 recovery codes left.\n");
    let out = env.run(&["--user", "alice", "recovery-codes", "--regenerate", "--json"], b"");
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["recovery_codes"].as_array().map(Vec::len), Some(10));
}

#[test]
fn regenerate_without_enrollment_is_an_error() {
    let env = Env::new();
    let out = env.run(&["--user", "zoe", "recovery-codes", "--regenerate"], b"");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("zoe is not enrolled"), "{}", stderr(&out));
    assert!(env.record("zoe").is_none());
}

#[test]
fn remove_asks_and_only_yes_removes() {
    let env = Env::new();
    env.provision("alice");
    for declined in [&b""[..], b"\n", b"n\n", b"nope\n"] {
        let out = env.run(&["--user", "alice", "remove"], declined);
        assert_exit(&out, 3);
        assert!(stdout(&out).contains("Remove all second factors of alice? [y/N]"));
        assert!(stderr(&out).contains("nothing was removed"));
        assert!(env.record("alice").is_some());
    }
    assert!(env.path("state/locks/alice").exists(), "changes took the user's lock");
    let out = env.run(&["--user", "alice", "remove"], b"y\n");
    assert_ok(&out);
    assert!(env.record("alice").is_none());
    assert!(!env.path("state/locks/alice").exists(), "remove leaves no lock file behind");
    assert_eq!(env.status("alice")["enrolled"], false);

    env.provision("bob");
    let out = env.run(&["--user", "bob", "remove", "--yes"], b"");
    assert_ok(&out);
    assert!(stdout(&out).contains("Removed all second factors of bob"));
    assert_eq!(env.status("bob")["enrolled"], false);
    let out = env.run(&["--user", "bob", "remove", "--yes"], b"");
    assert_ok(&out);
    assert!(stdout(&out).contains("nothing to remove"));
}

#[test]
fn png_file_is_private_decodes_and_is_never_overwritten() {
    let env = Env::new();
    let file = env.path("qr.png");
    let arg = format!("png:{}", file.display());
    let v = env.provision_with(&["--user", "alice", "totp", "--yes", "--json", "--qr", &arg]);
    assert_eq!(mode(&file), 0o600);
    // The image holds the URI.
    let bytes = std::fs::read(&file).expect("read");
    let mut reader = png::Decoder::new(&bytes[..]).read_info().expect("PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("frame");
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(
        info.width as usize,
        info.height as usize,
        |x, y| buf[y * info.line_size + x],
    );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().expect("decode").1, v["uri"].as_str().expect("uri"));
    // A second run refuses the existing file before saving or showing anything.
    let out = env.run(&["--user", "alice", "totp", "--yes", "--json", "--qr", &arg], b"");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("refusing to overwrite"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&file).expect("read"), bytes);
    let secret = env.record("alice").expect("record").totp.expect("totp").secret;
    assert_eq!(&*secret.to_base32(), v["secret"].as_str().expect("secret"));
}

#[test]
fn svg_file_is_written() {
    let env = Env::new();
    let file = env.path("qr.svg");
    let out = env
        .run(&["--user", "bob", "totp", "--yes", "--qr", &format!("svg:{}", file.display())], b"");
    assert_ok(&out);
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("<svg") && text.contains("<path"), "{text}");
}

#[test]
fn non_root_is_refused_with_a_clear_message() {
    let env = Env::new();
    let run = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--config"])
            .arg(&env.config)
            .args(args)
            .output()
            .expect("setpriv")
    };
    // Administrator commands say how to run them.
    let out = run(&["list"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "mfa-enroll: `list` is an administrator command and must run as root: \
             sudo mfa-enroll --user nobody list"
        ),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // A user's own `totp` goes to the setuid helper (tested in tests/tests/unprivileged.rs);
    // here the root-only test configuration cannot even be read, so nothing happens.
    let out = run(&["totp"]);
    assert_exit(&out, 1);
    assert!(out.stdout.is_empty());
    let out = run(&["--user", "alice", "status"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--user (acting for another user) is only allowed for root"));
    // Help needs no privileges.
    assert_ok(&run(&["--help"]));
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for args in [
        &["totp", "--json"][..],
        &["--user", "alice", "totp", "--yes", "--json", "--qr", "ansi"],
        &["--user", "alice", "totp", "--qr", "jpeg:x"],
        &["--user", "alice", "init"],
        &["frobnicate"],
    ] {
        let out = env.run(args, b"");
        assert_exit(&out, 2);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(env.record("alice").is_none());
}

#[test]
fn bad_user_names_and_unsafe_config_are_refused() {
    let env = Env::new();
    let out = env.run(&["--user", "../etc", "status"], b"");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("invalid user name"), "{}", stderr(&out));
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = env.run(&["--user", "alice", "status"], b"");
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("group- or world-writable"), "{}", stderr(&out));
}

#[test]
fn help_explains_commands_with_examples() {
    for args in
        [&["--help"][..], &["totp", "--help"], &["remove", "--help"], &["recovery-codes", "--help"]]
    {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert_ok(&out);
        let text = stdout(&out);
        assert!(text.contains("Example"), "{args:?}: {text}");
        assert!(text.contains("sudo mfa-enroll"), "{args:?}");
    }
    // What a user can do without sudo names every factor they can set up themselves.
    let out = Command::new(BIN).arg("--help").output().expect("run");
    let text = stdout(&out).replace('\n', " ");
    assert!(
        text.contains("users manage their own account (totp, push, fido2, status, remove, recovery-codes, opt-in)"),
        "{text}"
    );
}
