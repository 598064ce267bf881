//! Enroll-on-login in fleet mode (issue 20): a user with no factor at the fleet's service, on a
//! host whose policy has `enrollment = "on_login"`, sets up an authenticator app inside the
//! login (the same QR code, secret and confirmation as standalone), which is sent to the
//! service as the user's first factor (no proof); recovery codes, if the service answers with any, are shown once; otherwise the user is told
//! to make them with `mfa-enroll recovery-codes --regenerate`.
//!
//! Skipping and opting out are not offered: the standalone menu keeps them in the host's local
//! record, but a fleet user's state lives at the service, and a skip kept per host would give
//! every host its own allowance. `first_enrollment = "admin"` without the admin's opt-in and a
//! host outside the user's groups deny with a plain message; an outage is `failmode`'s.

use super::LoginContext;
use super::enroll_flow::{Confirmed, confirm_totp, hand_over_codes};
use super::fleet_flow::failed;
use super::outcome::{Denial, Factor, Outcome};
use crate::enroll::PendingTotp;
use crate::fleet::FleetConfig;
use crate::fleet::enroll::{FleetUser, Stop, new_totp};
use crate::policy::{Enrollment, FailMode, Policy};

/// Before the code prompt: with on-login enrollment, asks the service for the user's status
/// (one request) and runs the enrollment when the user has no factor there. `None`: go on
/// with the normal fleet login (the user has a factor, or the policy has no such enrollment).
pub(super) fn offer(
    ctx: &mut LoginContext<'_>,
    section: &FleetConfig,
    policy: &Policy,
    failmode: FailMode,
) -> Option<Outcome> {
    if policy.enrollment != Enrollment::OnLogin {
        return None;
    }
    let remotes = ctx.remotes;
    let service = match remotes.fleet(section) {
        Ok(s) => s,
        Err(e) => return Some(failed(e, failmode)),
    };
    let at = FleetUser { service: &*service, user: ctx.user, clock: ctx.clock };
    let status = match at.status() {
        Ok(s) => s,
        Err(stop) => return Some(stopped(ctx, stop, failmode)),
    };
    if status.enrolled() {
        return None;
    }
    if !status.may_enroll_first {
        return Some(stopped(ctx, Stop::NotOptedIn, failmode));
    }
    ctx.conv.info(
        "Two-factor authentication is not set up for your account: set up an authenticator app \
         now (it works on every host of this fleet).",
    );
    let mut save = |ctx: &mut LoginContext<'_>, pending: &PendingTotp, c: Confirmed<'_>| {
        save_at_service(ctx, &at, pending, c.code, failmode)
    };
    Some(confirm_totp(ctx, &mut save).with_factor(Factor::EnrollTotp))
}

/// Sends the confirmed app as the first factor and shows the recovery codes made with it.
fn save_at_service(
    ctx: &mut LoginContext<'_>,
    at: &FleetUser<'_>,
    pending: &PendingTotp,
    code: &str,
    failmode: FailMode,
) -> Outcome {
    // The service answers a first app with its recovery codes (a separate `RecoveryCodes`
    // change would already need a current factor).
    let made = match at.send(None, new_totp(pending, code)) {
        Ok(m) => m,
        Err(stop) => return stopped(ctx, stop, failmode),
    };
    if made.recovery_codes.is_empty() {
        // The service makes none with a first app, and a `RecoveryCodes` change now needs a
        // current factor (the confirmation code is used up): the user makes them later.
        ctx.conv.info(
            "Your authenticator app is set up for this fleet. Make recovery codes with \
             `mfa-enroll recovery-codes --regenerate` (it asks for a code from the app).",
        );
        let _ = ctx.conv.prompt_visible("Press Enter to continue: ");
    } else {
        let codes: Vec<zeroize::Zeroizing<String>> =
            made.recovery_codes.into_iter().map(zeroize::Zeroizing::new).collect();
        hand_over_codes(
            ctx.conv,
            "Your authenticator app is set up for this fleet. These are your recovery codes: \
             each works once, instead of a code, if you lose the phone. Store them somewhere \
             safe now; they are not shown again.\n",
            &codes,
        );
    }
    Outcome::success("enrolled on login at the fleet service, code confirmed")
}

/// A step that did not happen: an outage is `failmode`'s, a refusal is told plainly and denies.
fn stopped(ctx: &mut LoginContext<'_>, stop: Stop, failmode: FailMode) -> Outcome {
    match stop {
        Stop::Service(e @ crate::fleet::FleetError::Outage(_)) => failed(e, failmode),
        stop => {
            ctx.tell_error(stop.user_message());
            // A refusal is the service's decision; anything else is a reply that is unusable.
            let denial =
                if stop.refusal().is_some() { Denial::AuthFailed } else { Denial::Unavailable };
            Outcome::deny(denial, format!("fleet enrollment on login: {stop}"))
        }
    }
}
