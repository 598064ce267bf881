//! `mfa-login`: everything pam_mfa knows about multi-factor login, without PAM and without a
//! terminal.
//!
//! * [`config`] — the TOML configuration (`/etc/pam_mfa/pam_mfa.toml`) and module arguments.
//! * [`store`] — the encrypted per-user secret store (see `docs/store-format.md`).
//! * [`totp`], [`otpauth`], [`recovery`] — the factors.
//! * [`login`] — the login state machine, driven through the [`login::Conversation`] trait so it
//!   is tested without PAM; the `pam_mfa` cdylib only adapts PAM to that trait.
//!
//! This crate contains no `unsafe` code.
#![forbid(unsafe_code)]

pub mod account;
pub mod config;
pub mod endpoint;
pub mod enroll;
pub mod error;
pub mod fido2;
pub mod fleet;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod helper;
pub mod host;
pub mod lockout;
pub mod login;
pub mod policy;
pub mod privacyidea;
pub mod push;
pub mod qr;
pub mod seat;
/// Checked file access (the `mfa-securefs` crate, shared with mfa-server).
pub use mfa_securefs as secure_fs;
pub mod selfservice;
pub mod selfservice_fleet;
pub mod store;

// The factors, moved to `mfa-factors` (no I/O), kept at their old paths.
/// The error of the factor functions; it converts into [`Error`] (same variant, same text).
pub use mfa_factors::Error as FactorError;
pub use mfa_factors::{import, offline_window, otpauth, random, recovery, secret, totp, username};

pub use error::{Error, Result};
