//! The login state machine (`login::authenticate`) with a fuzzed answer to the code
//! prompt, against a real store in a temporary directory made once, holding one enrolled user
//! (TOTP with a fixed secret, ten recovery codes) and a fixed clock. Each input is tried as the
//! answer in the normal mode and in single-prompt mode (password and code in one answer).
//!
//! Never a panic; exactly one prompt; the decision is success or an authentication failure
//! (a wrong answer must not look like a broken store or configuration); and success only for
//! what is really valid: one of the codes of the window's time steps, or one of the user's
//! recovery codes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::config::Config;
use mfa_login::enroll::{self, PendingTotp};
use mfa_login::login::{
    Clock, ConvError, Conversation, Decision, Denial, NoRemotes, Request, authenticate,
};
use mfa_login::otpauth::TotpUri;
use mfa_login::fuzzing::FuzzDirectory;
use mfa_login::secret::SecretBytes;
use mfa_login::store::Store;
use mfa_login::totp::{self, Params};
use mfa_login::username::UserName;
use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The fixed time of every login (step 60000000 with 30 s steps).
const NOW: u64 = 1_800_000_010;
/// The user enrolled ten minutes earlier.
const ENROLLED: u64 = NOW - 600;
/// The TOTP secret (the RFC 6238 SHA1 test key), so the seeds can hold a valid code.
const SECRET: &[u8] = b"12345678901234567890";

struct Env {
    _dir: tempfile::TempDir,
    cfg: Config,
    /// Codes valid at `NOW` with the default window of one step either side.
    valid_codes: Vec<String>,
    /// The recovery codes, normalized.
    recovery: Vec<String>,
}

/// A recovery code as the module reads it: no dashes or whitespace, upper case, O→0, I/L→1.
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

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("mfa-fuzz-login.").tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let mut cfg = Config::default();
        cfg.store.state_dir = dir.path().join("state");
        cfg.store.master_key = dir.path().join("master.key");
        // No lockout (it would lock the user after five inputs) and no delay.
        cfg.lockout.max_failures = 0;
        cfg.lockout.fail_delay_ms = 0;
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
            Some(totp::step_at(&params, ENROLLED)),
            ENROLLED,
            enroll::Existing::Replace,
            true,
        )
        .expect("enroll")
        .expect("recovery codes");
        let step = totp::step_at(&params, NOW);
        let valid_codes = (step - 1..=step + 1)
            .map(|s| totp::code_for_step(SECRET, &params, s).to_string())
            .collect();
        let recovery = codes.iter().map(|c| normalize(c)).collect();
        Env { _dir: dir, cfg, valid_codes, recovery }
    })
}

/// Answers the first prompt with the fuzz input; any further prompt gets no answer.
struct Scripted {
    answer: Option<String>,
    prompts: usize,
    password: Option<String>,
}

impl Conversation for Scripted {
    fn prompt_secret(&mut self, _prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.prompts += 1;
        Ok(self.answer.take().map(Zeroizing::new))
    }
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.prompt_secret(prompt)
    }
    fn info(&mut self, _text: &str) {}
    fn error(&mut self, _text: &str) {}
    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        self.password = Some(password.to_string());
        Ok(())
    }
    fn fail_delay(&mut self, _ms: u32) {}
    fn debug(&mut self, _text: &str) {}
}

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> mfa_login::Result<u64> {
        Ok(NOW)
    }
}


fuzz_target!(|data: &[u8]| {
    let e = env();
    let answer = String::from_utf8_lossy(data).into_owned();
    let req = Request {
        user: "alice".into(),
        service: "sshd".into(),
        rhost: Some("192.0.2.7".into()),
        seat: mfa_login::seat::Seat::NotLocal,
        silent: false,
    };
    for single_prompt in [false, true] {
        let mut cfg = e.cfg.clone();
        cfg.single_prompt = single_prompt;
        let mut conv = Scripted { answer: Some(answer.clone()), prompts: 0, password: None };
        let outcome = authenticate(&cfg, &req, &mut conv, &FixedClock, &FuzzDirectory, &NoRemotes);
        assert_eq!(conv.prompts, 1, "{outcome}");
        match outcome.decision {
            Decision::Deny(Denial::AuthFailed) => {}
            Decision::Success if single_prompt => {
                // The code is the last six characters; the rest went on as the password.
                let split = answer.len().checked_sub(6).expect("answer shorter than a code");
                let code = answer.get(split..).expect("code at a character boundary");
                assert!(e.valid_codes.iter().any(|c| c == code), "accepted {answer:?}");
                assert_eq!(conv.password.as_deref(), answer.get(..split));
            }
            Decision::Success => {
                let compact: String = answer.chars().filter(|c| !c.is_whitespace()).collect();
                let is_totp = e.valid_codes.contains(&compact);
                let is_recovery = e.recovery.contains(&normalize(&answer));
                assert!(is_totp || is_recovery, "accepted {answer:?}");
            }
            other => panic!("answer {answer:?} gave {other:?}: {outcome}"),
        }
    }
});
