//! Fleet push devices (issue 20) against the real service over TLS on both databases: a device
//! paired through a fleet host becomes a factor of its user only through that host and for
//! that user, under the enrollment rule (a user with a factor needs a current one); every
//! fleet host gets the user's devices in a list signed with the service's key and bound to
//! host, user and nonce (empty for a host outside the user's groups); removing the factor, all
//! factors or the user removes the devices.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic like assertions

mod common;

use common::fleet::{admin_ok, current_code, fleet_limits, set_totp, show, wrong_code};
use common::{Backend, Host, Server};
use push_proto::fleet::Factor;
use push_proto::fleet_enroll::{Change, ENROLL, EnrollRequest, Proof, STATUS, StatusRequest};
use push_proto::fleet_push::{DEVICES, DeviceList, DevicesRequest, FleetDevice};
use serde_json::Value;

fn fresh() -> (u64, String) {
    (mfa_server::time::now(), push_proto::random_token(32).unwrap())
}

fn enroll(host: &Host, user: &str, proof: Option<(Factor, &str)>, change: Change) -> (u16, Value) {
    let (time, nonce) = fresh();
    let proof = proof.map(|(factor, a)| Proof { factor, answer: a.into(), key: None });
    let req = EnrollRequest { user: user.into(), time, nonce, proof, change };
    host.call("POST", ENROLL, Some(serde_json::to_value(&req).unwrap()))
}

fn add(host: &Host, user: &str, device: &str, proof: Option<(Factor, &str)>) -> (u16, Value) {
    enroll(host, user, proof, Change::AddPushDevice { device_id: device.into() })
}

fn refused(reply: (u16, Value), status: u16, error: &str) {
    assert_eq!((reply.0, common::code(&reply.1)), (status, error), "{}", reply.1);
}

/// The user's fleet devices as `host` gets them, checked as the module checks them.
fn devices(s: &Server, host: &Host, user: &str) -> Vec<FleetDevice> {
    let (time, nonce) = fresh();
    let req = DevicesRequest { user: user.into(), time, nonce };
    let (st, v) = host.call("POST", DEVICES, Some(serde_json::to_value(&req).unwrap()));
    assert_eq!(st, 200, "{v}");
    let list: DeviceList = serde_json::from_value(v).unwrap();
    list.check(&s.service_key().public(), &host.cred.host_id, &req).unwrap()
}

fn push_devices(host: &Host, user: &str) -> u32 {
    let (time, nonce) = fresh();
    let req = StatusRequest { user: user.into(), time, nonce };
    let (st, v) = host.call("POST", STATUS, Some(serde_json::to_value(&req).unwrap()));
    assert_eq!(st, 200, "{v}");
    v["push_devices"].as_u64().unwrap() as u32
}

fn fleet(backend: Backend) -> (Server, Host, Host, Host) {
    let s = Server::start(backend, &fleet_limits("user_per_minute = 100"));
    let (a, b, c) = (s.add_host("host-a"), s.add_host("host-b"), s.add_host("host-c"));
    admin_ok(&s, &["fleet", "host", "join", "host-a"]);
    admin_ok(&s, &["fleet", "host", "join", "host-b"]);
    (s, a, b, c)
}

/// Only the user's own device, paired through the asking fleet host, becomes a factor; the
/// first without proof (first enrollment), every later one only with a current factor.
fn adding_a_device_follows_the_enrollment_rule(backend: Backend) {
    let (s, a, b, c) = fleet(backend);
    let (_, dev) = s.pair(&a, "pia", "pia-phone");
    refused(add(&b, "pia", &dev, None), 403, "device_not_allowed");
    refused(add(&a, "bob", &dev, None), 403, "device_not_allowed");
    let (_, bobs) = s.pair(&a, "bob", "bob-phone");
    refused(add(&a, "pia", &bobs, None), 403, "device_not_allowed");
    // A host outside the fleet's push scope cannot make its devices fleet factors.
    let (_, standalone) = s.pair(&c, "pia", "pia-tablet");
    refused(add(&c, "pia", &standalone, None), 403, "device_not_allowed");
    refused(add(&a, "pia", "AAAAAAAAAAAAAAAAAAAAAA", None), 403, "device_not_allowed");
    assert_eq!(push_devices(&a, "pia"), 0);
    let (st, v) = add(&a, "pia", &dev, None);
    assert_eq!(st, 200, "{v}");
    // A device is a factor: the user is enrolled, and a second device needs a current factor.
    assert_eq!(push_devices(&b, "pia"), 1);
    let (_, second) = s.pair(&a, "pia", "pia-watch");
    refused(add(&a, "pia", &second, None), 403, "current_factor_required");
    set_totp(&s, "pia");
    let (st, v) = add(&a, "pia", &second, Some((Factor::Totp, &current_code())));
    assert_eq!(st, 200, "{v}");
    assert_eq!(push_devices(&b, "pia"), 2);
    assert_eq!(show(&s, "pia")["push_devices"].as_array().unwrap().len(), 2);
    let text = admin_ok(&s, &["fleet", "user", "show", "--user", "pia"]);
    // Oldest first; two added within one second in id order.
    let line = text.lines().find(|l| l.starts_with("push devices: ")).unwrap();
    assert!(line.contains(&dev) && line.contains(&second), "{text}");
    assert!(s.audit_log().contains("fleet.enroll.push_device"));
}

/// Every fleet host gets the devices in a list only the service's key signs, bound to its own
/// nonce; a host outside the user's groups gets an empty list; a revoked device is not listed.
fn the_device_list_is_signed_bound_and_grouped(backend: Backend) {
    let (s, a, b, _c) = fleet(backend);
    let (_, dev) = s.pair(&a, "quinn", "quinn-phone");
    assert_eq!(add(&a, "quinn", &dev, None).0, 200);
    let listed = devices(&s, &b, "quinn");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, dev);
    assert_eq!(listed[0].name, "quinn-phone");
    let stored = admin_ok(&s, &["device", "list", "--user", "quinn", "--json"]);
    assert!(stored.contains(&listed[0].public_key), "{stored}");
    // Bound to the request: another nonce, user or host does not check.
    let (time, nonce) = fresh();
    let req = DevicesRequest { user: "quinn".into(), time, nonce };
    let (_, v) = b.call("POST", DEVICES, Some(serde_json::to_value(&req).unwrap()));
    let list: DeviceList = serde_json::from_value(v).unwrap();
    let key = s.service_key().public();
    let mut other = req.clone();
    other.nonce = push_proto::random_token(32).unwrap();
    assert!(list.clone().check(&key, &b.cred.host_id, &other).is_err());
    assert!(list.clone().check(&key, &a.cred.host_id, &req).is_err());
    let stranger = push_proto::SecretKey::generate().unwrap();
    assert!(list.clone().check(&stranger.public(), &b.cred.host_id, &req).is_err());
    assert_eq!(list.check(&key, &b.cred.host_id, &req).unwrap().len(), 1);
    // Host groups: only host A may authenticate quinn; B gets what a user without devices gets.
    admin_ok(&s, &["fleet", "group", "add", "ops"]);
    admin_ok(&s, &["fleet", "group", "add-host", "ops", "host-a"]);
    admin_ok(&s, &["fleet", "user", "groups", "--user", "quinn", "--authenticate", "ops"]);
    assert!(devices(&s, &b, "quinn").is_empty());
    assert_eq!(devices(&s, &a, "quinn").len(), 1);
    assert!(devices(&s, &a, "nobody").is_empty());
    // A revoked device is no longer listed.
    admin_ok(&s, &["device", "revoke", &dev]);
    assert!(devices(&s, &a, "quinn").is_empty());
}

/// Removing the push factor (with a current factor), every factor, or the user at the admin
/// CLI removes the devices everywhere.
fn removal_removes_the_devices(backend: Backend) {
    let (s, a, b, _c) = fleet(backend);
    for user in ["rita", "sam", "tom"] {
        let (_, dev) = s.pair(&a, user, &format!("{user}-phone"));
        assert_eq!(add(&a, user, &dev, None).0, 200);
        assert_eq!(devices(&s, &b, user).len(), 1);
        set_totp(&s, user);
    }
    refused(enroll(&b, "rita", None, Change::Remove(Factor::Push)), 403, "current_factor_required");
    let code = current_code();
    let (st, v) = enroll(&b, "rita", Some((Factor::Totp, &code)), Change::Remove(Factor::Push));
    assert_eq!(st, 200, "{v}");
    assert!(devices(&s, &b, "rita").is_empty());
    assert_eq!(push_devices(&b, "rita"), 0);
    let (st, v) = enroll(&b, "sam", Some((Factor::Totp, &code)), Change::RemoveAll);
    assert_eq!(st, 200, "{v}");
    assert!(devices(&s, &b, "sam").is_empty());
    admin_ok(&s, &["fleet", "user", "remove", "--user", "tom", "--yes"]);
    assert!(devices(&s, &b, "tom").is_empty());
    assert!(show(&s, "tom")["push_devices"].as_array().unwrap().is_empty());
}

/// A user locked out at the service gets no devices (so no fleet host sends a push), and gets
/// them back once the lockout is cleared.
fn a_locked_user_gets_no_devices(backend: Backend) {
    let s = Server::start(backend, &fleet_limits("user_per_minute = 100\nmax_failures = 1"));
    let (a, b) = (s.add_host("host-a"), s.add_host("host-b"));
    admin_ok(&s, &["fleet", "host", "join", "host-a"]);
    admin_ok(&s, &["fleet", "host", "join", "host-b"]);
    let (_, dev) = s.pair(&a, "uma", "uma-phone");
    assert_eq!(add(&a, "uma", &dev, None).0, 200);
    set_totp(&s, "uma");
    assert_eq!(devices(&s, &b, "uma").len(), 1);
    let wrong = wrong_code();
    refused(
        enroll(&b, "uma", Some((Factor::Totp, &wrong)), Change::RecoveryCodes),
        403,
        "proof_rejected",
    );
    assert!(show(&s, "uma")["locked_until"].as_u64().is_some(), "{}", show(&s, "uma"));
    assert!(devices(&s, &b, "uma").is_empty());
    assert!(devices(&s, &a, "uma").is_empty());
}

on_both_backends!(
    a_locked_user_gets_no_devices,
    adding_a_device_follows_the_enrollment_rule,
    the_device_list_is_signed_bound_and_grouped,
    removal_removes_the_devices,
);
