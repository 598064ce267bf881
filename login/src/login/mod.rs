//! The login state machine: what the module asks, checks and decides.
//!
//! It talks to the user only through [`Conversation`], reads time through [`Clock`] and the
//! user database through [`Directory`], so it is tested without PAM. Every path that is not a
//! verified factor ends in a denial; leniency (exempt by policy, optional enrollment, a skipped
//! or declined enrollment) is [`Decision::Ignore`], never success.

pub(crate) mod enroll_flow;
pub(crate) mod fido2_flow;
pub(crate) mod privacyidea_flow;
pub(crate) mod push_flow;
pub(crate) mod remote;
pub(crate) mod verify;

use crate::account::{self, Account, Directory};
use crate::config::Config;
use crate::error::Error;
use crate::policy::{self, Enrollment, Policy, Subject};
use crate::seat::Seat;
use crate::store::{EnrollmentState, Store, UserRecord};
use crate::username::{UserName, log_safe};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroizing;

pub use fido2_flow::{KEY_ONLY, KEY_OR_CODE, NOT_LOCAL};
pub use privacyidea_flow::PI_PROMPT;
#[cfg(any(test, feature = "fuzzing"))]
pub use remote::NoRemotes;
pub use remote::{PrivacyIdeaRemote, PushRemote, Remotes};

/// The prompt for the second factor.
pub const PROMPT: &str = "Verification code: ";
/// The prompt in single-prompt mode.
pub const SINGLE_PROMPT: &str = "Password and verification code: ";
/// Longest answer considered; anything longer is refused without further work.
pub const MAX_ANSWER_LEN: usize = 1024;

/// Said when the answer to a code prompt is the user's password (`PAM_AUTHTOK`, set by
/// pam_unix before us): clients such as i3lock answer every prompt with the typed password.
/// The answer is then treated as no answer, which never counts as a wrong code.
pub const PASSWORD_AT_CODE_PROMPT: &str = "That was your password, not a verification code. \
     (A screen locker that asks only one question needs the single_prompt stack: type the \
     password and the code together.)";

/// Whether an answer is the password, compared in constant time (for equal lengths).
pub fn answer_is_password(answer: &str, password: &str) -> bool {
    use subtle::ConstantTimeEq;
    !password.is_empty() && bool::from(answer.as_bytes().ct_eq(password.as_bytes()))
}

/// The conversation failed (the application could not ask or the user could not answer).
#[derive(Debug)]
pub struct ConvError(pub String);

/// The answer to a prompt, or the denial when there is none: no answer (cancelled, a NULL
/// reply) or a failed conversation.
pub(crate) fn answered(
    reply: Result<Option<Zeroizing<String>>, ConvError>,
) -> Result<Zeroizing<String>, Outcome> {
    match reply {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(Outcome::deny(Denial::Conversation, "no answer (cancelled)")),
        Err(e) => Err(e.into()),
    }
}

/// How the login logic talks to the user and to the rest of the PAM stack.
pub trait Conversation {
    /// Asks a question without echo. `Ok(None)`: no answer (cancelled, or a NULL reply).
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError>;
    /// Asks a question with echo (menu choices, confirmation codes).
    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError>;
    /// Shows an informational message. (sshd shows it together with the next prompt only.)
    fn info(&mut self, text: &str);
    /// Shows an error message.
    fn error(&mut self, text: &str);
    /// Hands the password typed in single-prompt mode to the next module (`PAM_AUTHTOK`).
    fn set_password(&mut self, password: &str) -> Result<(), ConvError>;
    /// Asks the application to delay a failure report by at least `ms` milliseconds.
    fn fail_delay(&mut self, ms: u32);
    /// Writes a debug line to the log (only called with `debug = true`; never with secrets).
    fn debug(&mut self, text: &str);
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
    /// The remote host, if the application set one. One that is not UTF-8 is kept in a lossy
    /// form: it stays a remote host and matches no rule network (issue 15, finding 9).
    pub rhost: Option<String>,
    /// Whether the login is at this computer's own seat ([`crate::seat`]): security keys are
    /// offered only then.
    pub seat: Seat,
    /// `PAM_SILENT`: suppress informational messages.
    pub silent: bool,
}

/// Why a login was refused, which selects the PAM return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// Wrong, replayed or malformed code, locked factor, not enrolled, empty answer
    /// (`PAM_AUTH_ERR`).
    AuthFailed,
    /// The conversation failed or returned no answer (`PAM_CONV_ERR`).
    Conversation,
    /// The configuration or module arguments are invalid (`PAM_SERVICE_ERR`).
    Config,
    /// The store, master key, clock or user database cannot be trusted or read
    /// (`PAM_AUTHINFO_UNAVAIL`).
    Unavailable,
    /// The user name cannot be used (`PAM_USER_UNKNOWN`).
    BadUser,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Second factor verified (or enrolled and confirmed just now).
    Success,
    /// Let in WITHOUT a second factor: the central service had an outage (could not be reached
    /// or did not answer in time) and `failmode = "open"` is configured. `PAM_SUCCESS`, logged
    /// at warning level, apart from verified logins.
    FailOpen,
    /// No second factor required for this login: let the rest of the stack decide.
    Ignore,
    /// Refused.
    Deny(Denial),
}

impl From<&Error> for Denial {
    /// The one mapping from an error to the denial it causes: a configuration error is
    /// `Config`, a user name that cannot be used or resolved is `BadUser`, and everything else
    /// (store, master key, clock, user database, random numbers, a busy lock...) is
    /// `Unavailable`.
    fn from(e: &Error) -> Denial {
        match e {
            Error::Config(_) => Denial::Config,
            Error::InvalidUserName(_) | Error::UnknownUser(_) => Denial::BadUser,
            _ => Denial::Unavailable,
        }
    }
}

impl Decision {
    /// The name in log lines (`decision=...`).
    pub fn name(self) -> &'static str {
        match self {
            Decision::Success => "success",
            Decision::FailOpen => "fail-open",
            Decision::Ignore => "ignore",
            Decision::Deny(_) => "deny",
        }
    }
}

/// The factor a login tried, as log lines and the helper protocol name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Factor {
    /// A TOTP code.
    Totp,
    /// A recovery code.
    Recovery,
    /// A security key.
    Fido2,
    /// Push approval through mfa-pushd.
    Push,
    /// The privacyIDEA backend.
    #[serde(rename = "privacyidea")]
    PrivacyIdea,
    /// Enrolling an app.
    EnrollTotp,
    /// Pairing a phone for push.
    EnrollPush,
    /// Registering a security key.
    EnrollFido2,
}

impl Factor {
    #[cfg(test)]
    const ALL: [Factor; 8] = [
        Factor::Totp,
        Factor::Recovery,
        Factor::Fido2,
        Factor::Push,
        Factor::PrivacyIdea,
        Factor::EnrollTotp,
        Factor::EnrollPush,
        Factor::EnrollFido2,
    ];

    /// The name in log lines (`factor=...`).
    pub fn name(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Recovery => "recovery",
            Factor::Fido2 => "fido2",
            Factor::Push => "push",
            Factor::PrivacyIdea => "privacyidea",
            Factor::EnrollTotp => "enroll-totp",
            Factor::EnrollPush => "enroll-push",
            Factor::EnrollFido2 => "enroll-fido2",
        }
    }
}

/// The decision plus what the log line needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What to return.
    pub decision: Decision,
    /// Which factor was tried, if any.
    pub factor: Option<Factor>,
    /// Short reason for the log (never a secret).
    pub reason: String,
    /// The account the login was decided for, once the user name resolved (it may be spelled
    /// differently from `PAM_USER`).
    pub account: Option<String>,
}

impl Outcome {
    fn new(decision: Decision, reason: impl Into<String>) -> Self {
        Outcome { decision, factor: None, reason: reason.into(), account: None }
    }
    /// A denial for `reason` (the log's words, never shown to the user).
    pub fn deny(d: Denial, reason: impl Into<String>) -> Self {
        Outcome::new(Decision::Deny(d), reason)
    }
    pub(crate) fn ignore(reason: impl Into<String>) -> Self {
        Outcome::new(Decision::Ignore, reason)
    }
    pub(crate) fn success(reason: impl Into<String>) -> Self {
        Outcome::new(Decision::Success, reason)
    }
    pub(crate) fn fail_open(reason: impl Into<String>) -> Self {
        Outcome::new(Decision::FailOpen, reason)
    }
    /// The denial for an error while `doing` something (the log says both).
    pub(crate) fn failed(doing: &str, e: Error) -> Self {
        Outcome::deny(Denial::from(&e), format!("{doing}: {e}"))
    }
    pub(crate) fn with_factor(mut self, f: Factor) -> Self {
        self.factor = Some(f);
        self
    }

    /// The one syslog line for this decision: user (the account, and `PAM_USER` as given when
    /// it is spelled differently), service, remote host, factor, outcome, reason. Untrusted
    /// fields are escaped and bounded.
    pub fn log_line(&self, req: &Request) -> String {
        let decision = self.decision.name();
        let user = match &self.account {
            Some(a) if *a != req.user => {
                format!("user=\"{}\" pam_user=\"{}\"", log_safe(a), log_safe(&req.user))
            }
            _ => format!("user=\"{}\"", log_safe(&req.user)),
        };
        format!(
            "decision={decision} {user} service=\"{}\" rhost=\"{}\" factor={} reason=\"{}\"",
            log_safe(&req.service),
            log_safe(req.rhost.as_deref().unwrap_or("")),
            self.factor.map_or("none", Factor::name),
            self.reason,
        )
    }
}

impl From<Error> for Outcome {
    /// The denial for an error ([`Denial::from`]), the error's message as the reason.
    fn from(e: Error) -> Self {
        Outcome::deny(Denial::from(&e), e.to_string())
    }
}

impl From<ConvError> for Outcome {
    /// The denial when the conversation failed.
    fn from(e: ConvError) -> Self {
        Outcome::deny(Denial::Conversation, format!("conversation failed: {}", e.0))
    }
}

/// What every step of one login works with: the configuration, what PAM said, the store, the
/// account, the conversation, the clock and the central services. The flows take it instead of
/// the same seven arguments each; the user's record is not part of it, because each check reads
/// the record afresh under the user's lock ([`verify::begin_attempt`]).
pub(crate) struct LoginContext<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) req: &'a Request,
    pub(crate) store: &'a Store,
    /// The account (resolved from `req.user`).
    pub(crate) user: &'a UserName,
    pub(crate) conv: &'a mut dyn Conversation,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) remotes: &'a dyn Remotes,
}

impl LoginContext<'_> {
    /// Shows an error message unless the application asked for silence (`PAM_SILENT`).
    pub(crate) fn tell_error(&mut self, text: &str) {
        if !self.req.silent {
            self.conv.error(text);
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.decision, self.reason)
    }
}

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

#[cfg(test)]
mod tests;
