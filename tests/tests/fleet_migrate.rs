//! Migration of a standalone host to the fleet end to end (issue 20): two users enrolled the
//! standalone way on host A (one of them with a used TOTP code and a used recovery code), the
//! real `mfa-enroll migrate-to-fleet` (dry run first: nothing sent), then A's rule switched to
//! `backend = "fleet"`; through the real pam_mfa.so and libpam on A and on a second fleet host
//! B, against the real service over TLS: the code used on A before is refused, the next one
//! works; the used recovery code is refused and an unused one works once; a second migration
//! is a conflict and leaves the service's record as it was.

use mfa_tests::accounts::fresh_name;
use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, wait_for_step_margin};
use mfa_tests::push::{Backend, PushService};
use std::process::Output;

fn fleet_section(svc: &PushService, f: &Fixture, name: &str) -> String {
    let credential = f.root.join("host.json");
    svc.add_host(name, &credential);
    svc.push_section(&credential, "").replacen("[push]", "[fleet]", 1)
}

fn migrate(f: &Fixture, args: &[&str]) -> (Output, String) {
    let mut all = vec!["migrate-to-fleet", "--all"];
    all.extend_from_slice(args);
    let o = f.enroll_tool(&all).output().expect("run mfa-enroll");
    let text =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o, text)
}

fn show(svc: &PushService, user: &str) -> String {
    let o = svc.admin(&["fleet", "user", "show", "--user", user, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn a_standalone_host_moves_to_the_fleet_with_its_watermark_and_unused_codes() {
    let svc = PushService::start_on(Backend::Sqlite, "\n[fleet]\nuser_per_minute = 100");
    let a = Fixture::new();
    let section = fleet_section(&svc, &a, "host-a");
    // Standalone still: [fleet] is there, no rule uses it.
    a.write_config(&section);
    let (alice, bob) = (fresh_name("ma"), fresh_name("mb"));
    let (ea, eb) = (a.enroll(&alice), a.enroll(&bob));
    wait_for_step_margin(30, 12);
    let used = ea.code_now();
    assert_eq!(a.login(&alice, &[&used]).code, PAM_SUCCESS);
    assert_eq!(a.login(&alice, &[&ea.recovery_codes[0]]).code, PAM_SUCCESS);

    // Dry run: reported, nothing sent.
    let (o, text) = migrate(&a, &["--dry-run"]);
    assert!(o.status.success(), "{text}");
    assert!(text.contains(&format!("{alice}: would migrate (TOTP")), "{text}");
    assert!(text.contains("9 recovery code(s)"), "{text}");
    assert!(!svc.audit().contains("fleet.enroll.migrate"), "{}", svc.audit());

    let (o, text) = migrate(&a, &[]);
    assert!(o.status.success(), "{text}");
    assert!(text.contains(&format!("{alice}: migrated (TOTP")), "{text}");
    assert!(text.contains(&format!("{bob}: migrated (TOTP")), "{text}");
    // The local records stay.
    assert!(a.user_file(&alice).exists() && a.user_file(&bob).exists());
    // Again: a conflict for both, exit status 1, the service's records unchanged.
    let before = show(&svc, &alice);
    let (o, text) = migrate(&a, &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("{alice}: conflict")), "{text}");
    assert!(text.contains("2 of 2 user(s) not migrated"), "{text}");
    assert_eq!(show(&svc, &alice), before);

    // A joins the fleet; B is another fleet host.
    a.write_config(&format!("{section}\n[[rule]]\nbackend = \"fleet\"\n"));
    let b = Fixture::new();
    let section_b = fleet_section(&svc, &b, "host-b");
    b.write_config(&format!("{section_b}\n[[rule]]\nbackend = \"fleet\"\n"));
    for f in [&a, &b] {
        assert_eq!(f.login(&alice, &[&used]).code, PAM_AUTH_ERR, "the used code");
        let o = f.login(&alice, &[&ea.recovery_codes[0]]);
        assert_eq!(o.code, PAM_AUTH_ERR, "the used recovery code: {o:?}");
    }
    let next = ea.code_at(now() + 30);
    assert_eq!(b.login(&alice, &[&next]).code, PAM_SUCCESS, "the next code");
    assert_eq!(a.login(&alice, &[&next]).code, PAM_AUTH_ERR, "the next code, twice");
    assert_eq!(b.login(&alice, &[&ea.recovery_codes[3]]).code, PAM_SUCCESS);
    assert_eq!(a.login(&alice, &[&ea.recovery_codes[3]]).code, PAM_AUTH_ERR);
    assert_eq!(a.login(&bob, &[&eb.code_now()]).code, PAM_SUCCESS);
    assert_eq!(b.login(&bob, &[&eb.recovery_codes[0]]).code, PAM_SUCCESS);
}
