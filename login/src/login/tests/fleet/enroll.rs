//! Enroll-on-login in fleet mode against a scripted service that answers status and enroll.

use super::*;
use push_proto::fleet_enroll::{
    Change, EnrollRequest, EnrollResponse, StatusRequest, StatusResponse,
};

/// The scripted service with status and enrollment.
struct EnrollFleet {
    inner: FakeFleet,
    /// `None`: the service cannot be reached.
    status: Option<StatusResponse>,
    statuses: RefCell<u32>,
    /// `Some(code)`: every enrollment is refused with this error code.
    refuse: Option<&'static str>,
    changes: RefCell<Vec<EnrollRequest>>,
}

impl FleetRemote for &EnrollFleet {
    fn host_id(&self) -> &str {
        HOST
    }
    fn service_key(&self) -> &push_proto::PublicKey {
        Box::leak(Box::new(self.inner.key.public()))
    }
    fn verify(&self, req: &VerifyRequest) -> Result<VerifyResponse, FleetError> {
        (&self.inner).verify(req)
    }
    fn status(&self, _: &StatusRequest) -> Result<StatusResponse, FleetError> {
        *self.statuses.borrow_mut() += 1;
        self.status.clone().ok_or_else(|| FleetError::Outage("connection refused".into()))
    }
    fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, FleetError> {
        if let Some(code) = self.refuse {
            return Err(FleetError::Refused(code.into()));
        }
        self.changes.borrow_mut().push(req.clone());
        let recovery_codes = match req.change {
            Change::Totp(_) => vec!["abcd-efgh-ijkl".into(), "mnop-qrst-uvwx".into()],
            _ => vec![],
        };
        Ok(EnrollResponse { recovery_codes })
    }
}

impl Remotes for EnrollFleet {
    fn push<'s>(&'s self, c: &PushConfig) -> Result<Box<dyn PushRemote + 's>, PushError> {
        self.inner.push(c)
    }
    fn privacyidea<'s>(
        &'s self,
        c: &PrivacyIdeaConfig,
    ) -> Result<Box<dyn PrivacyIdeaRemote + 's>, PiError> {
        self.inner.privacyidea(c)
    }
    fn fleet<'s>(&'s self, _: &FleetConfig) -> Result<Box<dyn FleetRemote + 's>, FleetError> {
        Ok(Box::new(self))
    }
}

/// Answers the confirmation with the code of the secret it was shown, Enter elsewhere.
struct Enroller(Script);

impl Conversation for Enroller {
    fn prompt_secret(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.0.prompt_secret(p)
    }
    fn prompt_visible(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.0.prompts.push(p.to_string());
        if p.starts_with("Enter the 6-digit code") {
            let shown = self.0.infos.iter().find(|i| i.contains("otpauth://")).unwrap();
            let uri = &shown[shown.find("otpauth://").unwrap()..];
            let parsed = crate::otpauth::TotpUri::parse(uri.trim()).unwrap();
            return Ok(Some(totp::code_at(parsed.secret.expose(), &parsed.params, T)));
        }
        Ok(Some(Zeroizing::new(String::new())))
    }
    fn info(&mut self, t: &str) {
        self.0.info(t)
    }
    fn error(&mut self, t: &str) {
        self.0.error(t)
    }
    fn set_password(&mut self, p: &str) -> Result<(), ConvError> {
        self.0.set_password(p)
    }
    fn fail_delay(&mut self, ms: u32) {
        self.0.fail_delay(ms)
    }
    fn debug(&mut self, t: &str) {
        self.0.debug(t)
    }
}

fn status(enrolled: bool, may_enroll_first: bool) -> StatusResponse {
    StatusResponse {
        totp: None,
        recovery_codes: u32::from(enrolled) * 5,
        security_keys: 0,
        push_devices: 0,
        may_enroll_first,
        locked_until: None,
    }
}

fn service(status: Option<StatusResponse>, refuse: Option<&'static str>) -> EnrollFleet {
    EnrollFleet {
        inner: FakeFleet {
            key: SecretKey::generate().unwrap(),
            behaviour: Service::Decides(Verdict::Accept),
            seen: RefCell::new(vec![]),
            list: List::Refused,
        },
        status,
        statuses: RefCell::new(0),
        refuse,
        changes: RefCell::new(vec![]),
    }
}

fn on_login_env(failmode: FailMode) -> Env {
    let mut e = fleet_env(failmode);
    e.cfg.enrollment = Enrollment::OnLogin;
    e
}

fn login(e: &Env, fake: &EnrollFleet, conv: &mut dyn Conversation) -> Outcome {
    authenticate(&e.cfg, &req("bob"), conv, &Fixed(Some(T)), &users(), fake)
}

#[test]
fn on_login_fleet_enrolls_totp_then_recovery_codes_without_proof_and_lets_in() {
    let e = on_login_env(FailMode::Closed);
    let fake = service(Some(status(false, true)), None);
    let mut conv = Enroller(Script::new(vec![]));
    let o = login(&e, &fake, &mut conv);
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(*fake.statuses.borrow(), 1, "one status request");
    let changes = fake.changes.borrow();
    assert_eq!(changes.len(), 1, "the first app's answer carries the recovery codes");
    assert!(matches!(changes[0].change, Change::Totp(_)) && changes[0].proof.is_none());
    assert!(conv.0.infos.iter().any(|i| i.contains("otpauth://")));
    assert!(conv.0.infos.iter().any(|i| i.contains("mnop-qrst-uvwx")), "codes shown once");
    assert!(fake.inner.seen.borrow().is_empty(), "no code login after enrolling");
    // Nothing is kept in the host's local store.
    let store = Store::open(&e.cfg.store).unwrap();
    assert!(store.lock(&UserName::parse("bob").unwrap()).unwrap().load().unwrap().is_none());
}

#[test]
fn on_login_fleet_not_opted_in_or_refused_denies_plainly() {
    let e = on_login_env(FailMode::Open);
    let fake = service(Some(status(false, false)), None);
    let mut conv = Enroller(Script::new(vec![]));
    let o = login(&e, &fake, &mut conv);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    assert!(conv.0.infos.iter().any(|i| i.contains("ask them to opt you in")));
    assert!(fake.changes.borrow().is_empty());

    let fake = service(Some(status(false, true)), Some("host_not_allowed"));
    let mut conv = Enroller(Script::new(vec![]));
    let o = login(&e, &fake, &mut conv);
    assert_eq!(o.decision, Decision::Deny(Denial::AuthFailed), "{o}");
    assert!(conv.0.infos.iter().any(|i| i.contains("cannot be set up from this computer")));
    assert!(!conv.0.infos.iter().any(|i| i.contains("host_not_allowed")));
}

#[test]
fn on_login_fleet_outage_is_failmodes_and_enrolled_users_get_the_normal_prompt() {
    for (failmode, result) in [
        (FailMode::Closed, Decision::Deny(Denial::Unavailable)),
        (FailMode::Open, Decision::FailOpen),
    ] {
        let fake = service(None, None);
        let o = login(&on_login_env(failmode), &fake, &mut Script::new(vec![]));
        assert_eq!(o.decision, result, "{failmode:?}: {o}");
    }
    let fake = service(Some(status(true, false)), None);
    let mut conv = Script::answer("123456");
    let o = login(&on_login_env(FailMode::Closed), &fake, &mut conv);
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(*fake.statuses.borrow(), 1);
    assert_eq!(fake.inner.seen.borrow().len(), 1);
    // Without on-login enrollment: no status request at all.
    let fake = service(Some(status(false, true)), None);
    let o = login(&fleet_env(FailMode::Closed), &fake, &mut Script::answer("123456"));
    assert_eq!(o.decision, Decision::Success, "{o}");
    assert_eq!(*fake.statuses.borrow(), 0);
}
