//! Registration and login against the software authenticator, and every way an assertion can
//! be wrong.

use super::authdata::AuthData;
use super::cose::PublicKey;
use super::device::{Authenticator, Login, Registration, client_data_hash};
use super::soft::SoftAuthenticator;
use super::verify::verify_assertion;
use super::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const RP: &str = "pam://test-host";

fn device() -> (tempfile::TempDir, SoftAuthenticator) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let dev = SoftAuthenticator::open(&dir.path().join("key.json")).unwrap();
    (dir, dev)
}

fn register(dev: &mut SoftAuthenticator, uv: bool) -> Fido2Credential {
    let raw = dev
        .make_credential(&Registration {
            rp_id: RP,
            user_id: b"u",
            user_name: "alice",
            challenge: &[1; 32],
            user_verification: uv,
            pin: None,
        })
        .unwrap();
    let data = AuthData::parse(&raw).unwrap();
    let att = data.attested.unwrap();
    Fido2Credential {
        name: "k".into(),
        credential_id: b64(&att.credential_id),
        public_key: b64(&PublicKey::from_cose(&att.public_key).unwrap().to_cose()),
        rp_id: RP.into(),
        sign_count: 0,
        user_verification: uv,
        created: 0,
    }
}

fn login(
    dev: &mut SoftAuthenticator,
    cred: &mut Fido2Credential,
    challenge: [u8; 32],
) -> Result<u32, Fido2Error> {
    let allow = vec![unb64(&cred.credential_id).unwrap()];
    let a = dev.get_assertion(&Login {
        rp_id: RP,
        challenge: &challenge,
        allow_list: &allow,
        user_verification: cred.user_verification,
        pin: None,
        timeout: Duration::from_secs(1),
    })?;
    let (_, count) =
        verify_assertion(std::slice::from_ref(cred), RP, &client_data_hash(&challenge), &a)?;
    cred.sign_count = count;
    Ok(count)
}

#[test]
fn es256_and_eddsa_register_and_log_in_with_increasing_counters() {
    for alg in ["ES256", "EdDSA"] {
        let (_d, mut dev) = device();
        dev.set_algorithm(alg).unwrap();
        let mut cred = register(&mut dev, false);
        let key = PublicKey::from_cose(&unb64(&cred.public_key).unwrap()).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(login(&mut dev, &mut cred, [2; 32]), Ok(1));
        assert_eq!(login(&mut dev, &mut cred, [3; 32]), Ok(2));
    }
}

#[test]
fn every_tampered_or_wrong_assertion_is_refused() {
    let cases: [(&str, bool, Fido2Error); 7] = [
        ("wrong_rp", false, Fido2Error::WrongRp),
        ("tamper_auth_data", false, Fido2Error::BadSignature),
        ("tamper_signature", false, Fido2Error::BadSignature),
        ("no_up", false, Fido2Error::NotPresent),
        ("no_uv", true, Fido2Error::NotVerified),
        ("unknown_credential", false, Fido2Error::UnknownCredential),
        ("counter_back", false, Fido2Error::Counter { stored: 1, got: 1 }),
    ];
    for (fault, uv, expected) in cases {
        let (_d, mut dev) = device();
        let mut cred = register(&mut dev, uv);
        assert_eq!(login(&mut dev, &mut cred, [2; 32]), Ok(1), "{fault}: first login");
        dev.set_fault(Some(fault)).unwrap();
        assert_eq!(login(&mut dev, &mut cred, [3; 32]), Err(expected), "{fault}");
    }
}

#[test]
fn a_replayed_assertion_for_an_old_challenge_is_refused() {
    let (_d, mut dev) = device();
    let mut cred = register(&mut dev, false);
    login(&mut dev, &mut cred, [2; 32]).unwrap();
    dev.set_fault(Some("replay")).unwrap();
    assert_eq!(login(&mut dev, &mut cred, [9; 32]), Err(Fido2Error::BadSignature));
}

#[test]
fn a_key_that_never_counts_is_allowed_one_that_counted_must_count_up() {
    let (_d, mut dev) = device();
    dev.set_fault(Some("zero_counter")).unwrap();
    let mut cred = register(&mut dev, false);
    assert_eq!(login(&mut dev, &mut cred, [2; 32]), Ok(0));
    assert_eq!(login(&mut dev, &mut cred, [3; 32]), Ok(0));
    cred.sign_count = 5;
    assert_eq!(login(&mut dev, &mut cred, [4; 32]), Err(Fido2Error::Counter { stored: 5, got: 0 }));
}

#[test]
fn device_pin_is_checked() {
    let (_d, mut dev) = device();
    dev.set_pin(Some("1234")).unwrap();
    let r = dev.make_credential(&Registration {
        rp_id: RP,
        user_id: b"u",
        user_name: "a",
        challenge: &[1; 32],
        user_verification: true,
        pin: None,
    });
    assert!(matches!(r, Err(Fido2Error::Pin(_))));
    let wrong = zeroize::Zeroizing::new("0000".to_string());
    let r = dev.make_credential(&Registration {
        rp_id: RP,
        user_id: b"u",
        user_name: "a",
        challenge: &[1; 32],
        user_verification: true,
        pin: Some(&wrong),
    });
    assert!(matches!(r, Err(Fido2Error::Pin(_))));
}

#[test]
fn malformed_authenticator_data_and_keys_are_errors_not_panics() {
    let (_d, mut dev) = device();
    let raw = dev
        .make_credential(&Registration {
            rp_id: RP,
            user_id: b"u",
            user_name: "a",
            challenge: &[1; 32],
            user_verification: false,
            pin: None,
        })
        .unwrap();
    for n in 0..raw.len() {
        let _ = AuthData::parse(&raw[..n]); // never panics
    }
    assert!(AuthData::parse(&raw[..36]).is_err());
    let mut trailing = raw.clone();
    trailing.push(0);
    assert!(AuthData::parse(&trailing).is_err());
    for bad in [&b""[..], b"\xa0", b"\xa1\x01\x02", b"\x80"] {
        assert!(PublicKey::from_cose(bad).is_err());
    }
}

#[test]
fn pam_u2f_lines_in_both_formats() {
    let (_d, mut dev) = device();
    let cred = register(&mut dev, false);
    let key = PublicKey::from_cose(&unb64(&cred.public_key).unwrap()).unwrap();
    let PublicKey::Es256(k) = &key else { panic!("ES256 expected") };
    let point = k.to_encoded_point(false);
    let handle = unb64(&cred.credential_id).unwrap();
    let new = format!(
        "alice:{},{},es256,+presence+verification",
        data_encoding::BASE64.encode(&handle),
        data_encoding::BASE64.encode(&point.as_bytes()[1..])
    );
    let old = format!(
        "bob:{},{}",
        data_encoding::BASE64URL_NOPAD.encode(&handle),
        data_encoding::HEXLOWER.encode(point.as_bytes())
    );
    let text = format!("# comment\n{new}\n{old}\n");
    let a = pam_u2f::parse(&text, "alice").unwrap();
    assert_eq!(a.len(), 1);
    assert!(a[0].user_verification);
    assert_eq!(a[0].key_handle, handle);
    assert_eq!(a[0].public_key, key);
    let b = pam_u2f::parse(&text, "bob").unwrap();
    assert_eq!((b[0].public_key.clone(), b[0].user_verification), (key, false));
    assert!(pam_u2f::parse(&text, "carol").unwrap().is_empty());
    assert!(matches!(
        pam_u2f::parse("alice:*,AAAA,es256,", "alice"),
        Err(Fido2Error::Unsupported(_))
    ));
    assert!(pam_u2f::parse("alice:QUFB,QUFB,es256,+sudo", "alice").is_err());
    assert!(pam_u2f::parse("alice:QUFB,QUFB,rs256,", "alice").is_err());
}
