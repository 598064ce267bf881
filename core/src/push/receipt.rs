//! Checking the service's receipt before a push approval counts.

use super::PushDevice;
use push_proto::api::{ChallengeState, Decision, Status};
use push_proto::signed;
use push_proto::{PublicKey, limits};
use subtle::ConstantTimeEq;

/// What the module expects a receipt for its own login to say.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The transaction this login created.
    pub txid: &'a str,
    /// This host's id.
    pub host_id: &'a str,
    /// The user logging in.
    pub user: &'a str,
    /// This login's nonce.
    pub nonce: &'a str,
    /// The number shown at login.
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
    },
    /// Refused on the device.
    Denied,
    /// The device picked another number.
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

/// Interprets a challenge state. Anything short of a fully verified approval is not an
/// approval; an approval whose receipt does not verify is an `Err` (the reason, for the log).
pub fn check(
    state: &ChallengeState,
    service_key: &PublicKey,
    exp: &Expected<'_>,
) -> Result<Verdict, String> {
    if state.txid != exp.txid {
        return Err("status names another transaction".into());
    }
    match state.status {
        Status::Pending => return Ok(Verdict::Pending),
        Status::Denied => return Ok(Verdict::Denied),
        Status::WrongNumber => return Ok(Verdict::WrongNumber),
        Status::Fraud => return Ok(Verdict::Fraud),
        Status::Expired => return Ok(Verdict::Expired),
        Status::Cancelled => return Ok(Verdict::Cancelled),
        Status::Approved => {}
    }
    let r = state.receipt.as_ref().ok_or("approved without a receipt")?;
    if r.decision != Decision::Approve {
        return Err("approved status but the receipt is not an approval".into());
    }
    if r.txid != exp.txid || r.host_id != exp.host_id || r.user != exp.user {
        return Err("receipt is for another transaction, host or user".into());
    }
    if !same(&r.nonce, exp.nonce) {
        return Err("receipt carries another login's nonce (replayed?)".into());
    }
    if r.number != Some(exp.number) {
        return Err("receipt approves another number".into());
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
    let answer = signed::answer(&r.txid, &r.nonce, r.decision, r.number);
    if !key.verify(&answer, &r.device_signature) {
        return Err("device signature does not verify with the enrolled device key".into());
    }
    Ok(Verdict::Approved { device: device.clone() })
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

    fn world() -> World {
        let device = SecretKey::generate().unwrap();
        World {
            service: SecretKey::generate().unwrap(),
            devices: vec![PushDevice {
                id: DEV.into(),
                name: "pixel".into(),
                public_key: device.public().encode(),
                added: 0,
            }],
            device,
        }
    }

    fn approved(w: &World, nonce: &str, host: &str, number: u8) -> ChallengeState {
        let decision = Decision::Approve;
        let device_signature = w.device.sign(&signed::answer(TX, nonce, decision, Some(number)));
        let mut r = Receipt {
            txid: TX.into(),
            host_id: host.into(),
            user: "alice".into(),
            nonce: nonce.into(),
            decision,
            number: Some(number),
            device_id: DEV.into(),
            device_signature,
            answered_at: 5,
            signature: String::new(),
        };
        r.signature = w.service.sign(&r.signed_bytes());
        ChallengeState { txid: TX.into(), status: Status::Approved, receipt: Some(r) }
    }

    fn exp(w: &World) -> Expected<'_> {
        Expected {
            txid: TX,
            host_id: "hostA",
            user: "alice",
            nonce: NONCE,
            number: 42,
            devices: &w.devices,
        }
    }

    #[test]
    fn a_good_receipt_is_an_approval() {
        let w = world();
        let v = check(&approved(&w, NONCE, "hostA", 42), &w.service.public(), &exp(&w)).unwrap();
        assert!(matches!(v, Verdict::Approved { .. }));
    }

    #[test]
    fn every_mismatch_is_refused() {
        let w = world();
        let key = w.service.public();
        let e = exp(&w);
        // Another login's nonce (a replayed receipt), another host, another number.
        let other_nonce = "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM";
        assert!(check(&approved(&w, other_nonce, "hostA", 42), &key, &e).is_err());
        assert!(check(&approved(&w, NONCE, "hostB", 42), &key, &e).is_err());
        assert!(check(&approved(&w, NONCE, "hostA", 43), &key, &e).is_err());
        // Signed by another service key.
        let stranger = SecretKey::generate().unwrap().public();
        assert!(check(&approved(&w, NONCE, "hostA", 42), &stranger, &e).is_err());
        // A device this host does not know.
        let none: Vec<PushDevice> = Vec::new();
        assert!(
            check(&approved(&w, NONCE, "hostA", 42), &key, &Expected { devices: &none, ..e })
                .is_err()
        );
        // The service re-signed a receipt with a forged device signature.
        let mut s = approved(&w, NONCE, "hostA", 42);
        let r = s.receipt.as_mut().unwrap();
        r.device_signature = SecretKey::generate().unwrap().sign(b"x");
        r.signature = w.service.sign(&r.signed_bytes());
        assert!(check(&s, &key, &e).unwrap_err().contains("device signature"));
        // Approved without a receipt, or a receipt that is not an approval.
        let mut s = approved(&w, NONCE, "hostA", 42);
        s.receipt = None;
        assert!(check(&s, &key, &e).is_err());
        let mut s = approved(&w, NONCE, "hostA", 42);
        s.receipt.as_mut().unwrap().decision = Decision::Deny;
        assert!(check(&s, &key, &e).is_err());
    }

    #[test]
    fn refusals_are_not_approvals() {
        let w = world();
        for (status, verdict) in [
            (Status::Denied, Verdict::Denied),
            (Status::WrongNumber, Verdict::WrongNumber),
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
