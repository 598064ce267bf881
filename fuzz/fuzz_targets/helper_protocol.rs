//! The setuid helper's line protocol (issue 15, finding 1: the helper is the setuid attack
//! surface). The input is what a hostile caller writes to `mfa-helper`'s standard input: the
//! first line is parsed as the request exactly as the helper does (`helper::read_line`,
//! `helper::parse`), the rest are the caller's replies to whatever the session asks, in every
//! state of it (login, enrollment, proving a factor, removals, status). Each input runs the real
//! `selfservice::serve` against a fresh store holding one enrolled user (TOTP with a fixed
//! secret, ten recovery codes) and a fixed clock, through the real `PipeConversation`.
//!
//! Never a panic; every line the helper writes is a well-formed event, exactly one `done`, last;
//! a login succeeds only if one of the caller's answers was a valid code or recovery code;
//! nothing fails open; the caller's replies beyond the session's prompts are never read as a
//! second request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::account::Account;
use mfa_login::config::Config;
use mfa_login::enroll::{self, PendingTotp};
use mfa_login::fuzzing::FuzzDirectory;
use mfa_login::helper::{self, Event, PipeConversation, Reply, Request};
use mfa_login::login::{Clock, Decision};
use mfa_login::otpauth::TotpUri;
use mfa_login::secret::SecretBytes;
use mfa_login::store::Store;
use mfa_login::totp::{self, Params};
use mfa_login::username::UserName;
use std::io::{BufReader, Cursor};
use std::os::unix::fs::PermissionsExt;

/// The fixed time of every session.
const NOW: u64 = 1_800_000_010;
/// The TOTP secret (the RFC 6238 SHA1 test key), so seeds can hold a valid code.
const SECRET: &[u8] = b"12345678901234567890";

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> mfa_login::Result<u64> {
        Ok(NOW)
    }
}

/// A fresh store with `alice` enrolled; returns the directory, the configuration, and the
/// valid codes and recovery codes (normalized).
fn fresh() -> (tempfile::TempDir, Config, Vec<String>, Vec<String>) {
    let dir = tempfile::Builder::new().prefix("mfa-fuzz-helper.").tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut cfg = Config::default();
    cfg.store.state_dir = dir.path().join("state");
    cfg.store.master_key = dir.path().join("master.key");
    cfg.store.lock_wait = 1;
    cfg.lockout.max_failures = 0;
    cfg.lockout.fail_delay_ms = 0;
    cfg.helper_services = vec!["locker".into()];
    let store = Store::init(&cfg.store).expect("store");
    let params = Params::default();
    let pending = PendingTotp {
        uri: TotpUri {
            issuer: "fuzz".into(),
            account: "alice@fuzz".into(),
            secret: SecretBytes::new(SECRET.to_vec()),
            params,
        },
    };
    let user = UserName::parse("alice").expect("user name");
    let codes = enroll::save_totp(
        &store,
        &user,
        &pending,
        Some(totp::step_at(&params, NOW - 600)),
        NOW - 600,
        enroll::Existing::Replace,
        true,
    )
    .expect("enroll")
    .expect("recovery codes");
    let step = totp::step_at(&params, NOW);
    let valid = (step - 1..=step + 1)
        .map(|s| totp::code_for_step(SECRET, &params, s).to_string())
        .collect();
    let recovery = codes.iter().map(|c| normalize(c)).collect();
    (dir, cfg, valid, recovery)
}

/// A recovery code as the module reads it.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // The helper reads the request line first; anything else is refused before any state.
    let mut input = BufReader::new(Cursor::new(data.to_vec()));
    let request = match helper::read_line(&mut input) {
        Ok(Some(line)) => match helper::parse::<Request>(&line) {
            Ok(r) => r,
            Err(_) => return,
        },
        _ => return,
    };
    let is_login = matches!(request, Request::Login { .. });
    // The caller's answers, as the session could read them (everything after the request
    // line; the reader above has buffered ahead, so this is cut from `data`).
    let rest = data.iter().position(|b| *b == b'\n').map_or(&[][..], |i| &data[i + 1..]);
    let answers: Vec<String> = rest
        .split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter_map(|l| helper::parse::<Reply>(l).ok())
        .filter_map(|r| match r {
            Reply::Answer(a) => Some(a),
            _ => None,
        })
        .collect();

    let (_dir, cfg, valid, recovery) = fresh();
    let account = Account { name: UserName::parse("alice").expect("name"), uid: 1000, gid: 100 };
    let mut output = Vec::new();
    let served = {
        let mut conv = PipeConversation::new(&mut input, &mut output);
        let served =
            mfa_login::selfservice::serve(request, &account, &cfg, &mut conv, &FixedClock, &FuzzDirectory, &mfa_login::login::NoRemotes);
        conv.finish(served.done()).expect("write to a Vec");
        served
    };

    let text = String::from_utf8(output).expect("the helper writes UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    let events: Vec<Event> = lines
        .iter()
        .map(|l| helper::parse::<Event>(l).unwrap_or_else(|e| panic!("bad event {l:?}: {e}")))
        .collect();
    let dones = events.iter().filter(|e| matches!(e, Event::Done(_))).count();
    assert_eq!(dones, 1, "{text}");
    assert!(matches!(events.last(), Some(Event::Done(_))), "{text}");
    assert!(lines.iter().all(|l| l.len() <= helper::MAX_LINE), "line too long");

    let decision = served.outcome.decision;
    assert_ne!(decision, Decision::FailOpen, "nothing fails open here: {}", served.outcome.reason);
    if is_login && decision == Decision::Success {
        let proved = answers.iter().any(|a| {
            let compact: String = a.chars().filter(|c| !c.is_whitespace()).collect();
            valid.contains(&compact) || recovery.contains(&normalize(a))
        });
        assert!(proved, "login accepted without a valid answer: {answers:?}");
    }
});
