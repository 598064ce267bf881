//! `AuthData::parse` on bytes a security key (or anything posing as one) could send; what
//! parses must re-encode to the same bytes (without extensions, which are not kept), and an
//! attested public key must be handled by the COSE parser without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_login::fido2::authdata::{AuthData, FLAG_ED};
use mfa_login::fido2::cose::PublicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = AuthData::parse(data) else { return };
    if parsed.flags & FLAG_ED == 0 {
        assert_eq!(parsed.encode(), data, "authenticatorData does not round-trip");
    }
    if let Some(att) = &parsed.attested {
        let _ = PublicKey::from_cose(&att.public_key);
    }
});
