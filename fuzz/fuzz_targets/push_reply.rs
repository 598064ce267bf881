//! Everything the module and devices parse from a push service: a challenge status with its
//! receipt (checked by the module's `push::check`), pairing links, device `Authorization`
//! headers and public keys. Nothing may panic, and no input may ever be an approval: the
//! fuzzer cannot sign with the pinned service key or the enrolled device key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::push::{Expected, PushDevice, Verdict, check};
use push_proto::api::{ChallengeState, DeviceAuth};
use push_proto::{PublicKey, SecretKey, pairing_uri};
use std::sync::OnceLock;

struct Keys {
    service: PublicKey,
    devices: Vec<PushDevice>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        service: SecretKey::generate().expect("key").public(),
        devices: vec![PushDevice {
            id: "DDDDDDDDDDDDDDDDDDDDDD".into(),
            name: "pixel".into(),
            public_key: SecretKey::generate().expect("key").public().encode(),
            added: 0,
            passkey: None,
        }],
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = serde_json::from_slice::<ChallengeState>(data) {
        let k = keys();
        let login = push_proto::signed::LoginFields {
            txid: &state.txid,
            host_id: "host",
            hostname: "web1",
            user: "alice",
            service: "sshd",
            rhost: None,
            time: 1,
            nonce: "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN",
            choices: &[],
        };
        let exp = Expected { login, number: 42, devices: &k.devices };
        if let Ok(Verdict::Approved { .. }) = check(&state, &k.service, &exp) {
            panic!("an unsigned status was accepted as an approval");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(link) = pairing_uri::parse(text) {
        let mut again = pairing_uri::build(&link.base, &link.credential);
        if let Some(k) = &link.host_secret {
            again = pairing_uri::with_host_secret(&again, k);
        }
        assert_eq!(pairing_uri::parse(&again), Some(link));
    }
    if let Some(a) = DeviceAuth::parse(text) {
        assert_eq!(DeviceAuth::parse(&a.header()), Some(a));
    }
    if let Ok(k) = PublicKey::decode(text) {
        assert_eq!(PublicKey::decode(&k.encode()), Ok(k));
    }
});
