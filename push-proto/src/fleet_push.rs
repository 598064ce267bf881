//! Fleet mode's push devices (issue 20): a device paired once is a factor of the user at the
//! service, offered on every fleet host.
//!
//! A device paired through fleet host A (`mfa-enroll push`) becomes a fleet factor of its user
//! by [`crate::fleet_enroll::Change::AddPushDevice`]. Host B, which has no local record of the
//! device, asks `POST /v2/fleet/push/devices` ([`DEVICES`], host token) for the user's fleet
//! devices with a fresh nonce ([`DevicesRequest`]); the service answers with a [`DeviceList`]
//! signed with its key (the one the module pins), bound to the asking host, the user and the
//! nonce under [`crate::fleet::DOMAIN`] (kind `push-devices`), so no other signature of the
//! service stands in for it and a list for one host, user or login is worthless for another.
//! The module checks it with [`DeviceList::check`] and then checks each approval against the
//! listed device's own key (and passkey), as the standalone push flow does.

use crate::PublicKey;
use crate::fleet::{CheckError, DOMAIN};
use serde::{Deserialize, Serialize};

/// `POST` (host): the user's fleet push devices, signed.
pub const DEVICES: &str = "/v2/fleet/push/devices";

/// Most devices in one list (the service sends the first this many).
pub const MAX_DEVICES: usize = 16;

/// `POST /v2/fleet/push/devices` (host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesRequest {
    /// Whose devices.
    pub user: String,
    /// The host's clock (Unix seconds; within [`crate::fleet::MAX_SKEW`] of the service's).
    pub time: u64,
    /// A fresh nonce of the host's (32 random bytes, base64url), never sent twice.
    pub nonce: String,
}

impl DevicesRequest {
    /// Checks every field's format and bound.
    pub fn validate(&self) -> Result<(), &'static str> {
        crate::fleet_enroll::common(&self.user, self.time, &self.nonce)
    }
}

/// A device's passkey, as the module checks its assertions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePasskey {
    /// WebAuthn credential id, base64url.
    pub credential_id: String,
    /// COSE_Key public key, base64url.
    pub public_key: String,
}

/// One fleet push device of the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetDevice {
    /// Device id.
    pub id: String,
    /// The name it gave itself.
    pub name: String,
    /// P-256 public key (uncompressed SEC1, base64url): approvals must be signed by it.
    pub public_key: String,
    /// Its passkey, for a web app device (its assertion is then needed too).
    #[serde(default)]
    pub passkey: Option<DevicePasskey>,
}

/// Answer to [`DevicesRequest`] (200): the devices, signed. Empty for a user without fleet
/// devices and for a host outside the user's host groups alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceList {
    /// The asking host's id (from its credential, never from the request).
    pub host_id: String,
    /// The user.
    pub user: String,
    /// The host's nonce, as requested.
    pub nonce: String,
    /// The devices (at most [`MAX_DEVICES`]).
    pub devices: Vec<FleetDevice>,
    /// When the service answered (Unix seconds, its clock).
    pub listed_at: u64,
    /// The service's signature over [`DeviceList::signed_bytes`].
    pub signature: String,
}

impl DeviceList {
    /// The canonical bytes the service signs: [`DOMAIN`], kind `push-devices`, then each field
    /// length-prefixed (a device's fields in order, an absent passkey as two empty fields).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let listed = self.listed_at.to_string();
        let count = self.devices.len().to_string();
        let mut fields: Vec<&str> = vec![&self.host_id, &self.user, &self.nonce, &listed, &count];
        for d in &self.devices {
            let (cred, key) = d
                .passkey
                .as_ref()
                .map_or(("", ""), |p| (p.credential_id.as_str(), p.public_key.as_str()));
            fields.extend([d.id.as_str(), d.name.as_str(), d.public_key.as_str(), cred, key]);
        }
        crate::signed::message_in(DOMAIN, "push-devices", &fields)
    }

    /// Fills in [`DeviceList::signature`] with `key` (the service's).
    pub fn sign(&mut self, key: &crate::SecretKey) {
        self.signature = key.sign(&self.signed_bytes());
    }

    /// What the module does with a list: checks that it answers *its own* request `sent`, made
    /// as host `host_id`, that `service_key` (pinned) signed it and that it is not oversized;
    /// then returns the devices.
    pub fn check(
        self,
        service_key: &PublicKey,
        host_id: &str,
        sent: &DevicesRequest,
    ) -> Result<Vec<FleetDevice>, CheckError> {
        let same = [
            ("host", self.host_id == host_id),
            ("user", self.user == sent.user),
            ("nonce", self.nonce == sent.nonce),
            ("device count", self.devices.len() <= MAX_DEVICES),
        ];
        if let Some((field, _)) = same.iter().find(|(_, ok)| !ok) {
            return Err(CheckError::Mismatch(field));
        }
        if !service_key.verify(&self.signed_bytes(), &self.signature) {
            return Err(CheckError::Signature);
        }
        Ok(self.devices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;
    use crate::limits::NONCE_LEN;

    fn request() -> DevicesRequest {
        DevicesRequest { user: "alice".into(), time: 1_700_000_000, nonce: "n".repeat(NONCE_LEN) }
    }

    fn list(key: &SecretKey) -> DeviceList {
        let mut l = DeviceList {
            host_id: "h".repeat(22),
            user: "alice".into(),
            nonce: "n".repeat(NONCE_LEN),
            devices: vec![FleetDevice {
                id: "d".repeat(22),
                name: "phone".into(),
                public_key: "k".repeat(87),
                passkey: Some(DevicePasskey { credential_id: "c".into(), public_key: "p".into() }),
            }],
            listed_at: 1_700_000_001,
            signature: String::new(),
        };
        l.sign(key);
        l
    }

    #[test]
    fn a_list_checks_only_for_its_own_request_host_and_key() {
        let key = SecretKey::generate().unwrap();
        let host = "h".repeat(22);
        assert_eq!(list(&key).check(&key.public(), &host, &request()).unwrap().len(), 1);
        assert!(list(&key).check(&key.public(), &"g".repeat(22), &request()).is_err());
        let mut other = request();
        other.nonce = "m".repeat(NONCE_LEN);
        assert_eq!(
            list(&key).check(&key.public(), &host, &other),
            Err(CheckError::Mismatch("nonce"))
        );
        let mut other = request();
        other.user = "bob".into();
        assert!(list(&key).check(&key.public(), &host, &other).is_err());
        let stranger = SecretKey::generate().unwrap();
        assert_eq!(
            list(&key).check(&stranger.public(), &host, &request()),
            Err(CheckError::Signature)
        );
        // A device's key swapped after signing breaks the signature.
        let mut swapped = list(&key);
        swapped.devices[0].public_key = "x".repeat(87);
        assert_eq!(swapped.check(&key.public(), &host, &request()), Err(CheckError::Signature));
        let mut dropped = list(&key);
        dropped.devices[0].passkey = None;
        assert_eq!(dropped.check(&key.public(), &host, &request()), Err(CheckError::Signature));
        assert!(list(&key).signed_bytes().starts_with(b"pam_mfa-fleet-v1\0push-devices\0"));
    }

    #[test]
    fn requests_are_validated_strictly() {
        assert_eq!(request().validate(), Ok(()));
        let mut r = request();
        r.nonce = "short".into();
        assert!(r.validate().is_err());
        let wire = serde_json::to_string(&request()).unwrap();
        let extra = wire.replacen('{', "{\"x\":1,", 1);
        assert!(serde_json::from_str::<DevicesRequest>(&extra).is_err());
    }
}
