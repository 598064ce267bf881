//! Fleet self-service end to end (issue 20): on host A (a sandbox with the real setuid
//! `mfa-helper` and the real `mfa-enroll` run as an unprivileged user) the user enrolls their
//! own app and recovery codes at the real service over TLS; the real pam_mfa.so through the
//! real libpam logs them in with it on host B. The helper acts for the caller's own account
//! only, a change without a current factor is refused, the host credential never reaches the
//! caller, and the service's `first_enrollment = "admin"` refusal reaches the user as a plain
//! message.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};
use mfa_tests::sandbox::{Sandbox, enroll_tool};
use std::path::Path;
use std::time::Duration;

const UID: u32 = 4270;
const OTHER_UID: u32 = 4271;
const USER: &str = "fsuser";
const WAIT: Duration = Duration::from_secs(30);

fn fleet_section(svc: &PushService, credential: &Path) -> String {
    let section = svc.push_section(credential, "").replacen("[push]", "[fleet]", 1);
    format!("{section}\n[[rule]]\nbackend = \"fleet\"\n")
}

/// Host A: a sandbox with two users and the helper, every factor at the service.
fn host_a(svc: &PushService) -> (Sandbox, String) {
    let s = Sandbox::new();
    s.add_user(USER, UID, None);
    s.add_user("fsother", OTHER_UID, None);
    let helper = s.install_helper();
    let credential = s.dir.join("host-a.json");
    svc.add_host("host-a", &credential);
    s.configure(&format!("helper = \"{}\"\n{}", helper.display(), fleet_section(svc, &credential)));
    let secret = std::fs::read_to_string(&credential).expect("credential");
    (s, secret)
}

/// Host B: the real module through libpam.
fn host_b(svc: &PushService) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host("host-b", &credential);
    f.write_config(&fleet_section(svc, &credential));
    f
}

/// `mfa-enroll totp` as the user through the helper: answers the current-factor prompt with
/// `proof` if given, reads the secret shown, confirms it. Returns the secret and the output.
fn enroll_totp(s: &Sandbox, args: &[&str], proof: Option<&str>) -> (String, String) {
    wait_for_step_margin(30, 10);
    let mut live = s.spawn_as(UID, &enroll_tool(), args);
    if let Some(p) = proof {
        live.wait_for(WAIT, |t| t.contains("Current code").then_some(()));
        live.send_line(p);
    }
    let secret = live.wait_for(WAIT, |t| {
        let start = t.find("by hand: secret ")? + "by hand: secret ".len();
        let end = start + t[start..].find("  (time-based")?;
        Some(t[start..end].split_whitespace().collect::<String>())
    });
    live.wait_for(WAIT, |t| t.contains("code from the app to finish").then_some(()));
    live.send_line(&oathtool(&secret, "SHA1", 6, 30, now()));
    let out = live.finish();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("enrolled at the fleet's service"), "{text}");
    (secret, text)
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The credential's long string values (its token and keys): none may reach the caller.
fn credential_secrets(credential: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(credential).expect("credential JSON");
    let mut found = Vec::new();
    if let Some(map) = v.as_object() {
        for value in map.values() {
            if let Some(s) = value.as_str().filter(|s| s.len() >= 16) {
                found.push(s.to_string());
            }
        }
    }
    found
}

#[test]
fn a_user_enrolls_through_the_helper_on_one_host_and_logs_in_on_another() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nuser_per_minute = 100");
    let (a, credential) = host_a(&svc);
    let b = host_b(&svc);
    let secrets = credential_secrets(&credential);
    assert!(!secrets.is_empty(), "the credential has a token");
    let mut shown = String::new();

    // The credential is root's: the caller cannot read it.
    let cat =
        a.run_as(UID, Path::new("/bin/cat"), &[a.dir.join("host-a.json").to_str().unwrap()], b"");
    assert!(!cat.status.success(), "{}", text(&cat));

    let (secret, out) = enroll_totp(&a, &["totp"], None);
    shown.push_str(&out);

    // Logged in on B with the app enrolled through A's helper (the next step's code: the
    // confirmation used this one).
    let enrolled_step = now() / 30;
    let o = b.login(USER, &[&oathtool(&secret, "SHA1", 6, 30, now() + 30)]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");

    // Status through the helper, from the service.
    let st = a.run_as(UID, &enroll_tool(), &["status"], b"");
    assert!(st.status.success(), "{}", text(&st));
    assert!(text(&st).contains("Authenticator app: SHA1/6/30"), "{}", text(&st));
    shown.push_str(&text(&st));

    // A second app without a current factor: refused, with a plain message.
    let again = a.run_as(UID, &enroll_tool(), &["totp", "--force"], b"\n");
    assert!(!again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("No current code entered"), "{}", text(&again));
    let wrong = a.run_as(UID, &enroll_tool(), &["totp", "--force"], b"000000\n000000\n");
    assert!(!wrong.status.success(), "{}", text(&wrong));
    // Refused by the service (wrong proof and confirmation), told plainly, without its code.
    assert!(text(&wrong).contains("nothing was"), "{}", text(&wrong));
    assert!(
        !text(&wrong).contains("_rejected") && !text(&wrong).contains("_wrong"),
        "{}",
        text(&wrong)
    );
    shown.push_str(&text(&again));
    shown.push_str(&text(&wrong));

    // Recovery codes through the helper, with a current code; one logs in on B.
    while now() / 30 <= enrolled_step {
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_for_step_margin(30, 5);
    let code = oathtool(&secret, "SHA1", 6, 30, now() + 30);
    let rc = a.run_as(
        UID,
        &enroll_tool(),
        &["recovery-codes", "--regenerate"],
        format!("{code}\n").as_bytes(),
    );
    assert!(rc.status.success(), "{}", text(&rc));
    let listing = text(&rc);
    let first = listing
        .lines()
        .map(str::trim)
        .find(|l| l.len() >= 10 && l.contains('-') && !l.contains(' '))
        .unwrap_or_else(|| panic!("a recovery code in {listing}"))
        .to_string();
    shown.push_str(&listing);
    let o = b.login(USER, &[&first]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");

    // The caller cannot act for another user: the other account has nothing, a name in the
    // request is refused by the helper, and `--user` is root's.
    let other = a.run_as(OTHER_UID, &enroll_tool(), &["status"], b"");
    assert!(text(&other).contains("not enrolled"), "{}", text(&other));
    let named = a.run_as(UID, &enroll_tool(), &["--user", "fsother", "status"], b"");
    assert!(!named.status.success(), "{}", text(&named));
    let helper = a.dir.join("bin/mfa-helper");
    let raw =
        a.run_as(UID, &helper, &[], b"{\"enroll_totp\":{\"replace\":true,\"user\":\"fsother\"}}\n");
    assert!(String::from_utf8_lossy(&raw.stdout).contains("deny"), "{}", text(&raw));

    for s in &secrets {
        assert!(!shown.contains(s.as_str()), "the host credential reached the caller");
    }
}

#[test]
fn admin_only_first_enrollment_denies_with_a_plain_message() {
    let svc = PushService::start_on(
        Backend::Sqlite,
        "\n[fleet]\nuser_per_minute = 100\nfirst_enrollment = \"admin\"",
    );
    let (a, _) = host_a(&svc);
    let o = a.run_as(UID, &enroll_tool(), &["totp"], b"");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("set up by an administrator"), "{}", text(&o));
    assert!(!text(&o).contains("not_opted_in"), "{}", text(&o));
}
