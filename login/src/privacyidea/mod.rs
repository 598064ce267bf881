//! privacyIDEA as a second factor: its configuration section and what its validation API
//! answers, as typed values the login flow decides on. The client that asks the server
//! (`/validate/check`, `/validate/polltransaction`) is `mfa_remote::privacyidea`.
//!
//! Only an outage is [`PiError::Down`], the case the `failmode` decides: no connection, no
//! answer in time, or a gateway's 502, 503 or 504. Everything else is [`PiError::Refused`],
//! always a denial.

pub mod config;

pub use config::PrivacyIdeaConfig;

/// Longest server message shown to the user or logged.
pub const MAX_MESSAGE: usize = 200;

/// Why a request gave no usable decision.
#[derive(Debug)]
pub enum PiError {
    /// The client could not be built (CA file, proxy): a configuration problem, never
    /// subject to `failmode = "open"`.
    Setup(String),
    /// An outage (no connection, no answer in time, HTTP 502/503/504): `failmode` decides.
    Down(String),
    /// Not a usable answer (TLS failure, HTTP 500 or another error status, bad JSON, odd
    /// values): denied.
    Refused(String),
}

impl std::fmt::Display for PiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PiError::Setup(m) => write!(f, "privacyIDEA client setup failed: {m}"),
            PiError::Down(m) => write!(f, "privacyIDEA unreachable: {m}"),
            PiError::Refused(m) => write!(f, "unexpected privacyIDEA reply: {m}"),
        }
    }
}

/// One challenge of a `CHALLENGE` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The token type (`push`, `hotp`, `email`, `webauthn`, ...).
    pub kind: String,
    /// The server's message for the user (control characters removed, bounded).
    pub message: String,
    /// Number matching: the answer the user must choose on the phone ("Please press: NN").
    pub presence_answer: Option<String>,
}

/// The answer to `/validate/check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Authenticated.
    Accept,
    /// Not authenticated; the server's message (sanitized).
    Reject(String),
    /// A challenge was triggered: answer it with the transaction id.
    Challenge {
        /// The transaction all challenges belong to.
        transaction_id: String,
        /// The challenges, one per token.
        challenges: Vec<Challenge>,
    },
}

/// The answer to `/validate/polltransaction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStatus {
    /// Not answered yet.
    Pending,
    /// Approved on the phone: finalize with `/validate/check`.
    Accepted,
    /// Declined (or cancelled) on the phone.
    Declined,
}

/// Printable text only, at most [`MAX_MESSAGE`] characters: server text goes to the user's
/// terminal and to syslog.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| *c != '"' && *c != '\\')
        .take(MAX_MESSAGE)
        .collect::<String>()
        .trim()
        .to_string()
}
