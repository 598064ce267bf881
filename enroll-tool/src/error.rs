//! The error type of `mfa-enroll`. `main` maps each variant to an exit code; the messages never
//! contain secrets or codes.

use std::fmt;

/// Result alias of this crate.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Everything that can make `mfa-enroll` fail.
#[derive(Debug)]
pub(crate) enum Error {
    /// From `mfa-login`: configuration, store, master key, clock, random numbers.
    Core(mfa_login::Error),
    /// A command that needs the store was run without root.
    NotRoot {
        /// The invoking user's name (for the suggested `sudo` command line).
        user: String,
        /// The subcommand, e.g. `totp`.
        command: &'static str,
    },
    /// `--user` was given by a user who is not root.
    UserOptionNeedsRoot,
    /// The real uid has no passwd entry.
    UnknownUid(u32),
    /// `--user NAME` names no account in the user database.
    UnknownUser(String),
    /// The store has not been created yet (the text says which path is missing).
    StoreMissing(String),
    /// The user already has TOTP enrolled and `--force` was not given.
    AlreadyEnrolled(String),
    /// The user has nothing enrolled, but the command needs an enrollment.
    NotEnrolled(String),
    /// Options that do not fit together (exit code 2, like clap's own errors).
    Usage(String),
    /// No answer, an empty answer or a declined question: nothing was changed.
    Aborted(String),
    /// The code from the app was wrong on every attempt: nothing was saved.
    ConfirmationFailed,
    /// Reading or writing a file or the terminal failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The QR code could not be made or drawn.
    Qr(String),
    /// Some items of a listing could not be read (each was reported already).
    Partial(String),
    /// The setuid helper failed or refused (unprivileged self-service).
    Helper(String),
    /// `doctor` without `--root` was run by a user other than root.
    DoctorNeedsRoot,
    /// `doctor` found this many errors (each was reported already).
    Findings(usize),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// An [`Error::Io`] for a failed write to standard output.
    pub(crate) fn stdout(source: std::io::Error) -> Self {
        Error::io("write to standard output", source)
    }
}

impl From<mfa_login::FactorError> for Error {
    fn from(e: mfa_login::FactorError) -> Self {
        mfa_login::Error::from(e).into()
    }
}

impl From<mfa_login::Error> for Error {
    fn from(e: mfa_login::Error) -> Self {
        match e {
            mfa_login::Error::AlreadyEnrolled(user) => Error::AlreadyEnrolled(user),
            e => Error::Core(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Core(e) => write!(f, "{e}"),
            Error::NotRoot { user, command } => write!(
                f,
                "`{command}` is an administrator command and must run as root: \
                 sudo mfa-enroll --user {user} {command} (users manage their own account \
                 without sudo with totp, push, fido2, status, remove, recovery-codes and opt-in)"
            ),
            Error::UserOptionNeedsRoot => {
                write!(f, "--user (acting for another user) is only allowed for root")
            }
            Error::UnknownUid(uid) => write!(f, "uid {uid} has no entry in the user database"),
            Error::UnknownUser(name) => write!(
                f,
                "there is no user {name} in the user database (pam_mfa refuses logins of names \
                 that do not resolve to an account)"
            ),
            Error::StoreMissing(what) => {
                write!(f, "{what} does not exist; run `mfa-enroll init` to create the store")
            }
            Error::AlreadyEnrolled(user) => write!(
                f,
                "{user} already has an authenticator app enrolled; use --force to replace it \
                 (the old app's codes stop working and new recovery codes are made)"
            ),
            Error::NotEnrolled(user) => {
                write!(f, "{user} is not enrolled; enroll first with `mfa-enroll totp`")
            }
            Error::Usage(m) => write!(f, "{m}"),
            Error::Aborted(m) => write!(f, "aborted: {m}"),
            Error::ConfirmationFailed => write!(
                f,
                "the code was not accepted 3 times; nothing was saved. Check that the phone's \
                 clock is set automatically and scan the new QR code on the next try"
            ),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Qr(m) => write!(f, "QR code: {m}"),
            Error::Partial(m) => write!(f, "{m}"),
            Error::Helper(m) => write!(f, "{m}"),
            Error::DoctorNeedsRoot => write!(
                f,
                "must be run as root (it reads root-only files: the pam_mfa configuration and \
                 the store): sudo mfa-enroll doctor, or check a copy with --root DIR"
            ),
            Error::Findings(n) => {
                write!(f, "doctor found {n} error{} (see above)", if *n == 1 { "" } else { "s" })
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Core(e) => Some(e),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
