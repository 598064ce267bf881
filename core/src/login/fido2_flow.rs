//! Logging in with a security key: "Press Enter to use your security key, or type a code".
//!
//! Keys are offered only at this computer's own seat ([`crate::seat`]); elsewhere the login asks
//! for a code. Typing a code (or recovery code) always works instead of the key. With Enter, the key is asked for an assertion over a fresh random challenge; the
//! assertion is verified by us ([`crate::fido2::verify`]) under the user's lock, where the new
//! signature counter is stored and failures count towards the lockout.

use super::{Clock, Conversation, Denial, Factor, Outcome, PROMPT, Request, verify};
use crate::config::Config;
use crate::fido2::device::{self, Login};
use crate::fido2::{Fido2Error, unb64, verify::verify_assertion};
use crate::store::{Store, UserRecord};
use crate::username::UserName;
use std::time::Duration;

/// Prompt when the user also has a code or recovery codes.
pub const KEY_OR_CODE: &str = "Press Enter to use your security key, or type a code: ";
/// Prompt when the key is the only factor left.
pub const KEY_ONLY: &str = "Press Enter, then touch your security key: ";
/// Shown to a user whose only factor is a key, logging in away from the local seat.
pub const NOT_LOCAL: &str = "Security keys work only at this computer's own keyboard and screen; \
     use a recovery code or an authenticator app from elsewhere.";

enum KeyResult {
    Done(Outcome),
    NoDevice,
}

/// Asks for the key or a code and verifies whichever the user chose.
pub(crate) fn key_or_code(
    cfg: &Config,
    req: &Request,
    store: &Store,
    user: &UserName,
    record: &UserRecord,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> Outcome {
    let has_codes = record.has_codes();
    let answer = match conv.prompt_secret(if has_codes { KEY_OR_CODE } else { KEY_ONLY }) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::deny(Denial::Conversation, "no answer (cancelled)"),
        Err(e) => {
            return Outcome::deny(Denial::Conversation, format!("conversation failed: {}", e.0));
        }
    };
    if !answer.trim().is_empty() {
        return verify::ask_and_verify(cfg, req, store, user, conv, clock, Some(answer), PROMPT);
    }
    match use_key(cfg, req, store, user, record, conv, clock) {
        KeyResult::Done(o) => o,
        KeyResult::NoDevice if has_codes => {
            conv.error("No security key found. Type a code instead.");
            verify::ask_and_verify(cfg, req, store, user, conv, clock, None, PROMPT)
        }
        KeyResult::NoDevice => Outcome::deny(Denial::AuthFailed, "no security key found"),
    }
}

fn use_key(
    cfg: &Config,
    req: &Request,
    store: &Store,
    user: &UserName,
    record: &UserRecord,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> KeyResult {
    let deny = |d, r: String| KeyResult::Done(Outcome::deny(d, r).with_factor(Factor::Fido2));
    let test =
        if cfg.fido2.test_device.is_some() { " (TEST DEVICE: not for production)" } else { "" };
    let mut dev = match device::open(&cfg.fido2) {
        Ok(d) => d,
        Err(Fido2Error::NoDevice) => return KeyResult::NoDevice,
        Err(e) => return deny(Denial::Unavailable, format!("{e}{test}")),
    };
    let rp_id = cfg.fido2.rp_id();
    let creds: Vec<_> = record.fido2.iter().filter(|c| c.rp_id == rp_id).collect();
    let mut allow = Vec::new();
    for c in &creds {
        match unb64(&c.credential_id) {
            Ok(id) => allow.push(id),
            Err(e) => return deny(Denial::Unavailable, e.to_string()),
        }
    }
    if allow.is_empty() {
        return deny(Denial::AuthFailed, format!("no security key registered for {rp_id}"));
    }
    let uv = creds.iter().any(|c| c.user_verification);
    // A PIN that is required is asked for, and an empty or cancelled answer denies: it must never
    // mean "skip the PIN" (pam_u2f CVE-2021-31924).
    let pin = if uv {
        match conv.prompt_secret("Security key PIN: ") {
            Ok(Some(p)) if !p.is_empty() => Some(p),
            Ok(Some(_)) => return deny(Denial::AuthFailed, "empty PIN".into()),
            Ok(None) => return deny(Denial::Conversation, "no PIN (cancelled)".into()),
            Err(e) => return deny(Denial::Conversation, format!("conversation failed: {}", e.0)),
        }
    } else {
        None
    };
    let mut challenge = [0u8; 32];
    if let Err(e) = crate::random::fill(&mut challenge) {
        return deny(Denial::Unavailable, e.to_string());
    }
    let client_data_hash = device::client_data_hash(&challenge);
    conv.info(&format!(
        "Touch your security key now (waiting up to {} seconds).",
        cfg.fido2.timeout
    ));
    let assertion = dev.get_assertion(&Login {
        rp_id: &rp_id,
        challenge: &challenge,
        allow_list: &allow,
        user_verification: uv,
        pin: pin.as_ref(),
        timeout: Duration::from_secs(cfg.fido2.timeout),
    });
    let assertion = match assertion {
        Ok(a) => a,
        Err(Fido2Error::NoDevice) => return KeyResult::NoDevice,
        Err(Fido2Error::Timeout) => {
            conv.error("The security key was not touched in time.");
            return deny(
                Denial::AuthFailed,
                format!("no touch within {} s{test}", cfg.fido2.timeout),
            );
        }
        Err(Fido2Error::Pin(m)) => {
            conv.error("Wrong security key PIN.");
            return record_failure(cfg, store, user, clock, format!("PIN: {m}{test}"));
        }
        Err(e) => return deny(Denial::Unavailable, format!("{e}{test}")),
    };
    verify_and_record(
        cfg,
        req,
        store,
        user,
        clock,
        conv,
        &rp_id,
        &client_data_hash,
        &assertion,
        test,
    )
}

/// Counts a failure for the lockout (a wrong PIN) and denies.
fn record_failure(
    cfg: &Config,
    store: &Store,
    user: &UserName,
    clock: &dyn Clock,
    reason: String,
) -> KeyResult {
    let outcome = match verify::lock_and_load(store, user, clock) {
        Ok((lock, mut record, now)) => {
            verify::count_failure(cfg, &lock, &mut record, now, reason).0
        }
        Err(o) => o,
    };
    KeyResult::Done(outcome.with_factor(Factor::Fido2))
}

/// Checks the assertion as a counted attempt ([`verify::begin_attempt`]): counted before the
/// check, cleared (with the new signature counter saved) when it verifies.
#[allow(clippy::too_many_arguments)]
fn verify_and_record(
    cfg: &Config,
    req: &Request,
    store: &Store,
    user: &UserName,
    clock: &dyn Clock,
    conv: &mut dyn Conversation,
    rp_id: &str,
    client_data_hash: &[u8; 32],
    assertion: &crate::fido2::verify::Assertion,
    test: &str,
) -> KeyResult {
    let mut counted = match verify::begin_attempt(cfg, req, store, user, clock, conv) {
        Ok(c) => c,
        Err(o) => return KeyResult::Done(o.with_factor(Factor::Fido2)),
    };
    match verify_assertion(&counted.record.fido2, rp_id, client_data_hash, assertion) {
        Ok((index, count)) => {
            counted.record.fido2[index].sign_count = count;
            let name = counted.record.fido2[index].name.clone();
            match counted.accept(cfg, req, conv) {
                Ok(()) => KeyResult::Done(
                    Outcome::success(format!(
                        "security key '{}' verified{test}",
                        crate::username::log_safe(&name)
                    ))
                    .with_factor(Factor::Fido2),
                ),
                Err(o) => KeyResult::Done(o.with_factor(Factor::Fido2)),
            }
        }
        Err(e) => {
            let o = counted.reject(cfg, req, conv, format!("{e}{test}"));
            KeyResult::Done(o.with_factor(Factor::Fido2))
        }
    }
}
