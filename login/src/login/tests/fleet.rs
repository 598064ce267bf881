//! The fleet flow against a scripted fleet service that signs receipts with its own key, so
//! every decision goes through the real receipt check.

use super::*;
use crate::fleet::{FleetConfig, FleetError};
use crate::policy::FailMode;
use crate::privacyidea::{PiError, PrivacyIdeaConfig};
use crate::push::{PushConfig, PushError};
use push_proto::SecretKey;
use push_proto::fleet::{FleetReceipt, Verdict, VerifyRequest, VerifyResponse};
use push_proto::fleet_push::{DeviceList, DevicesRequest, FleetDevice};
use std::cell::RefCell;

const HOST: &str = "HHHHHHHHHHHHHHHHHHHHHH";

/// What the scripted service does with a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Service {
    /// Signs a receipt with this verdict for the request as sent.
    Decides(Verdict),
    /// Signs an accepting receipt for another nonce (a replayed or redirected receipt).
    AcceptsAnotherLogin,
    /// Signs an accepting receipt with a key the host does not pin.
    AcceptsWithAnotherKey,
    /// Cannot be reached.
    Down,
    /// Answers something that is not the protocol.
    Garbage,
}

struct FakeFleet {
    key: SecretKey,
    behaviour: Service,
    seen: RefCell<Vec<VerifyRequest>>,
    list: List,
}

/// What the scripted service answers for the user's fleet push devices.
#[derive(Clone, Copy, Debug, PartialEq)]
enum List {
    /// The default of the trait: refused.
    Refused,
    /// This many devices, signed for the request as sent.
    Signed(usize),
    /// One device, signed with a key the host does not pin.
    WrongKey,
    /// Cannot be reached.
    Down,
}

impl FleetRemote for &FakeFleet {
    fn host_id(&self) -> &str {
        HOST
    }
    fn service_key(&self) -> &push_proto::PublicKey {
        Box::leak(Box::new(self.key.public()))
    }
    fn verify(&self, req: &VerifyRequest) -> Result<VerifyResponse, FleetError> {
        self.seen.borrow_mut().push(req.clone());
        let (verdict, nonce, key) = match self.behaviour {
            Service::Decides(v) => (v, req.nonce.clone(), &self.key),
            Service::AcceptsAnotherLogin => (Verdict::Accept, "x".repeat(43), &self.key),
            Service::AcceptsWithAnotherKey => (
                Verdict::Accept,
                req.nonce.clone(),
                &*Box::leak(Box::new(SecretKey::generate().unwrap())),
            ),
            Service::Down => return Err(FleetError::Outage("connection refused".into())),
            Service::Garbage => return Err(FleetError::Unavailable("unexpected reply".into())),
        };
        Ok(signed_receipt(req, verdict, nonce, key))
    }
    fn push_devices(&self, req: &DevicesRequest) -> Result<DeviceList, FleetError> {
        let (count, key) = match self.list {
            List::Refused => return Err(FleetError::Unavailable("refused".into())),
            List::Down => return Err(FleetError::Outage("connection refused".into())),
            List::Signed(n) => (n, &self.key),
            List::WrongKey => (1, &*Box::leak(Box::new(SecretKey::generate().unwrap()))),
        };
        let device = |i: usize| FleetDevice {
            id: format!("{i}").repeat(22),
            name: format!("phone-{i}"),
            public_key: SecretKey::generate().unwrap().public().encode(),
            passkey: None,
        };
        let mut list = DeviceList {
            host_id: HOST.into(),
            user: req.user.clone(),
            nonce: req.nonce.clone(),
            devices: (0..count).map(device).collect(),
            listed_at: req.time,
            signature: String::new(),
        };
        list.sign(key);
        Ok(list)
    }
}

/// A receipt for `req` with `verdict`, `nonce`, signed with `key`.
fn signed_receipt(
    req: &VerifyRequest,
    verdict: Verdict,
    nonce: String,
    key: &SecretKey,
) -> VerifyResponse {
    let mut receipt = FleetReceipt {
        host_id: HOST.into(),
        user: req.user.clone(),
        service: req.service.clone(),
        rhost: req.rhost.clone(),
        time: req.time,
        nonce,
        factor: req.factor,
        verdict,
        decided_at: req.time,
        signature: String::new(),
    };
    receipt.sign(key);
    let locked_until = (verdict == Verdict::Locked).then_some(req.time + 600);
    VerifyResponse { receipt, locked_until }
}

impl Remotes for FakeFleet {
    fn push<'s>(&'s self, _: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError> {
        Err(PushError::Unavailable("no push in these tests".into()))
    }
    fn privacyidea<'s>(
        &'s self,
        _: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError> {
        Err(PiError::Setup("no privacyIDEA in these tests".into()))
    }
    fn fleet<'s>(&'s self, _: &FleetConfig) -> Result<Box<dyn FleetRemote + 's>, FleetError> {
        Ok(Box::new(self))
    }
}

/// `backend = "fleet"` for everyone.
fn fleet_env(failmode: FailMode) -> Env {
    let mut e = env();
    let c = Config::parse(
        "[fleet]\nurl = \"http://127.0.0.1:9\"\ncredential = \"/etc/pam_mfa/push-host.json\"\n\
         [[rule]]\nbackend = \"fleet\"\n",
    )
    .unwrap();
    e.cfg.fleet = c.fleet;
    e.cfg.fleet.as_mut().unwrap().failmode = failmode;
    e.cfg.rules = c.rules;
    e
}

fn fleet_login(e: &Env, behaviour: Service, answer: &str) -> (Outcome, Script, FakeFleet) {
    let fake = FakeFleet {
        key: SecretKey::generate().unwrap(),
        behaviour,
        seen: RefCell::new(vec![]),
        list: List::Refused,
    };
    let mut conv = Script::answer(answer);
    let o = authenticate(&e.cfg, &req("bob"), &mut conv, &Fixed(Some(T)), &users(), &fake);
    (o, conv, fake)
}

#[test]
fn the_service_decides_and_only_its_receipt_for_this_login_lets_in() {
    let e = fleet_env(FailMode::Closed);
    let (o, conv, fake) = fleet_login(&e, Service::Decides(Verdict::Accept), " 123456 ");
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{o}");
    assert_eq!(conv.prompts, vec![PROMPT]);
    let sent = fake.seen.borrow();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!((r.user.as_str(), r.answer.as_str(), r.service.as_str()), ("bob", "123456", "test"));
    assert_eq!((r.rhost.as_deref(), r.time), (Some("10.0.0.1"), T));
    assert_eq!(r.validate(), Ok(()), "the request is well-formed");

    let (o, _, _) = fleet_login(&e, Service::Decides(Verdict::Reject), "123456");
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    for bad in [Service::AcceptsAnotherLogin, Service::AcceptsWithAnotherKey] {
        let (o, _, _) = fleet_login(&e, bad, "123456");
        assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{bad:?}: {o}");
        assert!(o.reason.contains("receipt"), "{o}");
    }
}

#[test]
fn each_login_sends_a_fresh_nonce_and_recovery_codes_go_as_recovery() {
    let e = fleet_env(FailMode::Closed);
    let (_, _, a) = fleet_login(&e, Service::Decides(Verdict::Accept), "123456");
    let (_, _, b) = fleet_login(&e, Service::Decides(Verdict::Accept), "123456");
    assert_ne!(a.seen.borrow()[0].nonce, b.seen.borrow()[0].nonce);
    let code = e.codes[0].to_string();
    let (o, _, f) = fleet_login(&e, Service::Decides(Verdict::Accept), &code);
    assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Recovery)), "{o}");
    assert_eq!(f.seen.borrow()[0].factor, push_proto::fleet::Factor::Recovery);
}

#[test]
fn only_an_outage_fails_open_and_a_lockout_is_told() {
    let open = fleet_env(FailMode::Open);
    let (o, _, _) = fleet_login(&open, Service::Down, "123456");
    assert_eq!(o.decision, Decision::FailOpen, "{o}");
    let (o, _, _) = fleet_login(&open, Service::Garbage, "123456");
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "never open for a bad reply: {o}");
    let (o, _, _) = fleet_login(&open, Service::AcceptsWithAnotherKey, "123456");
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
    let closed = fleet_env(FailMode::Closed);
    let (o, _, _) = fleet_login(&closed, Service::Down, "123456");
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");

    let (o, conv, _) = fleet_login(&closed, Service::Decides(Verdict::Locked), "123456");
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    assert!(
        conv.infos.iter().any(|m| m.contains("locked for 10 more minutes")),
        "{:?}",
        conv.infos
    );
}

#[test]
fn empty_cancelled_or_oversized_answers_are_not_sent() {
    let e = fleet_env(FailMode::Open);
    for answer in ["", "   "] {
        let (o, _, f) = fleet_login(&e, Service::Decides(Verdict::Accept), answer);
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
        assert!(f.seen.borrow().is_empty());
    }
    let (o, _, f) = fleet_login(&e, Service::Decides(Verdict::Accept), &"1".repeat(65));
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    assert!(f.seen.borrow().is_empty());
    let fake = FakeFleet {
        key: SecretKey::generate().unwrap(),
        behaviour: Service::Decides(Verdict::Accept),
        seen: RefCell::new(vec![]),
        list: List::Refused,
    };
    let mut conv = Script::new(vec![Ok(None)]);
    let o = authenticate(&e.cfg, &req("bob"), &mut conv, &Fixed(Some(T)), &users(), &fake);
    assert_eq!(o.decision, Decision::Deny(Denial::Conversation), "{o}");
    assert!(fake.seen.borrow().is_empty());
}

#[test]
fn a_fleet_rule_needs_a_fleet_section() {
    let e = Config::parse("[[rule]]\nbackend = \"fleet\"\n");
    assert!(matches!(e, Err(Error::Config(m)) if m.contains("[fleet]")));
}

/// Fleet push: `[push]` for the same service as `[fleet]`.
fn fleet_push_env() -> Env {
    let mut e = fleet_env(FailMode::Closed);
    let c = Config::parse(
        "[push]\nurl = \"http://127.0.0.1:9\"\ncredential = \"/etc/pam_mfa/push-host.json\"\n",
    )
    .unwrap();
    e.cfg.push = c.push;
    e
}

fn fleet_push_login(e: &Env, list: List) -> (Outcome, Script, FakeFleet) {
    let fake = FakeFleet {
        key: SecretKey::generate().unwrap(),
        behaviour: Service::Decides(Verdict::Accept),
        seen: RefCell::new(vec![]),
        list,
    };
    let mut conv = Script::answer("123456");
    let o = authenticate(&e.cfg, &req("bob"), &mut conv, &Fixed(Some(T)), &users(), &fake);
    (o, conv, fake)
}

#[test]
fn a_fleet_device_list_that_does_not_verify_denies_and_no_list_asks_for_a_code() {
    let e = fleet_push_env();
    let (o, conv, fake) = fleet_push_login(&e, List::WrongKey);
    assert_eq!((o.decision, o.factor), (Decision::Deny(Denial::Unavailable), Some(Factor::Push)));
    assert!(o.reason.contains("device list refused"), "{o}");
    assert!(conv.prompts.is_empty() && fake.seen.borrow().is_empty(), "{o}");
    // No list (outage, refusal) or an empty one: the code prompt, decided by the service.
    for list in [List::Down, List::Refused, List::Signed(0)] {
        let (o, conv, fake) = fleet_push_login(&e, list);
        assert_eq!((o.decision, o.factor), (Decision::Success, Some(Factor::Totp)), "{list:?}");
        assert_eq!(conv.prompts, vec![PROMPT], "{list:?}");
        assert_eq!(fake.seen.borrow().len(), 1);
    }
    // Devices listed but the push service cannot be used: told so, and the code goes to the
    // fleet service.
    let (o, _, fake) = fleet_push_login(&e, List::Signed(2));
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert!(o.reason.starts_with("push unavailable"), "{o}");
    assert_eq!(fake.seen.borrow().len(), 1);
    // `[push]` for another service: push is not offered.
    let mut other = fleet_push_env();
    other.cfg.push.as_mut().unwrap().url = "http://127.0.0.1:10".into();
    let (o, conv, _) = fleet_push_login(&other, List::WrongKey);
    assert_eq!((o.decision, conv.prompts), (Decision::Success, vec![PROMPT.to_string()]));
}

mod enroll;
