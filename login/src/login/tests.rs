//! Unit tests of the login state machine, through a scripted conversation and a fixed clock.

use super::*;

/// A login without central services (these tests configure none; `tests/remote.rs` scripts
/// them).
fn authenticate_with(
    cfg: &Config,
    req: &Request,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    dir: &dyn Directory,
) -> Outcome {
    authenticate(cfg, req, conv, clock, dir, &NoRemotes)
}
use crate::account::tests::ListDirectory;
use crate::config::Config;
use crate::enroll::{self, PendingTotp};
use crate::policy::{Enrollment, HostMatch, Rule};
use crate::store::Store;
use crate::totp;
use std::os::unix::fs::PermissionsExt;

mod fleet;
mod fleet_offline;
mod remote;

struct Script {
    answers: Vec<Result<Option<String>, ()>>,
    prompts: Vec<String>,
    infos: Vec<String>,
    password: Option<String>,
    delay: Option<u32>,
}

impl Script {
    fn new(answers: Vec<Result<Option<String>, ()>>) -> Self {
        Script { answers, prompts: vec![], infos: vec![], password: None, delay: None }
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
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.prompt_secret(prompt)
    }
    fn info(&mut self, text: &str) {
        self.infos.push(text.to_string());
    }
    fn error(&mut self, text: &str) {
        self.infos.push(text.to_string());
    }
    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        self.password = Some(password.to_string());
        Ok(())
    }
    fn fail_delay(&mut self, ms: u32) {
        self.delay = Some(ms);
    }
    fn debug(&mut self, text: &str) {
        self.infos.push(text.to_string());
    }
}

/// The test users; everyone is in `wheel`.
const USERS: [&str; 7] = ["alice", "bob", "carol", "dave", "erin", "frank", "locked"];

fn users() -> ListDirectory {
    ListDirectory {
        users: USERS.iter().zip(1000..).map(|(n, uid)| (*n, uid, 100)).collect(),
        groups: vec![("wheel", 100, vec![])],
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
        seat: Seat::NotLocal,
        silent: false,
    }
}

fn code(e: &Env, t: u64) -> String {
    totp::code_at(e.pending.uri.secret.expose(), &e.pending.uri.params, t).to_string()
}

fn run(e: &Env, user: &str, conv: &mut Script, now: Option<u64>) -> Outcome {
    authenticate_with(&e.cfg, &req(user), conv, &Fixed(now), &users())
}

/// Issue 15, finding 2: a name the user database does not know is refused before any policy
/// (an exempt rule, optional enrollment, enroll-on-login), and every spelling of an account
/// is that account.
#[test]
fn unknown_names_are_refused_and_aliases_are_the_account() {
    let mut e = env();
    e.cfg.enrollment = Enrollment::OnLogin;
    e.cfg.rules =
        vec![Rule { service: Some(vec!["test".into()]), exempt: true, ..Rule::default() }];
    let dir = ListDirectory {
        users: vec![("alice", 1000, 100), ("toor", 1000, 100), ("ALICE", 1000, 100)],
        groups: vec![],
    };
    let mut conv = Script::new(vec![]);
    let o = authenticate_with(&e.cfg, &req("mallory"), &mut conv, &Fixed(Some(T)), &dir);
    assert_eq!(o.decision, Decision::Deny(Denial::BadUser), "{o}");
    assert!(conv.prompts.is_empty());
    e.cfg.rules.clear();
    for (alias, t) in [("toor", T), ("ALICE", T + 60)] {
        let mut conv = Script::answer(&code(&e, t));
        let o = authenticate_with(&e.cfg, &req(alias), &mut conv, &Fixed(Some(t)), &dir);
        assert_eq!(o.decision, Decision::Success, "{alias}: {o}");
        assert_eq!(o.account.as_deref(), Some("alice"));
        assert!(o.log_line(&req(alias)).contains(&format!("user=\"alice\" pam_user=\"{alias}\"")));
        // The code was recorded for alice: the other spelling cannot replay it.
        let mut conv = Script::answer(&code(&e, t));
        let o = authenticate_with(&e.cfg, &req("alice"), &mut conv, &Fixed(Some(t)), &dir);
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    }
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
    let mut e = env();
    e.cfg.lockout.max_failures = 0;
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
    assert_eq!(o.factor, Some(Factor::Recovery));
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
        &users(),
    );
    assert_eq!(o.decision, Decision::Success);
    assert!(conv.infos.is_empty());
}

#[test]
fn not_enrolled_denies_unless_nullok_which_ignores() {
    let mut e = env();
    let o = run(&e, "bob", &mut Script::new(vec![]), Some(T));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    e.cfg.enrollment = Enrollment::Optional;
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
    e.cfg.enrollment = Enrollment::Optional;
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

#[test]
fn fail_delay_is_requested_from_the_configuration() {
    let e = env();
    let mut conv = Script::answer("000000");
    run(&e, "alice", &mut conv, Some(T));
    assert_eq!(conv.delay, Some(2000));
}

#[test]
fn lockout_after_max_failures_blocks_even_the_right_code_until_it_expires() {
    let mut e = env();
    e.cfg.lockout.max_failures = 3;
    let wrong = format!("{:06}", (code(&e, T).parse::<u32>().unwrap() + 1) % 1_000_000);
    for i in 0..3 {
        let o = run(&e, "alice", &mut Script::answer(&wrong), Some(T + i));
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    }
    let mut conv = Script::new(vec![]);
    let o = run(&e, "alice", &mut conv, Some(T + 5));
    assert!(o.reason.starts_with("locked for"), "{o}");
    assert!(conv.prompts.is_empty(), "no prompt while locked");
    assert!(conv.infos[0].contains("locked for 15 more minutes"), "{:?}", conv.infos);
    // A recovery code does not get around the lock either.
    let o = run(&e, "alice", &mut Script::answer(&e.codes[0]), Some(T + 10));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed));
    // After the lock expires the right code works, and an admin unlock also clears it.
    let later = T + 3 + 900;
    let o = run(&e, "alice", &mut Script::answer(&code(&e, later)), Some(later));
    assert_eq!(o.decision, Decision::Success, "{o}");
    let store = Store::open(&e.cfg.store).unwrap();
    let alice = UserName::parse("alice").unwrap();
    for i in 0..3 {
        run(&e, "alice", &mut Script::answer(&wrong), Some(later + 40 + i));
    }
    assert!(
        run(&e, "alice", &mut Script::new(vec![]), Some(later + 50)).reason.starts_with("locked")
    );
    assert!(enroll::unlock(&store, &alice).unwrap());
    let o = run(&e, "alice", &mut Script::answer(&code(&e, later + 60)), Some(later + 60));
    assert_eq!(o.decision, Decision::Success, "{o}");
}

#[test]
fn a_correct_code_resets_the_failure_count() {
    let mut e = env();
    e.cfg.lockout.max_failures = 2;
    run(&e, "alice", &mut Script::answer("000000"), Some(T));
    assert_eq!(
        run(&e, "alice", &mut Script::answer(&code(&e, T)), Some(T)).decision,
        Decision::Success
    );
    let o = run(&e, "alice", &mut Script::answer("000000"), Some(T + 1));
    assert_eq!(o.reason, "wrong code", "one failure after the reset does not lock");
}

#[test]
fn exempt_rule_ignores_without_prompting_and_rules_can_require() {
    let mut e = env();
    e.cfg.rules = vec![
        Rule {
            rhost: Some(vec![HostMatch::try_from("10.0.0.0/8".to_string()).unwrap()]),
            exempt: true,
            ..Default::default()
        },
        Rule {
            group: Some(vec!["wheel".into()]),
            enrollment: Some(Enrollment::Required),
            ..Default::default()
        },
    ];
    e.cfg.enrollment = Enrollment::Optional;
    let mut conv = Script::new(vec![]);
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!((o.decision, o.reason.as_str()), (Decision::Ignore, "exempt by rule 1"));
    let o = authenticate_with(
        &e.cfg,
        &Request { rhost: Some("192.0.2.1".into()), ..req("bob") },
        &mut Script::new(vec![]),
        &Fixed(Some(T)),
        &users(),
    );
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "wheel must enroll: {o}");
    // A single-prompt client (i3lock): the exempt user's one answer is the password, handed
    // on to pam_unix, in both lines of its stack.
    for split in [true, false] {
        e.cfg.split_password = split;
        e.cfg.single_prompt = !split;
        let mut conv = Script::answer("hunter2");
        let o = run(&e, "alice", &mut conv, Some(T));
        assert_eq!((o.decision, o.reason.as_str()), (Decision::Ignore, "exempt by rule 1"));
        assert_eq!(conv.password.as_deref(), Some("hunter2"));
    }
}

fn on_login(e: &mut Env) {
    e.cfg.enrollment = Enrollment::OnLogin;
    e.cfg.allow_opt_out = true;
    e.cfg.on_login.max_skips = 2;
}

fn far(user: &str) -> Request {
    Request { rhost: Some("192.0.2.1".into()), ..req(user) }
}

#[test]
fn on_login_skip_is_limited_then_enrollment_is_mandatory() {
    let mut e = env();
    on_login(&mut e);
    e.cfg.allow_opt_out = false;
    for n in 1..=2 {
        let mut conv = Script::answer("2");
        let o = authenticate_with(&e.cfg, &far("carol"), &mut conv, &Fixed(Some(T)), &users());
        assert_eq!(o.decision, Decision::Ignore, "{o}");
        assert_eq!(o.reason, format!("enrollment skipped ({n} of 2)"));
        assert!(conv.infos[0].contains("Skip for now"), "{:?}", conv.infos);
        assert!(!conv.infos[0].contains("Opt out"));
    }
    // No skips left: straight to the setup; a cancelled setup denies.
    let mut conv = Script::new(vec![Ok(None)]);
    let o = authenticate_with(&e.cfg, &far("carol"), &mut conv, &Fixed(Some(T)), &users());
    assert_eq!(o.decision, Decision::Deny(Denial::Conversation));
    assert!(conv.infos[0].contains("required"), "{:?}", conv.infos);
    assert!(conv.prompts[0].starts_with("Enter the 6-digit code"));
}

#[test]
fn on_login_opt_out_is_remembered_and_resettable() {
    let mut e = env();
    on_login(&mut e);
    let o = authenticate_with(
        &e.cfg,
        &far("dave"),
        &mut Script::answer("3"),
        &Fixed(Some(T)),
        &users(),
    );
    assert_eq!(o.decision, Decision::Ignore);
    let mut conv = Script::new(vec![]);
    let o = authenticate_with(&e.cfg, &far("dave"), &mut conv, &Fixed(Some(T)), &users());
    assert_eq!((o.decision, o.reason.as_str()), (Decision::Ignore, "not enrolled, opted out"));
    assert!(conv.prompts.is_empty());
    // If the admin stops allowing opt-out, the menu comes back.
    e.cfg.allow_opt_out = false;
    let mut conv = Script::answer("2");
    authenticate_with(&e.cfg, &far("dave"), &mut conv, &Fixed(Some(T)), &users());
    assert_eq!(conv.prompts, vec!["Choice: ".to_string()]);
    e.cfg.allow_opt_out = true;
    let store = Store::open(&e.cfg.store).unwrap();
    assert!(enroll::opt_in(&store, &UserName::parse("dave").unwrap()).unwrap());
    let mut conv = Script::answer("2");
    let o = authenticate_with(&e.cfg, &far("dave"), &mut conv, &Fixed(Some(T)), &users());
    assert_eq!(o.reason, "enrollment skipped (1 of 2)", "opt-in resets the skips too");
}

#[test]
fn on_login_grace_days_end_skipping() {
    let mut e = env();
    on_login(&mut e);
    e.cfg.allow_opt_out = false;
    e.cfg.on_login.max_skips = 100;
    e.cfg.on_login.grace_days = 1;
    let o = authenticate_with(
        &e.cfg,
        &far("erin"),
        &mut Script::answer("2"),
        &Fixed(Some(T)),
        &users(),
    );
    assert_eq!(o.decision, Decision::Ignore);
    let mut conv = Script::new(vec![Ok(None)]);
    authenticate_with(&e.cfg, &far("erin"), &mut conv, &Fixed(Some(T + 86_400)), &users());
    assert!(
        conv.prompts[0].starts_with("Enter the 6-digit code"),
        "grace over: {:?}",
        conv.prompts
    );
}

#[test]
fn on_login_enrollment_shows_qr_confirms_and_gives_recovery_codes() {
    let mut e = env();
    on_login(&mut e);
    // The code is only known once the QR code is shown: answer through a closure-like script.
    struct Enroller {
        inner: Script,
        now: u64,
    }
    impl Conversation for Enroller {
        fn prompt_secret(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
            self.inner.prompt_secret(p)
        }
        fn prompt_visible(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
            self.inner.prompts.push(p.to_string());
            if p == "Choice: " {
                return Ok(Some(Zeroizing::new("1".into())));
            }
            if p.starts_with("Enter the 6-digit code") {
                let shown = self.inner.infos.iter().find(|i| i.contains("otpauth://")).unwrap();
                let uri = &shown[shown.find("otpauth://").unwrap()..];
                let parsed = crate::otpauth::TotpUri::parse(uri.trim()).unwrap();
                return Ok(Some(totp::code_at(parsed.secret.expose(), &parsed.params, self.now)));
            }
            Ok(Some(Zeroizing::new(String::new())))
        }
        fn info(&mut self, t: &str) {
            self.inner.info(t)
        }
        fn error(&mut self, t: &str) {
            self.inner.error(t)
        }
        fn set_password(&mut self, p: &str) -> Result<(), ConvError> {
            self.inner.set_password(p)
        }
        fn fail_delay(&mut self, ms: u32) {
            self.inner.fail_delay(ms)
        }
        fn debug(&mut self, t: &str) {
            self.inner.debug(t)
        }
    }
    let mut conv = Enroller { inner: Script::new(vec![]), now: T };
    let o = authenticate_with(&e.cfg, &far("frank"), &mut conv, &Fixed(Some(T)), &users());
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(o.factor, Some(Factor::EnrollTotp));
    let infos = &conv.inner.infos;
    assert!(
        infos.iter().any(|i| i.contains('█') && i.contains("otpauth://totp/pam_mfa:frank@")),
        "{infos:?}"
    );
    let codes = infos.iter().find(|i| i.contains("recovery codes")).unwrap();
    assert_eq!(
        codes.lines().filter(|l| crate::recovery::Attempt::parse(l.trim()).is_some()).count(),
        10
    );
    assert_eq!(
        conv.inner.prompts.last().unwrap(),
        "Press Enter when you have stored the recovery codes: "
    );
    // Enrolled now: the next login asks for a code, and the confirmation code cannot be replayed.
    let store = Store::open(&e.cfg.store).unwrap();
    let rec = store.load(&UserName::parse("frank").unwrap()).unwrap().unwrap();
    let f = rec.totp.unwrap();
    let replay = totp::code_at(f.secret.expose(), &f.params, T);
    let o = authenticate_with(
        &e.cfg,
        &far("frank"),
        &mut Script::answer(&replay),
        &Fixed(Some(T)),
        &users(),
    );
    assert_eq!(o.reason, "code already used");
}

#[test]
fn single_prompt_splits_password_and_code() {
    let mut e = env();
    e.cfg.single_prompt = true;
    let mut conv = Script::answer(&format!("hunter2{}", code(&e, T)));
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(conv.prompts, vec![SINGLE_PROMPT.to_string()]);
    assert_eq!(conv.password.as_deref(), Some("hunter2"));
    // No code at the end: denied, password not handed on.
    let mut conv = Script::answer("hunter2");
    assert_eq!(
        run(&e, "alice", &mut conv, Some(T + 30)).decision,
        Decision::Deny(Denial::AuthFailed)
    );
    assert_eq!(conv.password, None);
    // A user without TOTP typed only the password; policy decides (required: deny).
    let mut conv = Script::answer("s3cret");
    assert_eq!(run(&e, "bob", &mut conv, Some(T)).decision, Decision::Deny(Denial::AuthFailed));
    assert_eq!(conv.password.as_deref(), Some("s3cret"));
}

#[test]
fn single_prompt_takes_a_recovery_code_at_the_end() {
    let mut e = env();
    e.cfg.single_prompt = true;
    // As printed (with dashes, lowercase as people type it), after a password ending in digits.
    let printed = e.codes[0].to_lowercase();
    let mut conv = Script::answer(&format!("pw 12{printed}"));
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Recovery)), "{o}");
    assert_eq!(conv.password.as_deref(), Some("pw 12"));
    // Without its dashes.
    let compact = e.codes[1].replace('-', "");
    let mut conv = Script::answer(&format!("hunter2{compact}"));
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Recovery)), "{o}");
    assert_eq!(conv.password.as_deref(), Some("hunter2"));
    // A TOTP code still wins over a recovery-code reading of the last 11 characters.
    let mut conv = Script::answer(&format!("hunter2{}", code(&e, T)));
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{o}");
}

#[test]
fn split_password_hands_the_password_on_and_checks_nothing() {
    let mut e = env();
    e.cfg.split_password = true;
    let c = code(&e, T);
    let mut conv = Script::answer(&format!("hunter2{c}"));
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!(o.decision, Decision::Ignore, "{o}");
    assert_eq!(conv.password.as_deref(), Some("hunter2"));
    // Nothing was used up: the single_prompt line after the password takes the same code.
    e.cfg.split_password = false;
    e.cfg.single_prompt = true;
    let mut conv = Script::answer(&format!("hunter2{c}"));
    assert_eq!(run(&e, "alice", &mut conv, Some(T)).decision, Decision::Success);
    // No code at the end: refused at once, nothing handed on.
    e.cfg.split_password = true;
    let mut conv = Script::answer("hunter2");
    assert_eq!(run(&e, "alice", &mut conv, Some(T)).decision, Decision::Deny(Denial::AuthFailed));
    assert_eq!(conv.password, None);
}

#[test]
fn a_locker_gets_no_message_after_a_recovery_code() {
    let mut e = env();
    e.cfg.locker = true;
    e.cfg.recovery.warn_below = 10;
    let mut conv = Script::answer(&e.codes[0]);
    let o = run(&e, "alice", &mut conv, Some(T));
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Recovery)), "{o}");
    assert_eq!(o.reason, "recovery code accepted, 9 left");
    assert!(conv.infos.is_empty(), "{:?}", conv.infos);
}

#[test]
fn a_replayed_code_says_to_wait_and_the_lockout_names_the_unlock_command() {
    let mut e = env();
    e.cfg.lockout.max_failures = 2;
    let c = code(&e, T);
    assert_eq!(run(&e, "alice", &mut Script::answer(&c), Some(T)).decision, Decision::Success);
    let mut conv = Script::answer(&c);
    let o = run(&e, "alice", &mut conv, Some(T + 1));
    assert_eq!(o.reason, "code already used");
    assert_eq!(conv.infos, vec![verify::REPLAYED_MESSAGE.to_string()]);
    let mut conv = Script::answer("000000");
    let o = run(&e, "alice", &mut conv, Some(T + 2));
    assert!(o.reason.ends_with("factor now locked"), "{o}");
    assert_eq!(conv.infos.len(), 1, "{:?}", conv.infos);
    assert!(
        conv.infos[0].ends_with("(admin: mfa-enroll --user alice admin unlock)"),
        "{:?}",
        conv.infos
    );
}

#[test]
fn the_password_is_recognised_in_constant_time_only_when_equal() {
    assert!(answer_is_password("pw 1234", "pw 1234"));
    assert!(!answer_is_password("pw 1234", "pw 12345"));
    assert!(!answer_is_password("", ""));
}

#[test]
fn silent_suppresses_the_lockout_notice() {
    let mut e = env();
    e.cfg.lockout.max_failures = 1;
    let quiet = Request { silent: true, ..req("alice") };
    let mut conv = Script::answer("000000");
    let o = authenticate_with(&e.cfg, &quiet, &mut conv, &Fixed(Some(T)), &users());
    assert!(o.reason.ends_with("factor now locked"), "{o}");
    let mut conv2 = Script::new(vec![]);
    let o = authenticate_with(&e.cfg, &quiet, &mut conv2, &Fixed(Some(T + 1)), &users());
    assert!(o.reason.starts_with("locked"), "{o}");
    assert!(conv.infos.is_empty() && conv2.infos.is_empty(), "{:?} {:?}", conv.infos, conv2.infos);
}

/// The factor's name in log lines is the name the helper protocol carries: a login through the
/// helper logs the same `factor=` as one in the module.
#[test]
fn factor_names_are_the_same_in_logs_and_in_the_helper_protocol() {
    for f in Factor::ALL {
        assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{}\"", f.name()));
        let o = Outcome::success("x").with_factor(f);
        assert!(o.log_line(&req("alice")).contains(&format!(" factor={} ", f.name())));
    }
    let o = Outcome::fail_open("outage").with_factor(Factor::Push);
    assert!(
        o.log_line(&req("alice")).starts_with("decision=fail-open "),
        "{}",
        o.log_line(&req("alice"))
    );
}
