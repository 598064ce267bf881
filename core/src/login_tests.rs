//! Unit tests of the login state machine, through a scripted conversation and a fixed clock.

use super::*;
use crate::config::Config;
use crate::enroll::{self, PendingTotp};
use crate::store::Store;
use std::os::unix::fs::PermissionsExt;

struct Script {
    answers: Vec<Result<Option<String>, ()>>,
    prompts: Vec<String>,
    infos: Vec<String>,
}

impl Script {
    fn new(answers: Vec<Result<Option<String>, ()>>) -> Self {
        Script { answers, prompts: vec![], infos: vec![] }
    }
    fn answer(a: &str) -> Self {
        Self::new(vec![Ok(Some(a.to_string()))])
    }
}

impl Conversation for Script {
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.prompts.push(prompt.to_string());
        match self.answers.remove(0) {
            Ok(a) => Ok(a.map(Zeroizing::new)),
            Err(()) => Err(ConvError("scripted failure".into())),
        }
    }
    fn info(&mut self, text: &str) {
        self.infos.push(text.to_string());
    }
    fn error(&mut self, text: &str) {
        self.infos.push(text.to_string());
    }
}

struct Fixed(Option<u64>);
impl Clock for Fixed {
    fn now(&self) -> crate::Result<u64> {
        self.0.ok_or_else(|| Error::Clock("before 1970".into()))
    }
}

const T: u64 = 1_800_000_010;

struct Env {
    _dir: tempfile::TempDir,
    cfg: Config,
    pending: PendingTotp,
    codes: Vec<Zeroizing<String>>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cfg = Config::default();
    cfg.store.state_dir = dir.path().join("state");
    cfg.store.master_key = dir.path().join("master.key");
    let store = Store::init(&cfg.store).unwrap();
    let pending = PendingTotp::generate(&cfg.totp, "alice@test").unwrap();
    let user = UserName::parse("alice").unwrap();
    let codes =
        enroll::save_totp(&store, &user, &pending, None, T, enroll::Existing::Replace, true)
            .unwrap()
            .unwrap();
    Env { _dir: dir, cfg, pending, codes }
}

fn req(user: &str) -> Request {
    Request {
        user: user.into(),
        service: "test".into(),
        rhost: Some("10.0.0.1".into()),
        silent: false,
    }
}

fn code(e: &Env, t: u64) -> String {
    totp::code_at(e.pending.uri.secret.expose(), &e.pending.uri.params, t).to_string()
}

fn run(e: &Env, user: &str, conv: &mut Script, now: Option<u64>) -> Outcome {
    authenticate_with(&e.cfg, &req(user), conv, &Fixed(now))
}

#[test]
fn valid_code_once_then_replay_refused() {
    let e = env();
    let c = code(&e, T);
    let mut conv = Script::answer(&c);
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(conv.prompts, vec![PROMPT.to_string()]);
    let o = run(&e, "alice", &mut Script::answer(&c), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    assert_eq!(o.reason, "code already used");
    // An older code inside the window is refused too; a newer one works.
    let o = run(&e, "alice", &mut Script::answer(&code(&e, T - 30)), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    let o = run(&e, "alice", &mut Script::answer(&code(&e, T + 30)), Some(T + 30));
    assert_eq!(o.decision, Decision::Success);
}

#[test]
fn wrong_code_and_garbage_are_refused() {
    let e = env();
    let wrong = format!("{:06}", (code(&e, T).parse::<u32>().unwrap() + 1) % 1_000_000);
    for answer in [wrong.as_str(), "abc", "12345", "1234567", "   "] {
        let o = run(&e, "alice", &mut Script::answer(answer), Some(T));
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{answer:?}");
    }
    let long = "1".repeat(MAX_ANSWER_LEN + 1);
    assert_eq!(run(&e, "alice", &mut Script::answer(&long), Some(T)).reason, "answer too long");
}

#[test]
fn code_with_spaces_is_accepted() {
    let e = env();
    let c = code(&e, T);
    let spaced = format!(" {} {} ", &c[..3], &c[3..]);
    assert_eq!(run(&e, "alice", &mut Script::answer(&spaced), Some(T)).decision, Decision::Success);
}

#[test]
fn cancelled_or_failed_conversation_denies() {
    let e = env();
    let o = run(&e, "alice", &mut Script::new(vec![Ok(None)]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::Conversation));
    let o = run(&e, "alice", &mut Script::new(vec![Err(())]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::Conversation));
    let o = run(&e, "alice", &mut Script::answer(""), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
}

#[test]
fn recovery_code_once_with_count_and_warning() {
    let e = env();
    let mut conv = Script::answer(&e.codes[3]);
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(o.factor, Some("recovery"));
    assert_eq!(conv.infos, vec!["Recovery code accepted. 9 recovery codes left.".to_string()]);
    let o = run(&e, "alice", &mut Script::answer(&e.codes[3]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    for c in &e.codes[4..10] {
        assert_eq!(run(&e, "alice", &mut Script::answer(c), Some(T)).decision, Decision::Success);
    }
    let mut conv = Script::answer(&e.codes[0]);
    assert_eq!(run(&e, "alice", &mut conv, Some(T)).decision, Decision::Success);
    assert_eq!(conv.infos.len(), 2, "{:?}", conv.infos);
    assert!(conv.infos[1].contains("--regenerate"));
    // PAM_SILENT suppresses the messages.
    let mut conv = Script::answer(&e.codes[1]);
    let o = authenticate_with(
        &e.cfg,
        &Request { silent: true, ..req("alice") },
        &mut conv,
        &Fixed(Some(T)),
    );
    assert_eq!(o.decision, Decision::Success);
    assert!(conv.infos.is_empty());
}

#[test]
fn not_enrolled_denies_unless_nullok_which_ignores() {
    let mut e = env();
    let o = run(&e, "bob", &mut Script::new(vec![]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    e.cfg.nullok = true;
    let o = run(&e, "bob", &mut Script::new(vec![]), Some(T));
    assert_eq!(o.decision, Decision::Ignore);
}

#[test]
fn clock_before_1970_denies() {
    let e = env();
    let o = run(&e, "alice", &mut Script::new(vec![]), None);
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable));
}

#[test]
fn hostile_user_names_are_refused_before_any_file_access() {
    let e = env();
    for u in ["../alice", "", ".locks", "a/b", "x\ny"] {
        let o = run(&e, u, &mut Script::new(vec![]), Some(T));
        assert_eq!(o.decision, Decision::Deny(Denial::BadUser), "{u:?}");
    }
}

#[test]
fn corrupt_store_denies_even_with_nullok() {
    let mut e = env();
    e.cfg.nullok = true;
    let path = e.cfg.store.state_dir.join("users/alice");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let o = run(&e, "alice", &mut Script::new(vec![]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
    // Another user's file under alice's name does not decrypt either.
    let store = Store::open(&e.cfg.store).unwrap();
    let bob = UserName::parse("bob").unwrap();
    enroll::save_totp(&store, &bob, &e.pending, None, T, enroll::Existing::Replace, false).unwrap();
    std::fs::rename(e.cfg.store.state_dir.join("users/bob"), &path).unwrap();
    let o = run(&e, "alice", &mut Script::new(vec![]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
}

#[test]
fn log_line_has_context_but_no_code() {
    let e = env();
    let c = code(&e, T);
    let o = run(&e, "alice", &mut Script::answer(&c), Some(T));
    let line = o.log_line(&req("alice"));
    assert_eq!(
        line,
        "decision=success user=\"alice\" service=\"test\" rhost=\"10.0.0.1\" factor=totp reason=\"code accepted\""
    );
    assert!(!line.contains(&c));
}

#[test]
fn enrolling_again_without_replace_is_refused_under_the_lock() {
    let e = env();
    let store = Store::open(&e.cfg.store).unwrap();
    let alice = UserName::parse("alice").unwrap();
    let other = PendingTotp::generate(&e.cfg.totp, "alice@test").unwrap();
    let r = enroll::save_totp(&store, &alice, &other, None, T, enroll::Existing::Keep, true);
    assert!(matches!(r, Err(Error::AlreadyEnrolled(_))));
    // The original secret still works.
    let o = run(&e, "alice", &mut Script::answer(&code(&e, T)), Some(T));
    assert_eq!(o.decision, Decision::Success);
    assert!(
        enroll::save_totp(&store, &alice, &other, None, T, enroll::Existing::Replace, false)
            .is_ok()
    );
}
