//! What the setuid helper does for the calling user on a fleet host (`[fleet]` and a rule with
//! `backend = "fleet"`, issue 20): the user's factors are the fleet service's, so status, a new
//! app, new recovery codes and removal are asked of the service, with this host's credential
//! (read here, as root; it never reaches the caller) and for the caller's own canonical name
//! (the real uid's), never a name from the request. The service decides: a user who has a
//! factor proves a current one (asked here, checked, counted and used up there); a first factor
//! follows its `first_enrollment`. Its refusals reach the caller as plain messages
//! ([`Stop::user_message`]); the reason goes to the helper's log. Logins through the helper are
//! [`crate::selfservice::serve`]'s, as before.

use crate::account::Account;
use crate::config::Config;
use crate::enroll::{PendingTotp, Status};
use crate::fleet::enroll::{FleetUser, Stop, new_totp};
use crate::helper::Request;
use crate::login::{Clock, Conversation, Denial, Factor, FleetRemote, Outcome, Remotes};
use crate::selfservice::Served;
use push_proto::fleet_enroll::{Change, StatusResponse};

/// Runs one enrollment request for `account` at the fleet's service. `Request::Login` is not
/// one (the caller sends it to [`crate::selfservice::serve`]).
pub fn serve(
    request: Request,
    account: &Account,
    cfg: &Config,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    remotes: &dyn Remotes,
) -> Served {
    let Some(section) = cfg.fleet.as_ref() else {
        return denied(Outcome::deny(Denial::Config, "fleet self-service without [fleet]"));
    };
    let service = match remotes.fleet(section) {
        Ok(s) => s,
        Err(e) => return stopped(conv, Stop::Service(e)),
    };
    let at = FleetUser { service: &*service as &dyn FleetRemote, user: &account.name, clock };
    let result = match request {
        Request::Status => {
            return match at.status() {
                Ok(st) => Served {
                    outcome: Outcome::success("fleet status"),
                    status: Some(status_of(account, &st)),
                },
                Err(s) => stopped(conv, s),
            };
        }
        Request::EnrollTotp { replace } => enroll_totp(&at, cfg, conv, replace),
        Request::RegenerateRecoveryCodes => recovery_codes(&at, conv),
        Request::Remove => remove(&at, conv),
        Request::Login { .. } => {
            return denied(Outcome::deny(Denial::Config, "a login is not an enrollment"));
        }
        _ => {
            conv.error(
                "On this host your second factors are kept by the fleet's MFA service: security \
                 keys, push devices and opt-in are set up by an administrator there.",
            );
            return denied(Outcome::deny(Denial::Config, "not available in fleet mode"));
        }
    };
    match result {
        Ok(outcome) => Served { outcome, status: None },
        Err(s) => stopped(conv, s),
    }
}

fn denied(outcome: Outcome) -> Served {
    Served { outcome, status: None }
}

/// Tells the caller what stopped the request (a plain message) and logs the reason.
fn stopped(conv: &mut dyn Conversation, stop: Stop) -> Served {
    conv.error(stop.user_message());
    let denial = match &stop {
        Stop::Service(crate::fleet::FleetError::Outage(_))
        | Stop::Service(crate::fleet::FleetError::Unavailable(_))
        | Stop::Local(_) => Denial::Unavailable,
        _ => Denial::AuthFailed,
    };
    denied(Outcome::deny(denial, format!("at the fleet service: {stop}")))
}

/// The service's status in the helper protocol's form (no secret in either).
fn status_of(account: &Account, st: &StatusResponse) -> Status {
    Status {
        user: account.name.to_string(),
        totp_enrolled: st.totp.as_ref().map(|t| t.updated_at),
        totp_params: st
            .totp
            .as_ref()
            .map(|t| format!("{}/{}/{}", t.algorithm.as_str(), t.digits, t.step)),
        recovery_codes_left: st.recovery_codes as usize,
        locked_until: st.locked_until,
        skips: 0,
        opted_out: false,
        security_keys: (1..=st.security_keys)
            .map(|i| format!("key {i} (at the service)"))
            .collect(),
        push_devices: Vec::new(),
    }
}

/// A new app: the current factor first (a wrong one stops before a secret is shown), then the
/// secret, then the code that proves the app has it, sent with the change.
fn enroll_totp(
    at: &FleetUser<'_>,
    cfg: &Config,
    conv: &mut dyn Conversation,
    replace: bool,
) -> Result<Outcome, Stop> {
    let st = at.status()?;
    if st.enrolled() && !replace {
        conv.error(
            "You already have a second factor. To replace your app, run \
             `mfa-enroll totp --force` (it asks for a current code first).",
        );
        return Ok(Outcome::deny(Denial::AuthFailed, "already enrolled at the fleet service"));
    }
    let proof = at.proof(&st, conv)?;
    let label = format!("{}@{}", at.user, crate::host::hostname_or_localhost());
    let pending =
        PendingTotp::generate(&cfg.totp, &label).map_err(|e| Stop::Local(e.to_string()))?;
    crate::login::enroll_flow::show_new_secret(conv, &pending)
        .map_err(|e| Stop::Local(e.to_string()))?;
    let prompt =
        format!("Enter the {}-digit code from the app to finish: ", pending.uri.params.digits);
    let code = match conv.prompt_visible(&prompt) {
        Ok(Some(c)) if !c.trim().is_empty() => c,
        _ => return Err(Stop::NoAnswer),
    };
    let made = at.send(proof, new_totp(&pending, &code))?;
    conv.info("The code is right: your authenticator app is enrolled at the fleet's service.");
    show_codes(conv, made.recovery_codes);
    Ok(Outcome::success("enrolled at the fleet service").with_factor(Factor::EnrollTotp))
}

fn show_codes(conv: &mut dyn Conversation, codes: Vec<String>) {
    if codes.is_empty() {
        return;
    }
    let codes: Vec<zeroize::Zeroizing<String>> =
        codes.into_iter().map(zeroize::Zeroizing::new).collect();
    conv.info(&crate::recovery::listing(
        "Your new recovery codes (each works once; the old ones no longer work):",
        &codes,
    ));
}

fn recovery_codes(at: &FleetUser<'_>, conv: &mut dyn Conversation) -> Result<Outcome, Stop> {
    let st = at.status()?;
    let proof = at.proof(&st, conv)?;
    let made = at.send(proof, Change::RecoveryCodes)?;
    show_codes(conv, made.recovery_codes);
    Ok(Outcome::success("recovery codes made at the fleet service"))
}

fn remove(at: &FleetUser<'_>, conv: &mut dyn Conversation) -> Result<Outcome, Stop> {
    let st = at.status()?;
    if !st.enrolled() {
        conv.error("You have nothing enrolled.");
        return Ok(Outcome::deny(Denial::AuthFailed, "nothing enrolled at the fleet service"));
    }
    let proof = at.proof(&st, conv)?;
    at.send(proof, Change::RemoveAll)?;
    conv.info("All your second factors were removed at the fleet's service.");
    Ok(Outcome::success("removed at the fleet service"))
}
