//! Fleet mode's security keys (issue 20): challenges bound to one host's login, and
//! assertions verified with mfa-factors' FIDO2 verification (the module's own code) against
//! the user's keys at the service, the counter raised fleet-wide by the store's guarded update.

use super::{Outcome, Rejected};
use crate::store::fleet_keys::{FleetKey, KeyChallenge, KeyPurpose};
use crate::store::{Store, StoreError};
use mfa_factors::fido2::verify::{Assertion, verify_assertion};
use mfa_factors::fido2::{Fido2Credential, Fido2Error, unb64};
use push_proto::fleet_key_enroll::enroll_key_challenge;
use push_proto::fleet_keys::{KeyAssertion, KeyLogin};
use sha2::{Digest, Sha256};

/// The checked challenge's login or enrollment: whom and what the assertion must be for.
#[derive(Clone, Copy, Debug)]
pub struct KeyCheck<'a> {
    /// The user's fleet scope.
    pub scope: &'a str,
    /// The asking host's id.
    pub host_id: &'a str,
    /// The user.
    pub user: &'a str,
    /// A login's nonce, which its challenge is bound to (`None` for an enrollment proof,
    /// whose challenge was asked for with a nonce of its own).
    pub nonce: Option<&'a str>,
    /// What the challenge must have been given for.
    pub purpose: KeyPurpose,
    /// The challenge the host says it used.
    pub challenge: &'a str,
    /// The fleet's RP id.
    pub rp_id: &'a str,
}

impl<'a> KeyCheck<'a> {
    /// A login's check.
    pub fn login(
        scope: &'a str,
        host_id: &'a str,
        login: &'a KeyLogin,
        challenge: &'a str,
        rp_id: &'a str,
    ) -> Self {
        KeyCheck {
            scope,
            host_id,
            user: &login.user,
            nonce: Some(&login.nonce),
            purpose: KeyPurpose::Login,
            challenge,
            rp_id,
        }
    }
}

/// The stored key as mfa-factors' credential, registered for `rp_id`.
pub fn credential(k: &FleetKey, rp_id: &str) -> Fido2Credential {
    Fido2Credential {
        name: k.name.clone(),
        credential_id: k.credential_id.clone(),
        public_key: k.public_key.clone(),
        rp_id: rp_id.to_string(),
        sign_count: k.sign_count,
        user_verification: k.user_verification,
        created: k.created_at,
    }
}

/// Whether a taken challenge belongs to this login and is still usable.
fn challenge_fits(c: &KeyChallenge, k: &KeyCheck<'_>, now: u64) -> bool {
    c.scope == k.scope
        && c.user == k.user
        && k.nonce.is_none_or(|n| c.nonce == n)
        && c.purpose == k.purpose
        && c.host_id == k.host_id
        && c.expires_at > now
}

fn assertion(a: &KeyAssertion) -> Option<Assertion> {
    Some(Assertion {
        credential_id: unb64(&a.credential_id).ok()?,
        auth_data: unb64(&a.auth_data).ok()?,
        signature: unb64(&a.signature).ok()?,
    })
}

fn rejection(e: &Fido2Error) -> Rejected {
    match e {
        Fido2Error::UnknownCredential => Rejected::NoFactor,
        Fido2Error::WrongRp => Rejected::WrongRp,
        Fido2Error::Counter { .. } => Rejected::KeyCounter,
        _ => Rejected::Wrong,
    }
}

/// What the key signs for the challenge: a login's key signs SHA-256 of the challenge, an
/// enrollment proof's SHA-256 of [`enroll_key_challenge`] (another purpose's assertion never
/// verifies). `None`: not 32 bytes of base64url.
fn client_data_hash(k: &KeyCheck<'_>) -> Option<[u8; 32]> {
    match k.purpose {
        KeyPurpose::Login => {
            let raw = unb64(k.challenge).ok()?;
            Some(Sha256::digest(&raw).into())
        }
        KeyPurpose::Enroll => Some(Sha256::digest(enroll_key_challenge(k.challenge)?).into()),
    }
}

/// Takes the challenge (single use, whatever follows) and verifies the assertion over it: the
/// key (as read) and the assertion's counter, for the caller to accept by the guarded counter
/// update. Called after the attempt was counted.
pub async fn verified_key(
    store: &dyn Store,
    k: &KeyCheck<'_>,
    sent: &KeyAssertion,
    now: u64,
) -> Result<Result<(FleetKey, u32), Rejected>, StoreError> {
    let taken = store.take_key_challenge(k.host_id, k.challenge).await?;
    if !taken.is_some_and(|c| challenge_fits(&c, k, now)) {
        return Ok(Err(Rejected::BadChallenge));
    }
    let Some(client_data_hash) = client_data_hash(k) else {
        return Ok(Err(Rejected::BadChallenge));
    };
    let mut keys = store.fleet_keys(k.scope, k.user).await?;
    if keys.is_empty() {
        return Ok(Err(Rejected::NoFactor));
    }
    let Some(a) = assertion(sent) else { return Ok(Err(Rejected::Wrong)) };
    let creds: Vec<Fido2Credential> = keys.iter().map(|c| credential(c, k.rp_id)).collect();
    match verify_assertion(&creds, k.rp_id, &client_data_hash, &a) {
        Err(e) => Ok(Err(rejection(&e))),
        Ok((index, count)) => Ok(Ok((keys.swap_remove(index), count))),
    }
}

/// A login's check: [`verified_key`], then accepted by raising the key's counter (guarded:
/// one winner in the fleet).
pub async fn check_key(
    store: &dyn Store,
    k: &KeyCheck<'_>,
    sent: &KeyAssertion,
    now: u64,
) -> Result<Outcome, StoreError> {
    let (key, count) = match verified_key(store, k, sent, now).await? {
        Ok(found) => found,
        Err(why) => return Ok(Err(why)),
    };
    if store.accept_fleet_key(&key, count, now).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Rejected::KeyCounter))
    }
}

/// A registration at the service from a credential as pam_mfa stores it on a host (the
/// `fido2` entries of a user record, `docs/store-format.md`): checked (credential id in
/// base64url, a COSE key mfa-factors can verify with, registered for the fleet's `rp_id`),
/// counter and user-verification flag kept. For the admin CLI, the migration and enrollment
/// through the service; store it with
/// [`crate::store::fleet_keys::FleetKeyStore::add_fleet_key`].
pub fn fleet_key(
    cred: &Fido2Credential,
    scope: &str,
    user: &str,
    rp_id: &str,
    now: u64,
) -> Result<FleetKey, String> {
    if cred.rp_id != rp_id {
        return Err(format!(
            "the key is registered for RP id {:?}, the fleet's is {rp_id:?} ([fleet] rp_id): \
             it cannot sign for the fleet; register it again for the fleet's RP id",
            cred.rp_id
        ));
    }
    let id = unb64(&cred.credential_id).map_err(|_| "credential_id is not base64url")?;
    if id.is_empty() || cred.credential_id.len() > push_proto::fleet_keys::MAX_CREDENTIAL_ID {
        return Err("credential_id is empty or too long".into());
    }
    let cose = unb64(&cred.public_key).map_err(|_| "public_key is not base64url")?;
    mfa_factors::fido2::cose::PublicKey::from_cose(&cose)
        .map_err(|err| format!("public_key: {err}"))?;
    if !push_proto::limits::is_text(&cred.name, push_proto::limits::MAX_NAME) {
        return Err("the key's name must be 1 to 64 printable characters".into());
    }
    Ok(FleetKey {
        scope: scope.to_string(),
        user: user.to_string(),
        credential_id: cred.credential_id.clone(),
        public_key: cred.public_key.clone(),
        name: cred.name.clone(),
        sign_count: cred.sign_count,
        user_verification: cred.user_verification,
        created_at: if cred.created == 0 { now } else { cred.created },
        used_at: None,
    })
}
