//! The push and privacyIDEA flows against scripted central services ([`Remotes`]): what the
//! flows decide from each answer, without a network. A scripted push service signs receipts
//! with its own service and device keys, so approvals go through the real receipt check.

use super::*;
use crate::policy::FailMode;
use crate::privacyidea::{CheckResult, PiError, PollStatus, PrivacyIdeaConfig};
use crate::push::{PushConfig, PushDevice, PushError};
use push_proto::SecretKey;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, Decision as PhoneDecision, DeviceRef,
    PairingCreated, PairingState, Receipt, Status,
};
use push_proto::signed;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

const TX: &str = "TTTTTTTTTTTTTTTTTTTTTT";
const DEV: &str = "DDDDDDDDDDDDDDDDDDDDDD";

/// What the phone does with a push.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phone {
    /// Approves with the number shown at login.
    Approve,
    /// Approves with another number.
    WrongNumber,
    /// Refuses.
    Deny,
    /// Never answers.
    Silent,
}

/// A scripted mfa-server with one paired phone.
struct FakePush {
    service: SecretKey,
    device: SecretKey,
    phone: Phone,
    /// Fails connecting (a credential that cannot be read, say).
    connect: Option<fn() -> PushError>,
    /// Fails creating the challenge.
    create: Option<fn() -> PushError>,
    /// The number the login showed (read from the prompt by [`Shown`]).
    shown: Rc<Cell<Option<u8>>>,
    created: RefCell<Vec<CreateChallenge>>,
    cancelled: RefCell<Vec<&'static str>>,
}

impl FakePush {
    fn new(phone: Phone) -> FakePush {
        FakePush {
            service: SecretKey::generate().unwrap(),
            device: SecretKey::generate().unwrap(),
            phone,
            connect: None,
            create: None,
            shown: Rc::new(Cell::new(None)),
            created: RefCell::new(vec![]),
            cancelled: RefCell::new(vec![]),
        }
    }

    /// The device as the user's record holds it.
    fn paired(&self) -> PushDevice {
        PushDevice {
            id: DEV.into(),
            name: "pixel".into(),
            public_key: self.device.public().encode(),
            added: T - 100,
            passkey: None,
        }
    }

    /// The phone's answer, as an honest service reports it.
    fn state(&self) -> ChallengeState {
        let status = match self.phone {
            Phone::Approve | Phone::WrongNumber => Status::Approved,
            Phone::Deny => Status::Denied,
            Phone::Silent => Status::Pending,
        };
        let receipt = (status == Status::Approved).then(|| self.receipt());
        ChallengeState { txid: TX.into(), status, receipt }
    }

    fn receipt(&self) -> Receipt {
        let asked = self.created.borrow()[0].clone();
        let shown = self.shown.get().expect("the login showed a number");
        let number = if self.phone == Phone::WrongNumber { shown % 90 + 10 } else { shown };
        let fields = signed::LoginFields {
            txid: TX,
            host_id: "host-a",
            hostname: "web1",
            user: &asked.user,
            service: &asked.service,
            rhost: asked.rhost.as_deref(),
            time: asked.time,
            nonce: &asked.nonce,
            choices: &asked.choices,
        };
        let decision = PhoneDecision::Approve;
        let answer = signed::answer(&signed::login_hash(&fields), decision, Some(number));
        let mut r = Receipt {
            txid: TX.into(),
            host_id: "host-a".into(),
            hostname: "web1".into(),
            user: asked.user.clone(),
            service: asked.service.clone(),
            rhost: asked.rhost.clone(),
            time: asked.time,
            nonce: asked.nonce.clone(),
            choices: asked.choices.clone(),
            decision,
            number: Some(number),
            device_id: DEV.into(),
            device_signature: self.device.sign(&answer),
            passkey: None,
            answered_at: asked.time + 3,
            signature: String::new(),
        };
        r.signature = self.service.sign(&r.signed_bytes());
        r
    }
}

/// The connection the flow gets.
struct Connection<'f> {
    fake: &'f FakePush,
    service_key: push_proto::PublicKey,
}

impl PushRemote for Connection<'_> {
    fn host_id(&self) -> &str {
        "host-a"
    }
    fn hostname(&self) -> &str {
        "web1"
    }
    fn service_key(&self) -> &push_proto::PublicKey {
        &self.service_key
    }
    fn create_challenge(&self, req: &CreateChallenge) -> Result<ChallengeCreated, PushError> {
        if let Some(e) = self.fake.create {
            return Err(e());
        }
        self.fake.created.borrow_mut().push(req.clone());
        let devices = vec![DeviceRef { id: DEV.into(), name: "pixel".into() }];
        Ok(ChallengeCreated { txid: TX.into(), expires_at: req.time + req.ttl, devices })
    }
    fn challenge_state(&self, _: &str, _: u64) -> Result<ChallengeState, PushError> {
        Ok(self.fake.state())
    }
    fn wait_challenge(&self, _: &str, _: Instant) -> Result<ChallengeState, PushError> {
        Ok(self.fake.state())
    }
    fn cancel(&self, _: &str) -> Result<ChallengeState, PushError> {
        self.fake.cancelled.borrow_mut().push("cancel");
        Ok(self.fake.state())
    }
    fn withdraw_for_code(&self, _: &str) -> Result<ChallengeState, PushError> {
        self.fake.cancelled.borrow_mut().push("code typed");
        Ok(self.fake.state())
    }
    fn create_pairing(&self, _: &str, _: u64) -> Result<PairingCreated, PushError> {
        Err(PushError::Unavailable("not scripted".into()))
    }
    fn wait_pairing(&self, _: &str, _: Instant) -> Result<PairingState, PushError> {
        Err(PushError::Unavailable("not scripted".into()))
    }
}

/// A scripted privacyIDEA: answers to `/validate/check` in order, then to polls.
#[derive(Default)]
struct FakePi {
    checks: RefCell<Vec<Result<CheckResult, PiError>>>,
    polls: RefCell<Vec<Result<PollStatus, PiError>>>,
    /// What was sent as `pass`, and the transaction id, per check.
    asked: RefCell<Vec<(String, Option<String>)>>,
}

impl PrivacyIdeaRemote for &FakePi {
    fn check(
        &self,
        _: &str,
        pass: &str,
        transaction_id: Option<&str>,
        _: Option<&str>,
    ) -> Result<CheckResult, PiError> {
        self.asked.borrow_mut().push((pass.into(), transaction_id.map(str::to_string)));
        self.checks.borrow_mut().remove(0)
    }
    fn poll(&self, _: &str) -> Result<PollStatus, PiError> {
        self.polls.borrow_mut().remove(0)
    }
}

/// Both scripted services.
struct Services {
    push: FakePush,
    pi: FakePi,
}

impl Remotes for Services {
    fn push<'s>(&'s self, _: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError> {
        if let Some(e) = self.push.connect {
            return Err(e());
        }
        Ok(Box::new(Connection { fake: &self.push, service_key: self.push.service.public() }))
    }
    fn privacyidea<'s>(
        &'s self,
        _: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError> {
        Ok(Box::new(&self.pi))
    }
    fn fleet<'s>(
        &'s self,
        _: &crate::fleet::FleetConfig,
    ) -> Result<Box<dyn FleetRemote + 's>, crate::fleet::FleetError> {
        Err(crate::fleet::FleetError::Unavailable("no fleet service in these tests".into()))
    }
}

/// The scripted conversation, noting the number a push prompt shows (the user reads it and
/// types it on the phone).
struct Shown {
    script: Script,
    shown: Rc<Cell<Option<u8>>>,
}

impl Conversation for Shown {
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        if let Some(rest) = prompt.split(": type ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            self.shown.set(digits.parse().ok());
        }
        self.script.prompt_secret(prompt)
    }
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.script.prompt_visible(prompt)
    }
    fn info(&mut self, text: &str) {
        self.script.info(text)
    }
    fn error(&mut self, text: &str) {
        self.script.error(text)
    }
    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        self.script.set_password(password)
    }
    fn fail_delay(&mut self, ms: u32) {
        self.script.fail_delay(ms)
    }
    fn debug(&mut self, text: &str) {
        self.script.debug(text)
    }
}

/// The environment with `[push]` configured and alice's phone paired; with `codes_too` false,
/// alice's app and recovery codes are gone (push is her only factor).
fn push_env(fake: &FakePush, codes_too: bool) -> Env {
    let mut e = env();
    let section = Config::parse("[push]\nurl = \"http://127.0.0.1:9\"\ntimeout = 30\n").unwrap();
    e.cfg.push = section.push;
    let store = Store::open(&e.cfg.store).unwrap();
    let alice = UserName::parse("alice").unwrap();
    let lock = store.lock(&alice).unwrap();
    let mut record = lock.load().unwrap().unwrap();
    record.push.push(fake.paired());
    if !codes_too {
        record.totp = None;
        record.recovery = None;
    }
    lock.save(&record).unwrap();
    e
}

fn push_login(
    e: &Env,
    services: &Services,
    answers: Vec<Result<Option<String>, ()>>,
) -> (Outcome, Shown) {
    let mut conv = Shown { script: Script::new(answers), shown: services.push.shown.clone() };
    let o = authenticate(&e.cfg, &req("alice"), &mut conv, &Fixed(Some(T)), &users(), services);
    (o, conv)
}

fn services(push: FakePush) -> Services {
    Services { push, pi: FakePi::default() }
}

fn failures(e: &Env) -> usize {
    let store = Store::open(&e.cfg.store).unwrap();
    store.load(&UserName::parse("alice").unwrap()).unwrap().unwrap().lockout.failures.len()
}

#[test]
fn push_approved_with_the_number_shown_logs_in_and_the_challenge_is_this_login() {
    let s = services(FakePush::new(Phone::Approve));
    let e = push_env(&s.push, true);
    let (o, conv) = push_login(&e, &s, vec![Ok(Some(String::new()))]);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Push)), "{o}");
    assert_eq!(o.reason, "push approved on 'pixel'");
    let prompt = &conv.script.prompts[0];
    assert!(prompt.starts_with("Push sent to 'pixel': type "), "{prompt}");
    assert!(prompt.contains("(or type a code)"), "alice has codes too: {prompt}");
    let asked = &s.push.created.borrow()[0];
    assert_eq!(
        (asked.user.as_str(), asked.service.as_str(), asked.rhost.as_deref()),
        ("alice", "test", Some("10.0.0.1"))
    );
    assert_eq!((asked.time, asked.devices.clone(), asked.ttl), (T, vec![DEV.to_string()], 30));
    // A remote login is not told "Waiting for your phone" (sshd would show it afterwards).
    assert!(conv.script.infos.iter().all(|m| !m.contains("Waiting")), "{:?}", conv.script.infos);
}

#[test]
fn a_wrong_number_or_a_refusal_on_the_phone_denies_and_counts() {
    for (phone, reason, told) in [
        (Phone::WrongNumber, "wrong number picked on the device", "The wrong number was picked"),
        (Phone::Deny, "push denied on the device", "The login was denied on your phone."),
        (Phone::Silent, "no answer within 30 s", "No answer from your phone in time."),
    ] {
        let s = services(FakePush::new(phone));
        let e = push_env(&s.push, true);
        let (o, conv) = push_login(&e, &s, vec![Ok(Some(String::new()))]);
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{phone:?}: {o}");
        assert_eq!((o.factor, o.reason.as_str()), (Some(Factor::Push), reason), "{phone:?}");
        assert!(conv.script.infos.iter().any(|m| m.starts_with(told)), "{:?}", conv.script.infos);
        assert_eq!(failures(&e), 1, "{phone:?}: the failure counts towards the lockout");
        let cancelled = s.push.cancelled.borrow().clone();
        assert_eq!(cancelled, if phone == Phone::Silent { vec!["cancel"] } else { vec![] });
    }
}

#[test]
fn a_receipt_from_another_service_key_is_not_an_approval() {
    let mut fake = FakePush::new(Phone::Approve);
    let s = {
        // The connection pins this key; the receipts are signed with another one.
        fake.service = SecretKey::generate().unwrap();
        services(fake)
    };
    let pinned = SecretKey::generate().unwrap();
    struct Pinned<'s>(&'s Services, push_proto::PublicKey);
    impl Remotes for Pinned<'_> {
        fn push<'p>(&'p self, _: &PushConfig) -> Result<Box<dyn PushRemote + 'p>, PushError> {
            Ok(Box::new(Connection { fake: &self.0.push, service_key: self.1 }))
        }
        fn privacyidea<'p>(
            &'p self,
            c: &PrivacyIdeaConfig,
        ) -> Result<Box<dyn PrivacyIdeaRemote + 'p>, PiError> {
            self.0.privacyidea(c)
        }
        fn fleet<'s>(
            &'s self,
            _: &crate::fleet::FleetConfig,
        ) -> Result<Box<dyn FleetRemote + 's>, crate::fleet::FleetError> {
            Err(crate::fleet::FleetError::Unavailable("no fleet service in these tests".into()))
        }
    }
    let remotes = Pinned(&s, pinned.public());
    // Push only, failmode open: a receipt that does not verify is never an outage.
    let mut e = push_env(&s.push, false);
    e.cfg.push.as_mut().unwrap().failmode = FailMode::Open;
    let mut conv = Shown { script: Script::answer(""), shown: s.push.shown.clone() };
    let o = authenticate(&e.cfg, &req("alice"), &mut conv, &Fixed(Some(T)), &users(), &remotes);
    assert_eq!(
        (o.decision, o.factor),
        (Decision::Deny(Denial::Unavailable), Some(Factor::Push)),
        "{o}"
    );
    assert!(o.reason.contains("receipt rejected: receipt signature does not verify"), "{o}");
    // With a code to fall back on, the user is asked for it.
    let e = push_env(&s.push, true);
    let c = code(&e, T);
    let mut conv = Shown {
        script: Script::new(vec![Ok(Some(String::new())), Ok(Some(c))]),
        shown: s.push.shown.clone(),
    };
    s.push.created.borrow_mut().clear();
    let o = authenticate(&e.cfg, &req("alice"), &mut conv, &Fixed(Some(T)), &users(), &remotes);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{o}");
    assert!(o.reason.starts_with("push unavailable (receipt rejected"), "{o}");
    assert_eq!(conv.script.prompts[1], PROMPT);
}

#[test]
fn a_code_typed_at_the_push_prompt_withdraws_the_push() {
    let s = services(FakePush::new(Phone::Silent));
    let e = push_env(&s.push, true);
    let (o, _) = push_login(&e, &s, vec![Ok(Some(code(&e, T)))]);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{o}");
    assert_eq!(*s.push.cancelled.borrow(), vec!["code typed"]);
    // No answer at all: the push is withdrawn and the login denied.
    let (o, _) = push_login(&e, &s, vec![Ok(None)]);
    assert_eq!((o.decision, o.factor), (Decision::Deny(Denial::Conversation), Some(Factor::Push)));
    assert_eq!(*s.push.cancelled.borrow(), vec!["code typed", "cancel"]);
}

#[test]
fn only_an_outage_fails_open_and_fail_open_is_its_own_decision() {
    let outage: fn() -> PushError = || PushError::Outage("connection refused".into());
    let broken: fn() -> PushError = || PushError::Unavailable("HTTP 500".into());
    for (create, failmode, expect) in [
        (outage, FailMode::Open, Decision::FailOpen),
        (outage, FailMode::Closed, Decision::Deny(Denial::Unavailable)),
        (broken, FailMode::Open, Decision::Deny(Denial::Unavailable)),
    ] {
        let mut fake = FakePush::new(Phone::Approve);
        fake.create = Some(create);
        let s = services(fake);
        let mut e = push_env(&s.push, false);
        e.cfg.push.as_mut().unwrap().failmode = failmode;
        let (o, conv) = push_login(&e, &s, vec![]);
        assert_eq!((o.decision, o.factor), (expect, Some(Factor::Push)), "{failmode:?}: {o}");
        assert!(conv.script.prompts.is_empty());
        let line = o.log_line(&req("alice"));
        if expect == Decision::FailOpen {
            assert!(
                line.starts_with("decision=fail-open ") && line.contains("FAIL-OPEN"),
                "{line}"
            );
        } else {
            assert!(line.starts_with("decision=deny "), "{line}");
        }
    }
    // A credential that cannot be read is not an outage either.
    let mut fake = FakePush::new(Phone::Approve);
    fake.connect = Some(|| PushError::Unavailable("host credential: missing".into()));
    let s = services(fake);
    let mut e = push_env(&s.push, false);
    e.cfg.push.as_mut().unwrap().failmode = FailMode::Open;
    let (o, _) = push_login(&e, &s, vec![]);
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
}

#[test]
fn a_refused_push_says_why_and_offers_a_code_when_there_is_one() {
    let mut fake = FakePush::new(Phone::Approve);
    fake.create = Some(|| PushError::Refused {
        code: push_proto::api::errors::RATE_LIMITED.into(),
        message: "slow down".into(),
    });
    let s = services(fake);
    let e = push_env(&s.push, false);
    let (o, conv) = push_login(&e, &s, vec![]);
    assert_eq!((o.decision, o.factor), (Decision::Deny(Denial::AuthFailed), Some(Factor::Push)));
    assert!(o.reason.starts_with("push refused by the service: rate_limited"), "{o}");
    assert_eq!(conv.script.infos, vec!["Too many push requests just now; wait a minute."]);
    let e = push_env(&s.push, true);
    let (o, conv) = push_login(&e, &s, vec![Ok(Some(code(&e, T)))]);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{o}");
    assert_eq!(conv.script.prompts, vec![PROMPT]);
}

/// The environment with `backend = "privacyidea"` for everyone.
fn pi_env(failmode: &str) -> Env {
    let mut e = env();
    let c = Config::parse(&format!(
        "[privacyidea]\nurl = \"http://127.0.0.1:9\"\nfailmode = \"{failmode}\"\n\
         [[rule]]\nbackend = \"privacyidea\"\n"
    ))
    .unwrap();
    e.cfg.privacyidea = c.privacyidea;
    e.cfg.rules = c.rules;
    e
}

fn pi_login(
    e: &Env,
    pi: FakePi,
    answers: Vec<Result<Option<String>, ()>>,
) -> (Outcome, Script, Services) {
    let s = Services { push: FakePush::new(Phone::Silent), pi };
    let mut conv = Script::new(answers);
    let o = authenticate(&e.cfg, &req("bob"), &mut conv, &Fixed(Some(T)), &users(), &s);
    (o, conv, s)
}

#[test]
fn privacyidea_accepts_rejects_and_fails_open_only_when_configured() {
    let e = pi_env("closed");
    let pi = FakePi { checks: RefCell::new(vec![Ok(CheckResult::Accept)]), ..FakePi::default() };
    let (o, conv, s) = pi_login(&e, pi, vec![Ok(Some("123456".into()))]);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::PrivacyIdea)), "{o}");
    assert_eq!(conv.prompts, vec![PI_PROMPT]);
    assert_eq!(*s.pi.asked.borrow(), vec![("123456".to_string(), None)]);

    let pi = FakePi {
        checks: RefCell::new(vec![Ok(CheckResult::Reject("wrong otp".into()))]),
        ..FakePi::default()
    };
    let (o, conv, _) = pi_login(&e, pi, vec![Ok(Some("123456".into()))]);
    assert_eq!(
        (o.decision, o.factor),
        (Decision::Deny(Denial::AuthFailed), Some(Factor::PrivacyIdea))
    );
    assert_eq!(o.reason, "rejected by privacyIDEA: wrong otp");
    assert_eq!(conv.infos, vec!["The verification server did not accept this code."]);

    for (failmode, expect) in
        [("closed", Decision::Deny(Denial::Unavailable)), ("open", Decision::FailOpen)]
    {
        let e = pi_env(failmode);
        let down = FakePi {
            checks: RefCell::new(vec![Err(PiError::Down("timed out".into()))]),
            ..FakePi::default()
        };
        let (o, _, _) = pi_login(&e, down, vec![Ok(Some("123456".into()))]);
        assert_eq!((o.decision, o.factor), (expect, Some(Factor::PrivacyIdea)), "{failmode}: {o}");
        // Not an outage: denied whatever the failmode.
        let refused = FakePi {
            checks: RefCell::new(vec![Err(PiError::Refused("HTTP 500".into()))]),
            ..FakePi::default()
        };
        let (o, _, _) = pi_login(&e, refused, vec![Ok(Some("123456".into()))]);
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{failmode}: {o}");
    }
}

#[test]
fn privacyidea_push_is_approved_after_polling_and_the_transaction_finalized() {
    let e = pi_env("closed");
    let challenge = CheckResult::Challenge {
        transaction_id: "tx-1".into(),
        challenges: vec![crate::privacyidea::Challenge {
            kind: "push".into(),
            message: "please confirm".into(),
            presence_answer: Some("42".into()),
        }],
    };
    let pi = FakePi {
        checks: RefCell::new(vec![Ok(challenge), Ok(CheckResult::Accept)]),
        polls: RefCell::new(vec![Ok(PollStatus::Accepted)]),
        ..FakePi::default()
    };
    let (o, conv, s) = pi_login(&e, pi, vec![Ok(Some(String::new())), Ok(Some(String::new()))]);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::PrivacyIdea)), "{o}");
    assert!(o.reason.starts_with("push approved after"), "{o}");
    assert_eq!(
        conv.prompts[1],
        "Approve the login on your phone by pressing 42, then press Enter (or type a code): "
    );
    assert_eq!(
        *s.pi.asked.borrow(),
        vec![(String::new(), None), (String::new(), Some("tx-1".to_string()))]
    );
}
