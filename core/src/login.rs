//! The login state machine: what the module asks, checks and decides.
//!
//! It talks to the user only through [`Conversation`] and reads time only through [`Clock`], so
//! it is tested without PAM. Every path that is not a verified code ends in a denial; leniency
//! (`nullok`) is [`Decision::Ignore`], never success.

use crate::config::{Config, ModuleArgs};
use crate::error::Error;
use crate::recovery::{self, Attempt};
use crate::store::Store;
use crate::totp;
use crate::username::{UserName, log_safe};
use std::fmt;
use zeroize::Zeroizing;

/// The prompt for the second factor.
pub const PROMPT: &str = "Verification code: ";
/// Longest answer considered; anything longer is refused without further work.
pub const MAX_ANSWER_LEN: usize = 128;

/// The conversation failed (the application could not ask or the user could not answer).
#[derive(Debug)]
pub struct ConvError(pub String);

/// How the login logic talks to the user.
pub trait Conversation {
    /// Asks a question without echo. `Ok(None)`: no answer (cancelled, or a NULL reply).
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError>;
    /// Shows an informational message.
    fn info(&mut self, text: &str);
    /// Shows an error message.
    fn error(&mut self, text: &str);
}

/// Where the login logic gets the time.
pub trait Clock {
    /// Seconds since the Unix epoch; an error when the clock reads before 1970.
    fn now(&self) -> crate::Result<u64>;
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> crate::Result<u64> {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| Error::Clock("system clock is before 1970".into()))
    }
}

/// What PAM told us about the login.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The user name, as given (not yet validated).
    pub user: String,
    /// The PAM service (`sshd`, `sudo`, ...).
    pub service: String,
    /// The remote host, if the application set one.
    pub rhost: Option<String>,
    /// `PAM_SILENT`: suppress informational messages.
    pub silent: bool,
}

/// Why a login was refused, which selects the PAM return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Wrong, replayed or malformed code, not enrolled, empty answer (`PAM_AUTH_ERR`).
    AuthFailed,
    /// The conversation failed or returned no answer (`PAM_CONV_ERR`).
    Conversation,
    /// The configuration or module arguments are invalid (`PAM_SERVICE_ERR`).
    Config,
    /// The store, master key or clock cannot be trusted or read (`PAM_AUTHINFO_UNAVAIL`).
    Unavailable,
    /// The user name cannot be used (`PAM_USER_UNKNOWN`).
    BadUser,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Second factor verified.
    Success,
    /// Not enrolled and `nullok`: let the rest of the stack decide.
    Ignore,
    /// Refused.
    Deny(Denial),
}

/// The decision plus what the log line needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What to return.
    pub decision: Decision,
    /// Which factor was tried (`totp`, `recovery`), if any.
    pub factor: Option<&'static str>,
    /// Short reason for the log (never a secret).
    pub reason: String,
}

impl Outcome {
    fn deny(d: Denial, reason: impl Into<String>) -> Self {
        Outcome { decision: Decision::Deny(d), factor: None, reason: reason.into() }
    }
    fn with_factor(mut self, f: &'static str) -> Self {
        self.factor = Some(f);
        self
    }

    /// The one syslog line for this decision: user, service, remote host, factor, outcome,
    /// reason. Untrusted fields are escaped and bounded.
    pub fn log_line(&self, req: &Request) -> String {
        let decision = match self.decision {
            Decision::Success => "success",
            Decision::Ignore => "ignore",
            Decision::Deny(_) => "deny",
        };
        format!(
            "decision={decision} user=\"{}\" service=\"{}\" rhost=\"{}\" factor={} reason=\"{}\"",
            log_safe(&req.user),
            log_safe(&req.service),
            log_safe(req.rhost.as_deref().unwrap_or("")),
            self.factor.unwrap_or("none"),
            self.reason,
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.decision, self.reason)
    }
}

enum Answer {
    Totp(Zeroizing<String>),
    Recovery(Attempt),
}

fn classify(answer: &str, totp_digits: Option<u8>) -> Option<Answer> {
    let compact: Zeroizing<String> =
        Zeroizing::new(answer.chars().filter(|c| !c.is_whitespace()).collect());
    if let Some(d) = totp_digits {
        if compact.len() == usize::from(d) && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Answer::Totp(compact));
        }
    }
    Attempt::parse(answer).map(Answer::Recovery)
}

/// Runs one second-factor authentication: load configuration, ask, verify, record.
pub fn authenticate(
    args: &ModuleArgs,
    req: &Request,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> Outcome {
    let mut cfg = match Config::load(args.config_path()) {
        Ok(c) => c,
        Err(e) => return Outcome::deny(Denial::Config, e.to_string()),
    };
    cfg.apply(args);
    authenticate_with(&cfg, req, conv, clock)
}

/// [`authenticate`] with an already loaded configuration.
pub fn authenticate_with(
    cfg: &Config,
    req: &Request,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> Outcome {
    let user = match UserName::parse(&req.user) {
        Ok(u) => u,
        Err(e) => return Outcome::deny(Denial::BadUser, e.to_string()),
    };
    if let Err(e) = clock.now() {
        return Outcome::deny(Denial::Unavailable, e.to_string());
    }
    let store = match Store::open(&cfg.store) {
        Ok(s) => s,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let record = match store.load(&user) {
        Ok(Some(r)) if r.is_enrolled() => r,
        Ok(_) if cfg.nullok => {
            return Outcome {
                decision: Decision::Ignore,
                factor: None,
                reason: "not enrolled (nullok)".into(),
            };
        }
        Ok(_) => return Outcome::deny(Denial::AuthFailed, "not enrolled"),
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let totp_digits = record.totp.as_ref().map(|t| t.params.digits);
    drop(record);

    // Ask before taking the lock: a user who never answers must not block other logins.
    let answer = match conv.prompt_secret(PROMPT) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::deny(Denial::Conversation, "no answer (cancelled)"),
        Err(e) => {
            return Outcome::deny(Denial::Conversation, format!("conversation failed: {}", e.0));
        }
    };
    if answer.trim().is_empty() {
        return Outcome::deny(Denial::AuthFailed, "empty answer");
    }
    if answer.len() > MAX_ANSWER_LEN {
        return Outcome::deny(Denial::AuthFailed, "answer too long");
    }
    match classify(&answer, totp_digits) {
        Some(Answer::Totp(code)) => {
            verify_totp(cfg, &store, &user, &code, clock).with_factor("totp")
        }
        Some(Answer::Recovery(attempt)) => {
            verify_recovery(cfg, req, &store, &user, &attempt, conv).with_factor("recovery")
        }
        None => Outcome::deny(Denial::AuthFailed, "answer is neither a code nor a recovery code"),
    }
}

fn verify_totp(
    cfg: &Config,
    store: &Store,
    user: &UserName,
    code: &str,
    clock: &dyn Clock,
) -> Outcome {
    let lock = match store.lock(user) {
        Ok(l) => l,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let mut record = match lock.load() {
        Ok(Some(r)) => r,
        Ok(None) => return Outcome::deny(Denial::AuthFailed, "enrollment removed during login"),
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    // Read the clock after the answer, under the lock: the time the code is judged at.
    let now = match clock.now() {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let Some(factor) = record.totp.as_mut() else {
        return Outcome::deny(Denial::AuthFailed, "no TOTP enrolled");
    };
    match totp::verify(
        factor.secret.expose(),
        &factor.params,
        code,
        now,
        cfg.totp.window,
        factor.last_used_step,
    ) {
        totp::Check::Accepted(step) => {
            factor.last_used_step = Some(step);
            // The step must be on disk before we say yes, or the code could be used again.
            match lock.save(&record) {
                Ok(()) => Outcome {
                    decision: Decision::Success,
                    factor: None,
                    reason: "code accepted".into(),
                },
                Err(e) => {
                    Outcome::deny(Denial::Unavailable, format!("cannot record used code: {e}"))
                }
            }
        }
        totp::Check::Replayed => Outcome::deny(Denial::AuthFailed, "code already used"),
        totp::Check::Wrong => Outcome::deny(Denial::AuthFailed, "wrong code"),
    }
}

fn verify_recovery(
    cfg: &Config,
    req: &Request,
    store: &Store,
    user: &UserName,
    attempt: &Attempt,
    conv: &mut dyn Conversation,
) -> Outcome {
    let remaining = {
        let lock = match store.lock(user) {
            Ok(l) => l,
            Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
        };
        let mut record = match lock.load() {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Outcome::deny(Denial::AuthFailed, "enrollment removed during login");
            }
            Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
        };
        let Some(codes) = record.recovery.as_mut() else {
            return Outcome::deny(Denial::AuthFailed, "no recovery codes");
        };
        match codes.redeem(attempt) {
            recovery::Check::Accepted { remaining } => {
                if let Err(e) = lock.save(&record) {
                    return Outcome::deny(
                        Denial::Unavailable,
                        format!("cannot record used recovery code: {e}"),
                    );
                }
                remaining
            }
            recovery::Check::Rejected => {
                return Outcome::deny(Denial::AuthFailed, "wrong or used recovery code");
            }
        }
    };
    if !req.silent {
        conv.info(&format!(
            "Recovery code accepted. {remaining} recovery code{} left.",
            if remaining == 1 { "" } else { "s" }
        ));
        if remaining <= cfg.recovery.warn_below as usize {
            conv.info("Make new recovery codes soon: mfa-enroll recovery-codes --regenerate");
        }
    }
    Outcome {
        decision: Decision::Success,
        factor: None,
        reason: format!("recovery code accepted, {remaining} left"),
    }
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
