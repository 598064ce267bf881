//! Enroll-on-login: a user without factors is offered, right after the password, to set up an
//! authenticator app now, to skip (a limited number of times), or to opt out (if allowed).
//!
//! Setting up happens inside the PAM conversation: the QR code and secret are sent as text
//! (an SSH terminal shows them), the user confirms with one code, then gets the recovery codes.
//! Because sshd shows informational messages only together with the next prompt, every message
//! the user must read is followed by a prompt.

use super::context::LoginContext;
use super::conversation::Conversation;
use super::outcome::{Denial, Factor, Outcome};
use crate::enroll::{self, Existing, NewKey, PendingTotp};
use crate::error::Error;
use crate::policy::Policy;
use crate::qr::{self, Qr, Style};
use crate::seat::Seat;
use crate::store::{EnrollmentState, Store, UserRecord};
use crate::username::UserName;

/// Menu attempts before giving up.
const MENU_TRIES: usize = 3;
/// Confirmation codes the user may try.
const CODE_TRIES: usize = 3;

enum Choice {
    Enroll,
    Push,
    SecurityKey,
    Skip,
    OptOut,
}

/// Runs the enroll-on-login menu for a user without factors.
pub(super) fn offer(
    ctx: &mut LoginContext<'_>,
    policy: &Policy,
    state: &EnrollmentState,
    now: u64,
) -> Outcome {
    let cfg = ctx.cfg;
    let local = ctx.req.seat == Seat::Local;
    if state.opted_out && policy.allow_opt_out {
        return Outcome::ignore("not enrolled, opted out");
    }
    let grace = u64::from(cfg.on_login.grace_days) * 86_400;
    let grace_over =
        grace > 0 && state.first_skipped.is_some_and(|first| now >= first.saturating_add(grace));
    let skips_left =
        if grace_over { 0 } else { cfg.on_login.max_skips.saturating_sub(state.skips) };

    let choice = if skips_left == 0 && !policy.allow_opt_out {
        ctx.conv.info("Two-factor authentication is required for your account: set up an authenticator app now.");
        Choice::Enroll
    } else {
        match menu(ctx.conv, skips_left, policy.allow_opt_out, local, cfg.push.is_some()) {
            Ok(c) => c,
            Err(o) => return o,
        }
    };
    match choice {
        Choice::Enroll => enroll_totp(ctx, Existing::Keep).with_factor(Factor::EnrollTotp),
        Choice::Push => super::push_flow::enroll_push(ctx).with_factor(Factor::EnrollPush),
        Choice::SecurityKey => enroll_key(ctx).with_factor(Factor::EnrollFido2),
        Choice::Skip => update_state(ctx.store, ctx.user, now, |s| {
            s.skips += 1;
            s.first_skipped.get_or_insert(now);
        })
        .map_or_else(
            |e| Outcome::failed("cannot record the skip", e),
            |s| {
                Outcome::ignore(format!(
                    "enrollment skipped ({} of {})",
                    s.skips, cfg.on_login.max_skips
                ))
            },
        ),
        Choice::OptOut => update_state(ctx.store, ctx.user, now, |s| s.opted_out = true)
            .map_or_else(
                |e| Outcome::failed("cannot record the opt-out", e),
                |_| Outcome::ignore("not enrolled, opted out just now"),
            ),
    }
}

fn menu(
    conv: &mut dyn Conversation,
    skips_left: u32,
    allow_opt_out: bool,
    local: bool,
    push: bool,
) -> Result<Choice, Outcome> {
    let mut text = String::from(
        "Two-factor authentication is not set up for your account.\n  1) Set up an authenticator app now (takes a minute)\n",
    );
    if skips_left > 0 {
        text.push_str(&format!(
            "  2) Skip for now (you will be asked again; {skips_left} skip{} left)\n",
            if skips_left == 1 { "" } else { "s" }
        ));
    }
    if allow_opt_out {
        text.push_str("  3) Opt out (you will not be asked again)\n");
    }
    if local {
        text.push_str("  4) Register a security key plugged into this computer\n");
    } else {
        text.push_str(
            "  (Security keys can be registered at the console; over SSH, use an app.)\n",
        );
    }
    if push {
        text.push_str("  5) Approve logins on your phone (push)\n");
    }
    for _ in 0..MENU_TRIES {
        conv.info(text.trim_end());
        let answer = match conv.prompt_visible("Choice: ") {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(Outcome::deny(
                    Denial::Conversation,
                    "no answer to the enrollment menu",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        match answer.trim() {
            "1" => return Ok(Choice::Enroll),
            "2" if skips_left > 0 => return Ok(Choice::Skip),
            "3" if allow_opt_out => return Ok(Choice::OptOut),
            "4" if local => return Ok(Choice::SecurityKey),
            "5" if push => return Ok(Choice::Push),
            "" => {
                return Err(Outcome::deny(Denial::AuthFailed, "no choice in the enrollment menu"));
            }
            _ => conv.error("Please answer with one of the numbers shown."),
        }
    }
    Err(Outcome::deny(Denial::AuthFailed, "no valid choice in the enrollment menu"))
}

fn update_state(
    store: &Store,
    user: &UserName,
    now: u64,
    change: impl FnOnce(&mut EnrollmentState),
) -> crate::Result<EnrollmentState> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    change(&mut record.enrollment);
    lock.save(&record)?;
    Ok(record.enrollment)
}

fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sets up an authenticator app inside the conversation: QR code and secret as text, one code
/// to confirm, then the recovery codes. Used at login and for self-service enrollment.
pub(crate) fn enroll_totp(ctx: &mut LoginContext<'_>, existing: Existing) -> Outcome {
    confirm_totp(ctx, &mut |ctx, pending, confirmed| {
        save_totp(ctx, pending, confirmed.step, confirmed.now, existing)
    })
}

/// A new app's confirmation: the code typed, the step it was valid at, and when.
pub(crate) struct Confirmed<'a> {
    /// What the user typed (valid for the new secret).
    pub code: &'a str,
    /// The time step the code belongs to.
    pub step: u64,
    /// When it was confirmed (Unix seconds).
    pub now: u64,
}

/// Shows a new app's QR code and secret, has the user confirm it with a code, then hands it to
/// `save` (the local store here, the fleet's service in fleet mode), whose outcome is the login's.
pub(crate) fn confirm_totp(
    ctx: &mut LoginContext<'_>,
    save: &mut dyn FnMut(&mut LoginContext<'_>, &PendingTotp, Confirmed<'_>) -> Outcome,
) -> Outcome {
    let label = format!("{}@{}", ctx.user, crate::host::hostname_or_localhost());
    let pending = match PendingTotp::generate(&ctx.cfg.totp, &label) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = show_new_secret(ctx.conv, &pending) {
        return e.into();
    }
    let prompt =
        format!("Enter the {}-digit code from the app to finish: ", pending.uri.params.digits);
    for attempt in 1..=CODE_TRIES {
        let answer = match ctx.conv.prompt_visible(&prompt) {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Outcome::deny(Denial::Conversation, "no confirmation code (cancelled)");
            }
            Err(e) => return e.into(),
        };
        if answer.trim().is_empty() {
            return Outcome::deny(Denial::AuthFailed, "no confirmation code");
        }
        let now = match ctx.clock.now() {
            Ok(n) => n,
            Err(e) => return e.into(),
        };
        let Some(step) = pending.confirm(&answer, now, ctx.cfg.totp.window) else {
            if attempt < CODE_TRIES {
                ctx.conv.error("That code is not right. Check that the phone's time is correct and type the code shown now.");
            }
            continue;
        };
        return save(ctx, &pending, Confirmed { code: answer.trim(), step, now });
    }
    Outcome::deny(Denial::AuthFailed, "enrollment not confirmed (wrong codes)")
}

/// Shows the QR code, the secret and the link of a new authenticator-app secret.
pub(crate) fn show_new_secret(
    conv: &mut dyn Conversation,
    pending: &PendingTotp,
) -> crate::Result<()> {
    let uri = pending.uri_string();
    let picture = qr::render(&Qr::encode(&uri)?, Style::Plain);
    let p = &pending.uri.params;
    let secret = zeroize::Zeroizing::new(grouped(&pending.uri.secret.to_base32()));
    conv.info(&zeroize::Zeroizing::new(format!(
        "Scan this QR code with your authenticator app (Google Authenticator, Aegis, FreeOTP, ...):\n\n{}\n\
         Or add it by hand: secret {}  (time-based, {}, {} digits, every {} s)\n{}",
        picture.as_str(),
        secret.as_str(),
        p.algorithm.name(),
        p.digits,
        p.step,
        uri.as_str()
    )));
    Ok(())
}

/// Saves a confirmed app (its confirmation code's step used) and shows the recovery codes.
fn save_totp(
    ctx: &mut LoginContext<'_>,
    pending: &PendingTotp,
    step: u64,
    now: u64,
    existing: Existing,
) -> Outcome {
    let saved = enroll::save_totp(ctx.store, ctx.user, pending, Some(step), now, existing, true);
    let codes = match saved {
        Ok(Some(codes)) => codes,
        Ok(None) => {
            return Outcome::deny(Denial::Unavailable, "no recovery codes were made");
        }
        Err(Error::AlreadyEnrolled(_)) => {
            return Outcome::deny(Denial::AuthFailed, "enrolled concurrently by another login");
        }
        Err(e) => return Outcome::failed("cannot save the enrollment", e),
    };
    hand_over_codes(
        ctx.conv,
        "Your authenticator app is set up. These are your recovery codes: each works once, \
         instead of a code, if you lose the phone. Store them somewhere safe now; they are \
         not shown again.\n",
        &codes,
    );
    Outcome::success("enrolled on login, code confirmed")
}

/// Shows new recovery codes once, then waits for Enter: sshd holds messages back until the
/// next prompt, so without one the user would never see them.
pub(crate) fn hand_over_codes(
    conv: &mut dyn Conversation,
    intro: &str,
    codes: &[zeroize::Zeroizing<String>],
) {
    conv.info(&crate::recovery::listing(intro, codes));
    let _ = conv.prompt_visible("Press Enter when you have stored the recovery codes: ");
}

/// Registers a security key during the login (console only), then shows recovery codes.
fn enroll_key(ctx: &mut LoginContext<'_>) -> Outcome {
    let mut device = match crate::fido2::open(&ctx.cfg.fido2) {
        Ok(d) => d,
        Err(e) => {
            ctx.conv.error("No security key found: plug it in and log in again, or set up an app.");
            return Outcome::deny(Denial::AuthFailed, format!("enrollment: {e}"));
        }
    };
    let now = match ctx.clock.now() {
        Ok(n) => n,
        Err(e) => return e.into(),
    };
    let key = NewKey { name: "security-key", user_verification: false, pin: None };
    let conv = &mut *ctx.conv;
    let registered = enroll::register_fido2(
        ctx.cfg,
        ctx.store,
        ctx.user,
        &key,
        device.as_mut(),
        now,
        &mut |m| conv.info(m),
    );
    match registered {
        Ok(codes) => {
            let registered = "Your security key is registered as \"security-key\" (add more or remove \
                              it with mfa-enroll fido2).";
            match codes {
                Some(codes) => ctx.conv.info(&crate::recovery::listing(
                    &format!(
                        "{registered} Your recovery codes, each works once if you lose the key; \
                         store them now:\n"
                    ),
                    &codes,
                )),
                None => ctx.conv.info(registered),
            }
            let _ =
                ctx.conv.prompt_visible("Press Enter when you have stored the recovery codes: ");
            Outcome::success("security key registered on login")
        }
        Err(e) => {
            ctx.conv.error("The security key could not be registered.");
            Outcome::deny(Denial::AuthFailed, format!("enrollment: {e}"))
        }
    }
}
