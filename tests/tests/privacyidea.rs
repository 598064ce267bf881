//! The privacyIDEA backend against a real privacyIDEA (PyPI, pinned; scripts/privacyidea-setup.sh)
//! on 127.0.0.1 over TLS with a test CA, through the real libpam and the built pam_mfa.so.
//! A simulated phone answers push challenges with privacyIDEA's `/ttype/push` protocol.
//!
//! One server serves every test of this binary (its setup takes ~20 s); each test has its own
//! users, so tests running in parallel do not meet.

use mfa_tests::client::*;
use mfa_tests::fixture::{Fixture, now, oathtool, wait_for_step_margin};
use mfa_tests::privacyidea::{MARGIN, PiServer, free_port, random_hex};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TOTP_USERS: [&str; 4] = ["pitotp", "piwrong", "pirecov", "pilockout"];
const PUSH_USERS: [&str; 4] = ["piapprove", "pidecline", "pisilent", "pidown"];
const PRESENCE_USERS: [&str; 2] = ["piright", "piwrongnum"];

struct Shared {
    server: PiServer,
    /// Base32 TOTP seeds by user.
    seeds: Vec<(&'static str, String)>,
    phones: Vec<(&'static str, mfa_tests::privacyidea::PhoneState)>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let started = Instant::now();
        let server = PiServer::start();
        let all: Vec<&str> =
            TOTP_USERS.iter().chain(&PUSH_USERS).chain(&PRESENCE_USERS).copied().collect();
        server.configure(&all, &PRESENCE_USERS);
        let mut seeds = Vec::new();
        for u in TOTP_USERS {
            let hex = random_hex(20);
            server.enroll_totp(u, &hex);
            let raw = data_encoding::HEXLOWER.decode(hex.as_bytes()).expect("hex");
            seeds.push((u, data_encoding::BASE32_NOPAD.encode(&raw)));
        }
        let phones =
            PUSH_USERS.iter().chain(&PRESENCE_USERS).map(|u| (*u, server.enroll_push(u))).collect();
        eprintln!("privacyIDEA set up in {:.1} s", started.elapsed().as_secs_f64());
        Shared { server, seeds, phones }
    })
}

impl Shared {
    fn code(&self, user: &str, at: u64) -> String {
        let seed = &self.seeds.iter().find(|(u, _)| *u == user).expect("totp user").1;
        oathtool(seed, "SHA1", 6, 30, at)
    }
    fn phone(&self, user: &str) -> &mfa_tests::privacyidea::PhoneState {
        &self.phones.iter().find(|(u, _)| *u == user).expect("push user").1
    }
}

/// `[privacyidea]` for `url` plus a rule sending every login to it.
fn config(url: &str, ca: &std::path::Path, section_extra: &str, rule_extra: &str) -> String {
    format!(
        "[privacyidea]\nurl = \"{url}\"\nca_file = \"{}\"\nrealm = \"pam_mfa\"\npoll_interval = 200\n\
         {section_extra}\n[[rule]]\nbackend = \"privacyidea\"\n{rule_extra}\n",
        ca.display()
    )
}

fn fixture(section_extra: &str) -> Fixture {
    let s = shared();
    Fixture::with_config(&config(&s.server.url, &s.server.ca_file, section_extra, ""))
}

const FIRST_PROMPT: &str = "Verification code (or press Enter for a push to your phone): ";

#[test]
fn totp_code_is_accepted_by_the_server_with_the_client_address() {
    let s = shared();
    let f = fixture("");
    wait_for_step_margin(30, 4);
    let code = s.code("pitotp", now());
    let o = f.login_with("mfa", "pitotp", &[&code], &["--rhost", "192.0.2.7"]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(o.messages, vec![(PAM_PROMPT_ECHO_OFF, FIRST_PROMPT.to_string())]);
    let line = o.decision_lines()[0].clone();
    assert!(line.contains("factor=privacyidea reason=\"accepted by privacyIDEA\""), "{line}");
    // The module passed PAM_RHOST as `client`, and privacyIDEA (OverrideAuthorizationClient
    // = 127.0.0.1) used it.
    assert!(s.server.audit_clients("pitotp").contains(&"192.0.2.7".to_string()));
    // privacyIDEA refuses the same code twice.
    let o = f.login("pitotp", &[&code]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
}

#[test]
fn wrong_totp_code_is_refused_by_the_server() {
    let s = shared();
    let f = fixture("");
    let good = s.code("piwrong", now());
    let wrong = format!("{:06}", (good.parse::<u32>().expect("digits") + 500_000) % 1_000_000);
    let o = f.login("piwrong", &[&wrong]);
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    let line = o.decision_lines()[0].clone();
    assert!(line.contains("decision=deny") && line.contains("rejected by privacyIDEA"), "{line}");
    // The user is told, in words that do not repeat the server's.
    let said: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(said.last(), Some(&"The verification server did not accept this code."), "{o:?}");
    // Empty answer for a user with only a TOTP token: no challenge, a rejection.
    let o = f.login("piwrong", &["", ""]);
    assert_eq!(o.code, PAM_AUTH_ERR);
    let said: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(said.last(), Some(&"The verification server refused the login."), "{o:?}");
}

#[test]
fn push_approved_on_the_phone_logs_in() {
    let s = shared();
    let f = fixture("timeout = 20");
    let phone = s.server.phone(s.phone("piapprove"), "accept", 20);
    let o = f.login("piapprove", &["", ""]);
    let answered = phone.finish();
    assert_eq!(o.code, PAM_SUCCESS, "{o:?} {answered}");
    assert_eq!(answered["presence"], serde_json::Value::Null, "no number matching for this user");
    assert_eq!(
        o.messages[1],
        (
            PAM_PROMPT_ECHO_OFF,
            "Approve the login on your phone, then press Enter (or type a code): ".to_string()
        )
    );
    let line = o.decision_lines()[0].clone();
    assert!(line.contains("factor=privacyidea reason=\"push approved after"), "{line}");
}

#[test]
fn push_declined_on_the_phone_is_refused() {
    let s = shared();
    let f = fixture("timeout = 20");
    let phone = s.server.phone(s.phone("pidecline"), "decline", 20);
    let start = Instant::now();
    let o = f.login("pidecline", &["", ""]);
    phone.finish();
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(start.elapsed() < Duration::from_secs(20), "refused on the decline, not the timeout");
    assert!(o.messages.iter().any(|(_, m)| m.contains("declined on the phone")), "{o:?}");
    assert!(o.decision_lines()[0].contains("reason=\"push declined on the phone\""));
}

#[test]
fn number_matching_right_number_logs_in() {
    let s = shared();
    let f = fixture("timeout = 20");
    let phone = s.server.phone(s.phone("piright"), "accept", 20);
    let o = f.login("piright", &["", ""]);
    let answered = phone.finish();
    assert_eq!(o.code, PAM_SUCCESS, "{o:?} {answered}");
    let number = answered["presence"].as_str().expect("the phone was asked for a number");
    assert_eq!(number.len(), 2, "{answered}");
    // The number the phone pressed is the one the login showed, in the prompt itself.
    assert_eq!(
        o.messages[1].1,
        format!(
            "Approve the login on your phone by pressing {number}, then press Enter (or type a code): "
        )
    );
}

#[test]
fn number_matching_wrong_number_is_refused() {
    let s = shared();
    let f = fixture("timeout = 4");
    let phone = s.server.phone(s.phone("piwrongnum"), "wrong-number", 20);
    let o = f.login("piwrongnum", &["", ""]);
    let answered = phone.finish();
    assert_eq!(answered["value"], serde_json::Value::Bool(false), "server refused: {answered}");
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    let shown = &o.messages[1].1;
    let pressed = answered["presence"].as_str().expect("number");
    assert!(!shown.contains(&format!("pressing {pressed},")), "{shown} vs {pressed}");
    assert!(o.decision_lines()[0].contains("no answer from the phone within 4 s"));
    // privacyIDEA keeps a wrong number to itself (the challenge stays open): the message says
    // both things that can have happened.
    let said = &o.messages.last().expect("a message").1;
    assert_eq!(said, pam_mfa_no_approval_message(), "{o:?}");
}

fn pam_mfa_no_approval_message() -> &'static str {
    "No approval from your phone in time. If you pressed a number, it was not the one shown here."
}

#[test]
fn no_answer_from_the_phone_times_out_and_is_refused() {
    shared();
    let f = fixture("timeout = 3");
    let start = Instant::now();
    let o = f.login("pisilent", &["", ""]);
    let took = start.elapsed();
    assert_eq!(o.code, PAM_AUTH_ERR, "{o:?}");
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(3) + MARGIN, "{took:?}");
    assert!(o.messages.iter().any(|(_, m)| m.contains("did not answer in time")), "{o:?}");
    assert!(o.decision_lines()[0].contains("reason=\"no answer from the phone within 3 s\""));
}

/// A closed port (connection refused) and a listener that never answers (read timeout):
/// failmode closed denies, open lets in loudly, a rule overrides the section; always within
/// the configured timeouts.
#[test]
fn server_down_failmode_closed_denies_and_open_lets_in_within_the_timeout() {
    let s = shared();
    let closed = format!("https://127.0.0.1:{}", free_port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("https://127.0.0.1:{}", silent.local_addr().expect("addr").port());
    let timeouts = "connect_timeout = 2\nio_timeout = 2";
    for url in [&closed, &silent_url] {
        for (section_mode, rule_mode, expect) in [
            ("closed", "", PAM_AUTHINFO_UNAVAIL),
            ("open", "", PAM_SUCCESS),
            ("open", "failmode = \"closed\"", PAM_AUTHINFO_UNAVAIL),
            ("closed", "failmode = \"open\"", PAM_SUCCESS),
        ] {
            let f = Fixture::with_config(&config(
                url,
                &s.server.ca_file,
                &format!("{timeouts}\nfailmode = \"{section_mode}\""),
                rule_mode,
            ));
            let start = Instant::now();
            let o = f.login("pidown", &["", ""]);
            let took = start.elapsed();
            let case = format!("{url} section={section_mode} rule={rule_mode:?}");
            assert_eq!(o.code, expect, "{case}: {o:?}");
            assert!(took < Duration::from_secs(4) + MARGIN, "{case}: took {took:?}");
            let line = o.decision_lines()[0].clone();
            if expect == PAM_SUCCESS {
                assert!(
                    line.contains("decision=fail-open")
                        && line.contains("factor=privacyidea")
                        && line.contains("failmode=open: letting in WITHOUT second factor"),
                    "{case}: {line}"
                );
            } else {
                assert!(line.contains("unreachable") && line.contains("failmode=closed"), "{line}");
            }
        }
    }
    drop(silent);
}

#[test]
fn local_recovery_codes_work_with_the_server_up_and_down() {
    let s = shared();
    let f = fixture("");
    // Local record with recovery codes (its local TOTP secret plays no part with this backend).
    let e = f.enroll("pirecov");
    let o = f.login("pirecov", &[&e.recovery_codes[0]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.decision_lines()[0].contains("factor=recovery"), "{:?}", o.syslog);
    assert_eq!(f.login("pirecov", &[&e.recovery_codes[0]]).code, PAM_AUTH_ERR, "single use");
    // privacyIDEA codes still work for this user.
    wait_for_step_margin(30, 4);
    assert_eq!(f.login("pirecov", &[&s.code("pirecov", now())]).code, PAM_SUCCESS);
    // Server down, failmode closed: a recovery code still logs in, nothing else does.
    let down = config(&format!("https://127.0.0.1:{}", free_port()), &s.server.ca_file, "", "");
    f.write_config(&down);
    let o = f.login("pirecov", &[&e.recovery_codes[1]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.decision_lines()[0].contains("factor=recovery"));
    assert_eq!(f.login("pirecov", &["123456"]).code, PAM_AUTHINFO_UNAVAIL);
}

/// The documented command gives a privacyIDEA user (no local record at all) local recovery
/// codes, and "Try a recovery code." is said only to users who have some.
#[test]
fn recovery_codes_for_a_user_without_a_local_record() {
    let s = shared();
    let f = fixture("");
    let user = "pinolocal";
    let down = config(&format!("https://127.0.0.1:{}", free_port()), &s.server.ca_file, "", "");
    f.write_config(&down);
    let o = f.login(user, &["123456"]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    let said: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert!(
        said.contains(&"The verification service cannot be reached. Try again later."),
        "{said:?}"
    );

    // Through the fixture's user database, which knows the user (as the module's does).
    let run = |args: &[&str]| {
        let all: Vec<&str> = ["--user", user].iter().chain(args).copied().collect();
        let out = f.enroll_tool(&all).output().expect("mfa-enroll");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run(&["recovery-codes"]),
        format!(
            "{user} has no recovery codes. Make a set with: mfa-enroll --user {user} \
             recovery-codes --regenerate\n"
        )
    );
    let listing = run(&["recovery-codes", "--regenerate"]);
    let codes: Vec<String> = listing
        .split_whitespace()
        .filter(|w| w.len() == 13 && w.as_bytes()[1] == b'-')
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{listing}");
    for c in &codes {
        f.add_secret(c);
    }
    // Server down: the message now points to the codes, and one logs in.
    let o = f.login(user, &["123456"]);
    assert_eq!(o.code, PAM_AUTHINFO_UNAVAIL, "{o:?}");
    let said: Vec<&str> = o.messages.iter().map(|(_, m)| m.as_str()).collect();
    assert!(
        said.contains(&"The verification service cannot be reached. Try a recovery code."),
        "{said:?}"
    );
    let o = f.login(user, &[&codes[0]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert!(o.decision_lines()[0].contains("factor=recovery"), "{:?}", o.syslog);
    // Server up: a recovery code still works, once.
    f.write_config(&config(&s.server.url, &s.server.ca_file, "", ""));
    let o = f.login(user, &[&codes[1]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
    assert_eq!(f.login(user, &[&codes[1]]).code, PAM_AUTH_ERR, "single use");
}

#[test]
fn a_rule_with_backend_privacyidea_needs_the_section() {
    let f = Fixture::new();
    f.write_config("[[rule]]\nbackend = \"privacyidea\"\n");
    let o = f.login("pitotp", &["123456"]);
    assert_eq!(o.code, PAM_SERVICE_ERR, "{o:?}");
    assert!(o.messages.is_empty());
}

/// Issue 15, finding 4: a server certificate from another CA (what a man in the middle
/// presents) is not an outage: refused with failmode closed and with failmode open alike.
#[test]
fn a_certificate_from_another_ca_is_refused_even_with_failmode_open() {
    let s = shared();
    // Our own CA file is a valid PEM, but not the server's CA: TLS fails.
    let other = s.server.dir().join("other-ca.pem");
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-keyout", "/dev/null", "-out"])
        .arg(&other)
        .args(["-days", "1", "-subj", "/CN=other CA"])
        .output()
        .expect("openssl");
    assert!(out.status.success());
    for mode in ["open", "closed"] {
        let f = Fixture::with_config(&config(
            &s.server.url,
            &other,
            &format!("failmode = \"{mode}\""),
            "",
        ));
        // The user has no local record: with failmode open, only a real outage may let in.
        let o = f.login("pidown", &["", ""]);
        assert_eq!(o.code, PAM_AUTH_ERR, "failmode {mode}: {o:?}");
        let line = o.decision_lines()[0].clone();
        assert!(line.contains("decision=deny") && !line.contains("fail-open"), "{mode}: {line}");
    }
}

/// Issue 15, finding 5: a login accepted by privacyIDEA clears the local failure count, as a
/// local code does: rejections spread over successes never lock the user out.
#[test]
fn a_login_accepted_by_privacyidea_clears_the_local_failure_count() {
    let s = shared();
    let f = Fixture::with_config(&format!(
        "{}\n[lockout]\nmax_failures = 3\nwindow = 3600\nduration = 3600\nfail_delay_ms = 0\n",
        config(&s.server.url, &s.server.ca_file, "", "")
    ));
    // A local record (recovery codes) next to the privacyIDEA token.
    let e = f.enroll("pilockout");
    wait_for_step_margin(30, 10);
    let t = now();
    for round in 0..2u64 {
        let good = s.code("pilockout", t + 30 * round);
        let wrong = format!("{:06}", (good.parse::<u32>().expect("digits") + 500_000) % 1_000_000);
        for _ in 0..2 {
            let o = f.login("pilockout", &[&wrong]);
            assert_eq!(o.code, PAM_AUTH_ERR, "round {round}: {o:?}");
        }
        let o = f.login("pilockout", &[&good]);
        assert_eq!(
            o.code, PAM_SUCCESS,
            "round {round}: the right code after two rejections: {o:?}"
        );
    }
    // Four rejections in all, but never three in a row: a recovery code still works.
    let o = f.login("pilockout", &[&e.recovery_codes[0]]);
    assert_eq!(o.code, PAM_SUCCESS, "{o:?}");
}
