//! The offline fallback of the fleet flow (issue 21) against a scripted service that signs
//! real bundles (a real hashed window of a known secret, real recovery-code hashes) with its
//! own key: only an outage opens the bundle, each answer works once, wrong answers count
//! before they are checked, a refusal or a bad receipt is never followed by an offline
//! acceptance, tampered, foreign and expired bundles open nothing, and the uses are reported
//! at the next contact.

use super::*;
use crate::fleet::{FleetConfig, FleetError};
use crate::policy::FailMode;
use crate::privacyidea::{PiError, PrivacyIdeaConfig};
use crate::push::{PushConfig, PushError};
use mfa_factors::offline_window::{self, Binding, WindowCost};
use push_proto::SecretKey;
use push_proto::fleet::{FleetReceipt, Verdict, VerifyRequest, VerifyResponse};
use push_proto::offline::{
    Bundle, BundleAnswer, BundleRequest, BundleResponse, RecoverySlot, ReportRequest,
    ReportResponse, SignedBundle,
};
use std::cell::{Cell, RefCell};

const HOST: &str = "HHHHHHHHHHHHHHHHHHHHHH";
const SECRET: &[u8] = b"12345678901234567890";

/// What the scripted service does with a verification.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Online {
    Decides(Verdict),
    Down,
    Garbage,
    /// Accepts with a receipt signed by a key the host does not pin.
    BadReceipt,
}

struct Service {
    key: SecretKey,
    online: Cell<Online>,
    /// What the bundle endpoint answers next (`None`: a fresh bundle).
    next: RefCell<Option<BundleAnswer>>,
    recovery: Vec<Zeroizing<String>>,
    recovery_hashes: Vec<Option<String>>,
    reports: RefCell<Vec<ReportRequest>>,
    bundle_requests: RefCell<Vec<BundleRequest>>,
}

impl Service {
    fn new() -> Service {
        let (recovery, set) = crate::recovery::RecoveryCodes::generate(T).unwrap();
        Service {
            key: SecretKey::generate().unwrap(),
            online: Cell::new(Online::Decides(Verdict::Accept)),
            next: RefCell::new(None),
            recovery,
            recovery_hashes: set.slots,
            reports: RefCell::new(vec![]),
            bundle_requests: RefCell::new(vec![]),
        }
    }

    fn bundle(&self, user: &str, nonce: &str, now: u64) -> Bundle {
        let binding = Binding { host_id: HOST, user };
        let first = now / 30;
        let window =
            offline_window::build(SECRET, &Default::default(), first, 20, binding, WindowCost::MIN)
                .unwrap();
        Bundle {
            version: push_proto::offline::VERSION,
            host_id: HOST.into(),
            user: user.into(),
            nonce: nonce.into(),
            issued_at: now,
            expires_at: now + 86400,
            watermark: Some(first - 1),
            totp: Some(window.to_wire()),
            recovery: (0u8..)
                .zip(&self.recovery_hashes)
                .filter_map(|(slot, h)| Some(RecoverySlot { slot, hash: h.clone()? }))
                .collect(),
            rp_id: "pam://fleet".into(),
            keys: vec![],
        }
    }
}

impl FleetRemote for &Service {
    fn host_id(&self) -> &str {
        HOST
    }
    fn service_key(&self) -> &push_proto::PublicKey {
        Box::leak(Box::new(self.key.public()))
    }
    fn verify(&self, req: &VerifyRequest) -> Result<VerifyResponse, FleetError> {
        let (verdict, key) = match self.online.get() {
            Online::Decides(v) => (v, &self.key),
            Online::BadReceipt => {
                (Verdict::Accept, &*Box::leak(Box::new(SecretKey::generate().unwrap())))
            }
            Online::Down => return Err(FleetError::Outage("connection refused".into())),
            Online::Garbage => return Err(FleetError::Unavailable("unexpected reply".into())),
        };
        let mut receipt = FleetReceipt {
            host_id: HOST.into(),
            user: req.user.clone(),
            service: req.service.clone(),
            rhost: req.rhost.clone(),
            time: req.time,
            nonce: req.nonce.clone(),
            factor: req.factor,
            verdict,
            decided_at: req.time,
            signature: String::new(),
        };
        receipt.sign(key);
        Ok(VerifyResponse { receipt, locked_until: None })
    }
    fn offline_bundle(&self, req: &BundleRequest) -> Result<BundleResponse, FleetError> {
        self.bundle_requests.borrow_mut().push(req.clone());
        let answer = self.next.borrow_mut().take().unwrap_or_else(|| BundleAnswer::Fresh {
            bundle: self.bundle(&req.user, &req.nonce, req.time).sign(&self.key).unwrap(),
        });
        Ok(BundleResponse { answer })
    }
    fn offline_report(&self, req: &ReportRequest) -> Result<ReportResponse, FleetError> {
        self.reports.borrow_mut().push(req.clone());
        Ok(ReportResponse { applied: u32::try_from(req.uses.len()).unwrap() })
    }
}

impl Remotes for Service {
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

fn fleet_env() -> Env {
    let mut e = env();
    let c = Config::parse(
        "[fleet]\nurl = \"http://127.0.0.1:9\"\ncredential = \"/etc/pam_mfa/push-host.json\"\n\
         [[rule]]\nbackend = \"fleet\"\n",
    )
    .unwrap();
    e.cfg.fleet = c.fleet;
    e.cfg.fleet.as_mut().unwrap().failmode = FailMode::Closed;
    e.cfg.rules = c.rules;
    e.cfg.lockout.max_failures = 3;
    e
}

fn login(e: &Env, s: &Service, answer: &str, now: u64) -> Outcome {
    let mut conv = Script::answer(answer);
    authenticate(&e.cfg, &req("bob"), &mut conv, &Fixed(Some(now)), &users(), s)
}

fn code_at(t: u64) -> String {
    totp::code_at(SECRET, &Default::default(), t).to_string()
}

fn state(e: &Env) -> Option<crate::store::OfflineState> {
    let store = Store::open(&e.cfg.store).unwrap();
    store.load_offline(&UserName::parse("bob").unwrap()).unwrap()
}

/// An online login (accepted by the scripted service) that leaves the host holding a bundle.
fn online_then_down(e: &Env, s: &Service) {
    let o = login(e, s, "654321", T);
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert!(o.reason.contains("bundle stored"), "{o}");
    assert!(state(e).unwrap().bundle.is_some());
    s.online.set(Online::Down);
}

#[test]
fn on_an_outage_codes_and_recovery_codes_work_from_the_bundle_once_each() {
    let e = fleet_env();
    let s = Service::new();
    online_then_down(&e, &s);

    let o = login(&e, &s, &code_at(T + 30), T + 30);
    assert_eq!((o.decision, o.factor), (Decision::Offline, Some(Factor::Totp)), "{o}");
    let o = login(&e, &s, &code_at(T + 30), T + 31);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "the same code again: {o}");
    // The next step's code, and then an older one (below what was used here): refused.
    let o = login(&e, &s, &code_at(T + 60), T + 60);
    assert_eq!(o.decision, Decision::Offline, "{o}");
    let o = login(&e, &s, &code_at(T + 30), T + 60);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");

    let rc = s.recovery[4].to_string();
    let o = login(&e, &s, &rc, T + 61);
    assert_eq!((o.decision, o.factor), (Decision::Offline, Some(Factor::Recovery)), "{o}");
    let o = login(&e, &s, &rc, T + 62);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");

    // Back online: the next contact reports every use, accepted and refused, once.
    s.online.set(Online::Decides(Verdict::Accept));
    let o = login(&e, &s, "111111", T + 90);
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert!(o.reason.contains("reported 6 use(s)"), "{o}");
    let reports = s.reports.borrow();
    assert_eq!(reports.len(), 1);
    let accepted: Vec<bool> = reports[0].uses.iter().map(|u| u.accepted).collect();
    assert_eq!(accepted, [true, false, true, false, true, false]);
    assert_eq!(
        reports[0].uses[4].used,
        push_proto::offline::OfflineFactor::Recovery {
            slot: Some(4),
            hash: s.recovery_hashes[4].clone()
        }
    );
    assert!(state(&e).unwrap().pending.is_empty());
}

#[test]
fn wrong_answers_offline_count_towards_the_hosts_lockout() {
    let e = fleet_env();
    let s = Service::new();
    online_then_down(&e, &s);
    for t in 0..3 {
        let o = login(&e, &s, "000000", T + 30 + t);
        assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    }
    let o = login(&e, &s, &code_at(T + 60), T + 60);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "locked: {o}");
    assert!(o.reason.contains("offline: locked"), "{o}");
    assert_eq!(state(&e).unwrap().pending.len(), 3, "three failures to report");
}

#[test]
fn a_refusal_or_a_bad_reply_is_never_followed_by_an_offline_acceptance() {
    let e = fleet_env();
    let s = Service::new();
    online_then_down(&e, &s);
    for (online, denial) in [
        (Online::Decides(Verdict::Reject), Denial::AuthFailed),
        (Online::Garbage, Denial::Unavailable),
        (Online::BadReceipt, Denial::Unavailable),
    ] {
        s.online.set(online);
        let o = login(&e, &s, &code_at(T + 30), T + 30);
        assert_eq!(o.decision, Decision::Deny(denial), "{online:?}: {o}");
    }
    // The code was never used offline: still good from the bundle on a real outage.
    s.online.set(Online::Down);
    let o = login(&e, &s, &code_at(T + 30), T + 30);
    assert_eq!(o.decision, Decision::Offline, "{o}");
}

#[test]
fn expired_foreign_and_tampered_bundles_leave_it_to_failmode() {
    let e = fleet_env();
    let s = Service::new();
    online_then_down(&e, &s);
    // Past its expiry, and with a clock far behind its issue time: failmode (closed).
    for now in [T + 86400, T - 3600] {
        let o = login(&e, &s, &code_at(now), now);
        assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
        assert!(o.reason.contains("offline:"), "{o}");
    }
    // A bundle for another user, or one whose payload was changed, stored in bob's file.
    let store = Store::open(&e.cfg.store).unwrap();
    let bob = UserName::parse("bob").unwrap();
    let lock = store.lock(&bob).unwrap();
    let mut st = lock.load_offline().unwrap().unwrap();
    let good = st.bundle.clone().unwrap();
    let foreign = s.bundle("alice", &"n".repeat(43), T).sign(&s.key).unwrap();
    let mut payload = push_proto::unb64(&good.payload).unwrap();
    let at = payload.len() / 2;
    payload[at] ^= 1;
    let tampered = SignedBundle { payload: push_proto::b64(&payload), ..good.clone() };
    for bad in [foreign, tampered] {
        st.bundle = Some(bad);
        lock.save_offline(&st).unwrap();
        let o = login(&e, &s, &code_at(T + 30), T + 30);
        assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
    }
    drop(lock);
    // failmode = open on an outage without a usable bundle is still failmode's decision.
    let mut open = fleet_env();
    open.cfg.fleet.as_mut().unwrap().failmode = FailMode::Open;
    let o = login(&open, &s, "123456", T);
    assert_eq!(o.decision, Decision::FailOpen, "{o}");
}

#[test]
fn the_service_keeps_drops_or_refreshes_the_bundle_at_each_contact() {
    let e = fleet_env();
    let s = Service::new();
    let o = login(&e, &s, "654321", T);
    assert!(o.reason.contains("bundle stored"), "{o}");
    let held = state(&e).unwrap().bundle.unwrap();
    *s.next.borrow_mut() = Some(BundleAnswer::Keep);
    login(&e, &s, "654321", T + 30);
    assert_eq!(state(&e).unwrap().bundle.unwrap(), held, "kept");
    // Being made at the service: what is held stays.
    *s.next.borrow_mut() = Some(BundleAnswer::Later);
    let o = login(&e, &s, "654321", T + 31);
    assert!(o.reason.contains("bundle being made"), "{o}");
    assert_eq!(state(&e).unwrap().bundle.unwrap(), held, "kept while a new one is made");
    let req = s.bundle_requests.borrow().last().cloned().unwrap();
    assert_eq!(req.held_issued_at, Some(T));
    assert_eq!(req.held_last_step, Some(T / 30 + 19));
    // A fresh bundle that answers another request (a replayed answer) is not stored.
    let replayed = s.bundle("bob", &"r".repeat(43), T + 60).sign(&s.key).unwrap();
    *s.next.borrow_mut() = Some(BundleAnswer::Fresh { bundle: replayed });
    let o = login(&e, &s, "654321", T + 60);
    assert!(o.reason.contains("another request"), "{o}");
    assert_eq!(state(&e).unwrap().bundle.unwrap(), held);
    // Drop (removed, locked, revoked): gone, and an outage then goes to failmode.
    *s.next.borrow_mut() = Some(BundleAnswer::Drop);
    let o = login(&e, &s, "654321", T + 90);
    assert!(o.reason.contains("bundle dropped"), "{o}");
    assert!(state(&e).is_none(), "nothing left to keep");
    s.online.set(Online::Down);
    let o = login(&e, &s, &code_at(T + 120), T + 120);
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
}

#[test]
fn with_offline_off_nothing_is_fetched_or_used() {
    let mut e = fleet_env();
    let s = Service::new();
    online_then_down(&e, &s);
    e.cfg.fleet.as_mut().unwrap().offline = false;
    let o = login(&e, &s, &code_at(T + 30), T + 30);
    assert_eq!(o.decision, Decision::Deny(Denial::Unavailable), "{o}");
    s.online.set(Online::Decides(Verdict::Accept));
    let before = s.bundle_requests.borrow().len();
    login(&e, &s, "654321", T + 60);
    assert_eq!(s.bundle_requests.borrow().len(), before);
}
