//! The one error type of `mfa-login`. Messages never contain secrets, codes or passwords.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout `mfa-login`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong below the login logic.
///
/// Each variant says what failed and where, so the one log line a denied login produces lets an
/// administrator fix the cause. None of them ever carries secret material.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file or a module argument is invalid.
    Config(String),
    /// A file or directory failed a safety check (owner, mode, type, link, size).
    Insecure {
        /// The path that was refused.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// An I/O operation failed.
    Io {
        /// What was being done, e.g. "open /var/lib/pam_mfa/users".
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A store file exists but cannot be decoded or authenticated (corrupt, truncated,
    /// wrong key, copied from another user).
    Corrupt {
        /// The path of the file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The master key is missing, unreadable or malformed.
    MasterKey(String),
    /// The user name cannot be used (empty, too long, contains '/' or control characters...).
    InvalidUserName(String),
    /// The system clock reads before 1970 or too far in the future.
    Clock(String),
    /// The operating system's random number generator failed.
    Random(String),
    /// A value is outside what this version supports.
    Invalid(String),
    /// The user already has this factor and replacing it was not asked for.
    AlreadyEnrolled(String),
    /// The user database has no such user (or group, for a rule).
    UnknownUser(String),
    /// The user database could not answer.
    UserDatabase(String),
    /// The user's lock is held by another process for longer than the configured wait.
    Busy(String),
}

impl Error {
    /// Builds an [`Error::Io`] with a description of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Builds an [`Error::Insecure`].
    pub fn insecure(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Insecure { path: path.into(), reason: reason.into() }
    }

    /// Builds an [`Error::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt { path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::Insecure { path, reason } => {
                write!(f, "refusing {}: {reason}", path.display())
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Corrupt { path, reason } => {
                write!(f, "store file {} is unusable: {reason}", path.display())
            }
            Error::MasterKey(m) => write!(f, "master key: {m}"),
            Error::InvalidUserName(m) => write!(f, "invalid user name: {m}"),
            Error::Clock(m) => write!(f, "clock: {m}"),
            Error::Random(m) => write!(f, "random number generator: {m}"),
            Error::Invalid(m) => write!(f, "{m}"),
            Error::AlreadyEnrolled(u) => write!(f, "{u} already has an authenticator app enrolled"),
            Error::UnknownUser(u) => write!(f, "no such user in the user database: {u}"),
            Error::UserDatabase(m) => write!(f, "user database: {m}"),
            Error::Busy(m) => write!(f, "busy: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A factor error (`mfa-factors`) as the same variant here, with the same text.
impl From<mfa_factors::Error> for Error {
    fn from(e: mfa_factors::Error) -> Self {
        match e {
            mfa_factors::Error::InvalidUserName(m) => Error::InvalidUserName(m),
            mfa_factors::Error::Random(m) => Error::Random(m),
            mfa_factors::Error::Invalid(m) => Error::Invalid(m),
            // `non_exhaustive`: a variant added there reads as invalid input until mapped here.
            other => Error::Invalid(other.to_string()),
        }
    }
}

/// The category of a serde_json error, without its message: serde_json messages can quote the
/// input, which may hold secrets.
pub fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected content",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// A file-layer error (`mfa-securefs`) as the same variant here, with the same text.
impl From<mfa_securefs::Error> for Error {
    fn from(e: mfa_securefs::Error) -> Self {
        match e {
            mfa_securefs::Error::Insecure { path, reason } => Error::Insecure { path, reason },
            mfa_securefs::Error::Io { context, source } => Error::Io { context, source },
            mfa_securefs::Error::Busy(m) => Error::Busy(m),
            mfa_securefs::Error::Random(m) => Error::Random(m),
        }
    }
}
