//! Verifying assertions against the user's registered credentials.
//!
//! ES256 signatures are accepted in both their low-S and high-S forms. Authenticators (CTAP2
//! keys, platform passkeys) do not normalize `s`, so refusing high-S would refuse about half of
//! all real logins; and nothing here keys on signature bytes: an assertion is bound to a
//! challenge we made fresh for one login, and the counter must move, so the other form of a
//! used assertion is as useless as the assertion itself (tested below). The push protocol's
//! own signatures, which we produce, are low-S only (`push_proto::PublicKey::verify`).

use super::authdata::{AuthData, FLAG_UP, FLAG_UV};
use super::cose::PublicKey;
use super::{Fido2Credential, Fido2Error, unb64};
use sha2::{Digest, Sha256};

/// What a security key returned for a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Which credential signed.
    pub credential_id: Vec<u8>,
    /// authenticatorData as signed.
    pub auth_data: Vec<u8>,
    /// The signature over `auth_data ‖ client_data_hash`.
    pub signature: Vec<u8>,
}

/// Verifies `a` for a login to `rp_id` with the `client_data_hash` we generated. Returns the
/// index of the credential in `creds` and its new counter (to be stored).
pub fn verify_assertion(
    creds: &[Fido2Credential],
    rp_id: &str,
    client_data_hash: &[u8; 32],
    a: &Assertion,
) -> Result<(usize, u32), Fido2Error> {
    let wanted = super::b64(&a.credential_id);
    let (index, cred) = creds
        .iter()
        .enumerate()
        .find(|(_, c)| c.credential_id == wanted && c.rp_id == rp_id)
        .ok_or(Fido2Error::UnknownCredential)?;
    let key = PublicKey::from_cose(&unb64(&cred.public_key)?)?;
    let data = AuthData::parse(&a.auth_data)?;
    let expected: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if data.rp_id_hash != expected {
        return Err(Fido2Error::WrongRp);
    }
    if data.flags & FLAG_UP == 0 {
        return Err(Fido2Error::NotPresent);
    }
    if cred.user_verification && data.flags & FLAG_UV == 0 {
        return Err(Fido2Error::NotVerified);
    }
    let mut message = a.auth_data.clone();
    message.extend_from_slice(client_data_hash);
    if !key.verify(&message, &a.signature) {
        return Err(Fido2Error::BadSignature);
    }
    // A key that counts must count up; a key that never counts (0 forever) is allowed.
    if (cred.sign_count != 0 || data.sign_count != 0) && data.sign_count <= cred.sign_count {
        return Err(Fido2Error::Counter { stored: cred.sign_count, got: data.sign_count });
    }
    Ok((index, data.sign_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::elliptic_curve::ops::Neg;

    const RP: &str = "host.example";

    fn auth_data(count: u32) -> Vec<u8> {
        let mut d: Vec<u8> = Sha256::digest(RP.as_bytes()).to_vec();
        d.push(FLAG_UP);
        d.extend_from_slice(&count.to_be_bytes());
        d
    }

    /// A valid assertion for `count` and its twin with `s` replaced by `n - s`.
    fn both_forms(
        key: &p256::ecdsa::SigningKey,
        cdh: &[u8; 32],
        count: u32,
    ) -> (Assertion, Assertion) {
        let data = auth_data(count);
        let mut message = data.clone();
        message.extend_from_slice(cdh);
        let sig: p256::ecdsa::Signature = key.sign(&message);
        let (r, s) = sig.split_scalars();
        let twin = p256::ecdsa::Signature::from_scalars(r, s.neg()).expect("signature");
        let make = |sig: p256::ecdsa::Signature| Assertion {
            credential_id: vec![7; 16],
            auth_data: data.clone(),
            signature: sig.to_der().as_bytes().to_vec(),
        };
        (make(sig), make(twin))
    }

    #[test]
    fn either_form_of_a_fresh_assertion_verifies_and_neither_replays() {
        let key = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).expect("key");
        let cose = PublicKey::Es256(*key.verifying_key()).to_cose();
        let mut cred = Fido2Credential {
            name: "k".into(),
            credential_id: super::super::b64(&[7; 16]),
            public_key: super::super::b64(&cose),
            rp_id: RP.into(),
            sign_count: 4,
            user_verification: false,
            created: 0,
        };
        let cdh = [9u8; 32];
        let (low_or_high, twin) = both_forms(&key, &cdh, 5);
        // What an authenticator may send: either form of a new assertion.
        assert_eq!(
            verify_assertion(std::slice::from_ref(&cred), RP, &cdh, &low_or_high),
            Ok((0, 5))
        );
        assert_eq!(verify_assertion(std::slice::from_ref(&cred), RP, &cdh, &twin), Ok((0, 5)));
        // Once its counter is stored, neither form of it is accepted again.
        cred.sign_count = 5;
        for a in [&low_or_high, &twin] {
            assert!(matches!(
                verify_assertion(std::slice::from_ref(&cred), RP, &cdh, a),
                Err(Fido2Error::Counter { .. })
            ));
        }
        // And neither verifies for another challenge.
        assert_eq!(
            verify_assertion(&[Fido2Credential { sign_count: 4, ..cred }], RP, &[8u8; 32], &twin),
            Err(Fido2Error::BadSignature)
        );
    }
}
