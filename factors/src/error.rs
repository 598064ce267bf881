//! The error type of `mfa-factors`. Messages never contain secrets, codes or passwords.
//!
//! `mfa-login` converts it into its own error (`From<mfa_factors::Error> for mfa_login::Error`),
//! variant for variant and with the same text, so a factor error logs as it always did.

use std::fmt;

/// Result alias used throughout `mfa-factors`.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong in the factor code (FIDO2 has its own [`crate::fido2::Fido2Error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The user name cannot be used (empty, too long, contains '/' or control characters...).
    InvalidUserName(String),
    /// The operating system's random number generator failed.
    Random(String),
    /// A value is outside what this version supports (a malformed URI, file or code).
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUserName(m) => write!(f, "invalid user name: {m}"),
            Error::Random(m) => write!(f, "random number generator: {m}"),
            Error::Invalid(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}
