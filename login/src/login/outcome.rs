//! What a login is about ([`Request`]) and what it decided ([`Outcome`]: a [`Decision`], the
//! [`Factor`] tried, the reason for the log), with the one mapping of errors to denials.

use super::conversation::ConvError;
use crate::error::Error;
use crate::seat::Seat;
use crate::username::log_safe;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroizing;

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
    /// Second factor verified by this host alone from its offline bundle, because the fleet's
    /// service could not be reached (issue 21). `PAM_SUCCESS`, logged at warning level,
    /// apart from logins the service verified.
    Offline,
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
            Decision::Offline => "offline",
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
    /// Push approval through mfa-server.
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
    pub(crate) const ALL: [Factor; 8] = [
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
    pub(crate) fn offline(reason: impl Into<String>) -> Self {
        Outcome::new(Decision::Offline, reason)
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

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.decision, self.reason)
    }
}

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
