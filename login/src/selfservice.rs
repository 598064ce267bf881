//! What the setuid helper does for the calling user: second-factor logins for screen lockers
//! and `su`, and self-service enrollment for `mfa-enroll` without root.
//!
//! Every operation acts on `caller` (the helper's real uid) and nobody else. Changing or removing
//! an enrolled factor first requires a current code or recovery code (checked with the same
//! replay protection and lockout as a login), so a stolen unlocked shell cannot swap the phone
//! and then pass sudo's second factor. A first enrollment follows `first_enrollment`.

use crate::account::{Account, Directory};
use crate::config::{Config, FirstEnrollment};
use crate::enroll::{self, Existing, NewKey};
use crate::helper::{Done, LoginArg, Request};
use crate::login::{
    self, Clock, Conversation, Denial, Factor, LoginContext, Outcome, Remotes, push_flow, verify,
};
use crate::store::Store;
use crate::username::UserName;

/// The prompt before a change to an enrolled factor.
pub const PROVE_PROMPT: &str =
    "Current verification code (or a recovery code), to confirm it is you: ";

/// What a request came to: the outcome (its reason is for the helper's log) and, for
/// [`Request::Status`], the status.
#[derive(Debug)]
pub struct Served {
    /// The decision, factor and reason.
    pub outcome: Outcome,
    /// The caller's status, for a status request.
    pub status: Option<enroll::Status>,
}

impl Served {
    /// The final message to the caller: the decision only, never the reason.
    pub fn done(&self) -> Done {
        Done::from_outcome(&self.outcome, self.status.clone())
    }
}

/// Who a request acts for (the helper's caller) and what it works with.
struct Caller<'a> {
    cfg: &'a Config,
    user: &'a UserName,
    conv: &'a mut dyn Conversation,
    clock: &'a dyn Clock,
    remotes: &'a dyn Remotes,
}

impl Caller<'_> {
    /// Runs `step` in a login context on `store` for the caller's self-service (service
    /// `mfa-enroll`, never at the local seat, the real central services).
    fn in_context<T>(&mut self, store: &Store, step: impl FnOnce(&mut LoginContext<'_>) -> T) -> T {
        let req = login::self_service_request(self.user);
        let mut ctx = LoginContext {
            cfg: self.cfg,
            req: &req,
            store,
            user: self.user,
            conv: &mut *self.conv,
            clock: self.clock,
            remotes: self.remotes,
        };
        step(&mut ctx)
    }
}

/// Runs one request for `account` (the helper's caller, from its real uid), reaching central services
/// through `remotes`.
pub fn serve(
    request: Request,
    account: &Account,
    cfg: &Config,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    dir: &dyn Directory,
    remotes: &dyn Remotes,
) -> Served {
    let mut caller = Caller { cfg, user: &account.name, conv, clock, remotes };
    let outcome = match request {
        Request::Login { pam_user, service, remote, silent, args } => {
            // Any spelling of the caller's own account (an alias, another case) is the
            // caller; anything else is refused.
            match crate::account::resolve(dir, &pam_user) {
                Ok(a) if a.uid == account.uid => {
                    login_for(&mut caller, dir, service, remote, silent, &args)
                }
                _ => Outcome::deny(Denial::BadUser, "the helper acts only on the calling user"),
            }
        }
        Request::Status => {
            let user = caller.user;
            return match with_store(cfg, |store, now| enroll::status(store, user, now), clock) {
                Ok(status) => Served { outcome: Outcome::success("status"), status },
                Err(o) => Served { outcome: o, status: None },
            };
        }
        Request::OptIn => {
            let user = caller.user;
            match with_store(cfg, |store, _| enroll::opt_in(store, user), clock) {
                Ok(_) => Outcome::success("opted in"),
                Err(o) => o,
            }
        }
        Request::EnrollTotp { replace } => enroll_totp(&mut caller, replace),
        Request::Remove => changed_after_proof(&mut caller, |store, user, conv, _| {
            enroll::remove(store, user)?;
            conv.info("All your second factors were removed.");
            Ok(())
        }),
        Request::RegisterSecurityKey { name, user_verification } => {
            register_key(&mut caller, &name, user_verification)
        }
        Request::EnrollPush => match authorize_new_factor(&mut caller, None) {
            Ok((store, _)) => {
                caller.in_context(&store, push_flow::enroll_push).with_factor(Factor::EnrollPush)
            }
            Err(o) => o,
        },
        Request::RemovePush { name } => remove_push(&mut caller, &name),
        Request::RemoveSecurityKey { name } => remove_key(&mut caller, &name),
        Request::RegenerateRecoveryCodes => {
            changed_after_proof(&mut caller, |store, user, conv, now| {
                let codes =
                    enroll::regenerate_recovery_codes(store, user, now)?.unwrap_or_default();
                conv.info(&crate::recovery::listing(
                    "Your new recovery codes (each works once; the old ones no longer work):",
                    &codes,
                ));
                Ok(())
            })
        }
    };
    Served { outcome, status: None }
}

/// Removes the push device `name`, after proving a current factor.
fn remove_push(caller: &mut Caller<'_>, name: &str) -> Outcome {
    changed_after_proof(caller, |store, user, conv, _| {
        if enroll::remove_push(store, user, name)? {
            conv.info(&format!("Removed push device '{}'.", crate::username::log_safe(name)));
            Ok(())
        } else {
            let msg = format!("You have no push device named '{}'.", crate::push::shown(name));
            conv.error(&msg);
            Err(crate::Error::Invalid(msg))
        }
    })
}

/// Removes the security key `name`, after proving a current factor.
fn remove_key(caller: &mut Caller<'_>, name: &str) -> Outcome {
    changed_after_proof(caller, |store, user, conv, _| {
        if enroll::remove_fido2(store, user, name)? {
            conv.info(&format!("Removed security key '{}'.", crate::username::log_safe(name)));
            Ok(())
        } else {
            let msg = format!("You have no security key named '{}'.", crate::push::shown(name));
            conv.error(&msg);
            Err(crate::Error::Invalid(msg))
        }
    })
}

/// A second-factor login for the caller (a screen locker, `su`).
fn login_for(
    caller: &mut Caller<'_>,
    dir: &dyn Directory,
    service: String,
    remote: bool,
    silent: bool,
    args: &[LoginArg],
) -> Outcome {
    // Only forwardable arguments parse (`config=` is not one: the helper reads only the system
    // configuration).
    let args = LoginArg::module_args(args);
    // The caller names the service, so it chooses among the rules for the services the
    // configuration allows through the helper, and no other.
    if !caller.cfg.helper_services.contains(&service) {
        return Outcome::deny(
            Denial::Config,
            format!(
                "service '{}' is not one of helper_services",
                crate::username::log_safe(&service)
            ),
        );
    }
    let mut cfg = caller.cfg.clone();
    cfg.apply(&args);
    // Nothing proves who is at a helper login (the password, if any, was checked in the
    // caller's own process): a first factor, a skip or an opt-out may be recorded through it
    // only where a user may enroll on their own.
    if cfg.first_enrollment == FirstEnrollment::Admin {
        cfg.without_enroll_on_login();
    }
    // A helper caller is local: it cannot prove a remote address, so none is used. Security
    // keys follow the caller's login session (inherited, unchangeable by the caller).
    let seat = crate::seat::of_helper_caller(remote, &crate::seat::current_session());
    let req = login::Request { user: caller.user.to_string(), service, rhost: None, seat, silent };
    login::authenticate(&cfg, &req, caller.conv, caller.clock, dir, caller.remotes)
}

fn with_store<T>(
    cfg: &Config,
    f: impl FnOnce(&Store, u64) -> crate::Result<T>,
    clock: &dyn Clock,
) -> Result<T, Outcome> {
    let now = clock.now()?;
    let store = Store::open(&cfg.store)?;
    Ok(f(&store, now)?)
}

/// Asks for a current factor; `Ok` once it was verified (and recorded as used).
fn prove(caller: &mut Caller<'_>, store: &Store) -> Result<(), Outcome> {
    let o = caller.in_context(store, |ctx| verify::ask_and_verify(ctx, None, PROVE_PROMPT));
    match o.decision {
        login::Decision::Success => Ok(()),
        _ => Err(Outcome { reason: format!("current factor not proven: {}", o.reason), ..o }),
    }
}

/// A change to the caller's enrolled factors, after proving a current one.
fn changed_after_proof(
    caller: &mut Caller<'_>,
    change: impl FnOnce(&Store, &UserName, &mut dyn Conversation, u64) -> crate::Result<()>,
) -> Outcome {
    let store = match Store::open(&caller.cfg.store) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    match store.load(caller.user) {
        Ok(Some(r)) if r.is_enrolled() => {}
        Ok(_) => {
            caller.conv.error("You have nothing enrolled.");
            return Outcome::deny(Denial::AuthFailed, "nothing enrolled");
        }
        Err(e) => return e.into(),
    }
    if let Err(o) = prove(caller, &store) {
        return o;
    }
    let now = match caller.clock.now() {
        Ok(n) => n,
        Err(e) => return e.into(),
    };
    match change(&store, caller.user, caller.conv, now) {
        Ok(()) => Outcome::success("changed after proving a current factor"),
        Err(e) => e.into(),
    }
}

/// Opens the store and checks that the caller may add a factor: a user who already has one
/// proves a current one first (or, with `refuse_if_enrolled`, is refused with that reason); a
/// first factor follows `first_enrollment`. Returns the store and whether the user had a factor.
fn authorize_new_factor(
    caller: &mut Caller<'_>,
    refuse_if_enrolled: Option<&str>,
) -> Result<(Store, bool), Outcome> {
    let store = Store::open(&caller.cfg.store)?;
    let enrolled = store.load(caller.user)?.is_some_and(|r| r.is_enrolled());
    if enrolled {
        if let Some(reason) = refuse_if_enrolled {
            caller.conv.error(
                "You already have a second factor. To replace your app, run \
                 `mfa-enroll totp --force` (it asks for a current code first).",
            );
            return Err(Outcome::deny(Denial::AuthFailed, reason));
        }
        prove(caller, &store)?;
    } else if caller.cfg.first_enrollment == FirstEnrollment::Admin {
        caller.conv.error("Your first second factor is set up by an administrator here.");
        return Err(Outcome::deny(Denial::AuthFailed, "first enrollment is admin-only"));
    }
    Ok((store, enrolled))
}

fn enroll_totp(caller: &mut Caller<'_>, replace: bool) -> Outcome {
    let refuse = (!replace)
        .then_some("already enrolled (replace with --force, after proving a current factor)");
    let (store, enrolled) = match authorize_new_factor(caller, refuse) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let existing = if enrolled { Existing::Replace } else { Existing::Keep };
    caller
        .in_context(&store, |ctx| login::enroll_flow::enroll_totp(ctx, existing))
        .with_factor(Factor::EnrollTotp)
}

/// Adds a security key. Adding a factor changes the account like replacing one does, so a user
/// who has a factor proves it first; a first factor follows `first_enrollment`.
fn register_key(caller: &mut Caller<'_>, name: &str, user_verification: bool) -> Outcome {
    let store = match authorize_new_factor(caller, None) {
        Ok((store, _)) => store,
        Err(o) => return o,
    };
    let cfg = caller.cfg;
    let conv = &mut *caller.conv;
    let mut device = match crate::fido2::open(&cfg.fido2) {
        Ok(d) => d,
        Err(e) => {
            conv.error("No security key could be used: plug it in and try again.");
            return Outcome::deny(Denial::AuthFailed, format!("security key: {e}"));
        }
    };
    let pin = if user_verification {
        match conv.prompt_secret("Security key PIN (empty if it uses a fingerprint): ") {
            Ok(p) => p.filter(|p| !p.is_empty()),
            Err(e) => return e.into(),
        }
    } else {
        None
    };
    let now = match caller.clock.now() {
        Ok(n) => n,
        Err(e) => return e.into(),
    };
    let key = NewKey { name, user_verification, pin: pin.as_ref() };
    let result =
        enroll::register_fido2(cfg, &store, caller.user, &key, device.as_mut(), now, &mut |m| {
            conv.info(m)
        });
    match result {
        Ok(codes) => {
            conv.info(&format!("Security key '{}' registered.", crate::username::log_safe(name)));
            if let Some(codes) = codes {
                conv.info(&crate::recovery::listing(
                    "Your recovery codes (each works once; store them now):",
                    &codes,
                ));
            }
            Outcome::success("security key registered").with_factor(Factor::EnrollFido2)
        }
        Err(e) => {
            conv.error("The security key could not be registered.");
            Outcome::deny(Denial::AuthFailed, e.to_string())
        }
    }
}
