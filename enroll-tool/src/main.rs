//! `mfa-enroll`: enrolls authenticator apps (TOTP) and manages recovery codes for pam_mfa.
//!
//! The binary is thin: [`cli`] defines the command line, [`commands`] carries out one
//! subcommand each, and `main` below is the one place where an outcome becomes an exit code.
//! Everything about secrets, the store and the configuration lives in `mfa-login`.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod context;
mod doctor;
mod error;
mod output;
mod prompt;
mod qr;
mod selfservice;

use clap::Parser;
use error::Error;
use std::io::Write;
use std::process::ExitCode;

/// Success.
const EXIT_OK: u8 = 0;
/// An operational error: the message says what failed.
const EXIT_ERROR: u8 = 1;
/// The command line is wrong (clap uses the same code for its own errors).
const EXIT_USAGE: u8 = 2;
/// The user did not confirm: wrong code, no answer, or a declined question. Nothing changed.
const EXIT_NOT_CONFIRMED: u8 = 3;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" printed to stdout with success.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    match commands::run(&cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "mfa-enroll: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The one mapping from errors to exit codes.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Usage(_) => EXIT_USAGE,
        Error::Aborted(_) | Error::ConfirmationFailed => EXIT_NOT_CONFIRMED,
        Error::Core(_)
        | Error::NotRoot { .. }
        | Error::UserOptionNeedsRoot
        | Error::UnknownUid(_)
        | Error::UnknownUser(_)
        | Error::StoreMissing(_)
        | Error::AlreadyEnrolled(_)
        | Error::NotEnrolled(_)
        | Error::Io { .. }
        | Error::Qr(_)
        | Error::Partial(_)
        | Error::Helper(_)
        | Error::DoctorNeedsRoot
        | Error::Findings(_) => EXIT_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_per_class() {
        assert_eq!(exit_code(&Error::Usage("x".into())), 2);
        assert_eq!(exit_code(&Error::ConfirmationFailed), 3);
        assert_eq!(exit_code(&Error::Aborted("x".into())), 3);
        assert_eq!(exit_code(&Error::NotEnrolled("alice".into())), 1);
        assert_eq!(exit_code(&Error::UserOptionNeedsRoot), 1);
    }
}
