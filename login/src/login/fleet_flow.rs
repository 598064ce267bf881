//! A login whose factors live at the fleet's service (`backend = "fleet"`, issue 20).
//!
//! The module asks for the code as always, sends it with this login's values and a fresh nonce
//! to the service (`push_proto::fleet::VerifyRequest`), and lets the user in only with a receipt
//! signed by the service key pinned in the host credential that answers this very request
//! ([`push_proto::fleet::FleetReceipt::check`]). The service counts the attempt before it checks
//! the answer and accepts each code at most once in the whole fleet; its lockout is fleet-wide,
//! so nothing is counted here. `failmode` decides only an outage (no connection, no answer in
//! time): a reply that is not a valid signed decision always denies.

use super::conversation::{MAX_ANSWER_LEN, PROMPT};
use super::fleet_key_flow::KeyOffer;
use super::fleet_offline_flow;
use super::outcome::{Denial, Factor, Outcome, answered};
use super::verify::locked_message;
use super::{FleetRemote, LoginContext};
use crate::fleet::{FleetConfig, FleetError};
use crate::policy::{FailMode, Policy};
use crate::recovery::Attempt;
use crate::seat::Seat;
use push_proto::fleet::{self, Verdict, VerifyRequest, VerifyResponse};
use zeroize::Zeroizing;

/// Runs a fleet-mode login: ask, have the service decide, check its receipt.
pub(crate) fn authenticate(ctx: &mut LoginContext<'_>, policy: &Policy) -> Outcome {
    let Some(section) = ctx.cfg.fleet.as_ref() else {
        return Outcome::deny(Denial::Config, "backend fleet without [fleet]");
    };
    if ctx.cfg.single_prompt {
        return Outcome::deny(Denial::Config, "single_prompt is not supported with fleet");
    }
    let failmode = policy.failmode.unwrap_or(section.failmode);
    if let Some(outcome) = super::fleet_enroll_flow::offer(ctx, section, policy, failmode) {
        return outcome;
    }
    // At this computer's seat, a user with keys at the service is offered the key first (as
    // the standalone flow does); typing a code there, or having no key, leads here.
    let preset = if ctx.req.seat == Seat::Local {
        match super::fleet_key_flow::offer(ctx, section, failmode) {
            KeyOffer::Done(outcome) => return outcome,
            KeyOffer::Code(answer) => answer,
        }
    } else {
        None
    };
    if preset.is_none() {
        if let Some(pushed) = super::fleet_push_flow::offer(ctx, section, failmode) {
            return pushed;
        }
    }
    code_login(ctx, section, failmode, preset)
}

/// A code login at the fleet service: `preset` if the user typed one already, else asked for.
pub(super) fn code_login(
    ctx: &mut LoginContext<'_>,
    section: &FleetConfig,
    failmode: FailMode,
    preset: Option<Zeroizing<String>>,
) -> Outcome {
    let answer = match preset {
        Some(a) => a,
        None => match answered(ctx.conv.prompt_secret(PROMPT)) {
            Ok(a) => a,
            Err(o) => return o,
        },
    };
    let answer: Zeroizing<String> = Zeroizing::new(answer.trim().to_string());
    if answer.is_empty() {
        return Outcome::deny(Denial::AuthFailed, "empty answer");
    }
    if answer.len() > MAX_ANSWER_LEN.min(fleet::MAX_ANSWER) {
        return Outcome::deny(Denial::AuthFailed, "answer too long");
    }
    let (factor, wire_factor) = kind_of(&answer);
    let remotes = ctx.remotes;
    let service = match remotes.fleet(section) {
        Ok(s) => s,
        // An unreadable credential or CA file is a setup fault: never failed open.
        Err(e) => return failed(e, failmode).with_factor(factor),
    };
    let request = match request(ctx, wire_factor, &answer) {
        Ok(r) => r,
        Err(o) => return o.with_factor(factor),
    };
    decide(ctx, &*service, &request, (section, factor), failmode).with_factor(factor)
}

/// A recovery code's shape, else a code (the service knows the user's digits).
fn kind_of(answer: &str) -> (Factor, fleet::Factor) {
    if Attempt::parse(answer).is_some() {
        (Factor::Recovery, fleet::Factor::Recovery)
    } else {
        (Factor::Totp, fleet::Factor::Totp)
    }
}

/// This login's request: its values and a fresh nonce ([`super::fleet_key_flow::key_login`]).
fn request(
    ctx: &LoginContext<'_>,
    factor: fleet::Factor,
    answer: &str,
) -> Result<VerifyRequest, Outcome> {
    let mut req = super::fleet_key_flow::key_login(ctx)?.bound();
    req.factor = factor;
    req.answer = answer.to_string();
    Ok(req)
}

/// Sends the request and turns the service's signed answer into the decision. After an
/// answer the host's offline bundle is brought up to date; on an outage (only then) the
/// bundle is tried before `failmode` ([`super::fleet_offline_flow`]).
fn decide(
    ctx: &mut LoginContext<'_>,
    service: &dyn FleetRemote,
    request: &VerifyRequest,
    (section, factor): (&FleetConfig, Factor),
    failmode: FailMode,
) -> Outcome {
    match service.verify(request) {
        Ok(reply) => {
            let mut outcome = judge(ctx, service, &reply, request);
            if section.offline {
                outcome.reason.push_str(&fleet_offline_flow::after_contact(ctx, service));
            }
            outcome
        }
        Err(e @ FleetError::Outage(_)) if section.offline => {
            match fleet_offline_flow::fallback(ctx, service, &request.answer, factor, &e) {
                Ok(outcome) => outcome,
                Err(why) => {
                    let mut outcome = failed(e, failmode);
                    outcome.reason.push_str(&format!("; offline: {why}"));
                    outcome
                }
            }
        }
        Err(e) => failed(e, failmode),
    }
}

/// The service's signed answer to `request` as the decision: only an accepting receipt that
/// answers this very request and is signed by the pinned key lets the login in.
pub(super) fn judge(
    ctx: &mut LoginContext<'_>,
    service: &dyn FleetRemote,
    reply: &VerifyResponse,
    request: &VerifyRequest,
) -> Outcome {
    let verdict = match reply.receipt.check(service.service_key(), service.host_id(), request) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::deny(Denial::Unavailable, format!("fleet receipt refused: {e}"));
        }
    };
    match verdict {
        Verdict::Accept => Outcome::success("accepted by the fleet service"),
        Verdict::Reject => Outcome::deny(Denial::AuthFailed, "rejected by the fleet service"),
        Verdict::Locked => {
            let now = ctx.clock.now().unwrap_or(0);
            let left = reply.locked_until.map_or(0, |u| u.saturating_sub(now)).max(60);
            ctx.tell_error(&locked_message(ctx.user, left));
            Outcome::deny(Denial::AuthFailed, "locked at the fleet service")
        }
    }
}

/// No usable answer: an outage is what `failmode` decides, anything else denies.
pub(super) fn failed(e: FleetError, failmode: FailMode) -> Outcome {
    match (&e, failmode) {
        (FleetError::Outage(_), FailMode::Open) => {
            Outcome::fail_open(format!("{e}; failmode open"))
        }
        _ => Outcome::deny(Denial::Unavailable, e.to_string()),
    }
}
