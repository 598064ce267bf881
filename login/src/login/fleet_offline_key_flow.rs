//! A security key while the fleet's service cannot be reached (issue 21): checked here against
//! the keys in the host's offline bundle.
//!
//! Offered only where the online key is offered (this computer's seat), only after an outage
//! of the key challenge, and only with a usable bundle holding keys; otherwise the code prompt
//! follows as it would online (and its own outage decides). This host makes the challenge (32
//! random bytes), the key signs it for the bundle's RP id, and the assertion is checked with
//! the standalone verification ([`mfa_factors::fido2::verify::verify_assertion`]): the
//! credential must be in the bundle, the counter must rise above both the bundle's and the
//! highest seen here. Counted first, like every offline attempt
//! ([`super::fleet_offline_flow::counted`]).

use super::fleet_key_flow::{KeyFailure, KeyOffer, use_key};
use super::fleet_offline_flow::{counted, usable};
use super::outcome::{Denial, Factor, Outcome, answered};
use super::{FleetRemote, LoginContext};
use crate::fido2::{Fido2Credential, b64};
use crate::fleet::FleetError;
use crate::store::OfflineState;
use mfa_factors::fido2::verify::{Assertion, verify_assertion};
use push_proto::fleet_keys::{KeyAllowed, KeyAssertion, KeyChallengeResponse};
use push_proto::offline::{Bundle, OfflineFactor};
use sha2::{Digest, Sha256};

/// The key offer after the service's key challenge had an outage.
pub(super) fn offer(
    ctx: &mut LoginContext<'_>,
    service: &dyn FleetRemote,
    outage: &FleetError,
) -> KeyOffer {
    // No usable bundle, or one without keys: the code prompt (whose outage decides).
    let Ok(u) = usable(ctx, service) else { return KeyOffer::Code(None) };
    if u.bundle.keys.is_empty() {
        return KeyOffer::Code(None);
    }
    let mut challenge = [0u8; 32];
    if let Err(e) = crate::random::fill(&mut challenge) {
        return KeyOffer::Done(Outcome::from(crate::Error::from(e)).with_factor(Factor::Fido2));
    }
    let asked = KeyChallengeResponse {
        challenge: b64(&challenge),
        rp_id: u.bundle.rp_id.clone(),
        credentials: u
            .bundle
            .keys
            .iter()
            .map(|k| KeyAllowed {
                credential_id: k.credential_id.clone(),
                user_verification: k.user_verification,
            })
            .collect(),
        expires_at: u.bundle.expires_at,
    };
    // The lock is not held while the user finds and touches the key: taken again, and the
    // state read again, before the attempt is counted.
    drop(u);
    let answer = match answered(ctx.conv.prompt_secret(super::fido2_flow::KEY_OR_CODE)) {
        Ok(a) => a,
        Err(o) => return KeyOffer::Done(o),
    };
    if !answer.trim().is_empty() {
        return KeyOffer::Code(Some(answer));
    }
    let signed = match use_key(ctx, &asked) {
        Ok(a) => a,
        Err(KeyFailure::NoDevice) => {
            ctx.conv.error("No security key found. Type a code instead.");
            return KeyOffer::Code(None);
        }
        Err(KeyFailure::Done(o)) => return KeyOffer::Done(o),
    };
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    let mut u = match usable(ctx, service) {
        Ok(u) => u,
        Err(why) => {
            let o = Outcome::deny(Denial::Unavailable, format!("{outage}; offline: {why}"));
            return KeyOffer::Done(o.with_factor(Factor::Fido2));
        }
    };
    let bundle = u.bundle.clone();
    let shape = OfflineFactor::SecurityKey { credential_id: None, sign_count: None };
    let o = counted(ctx, &mut u, shape, outage, |state| check(state, &bundle, &hash, &signed));
    KeyOffer::Done(o.with_factor(Factor::Fido2))
}

/// The assertion against the bundle's keys, with the counters seen here.
fn check(
    state: &mut OfflineState,
    bundle: &Bundle,
    client_data_hash: &[u8; 32],
    signed: &KeyAssertion,
) -> Option<OfflineFactor> {
    let creds: Vec<Fido2Credential> = bundle
        .keys
        .iter()
        .map(|k| {
            let seen = state.key_counters.iter().find(|(id, _)| *id == k.credential_id);
            Fido2Credential {
                name: String::new(),
                credential_id: k.credential_id.clone(),
                public_key: k.public_key.clone(),
                rp_id: bundle.rp_id.clone(),
                sign_count: seen.map_or(k.sign_count, |(_, c)| (*c).max(k.sign_count)),
                user_verification: k.user_verification,
                created: 0,
            }
        })
        .collect();
    let a = Assertion {
        credential_id: crate::fido2::unb64(&signed.credential_id).ok()?,
        auth_data: crate::fido2::unb64(&signed.auth_data).ok()?,
        signature: crate::fido2::unb64(&signed.signature).ok()?,
    };
    let (index, count) = verify_assertion(&creds, &bundle.rp_id, client_data_hash, &a).ok()?;
    let id = creds.get(index)?.credential_id.clone();
    state.key_counters.retain(|(k, _)| *k != id);
    state.key_counters.push((id.clone(), count));
    Some(OfflineFactor::SecurityKey { credential_id: Some(id), sign_count: Some(count) })
}
