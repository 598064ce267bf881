//! The pam_u2f authfile parser on arbitrary text; every credential it accepts must convert to
//! pam_mfa's stored form and back to the same public key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::fido2::{cose::PublicKey, pam_u2f, unb64};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(creds) = pam_u2f::parse(text, "alice") else { return };
    for c in creds {
        let key = c.public_key.clone();
        let stored = c.into_stored("k".into(), "pam://host", 0);
        let back = PublicKey::from_cose(&unb64(&stored.public_key).expect("base64url")).expect("stored key parses");
        assert_eq!(back, key, "stored key differs from the parsed one");
    }
});
