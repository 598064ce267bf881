//! `mfa-enroll fido2` on a fleet host (issue 20): a security key registered at the fleet's
//! service, for the fleet's one RP id (the service's `[fleet] rp_id`, default `pam://fleet`),
//! so it logs in on every fleet host. The key makes the credential here (through the same
//! authenticator interface as standalone, so the software authenticator of
//! `[fido2] test_device` works too), signs one test assertion, and the credential is sent to
//! the service as an enrollment change (`Change::AddKey`), which the service checks (bounds, a
//! COSE key it can verify with, a credential id new in the fleet) under the enrollment rule: a
//! user who has a factor proves a current one.
//!
//! **The key as the current factor.** When the user has a key at the service and this is a
//! seat-like terminal (not an SSH session: none of `SSH_CONNECTION`, `SSH_CLIENT`, `SSH_TTY`
//! is set, so a key plugged into this computer is the user's), the prompt offers the key:
//! Enter signs the service's enrollment challenge with it; typing a code uses the code. Over
//! SSH the key cannot be touched by the user, so only a code is asked for.

use super::fleet::{At, code_proof, nonce, now};
use crate::cli::Fido2Args;
use crate::error::{Error, Result};
use crate::prompt::Console;
use mfa_login::config::Config;
use mfa_login::fido2::device::{Authenticator, Login};
use mfa_login::fido2::{Fido2Error, b64, unb64};
use push_proto::fleet::Factor;
use push_proto::fleet_enroll::{Change, Proof, StatusResponse};
use push_proto::fleet_key_enroll::{
    KeyEnrollChallengeRequest, KeyProof, NewKey, enroll_key_challenge,
};
use push_proto::fleet_keys::{KEY_ANSWER, KeyAssertion, KeyChallengeResponse};
use std::time::Duration;

/// Runs `mfa-enroll fido2` at the fleet's service.
pub(super) fn run(
    at: &At,
    cfg: &Config,
    args: &Fido2Args,
    console: &mut Console<'_>,
) -> Result<()> {
    if args.list {
        let st = at.fetch_status()?;
        return writeln!(
            console.out,
            "{} has {} security key(s) at the fleet's service.",
            at.user, st.security_keys
        )
        .map_err(Error::stdout);
    }
    if args.remove.is_some() {
        return Err(Error::Usage(
            "on a fleet host, keys are removed at the fleet's service all at once \
             (`mfa-enroll remove`, with a current factor) or one by one by the admin \
             (`mfa-server fleet user remove-key`)"
                .into(),
        ));
    }
    register(at, cfg, args, console)
}

/// Whether the user sits at this computer (see the module's documentation).
fn at_a_seat() -> bool {
    ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"].iter().all(|v| std::env::var_os(v).is_none())
}

fn service(e: impl std::fmt::Display) -> Error {
    Error::Aborted(format!("the fleet service: {e}"))
}

fn register(at: &At, cfg: &Config, args: &Fido2Args, console: &mut Console<'_>) -> Result<()> {
    let name = args.name.as_deref().ok_or_else(|| Error::Usage("--name is required".into()))?;
    let st = at.fetch_status()?;
    let req =
        KeyEnrollChallengeRequest { user: at.user.as_str().into(), time: now()?, nonce: nonce()? };
    let challenge = at.client.key_enroll_challenge(&req).map_err(service)?;
    let pinned = cfg.fleet.as_ref().and_then(|f| f.rp_id.as_deref());
    if pinned.is_some_and(|p| p != challenge.rp_id) {
        return Err(Error::Aborted(format!(
            "the fleet service's RP id {:?} is not [fleet] rp_id {:?}",
            challenge.rp_id,
            pinned.unwrap_or_default()
        )));
    }
    let mut device = mfa_login::fido2::open(&cfg.fido2)
        .map_err(|e| Error::Usage(format!("{e}: insert the security key and try again")))?;
    if cfg.fido2.test_device.is_some() {
        crate::output::warn(
            "fido2.test_device is set: registering on the SOFTWARE test authenticator",
        );
    }
    let proof = current_factor(at, cfg, &st, &challenge, device.as_mut(), console)?;
    let pin = if args.uv {
        console.ask_hidden("Security key PIN (empty if it uses a fingerprint): ")?
    } else {
        None
    };
    let pin = pin.filter(|p| !p.is_empty());
    let out = &mut *console.out;
    let key = mfa_login::enroll::NewKey { name, user_verification: args.uv, pin: pin.as_ref() };
    let cred = mfa_login::enroll::new_fido2_credential(
        cfg,
        &challenge.rp_id,
        &at.user,
        &key,
        device.as_mut(),
        now()?,
        &mut |m| {
            let _ = writeln!(out, "{m}");
            let _ = out.flush();
        },
    )?;
    let new = NewKey {
        credential_id: cred.credential_id,
        public_key: cred.public_key,
        name: name.to_string(),
        user_verification: args.uv,
        counter: cred.sign_count,
    };
    at.send(proof, Change::AddKey(new))?;
    writeln!(
        console.out,
        "Security key '{name}' registered for {} at the fleet's service (RP id {}): it works on \
         every fleet host's console, desktop logins, sudo and su.",
        at.user, challenge.rp_id
    )
    .map_err(Error::stdout)
}

/// The proof of a current factor: none for a first factor (if the service allows it); the
/// key, offered at a seat when the user has one at the service; else a typed code.
fn current_factor(
    at: &At,
    cfg: &Config,
    st: &StatusResponse,
    challenge: &KeyChallengeResponse,
    device: &mut dyn Authenticator,
    console: &mut Console<'_>,
) -> Result<Option<Proof>> {
    if !st.enrolled() || challenge.credentials.is_empty() || !at_a_seat() {
        return at.proof(st, console);
    }
    let prompt = "Current factor: press Enter to use your security key, or type a code: ";
    let Some(answer) = console.ask_hidden(prompt)? else {
        return Err(Error::Aborted("no current factor given; nothing changed".into()));
    };
    if !answer.trim().is_empty() {
        return Ok(Some(code_proof(&answer)));
    }
    writeln!(
        console.out,
        "Touch your security key now (waiting up to {} seconds).",
        cfg.fido2.timeout
    )
    .map_err(Error::stdout)?;
    let assertion = sign(cfg, challenge, device, console)?;
    Ok(Some(Proof {
        factor: Factor::SecurityKey,
        answer: KEY_ANSWER.into(),
        key: Some(KeyProof { challenge: challenge.challenge.clone(), assertion }),
    }))
}

/// Has the key sign the service's enrollment challenge (its purpose-labelled form).
fn sign(
    cfg: &Config,
    c: &KeyChallengeResponse,
    device: &mut dyn Authenticator,
    console: &mut Console<'_>,
) -> Result<KeyAssertion> {
    let malformed = || service("the enrollment challenge is malformed");
    let signed = enroll_key_challenge(&c.challenge).ok_or_else(malformed)?;
    let allow = c
        .credentials
        .iter()
        .map(|k| unb64(&k.credential_id))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| malformed())?;
    let uv = c.credentials.iter().any(|k| k.user_verification);
    let pin = if uv { console.ask_hidden("Security key PIN: ")? } else { None };
    let a = device
        .get_assertion(&Login {
            rp_id: &c.rp_id,
            challenge: &signed,
            allow_list: &allow,
            user_verification: uv,
            pin: pin.as_ref(),
            timeout: Duration::from_secs(cfg.fido2.timeout),
        })
        .map_err(|e| match e {
            Fido2Error::Timeout => {
                Error::Aborted("the security key was not touched in time".into())
            }
            e => Error::Aborted(format!("the security key: {e}; nothing changed")),
        })?;
    Ok(KeyAssertion {
        credential_id: b64(&a.credential_id),
        auth_data: b64(&a.auth_data),
        signature: b64(&a.signature),
    })
}
