//! What a file operation can fail with. The texts are the login crate's (`mfa_login::Error`
//! converts each variant into its own with the same words), so log lines did not change when
//! this layer became a crate of its own.

use std::fmt;
use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a file or directory was refused, or an operation on it failed.
#[derive(Debug)]
pub enum Error {
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
    /// A lock is held by another process for longer than the wait allowed.
    Busy(String),
    /// The operating system's random number generator failed (temporary file names).
    Random(String),
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Insecure { path, reason } => {
                write!(f, "refusing {}: {reason}", path.display())
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Busy(m) => write!(f, "busy: {m}"),
            Error::Random(m) => write!(f, "random number generator: {m}"),
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
