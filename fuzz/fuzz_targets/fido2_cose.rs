//! `PublicKey::from_cose` on arbitrary bytes; a key that parses must survive `to_cose` and a
//! second parse, and checking a signature made of arbitrary bytes must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::fido2::cose::PublicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = PublicKey::from_cose(data) else { return };
    let again = PublicKey::from_cose(&key.to_cose()).expect("re-encoded key parses");
    assert_eq!(again, key, "COSE key does not round-trip");
    assert!(!key.verify(b"message", data), "arbitrary bytes verified as a signature");
});
