//! Checking the service's receipt before a push approval counts.
//!
//! Everything is judged against the module's *own* login: the device signature must cover the
//! hash of the login this module created (its transaction, host, user, service, remote
//! address, time, nonce and choices), and the number must be the one this module showed. What
//! the service says about the login is compared only to name the mismatch in the log.

use super::PushDevice;
use push_proto::api::{ChallengeState, Decision, Status};
use push_proto::signed::{self, LoginFields};
use push_proto::{PublicKey, limits};
use subtle::ConstantTimeEq;

/// What the module expects a receipt for its own login to say.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The login this module created, with its own values.
    pub login: LoginFields<'a>,
    /// The number shown at login (chosen by this module).
    pub number: u8,
    /// The devices enrolled for the user in the local store.
    pub devices: &'a [PushDevice],
}

/// What a (checked) challenge state means for the login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Approved with the right number by this enrolled device; every signature verified.
    Approved {
        /// The device that approved.
        device: PushDevice,
        /// The passkey's new signature counter, for a device with a passkey (to be stored).
        passkey_count: Option<u32>,
    },
    /// Refused on the device.
    Denied,
    /// The device approved a number other than the one shown at login (verified: this really
    /// is the user's device answering this login).
    WrongNumber,
    /// Reported on the device as not the user's login.
    Fraud,
    /// Nobody answered before the challenge expired.
    Expired,
    /// Withdrawn.
    Cancelled,
    /// Still open.
    Pending,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Which field of the receipt's login differs from ours, if any.
fn mismatch(got: &LoginFields<'_>, ours: &LoginFields<'_>) -> Option<&'static str> {
    if got.txid != ours.txid {
        Some("another transaction")
    } else if got.host_id != ours.host_id || got.hostname != ours.hostname {
        Some("another host")
    } else if got.user != ours.user {
        Some("another user")
    } else if got.service != ours.service {
        Some("another service")
    } else if got.rhost != ours.rhost {
        Some("another remote address")
    } else if got.time != ours.time {
        Some("another login time")
    } else if !same(got.nonce, ours.nonce) {
        Some("another login's nonce (replayed?)")
    } else if got.choices != ours.choices {
        Some("other choices than this host offered")
    } else {
        None
    }
}

/// Interprets a challenge state. Anything short of a fully verified approval is not an
/// approval; an approval whose receipt does not verify is an `Err` (the reason, for the log).
pub fn check(
    state: &ChallengeState,
    service_key: &PublicKey,
    exp: &Expected<'_>,
) -> Result<Verdict, String> {
    if state.txid != exp.login.txid {
        return Err("status names another transaction".into());
    }
    match state.status {
        Status::Pending => return Ok(Verdict::Pending),
        Status::Denied => return Ok(Verdict::Denied),
        Status::Fraud => return Ok(Verdict::Fraud),
        Status::Expired => return Ok(Verdict::Expired),
        Status::Cancelled => return Ok(Verdict::Cancelled),
        Status::Approved => {}
    }
    let r = state.receipt.as_ref().ok_or("approved without a receipt")?;
    if r.decision != Decision::Approve {
        return Err("approved status but the receipt is not an approval".into());
    }
    if let Some(what) = mismatch(&r.login(), &exp.login) {
        return Err(format!("receipt is for {what}"));
    }
    if r.signature.len() > 200 || r.device_signature.len() > 200 || !limits::is_id(&r.device_id) {
        return Err("receipt is malformed".into());
    }
    if !service_key.verify(&r.signed_bytes(), &r.signature) {
        return Err("receipt signature does not verify with the pinned service key".into());
    }
    let device = exp
        .devices
        .iter()
        .find(|d| d.id == r.device_id)
        .ok_or("approved by a device not enrolled for this user on this host")?;
    let key = PublicKey::decode(&device.public_key)
        .map_err(|e| format!("enrolled device key unusable: {e}"))?;
    // Our own login, never the receipt's: what the device signed must be exactly it.
    let answer = signed::answer(&signed::login_hash(&exp.login), r.decision, r.number);
    if !key.verify(&answer, &r.device_signature) {
        return Err("device signature does not cover this login with this answer".into());
    }
    let passkey_count = match (&device.passkey, &r.passkey) {
        (None, _) => None,
        (Some(_), None) => {
            return Err("the device has a passkey and the receipt carries no assertion".into());
        }
        (Some(pk), Some(a)) => Some(
            super::passkey::verify_answer(pk, a, &answer).map_err(|e| format!("passkey: {e}"))?,
        ),
    };
    if r.number != Some(exp.number) {
        return Ok(Verdict::WrongNumber);
    }
    Ok(Verdict::Approved { device: device.clone(), passkey_count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use push_proto::SecretKey;
    use push_proto::api::Receipt;

    struct World {
        service: SecretKey,
        device: SecretKey,
        devices: Vec<PushDevice>,
    }

    const TX: &str = "TTTTTTTTTTTTTTTTTTTTTT";
    const DEV: &str = "DDDDDDDDDDDDDDDDDDDDDD";
    const NONCE: &str = "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN";
    const CHOICES: [u8; 3] = [17, 42, 80];

    fn world() -> World {
        let device = SecretKey::generate().unwrap();
        World {
            service: SecretKey::generate().unwrap(),
            devices: vec![PushDevice {
                id: DEV.into(),
                name: "pixel".into(),
                public_key: device.public().encode(),
                added: 0,
                passkey: None,
            }],
            device,
        }
    }

    fn login() -> LoginFields<'static> {
        LoginFields {
            txid: TX,
            host_id: "hostA",
            hostname: "web1",
            user: "alice",
            service: "sshd",
            rhost: Some("192.0.2.7"),
            time: 5,
            nonce: NONCE,
            choices: &CHOICES,
        }
    }

    /// The receipt an honest service makes after `device` signed `shown` with `number`.
    fn receipt(w: &World, device: &SecretKey, shown: &LoginFields<'_>, number: u8) -> Receipt {
        let decision = Decision::Approve;
        let answer = signed::answer(&signed::login_hash(shown), decision, Some(number));
        let mut r = Receipt {
            txid: shown.txid.into(),
            host_id: shown.host_id.into(),
            hostname: shown.hostname.into(),
            user: shown.user.into(),
            service: shown.service.into(),
            rhost: shown.rhost.map(str::to_string),
            time: shown.time,
            nonce: shown.nonce.into(),
            choices: shown.choices.to_vec(),
            decision,
            number: Some(number),
            device_id: DEV.into(),
            device_signature: device.sign(&answer),
            passkey: None,
            answered_at: 5,
            signature: String::new(),
        };
        r.signature = w.service.sign(&r.signed_bytes());
        r
    }

    fn approved(r: Receipt) -> ChallengeState {
        ChallengeState { txid: TX.into(), status: Status::Approved, receipt: Some(r) }
    }

    fn exp(w: &World) -> Expected<'_> {
        Expected { login: login(), number: 42, devices: &w.devices }
    }

    #[test]
    fn a_good_receipt_is_an_approval_and_another_number_is_wrong() {
        let w = world();
        let key = w.service.public();
        let v = check(&approved(receipt(&w, &w.device, &login(), 42)), &key, &exp(&w)).unwrap();
        assert!(matches!(v, Verdict::Approved { passkey_count: None, .. }), "{v:?}");
        let v = check(&approved(receipt(&w, &w.device, &login(), 17)), &key, &exp(&w)).unwrap();
        assert_eq!(v, Verdict::WrongNumber);
    }

    #[test]
    fn a_device_signature_over_another_login_is_refused_even_when_the_receipt_lies() {
        let w = world();
        let key = w.service.public();
        let e = exp(&w);
        let swapped = [42, 17, 80];
        // What the device was shown differs from our login in one field; a hostile service
        // then writes our own values into the receipt (and signs it with the service key).
        let shown = [
            LoginFields { hostname: "web2", ..login() },
            LoginFields { host_id: "hostB", ..login() },
            LoginFields { user: "bob", ..login() },
            LoginFields { service: "sudo", ..login() },
            LoginFields { rhost: Some("198.51.100.1"), ..login() },
            LoginFields { rhost: None, ..login() },
            LoginFields { time: 6, ..login() },
            LoginFields { nonce: "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", ..login() },
            LoginFields { txid: "UUUUUUUUUUUUUUUUUUUUUU", ..login() },
            LoginFields { choices: &swapped, ..login() },
            LoginFields { choices: &[], ..login() },
        ];
        for s in shown {
            let honest = receipt(&w, &w.device, &s, 42);
            if s.txid == TX {
                let err = check(&approved(honest.clone()), &key, &e).unwrap_err();
                assert!(err.starts_with("receipt is for "), "{s:?}: {err}");
            }
            let mut lying = receipt(&w, &w.device, &login(), 42);
            lying.device_signature = honest.device_signature;
            lying.signature = w.service.sign(&lying.signed_bytes());
            let err = check(&approved(lying), &key, &e).unwrap_err();
            assert!(err.contains("device signature does not cover"), "{s:?}: {err}");
        }
    }

    #[test]
    fn every_other_mismatch_is_refused() {
        let w = world();
        let key = w.service.public();
        let e = exp(&w);
        let good = || receipt(&w, &w.device, &login(), 42);
        // Signed by another service key.
        let stranger = SecretKey::generate().unwrap().public();
        assert!(check(&approved(good()), &stranger, &e).is_err());
        // A device this host does not know, or another device's key.
        let none: Vec<PushDevice> = Vec::new();
        assert!(check(&approved(good()), &key, &Expected { devices: &none, ..e }).is_err());
        let thief = SecretKey::generate().unwrap();
        assert!(check(&approved(receipt(&w, &thief, &login(), 42)), &key, &e).is_err());
        // The number changed after the device signed.
        let mut r = good();
        r.number = Some(17);
        r.signature = w.service.sign(&r.signed_bytes());
        assert!(check(&approved(r), &key, &e).unwrap_err().contains("device signature"));
        // Approved without a receipt, or a receipt that is not an approval.
        let mut s = approved(good());
        s.receipt = None;
        assert!(check(&s, &key, &e).is_err());
        let mut r = good();
        r.decision = Decision::Deny;
        assert!(check(&approved(r), &key, &e).is_err());
        // A device with a passkey must send an assertion.
        let mut devices = w.devices.clone();
        devices[0].passkey = Some(super::super::passkey::DevicePasskey {
            credential_id: "AAAA".into(),
            public_key: "AAAA".into(),
            rp_id: "p.example".into(),
            origin: "https://p.example".into(),
            sign_count: 0,
        });
        let err = check(&approved(good()), &key, &Expected { devices: &devices, ..e }).unwrap_err();
        assert!(err.contains("passkey"), "{err}");
    }

    #[test]
    fn refusals_are_not_approvals() {
        let w = world();
        for (status, verdict) in [
            (Status::Denied, Verdict::Denied),
            (Status::Fraud, Verdict::Fraud),
            (Status::Expired, Verdict::Expired),
            (Status::Cancelled, Verdict::Cancelled),
            (Status::Pending, Verdict::Pending),
        ] {
            let s = ChallengeState { txid: TX.into(), status, receipt: None };
            assert_eq!(check(&s, &w.service.public(), &exp(&w)).unwrap(), verdict);
        }
    }
}
