//! A security key in fleet mode (`backend = "fleet"`, issue 20): the key is registered at the
//! fleet's service for the fleet's one RP id, so it works on every fleet host.
//!
//! Offered as the standalone flow offers it ([`super::fido2_flow`]): only at this computer's
//! own seat, with the same prompts, and typing a code instead always works. The service issues
//! the challenge (bound to this host, the user and this login's nonce, short-lived, single
//! use), the key signs it here, and the service verifies the assertion with the same
//! verification the standalone flow uses, raises the key's counter fleet-wide and answers with
//! a signed receipt, checked like a code's ([`super::fleet_flow::judge`]). Nothing is counted
//! here: the service counts the attempt before it checks.

use super::fido2_flow::{KEY_OR_CODE, ask_pin, test_note};
use super::fleet_flow::{failed, judge};
use super::outcome::{Denial, Factor, Outcome, answered};
use super::{FleetRemote, LoginContext};
use crate::fido2::device::Login;
use crate::fido2::{Fido2Error, b64, unb64};
use crate::fleet::{FleetConfig, FleetError};
use crate::policy::FailMode;
use push_proto::fleet_keys::{KeyAssertion, KeyChallengeResponse, KeyLogin, KeyVerifyRequest};
use std::time::Duration;
use zeroize::Zeroizing;

/// What the key offer left to the code flow.
pub(super) enum KeyOffer {
    /// Decided (the key's outcome, or a failure before any prompt).
    Done(Outcome),
    /// Ask for a code: the user typed this one at the key prompt, or (`None`) has no key at
    /// the service or no key plugged in.
    Code(Option<Zeroizing<String>>),
}

/// This login's values and a fresh nonce (for a key's challenge, and for a code's request).
pub(super) fn key_login(ctx: &LoginContext<'_>) -> Result<KeyLogin, Outcome> {
    let time = ctx.clock.now()?;
    let mut nonce = [0u8; push_proto::limits::NONCE_LEN * 3 / 4];
    crate::random::fill(&mut nonce).map_err(|e| Outcome::from(crate::Error::from(e)))?;
    let req = ctx.req;
    Ok(KeyLogin {
        user: ctx.user.as_str().to_string(),
        service: req.service.clone(),
        rhost: req.rhost.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(String::from),
        time,
        nonce: data_encoding::BASE64URL_NOPAD.encode(&nonce),
    })
}

/// Asks the service for a challenge and, if the user has keys there, offers the key.
pub(super) fn offer(
    ctx: &mut LoginContext<'_>,
    section: &FleetConfig,
    failmode: FailMode,
) -> KeyOffer {
    let done = |o: Outcome| KeyOffer::Done(o.with_factor(Factor::Fido2));
    let service = match ctx.remotes.fleet(section) {
        Ok(s) => s,
        Err(e) => return done(failed(e, failmode)),
    };
    let login = match key_login(ctx) {
        Ok(l) => l,
        Err(o) => return done(o),
    };
    let challenge = match service.key_challenge(&login) {
        Ok(c) => c,
        // Only an outage, and only with offline bundles on: the bundle's keys.
        Err(e @ FleetError::Outage(_)) if section.offline => {
            return super::fleet_offline_key_flow::offer(ctx, &*service, &e);
        }
        Err(e) => return done(failed(e, failmode)),
    };
    if challenge.credentials.is_empty() {
        return KeyOffer::Code(None);
    }
    if let Some(pinned) = section.rp_id.as_deref().filter(|p| *p != challenge.rp_id) {
        return done(Outcome::deny(
            Denial::Config,
            format!(
                "the fleet service's RP id {:?} is not [fleet] rp_id {pinned:?}",
                challenge.rp_id
            ),
        ));
    }
    let answer = match answered(ctx.conv.prompt_secret(KEY_OR_CODE)) {
        Ok(a) => a,
        Err(o) => return KeyOffer::Done(o),
    };
    if !answer.trim().is_empty() {
        return KeyOffer::Code(Some(answer));
    }
    match use_key(ctx, &challenge) {
        Ok(assertion) => {
            let req = KeyVerifyRequest { login, challenge: challenge.challenge, assertion };
            done(decide(ctx, &*service, &req, (failmode, section.offline)))
        }
        Err(KeyFailure::NoDevice) => {
            ctx.conv.error("No security key found. Type a code instead.");
            KeyOffer::Code(None)
        }
        Err(KeyFailure::Done(o)) => done(o),
    }
}

/// Why no assertion came back.
pub(super) enum KeyFailure {
    /// No key plugged in: a code instead.
    NoDevice,
    /// The login is decided (a timeout, a wrong PIN, a device fault).
    Done(Outcome),
}

/// Has the key sign the service's challenge for the fleet's RP id (or, offline, this host's
/// challenge for the bundle's RP id).
pub(super) fn use_key(
    ctx: &mut LoginContext<'_>,
    c: &KeyChallengeResponse,
) -> Result<KeyAssertion, KeyFailure> {
    let deny = |d, r: String| KeyFailure::Done(Outcome::deny(d, r));
    let test = test_note(ctx.cfg);
    let challenge: [u8; 32] = unb64(&c.challenge)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| deny(Denial::Unavailable, "the service's challenge is malformed".into()))?;
    let allow = c
        .credentials
        .iter()
        .map(|k| unb64(&k.credential_id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| deny(Denial::Unavailable, format!("the service's credential id: {e}")))?;
    let mut dev = match crate::fido2::open(&ctx.cfg.fido2) {
        Ok(d) => d,
        Err(Fido2Error::NoDevice) => return Err(KeyFailure::NoDevice),
        Err(e) => return Err(deny(Denial::Unavailable, format!("{e}{test}"))),
    };
    let uv = c.credentials.iter().any(|k| k.user_verification);
    let pin = if uv { Some(ask_pin(ctx).map_err(KeyFailure::Done)?) } else { None };
    let timeout = ctx.cfg.fido2.timeout;
    ctx.conv.info(&format!("Touch your security key now (waiting up to {timeout} seconds)."));
    let signed = dev.get_assertion(&Login {
        rp_id: &c.rp_id,
        challenge: &challenge,
        allow_list: &allow,
        user_verification: uv,
        pin: pin.as_ref(),
        timeout: Duration::from_secs(timeout),
    });
    match signed {
        Ok(a) => Ok(KeyAssertion {
            credential_id: b64(&a.credential_id),
            auth_data: b64(&a.auth_data),
            signature: b64(&a.signature),
        }),
        Err(Fido2Error::NoDevice) => Err(KeyFailure::NoDevice),
        Err(Fido2Error::Timeout) => {
            ctx.conv.error("The security key was not touched in time.");
            Err(deny(Denial::AuthFailed, format!("no touch within {timeout} s{test}")))
        }
        Err(Fido2Error::Pin(m)) => {
            ctx.conv.error("Wrong security key PIN.");
            Err(deny(Denial::AuthFailed, format!("PIN: {m}{test}")))
        }
        Err(e) => Err(deny(Denial::Unavailable, format!("{e}{test}"))),
    }
}

/// Sends the assertion; the service's signed answer for this login decides.
fn decide(
    ctx: &mut LoginContext<'_>,
    service: &dyn FleetRemote,
    req: &KeyVerifyRequest,
    (failmode, offline): (FailMode, bool),
) -> Outcome {
    match service.key_verify(req) {
        Ok(reply) => {
            let mut o = judge(ctx, service, &reply, &req.login.bound());
            o.reason = format!("security key: {}{}", o.reason, test_note(ctx.cfg));
            if offline {
                o.reason.push_str(&super::fleet_offline_flow::after_contact(ctx, service));
            }
            o
        }
        Err(e) => failed(e, failmode),
    }
}
