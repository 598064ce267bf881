//! Logging in with a security key: "Press Enter to use your security key, or type a code".
//!
//! Keys are offered only at this computer's own seat ([`crate::seat`]); elsewhere the login asks
//! for a code. Typing a code (or recovery code) always works instead of the key. With Enter, the key is asked for an assertion over a fresh random challenge; the
//! assertion is verified by us ([`crate::fido2::verify`]) under the user's lock, where the new
//! signature counter is stored and failures count towards the lockout.

use super::context::LoginContext;
use super::conversation::PROMPT;
use super::outcome::{Denial, Factor, Outcome, answered};
use super::verify;
use crate::config::Config;
use crate::fido2::device::{self, Login};
use crate::fido2::{Fido2Error, unb64, verify::verify_assertion};
use crate::store::UserRecord;
use std::time::Duration;
use zeroize::Zeroizing;

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
pub(crate) fn key_or_code(ctx: &mut LoginContext<'_>, record: &UserRecord) -> Outcome {
    let has_codes = record.has_codes();
    let prompt = if has_codes { KEY_OR_CODE } else { KEY_ONLY };
    let answer = match answered(ctx.conv.prompt_secret(prompt)) {
        Ok(a) => a,
        Err(o) => return o,
    };
    if !answer.trim().is_empty() {
        return verify::ask_and_verify(ctx, Some(answer), PROMPT);
    }
    match use_key(ctx, record) {
        KeyResult::Done(o) => o.with_factor(Factor::Fido2),
        KeyResult::NoDevice if has_codes => {
            ctx.conv.error("No security key found. Type a code instead.");
            verify::ask_and_verify(ctx, None, PROMPT)
        }
        KeyResult::NoDevice => Outcome::deny(Denial::AuthFailed, "no security key found"),
    }
}

/// `" (TEST DEVICE: not for production)"` in every log reason of a login with the software
/// test authenticator, else nothing.
pub(super) fn test_note(cfg: &Config) -> &'static str {
    if cfg.fido2.test_device.is_some() { " (TEST DEVICE: not for production)" } else { "" }
}

/// Asks the key for an assertion over a fresh challenge and verifies it. Every outcome but
/// [`KeyResult::NoDevice`] is the key's (the caller names the factor).
fn use_key(ctx: &mut LoginContext<'_>, record: &UserRecord) -> KeyResult {
    let deny = |d, r: String| KeyResult::Done(Outcome::deny(d, r));
    let test = test_note(ctx.cfg);
    let mut dev = match crate::fido2::open(&ctx.cfg.fido2) {
        Ok(d) => d,
        Err(Fido2Error::NoDevice) => return KeyResult::NoDevice,
        Err(e) => return deny(Denial::Unavailable, format!("{e}{test}")),
    };
    let rp_id = ctx.cfg.fido2.rp_id();
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
    let pin = if uv {
        match ask_pin(ctx) {
            Ok(p) => Some(p),
            Err(o) => return KeyResult::Done(o),
        }
    } else {
        None
    };
    let mut challenge = [0u8; 32];
    if let Err(e) = crate::random::fill(&mut challenge) {
        return KeyResult::Done(crate::Error::from(e).into());
    }
    let timeout = ctx.cfg.fido2.timeout;
    ctx.conv.info(&format!("Touch your security key now (waiting up to {timeout} seconds)."));
    let assertion = dev.get_assertion(&Login {
        rp_id: &rp_id,
        challenge: &challenge,
        allow_list: &allow,
        user_verification: uv,
        pin: pin.as_ref(),
        timeout: Duration::from_secs(timeout),
    });
    let assertion = match assertion {
        Ok(a) => a,
        Err(Fido2Error::NoDevice) => return KeyResult::NoDevice,
        Err(Fido2Error::Timeout) => {
            ctx.conv.error("The security key was not touched in time.");
            return deny(Denial::AuthFailed, format!("no touch within {timeout} s{test}"));
        }
        Err(Fido2Error::Pin(m)) => {
            ctx.conv.error("Wrong security key PIN.");
            return KeyResult::Done(record_failure(ctx, format!("PIN: {m}{test}")));
        }
        Err(e) => return deny(Denial::Unavailable, format!("{e}{test}")),
    };
    let hash = device::client_data_hash(&challenge);
    KeyResult::Done(verify_and_record(ctx, &rp_id, &hash, &assertion))
}

/// The key's PIN. A PIN that is required is asked for, and an empty or cancelled answer denies:
/// it must never mean "skip the PIN" (pam_u2f CVE-2021-31924).
pub(super) fn ask_pin(ctx: &mut LoginContext<'_>) -> Result<Zeroizing<String>, Outcome> {
    match ctx.conv.prompt_secret("Security key PIN: ") {
        Ok(Some(p)) if !p.is_empty() => Ok(p),
        Ok(Some(_)) => Err(Outcome::deny(Denial::AuthFailed, "empty PIN")),
        Ok(None) => Err(Outcome::deny(Denial::Conversation, "no PIN (cancelled)")),
        Err(e) => Err(e.into()),
    }
}

/// Counts a failure for the lockout (a wrong PIN) and denies.
fn record_failure(ctx: &LoginContext<'_>, reason: String) -> Outcome {
    match verify::lock_and_load(ctx) {
        Ok((lock, mut record, now)) => {
            verify::count_failure(ctx.cfg, &lock, &mut record, now, reason).0
        }
        Err(o) => o,
    }
}

/// Checks the assertion as a counted attempt ([`verify::begin_attempt`]): counted before the
/// check, cleared (with the new signature counter saved) when it verifies.
fn verify_and_record(
    ctx: &mut LoginContext<'_>,
    rp_id: &str,
    client_data_hash: &[u8; 32],
    assertion: &crate::fido2::verify::Assertion,
) -> Outcome {
    let test = test_note(ctx.cfg);
    let mut counted = match verify::begin_attempt(ctx) {
        Ok(c) => c,
        Err(o) => return o,
    };
    match verify_assertion(&counted.record.fido2, rp_id, client_data_hash, assertion) {
        Ok((index, count)) => {
            counted.record.fido2[index].sign_count = count;
            let name = counted.record.fido2[index].name.clone();
            match counted.accept(ctx) {
                Ok(()) => Outcome::success(format!(
                    "security key '{}' verified{test}",
                    crate::username::log_safe(&name)
                )),
                Err(o) => o,
            }
        }
        Err(e) => counted.reject(ctx, format!("{e}{test}")),
    }
}
