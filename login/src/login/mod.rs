//! The login state machine: what the module asks, checks and decides.
//!
//! It talks to the user only through [`Conversation`], reads time through [`Clock`] and the
//! user database through [`Directory`], so it is tested without PAM. Every path that is not a
//! verified factor ends in a denial; leniency (exempt by policy, optional enrollment, a skipped
//! or declined enrollment) is [`Decision::Ignore`], never success.

mod context;
mod conversation;
pub(crate) mod enroll_flow;
pub(crate) mod fido2_flow;
mod fleet_enroll_flow;
pub(crate) mod fleet_flow;
mod fleet_key_flow;
mod fleet_offline_flow;
mod fleet_offline_key_flow;
mod fleet_push_flow;
mod outcome;
pub(crate) mod privacyidea_flow;
pub(crate) mod push_flow;
pub(crate) mod remote;
pub(crate) mod verify;

pub(crate) use context::LoginContext;
pub use conversation::{
    Clock, ConvError, Conversation, MAX_ANSWER_LEN, PASSWORD_AT_CODE_PROMPT, PROMPT, SINGLE_PROMPT,
    SystemClock, answer_is_password,
};
pub use outcome::{Decision, Denial, Factor, Outcome, Request};

use crate::account::{self, Account, Directory};
use crate::config::Config;
use crate::error::Error;
use crate::policy::{self, Enrollment, Policy, Subject};
use crate::seat::Seat;
use crate::store::{EnrollmentState, Store, UserRecord};
use crate::username::UserName;
use zeroize::Zeroizing;

pub use fido2_flow::{KEY_ONLY, KEY_OR_CODE, NOT_LOCAL};
pub use privacyidea_flow::PI_PROMPT;
#[cfg(any(test, feature = "fuzzing"))]
pub use remote::NoRemotes;
pub use remote::{FleetRemote, PrivacyIdeaRemote, PushRemote, Remotes};

/// Runs one second-factor authentication with a loaded configuration: apply policy, ask,
/// verify, record. The central services (push, privacyIDEA) are asked through `remotes`
/// (`mfa_remote::Network` in the module, the helper and `mfa-enroll`; scripted services in
/// tests). Running as root is the caller's business: without root the store is out of reach,
/// and the `pam_mfa` module asks the setuid helper instead of calling this.
pub fn authenticate(
    cfg: &Config,
    req: &Request,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    dir: &dyn Directory,
    remotes: &dyn Remotes,
) -> Outcome {
    conv.fail_delay(cfg.lockout.fail_delay_ms);
    // Before any policy: the account behind the name as given. A name that resolves to nobody
    // is denied here, so no lenient outcome (nullok, exempt, enroll-on-login) ever applies to
    // a spelling the second factor does not know.
    let account = match account::resolve(dir, &req.user) {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let mut outcome = match decide_policy(cfg, req, &account, conv, clock, dir) {
        Ok((policy, now)) => {
            let user = &account.name;
            match Store::open(&cfg.store) {
                Ok(store) => {
                    let mut ctx =
                        LoginContext { cfg, req, store: &store, user, conv, clock, remotes };
                    decide(&mut ctx, &policy, now)
                }
                Err(e) => e.into(),
            }
        }
        Err(o) => o,
    };
    outcome.account = Some(account.name.to_string());
    outcome
}

/// The policy of a resolved account's login, and the time it is decided at. `Err`: the login
/// is decided already (a configuration or directory fault, or an exempt login).
fn decide_policy(
    cfg: &Config,
    req: &Request,
    account: &Account,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    dir: &dyn Directory,
) -> Result<(Policy, u64), Outcome> {
    // Every user and group the rules name must exist: reported as a configuration error,
    // whichever rule this login would reach. (Not the one mapping of errors: a rule naming a
    // user the directory does not know is the rule's fault, not the login's user's.)
    if let Err(e) = policy::check_names(&cfg.rules, dir) {
        return Err(match e {
            Error::Config(m) => Outcome::deny(Denial::Config, m),
            e => Outcome::deny(Denial::Unavailable, format!("policy: {e}")),
        });
    }
    let now = clock.now()?;
    let subject = Subject { service: &req.service, account, rhost: req.rhost.as_deref() };
    let policy = policy::resolve(cfg.default_policy(), &cfg.rules, &subject, dir)
        .map_err(|e| Outcome::deny(Denial::Unavailable, format!("policy: {e}")))?;
    if cfg.debug {
        conv.debug(&format!(
            "debug: policy{}: exempt={} enrollment={:?} allow_opt_out={}",
            policy.rule.map_or(" (defaults)".to_string(), |i| format!(" by rule {}", i + 1)),
            policy.exempt,
            policy.enrollment,
            policy.allow_opt_out
        ));
    }
    if policy.exempt {
        // A single-prompt client still typed its one answer, and the password module after us
        // needs it: an exempt user typed only the password.
        if cfg.single_prompt || cfg.split_password {
            verify::split_single_prompt(conv, None, false)?;
        }
        return Err(Outcome::ignore(format!("exempt{}", by_rule(&policy))));
    }
    Ok((policy, now))
}

/// " by rule N" when a rule decided the policy (for log reasons).
fn by_rule(policy: &Policy) -> String {
    policy.rule.map(|i| format!(" by rule {}", i + 1)).unwrap_or_default()
}

/// The login of a user who is not exempt, with the store open.
fn decide(ctx: &mut LoginContext<'_>, policy: &Policy, now: u64) -> Outcome {
    let record = match ctx.store.load(ctx.user) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    if ctx.cfg.debug {
        debug_record(ctx, record.as_ref(), now);
    }
    let enrolled = record.as_ref().filter(|r| r.is_enrolled());
    let digits = enrolled.and_then(|r| r.totp.as_ref()).map(|t| usize::from(t.params.digits));
    let has_recovery =
        enrolled.and_then(|r| r.recovery.as_ref()).is_some_and(|c| c.remaining() > 0);

    // The first line of a single-prompt stack that checks the password first: the password
    // goes on to the password module, nothing is checked here, and the `single_prompt` line
    // after it asks again and checks the code (only if the password was right).
    if ctx.cfg.split_password {
        return match verify::split_single_prompt(ctx.conv, digits, has_recovery) {
            Ok(_) => Outcome::ignore("password handed on; the code is checked after it"),
            Err(outcome) => outcome,
        };
    }

    if policy.backend == policy::Backend::PrivacyIdea {
        return privacyidea_flow::authenticate(ctx, policy, record.as_ref());
    }
    if policy.backend == policy::Backend::Fleet {
        return fleet_flow::authenticate(ctx, policy);
    }

    // Single-prompt mode: password and code typed together; the password goes on to the next
    // module. Users without a TOTP factor typed only their password.
    let mut preset = None;
    if ctx.cfg.single_prompt {
        match verify::split_single_prompt(ctx.conv, digits, has_recovery) {
            Ok(code) => preset = code,
            Err(outcome) => return outcome,
        }
    }

    match enrolled {
        Some(record) => enrolled_login(ctx, policy, record, now, preset),
        None => not_enrolled(ctx, policy, record.map(|r| r.enrollment).unwrap_or_default(), now),
    }
}

/// The debug line describing the user's record (never a secret).
fn debug_record(ctx: &mut LoginContext<'_>, record: Option<&UserRecord>, now: u64) {
    ctx.conv.debug(&match record {
        None => format!("debug: no record in {}", ctx.cfg.store.state_dir.display()),
        Some(r) => format!(
            "debug: record: totp={} recovery_left={} failures={} locked={} skips={} opted_out={}",
            r.totp.as_ref().map_or("none".to_string(), |t| format!(
                "{}/{}/{} last_used_step={:?} window={:?}",
                t.params.algorithm.name(),
                t.params.digits,
                t.params.step,
                t.last_used_step,
                t.window
            )),
            r.recovery.as_ref().map_or(0, |c| c.remaining()),
            r.lockout.failures.len(),
            r.lockout.locked_for(now).is_some(),
            r.enrollment.skips,
            r.enrollment.opted_out
        ),
    });
}

/// An enrolled user: push, a security key, or a code, whichever the user has.
fn enrolled_login(
    ctx: &mut LoginContext<'_>,
    policy: &Policy,
    record: &UserRecord,
    now: u64,
    preset: Option<Zeroizing<String>>,
) -> Outcome {
    if let Some(left) = record.lockout.locked_for(now) {
        if !ctx.req.silent {
            ctx.conv.error(&verify::locked_message(ctx.user, left));
        }
        return Outcome::deny(Denial::AuthFailed, format!("locked for {left} more seconds"));
    }
    if !record.push.is_empty() && preset.is_none() {
        return push_flow::push_or_code(ctx, policy.failmode, record);
    }
    if !record.fido2.is_empty() && preset.is_none() {
        if ctx.req.seat == Seat::Local {
            return fido2_flow::key_or_code(ctx, record);
        }
        // Not at this computer's seat: a key plugged in here is not the user's to touch
        // for this login. A code instead, if the user has one.
        if !record.has_codes() {
            ctx.tell_error(NOT_LOCAL);
            return Outcome::deny(
                Denial::AuthFailed,
                "only a security key is enrolled, and this login is not at the local seat",
            )
            .with_factor(Factor::Fido2);
        }
    }
    verify::ask_and_verify(ctx, preset, PROMPT)
}

/// A user without a factor: what the policy says about enrollment.
fn not_enrolled(
    ctx: &mut LoginContext<'_>,
    policy: &Policy,
    state: EnrollmentState,
    now: u64,
) -> Outcome {
    let by_rule = by_rule(policy);
    match policy.enrollment {
        Enrollment::Optional => {
            Outcome::ignore(format!("not enrolled, enrollment optional{by_rule}"))
        }
        Enrollment::Required => Outcome::deny(Denial::AuthFailed, format!("not enrolled{by_rule}")),
        Enrollment::OnLogin => enroll_flow::offer(ctx, policy, &state, now),
    }
}

/// What PAM would say about a user managing their own factors (`mfa-enroll`, the helper's
/// self-service): service `mfa-enroll`, no remote host, not at the local seat.
pub(crate) fn self_service_request(user: &UserName) -> Request {
    Request {
        user: user.to_string(),
        service: "mfa-enroll".into(),
        rhost: None,
        seat: Seat::NotLocal,
        silent: false,
    }
}

/// Pairs a phone for push approval inside the conversation and confirms it with a test push
/// (`mfa-enroll push`, the helper). Saves the device, with recovery codes if the user has none.
pub fn enroll_push(
    cfg: &Config,
    store: &Store,
    user: &UserName,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    remotes: &dyn Remotes,
) -> Outcome {
    let req = self_service_request(user);
    let mut ctx = LoginContext { cfg, req: &req, store, user, conv, clock, remotes };
    push_flow::enroll_push(&mut ctx).with_factor(Factor::EnrollPush)
}

/// What a self-service action of a user's needs (`mfa-enroll` as root for `user`).
pub struct SelfService<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// This host's store.
    pub store: &'a Store,
    /// Whose factors.
    pub user: &'a UserName,
    /// The terminal.
    pub conv: &'a mut dyn Conversation,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The central services.
    pub remotes: &'a dyn Remotes,
}

/// Pairs a phone for push approval inside the conversation and confirms it with a test push,
/// without saving it (`mfa-enroll push` on a fleet host registers it at the fleet's service).
/// `Err`: why nothing was paired.
pub fn pair_push(s: SelfService<'_>) -> Result<crate::push::PushDevice, Outcome> {
    let req = self_service_request(s.user);
    let mut ctx = LoginContext {
        cfg: s.cfg,
        req: &req,
        store: s.store,
        user: s.user,
        conv: s.conv,
        clock: s.clock,
        remotes: s.remotes,
    };
    push_flow::pair_and_confirm(&mut ctx).map_err(|o| o.with_factor(Factor::EnrollPush))
}

#[cfg(test)]
mod tests;
