//! Fleet enrollment end to end (issue 20): the real `mfa-enroll` (as root, `--user`) on host A
//! enrolls a throwaway user's TOTP at the real service over TLS; the real pam_mfa.so through
//! the real libpam logs the user in on hosts B and C with TOTP and with a recovery code made on
//! A (once: refused on the other host afterwards); a change from a host without a right
//! current factor is refused by the service and changes nothing.

use mfa_tests::accounts::fresh_name;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};
use std::io::{Read, Write};
use std::process::{Output, Stdio};

/// A host whose every login goes through the fleet (as in `fleet.rs`).
fn host(svc: &PushService, name: &str) -> Fixture {
    let f = Fixture::new();
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    let section = svc.push_section(&credential, "").replacen("[push]", "[fleet]", 1);
    f.write_config(&format!("{section}\n[[rule]]\nbackend = \"fleet\"\n"));
    f
}

/// `mfa-enroll --user USER totp` on `f`: reads the secret it shows, answers the confirmation
/// prompt with the current code, returns the secret.
fn enroll_totp(f: &Fixture, user: &str) -> String {
    wait_for_step_margin(30, 10);
    let mut child = f
        .enroll_tool(&["--user", user, "totp", "--qr", "none"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mfa-enroll");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut shown = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&shown).ends_with("to confirm: ") {
        let n = stdout.read(&mut byte).expect("read mfa-enroll");
        assert_eq!(n, 1, "mfa-enroll ended early: {}", String::from_utf8_lossy(&shown));
        shown.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&shown).to_string();
    let line = text.lines().find(|l| l.starts_with("Secret:")).expect("secret line");
    let secret: String = line["Secret:".len()..].split_whitespace().collect();
    let code = oathtool(&secret, "SHA1", 6, 30, now());
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{code}").expect("answer");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read rest");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{text}{rest}{}", String::from_utf8_lossy(&out.stderr));
    assert!(rest.contains("enrolled at the fleet's service"), "{rest}");
    secret
}

/// Runs `mfa-enroll` on `f` with `input` on its standard input.
fn run(f: &Fixture, args: &[&str], input: &str) -> Output {
    let mut child = f
        .enroll_tool(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mfa-enroll");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("input");
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn enrolled_on_one_host_logs_in_on_the_others_and_changes_need_a_current_factor() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nuser_per_minute = 100");
    let (a, b, c) = (host(&svc, "host-a"), host(&svc, "host-b"), host(&svc, "host-c"));
    let user = fresh_name("fe");
    let secret = enroll_totp(&a, &user);
    // Nothing on the hosts: the record is the service's.
    assert!(!a.user_file(&user).exists());

    // Recovery codes from host C: without a current factor, or with a wrong one, refused by
    // the service; nothing made.
    let args = ["--user", user.as_str(), "recovery-codes", "--json"];
    let o = run(&c, &args, "");
    assert!(!o.status.success() && text(&o).contains("no current code"), "{}", text(&o));
    let confirmation = oathtool(&secret, "SHA1", 6, 30, now());
    let wrong = if confirmation == "000000" { "111111" } else { "000000" };
    let o = run(&c, &args, &format!("{wrong}\n"));
    assert!(!o.status.success() && text(&o).contains("proof_rejected"), "{}", text(&o));
    // With the next step's code: made, shown once.
    let next = oathtool(&secret, "SHA1", 6, 30, now() + 30);
    let o = run(&a, &args, &format!("{next}\n"));
    assert!(o.status.success(), "{}", text(&o));
    // Standard output is only the JSON list; the prompt for the current code went to stderr.
    let codes: Vec<String> = serde_json::from_slice(&o.stdout).expect("only JSON on stdout");
    assert!(String::from_utf8_lossy(&o.stderr).contains("Current code"), "{}", text(&o));
    assert_eq!(codes.len(), 10);

    // A recovery code made on A logs in on B once; then refused on C.
    let o = b.login(&user, &[&codes[4]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let o = c.login(&user, &[&codes[4]]);
    assert_eq!(o.code, PAM_AUTH_ERR, "a used recovery code on another host: {o:?}");

    // TOTP on B and C: in a later step than the ones used above.
    std::thread::sleep(std::time::Duration::from_secs(31));
    wait_for_step_margin(30, 5);
    let code = oathtool(&secret, "SHA1", 6, 30, now() + 30);
    let o = c.login(&user, &[&code]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    let o = b.login(&user, &[&code]);
    assert_eq!(o.code, PAM_AUTH_ERR, "the same code on another host: {o:?}");

    // The status tells the factors, not the secret.
    let o = run(&b, &["--user", user.as_str(), "status"], "");
    assert!(o.status.success() && text(&o).contains("9 unused"), "{}", text(&o));
    assert!(!text(&o).contains(&secret));
}

/// On a fleet host the setuid helper takes enrollment (and status) requests to the service,
/// never to its local store (not where fleet rules look): with the service unusable (no
/// credential, nothing listening) it denies and nothing is stored. The configuration loads
/// (`configure` runs `mfa-enroll init` with it); the refusal is the helper's.
/// (`fleet_selfservice.rs` enrolls through the helper with the service up.)
#[test]
fn the_helper_on_a_fleet_host_never_enrolls_into_the_local_store() {
    use mfa_tests::sandbox::{Sandbox, enroll_tool};
    let s = Sandbox::new();
    let name = fresh_name("fh");
    let uid = mfa_tests::accounts::fresh_uid();
    s.add_user(&name, uid, None);
    let helper = s.install_helper();
    s.configure(&format!(
        "helper = \"{}\"\n[fleet]\nurl = \"https://127.0.0.1:9\"\n\
         ca_file = \"/etc/pam_mfa/ca.pem\"\ncredential = \"/etc/pam_mfa/host.json\"\n[[rule]]\nbackend = \"fleet\"\n",
        helper.display()
    ));
    let out = s.run_as(uid, &helper, &[], b"\"status\"\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("{\"deny\":\"unavailable\"}"), "{out:?}");
    let out = s.run_as(uid, &enroll_tool(), &["totp", "--qr", "none"], b"123456\n");
    assert!(!out.status.success(), "{out:?}");
    assert!(!s.dir.join(format!("state/users/{name}")).exists());
}
