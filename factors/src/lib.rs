//! `mfa-factors`: the factors of pam_mfa as pure code — no files, no network, no processes.
//!
//! * [`totp`] — TOTP/HOTP codes and their replay-safe check; [`otpauth`] — `otpauth://` URIs.
//! * [`recovery`] — single-use recovery codes (Argon2id) and imported scratch codes.
//! * [`secret`] — secret bytes that are wiped on drop; [`random`] — fresh secrets.
//! * [`username`] — validated user names and log-safe rendering of untrusted text.
//! * [`fido2`] — FIDO2 credentials, authenticatorData and COSE parsers, pam_u2f authfiles and
//!   the assertion check; [`passkey`] — WebAuthn passkeys of push devices.
//! * [`import`] — parsers for other modules' enrollment files (the caller reads the file).
//!
//! Both the PAM module (through `mfa-login`, which re-exports these modules at their old paths)
//! and `mfa-server` (which checks passkeys) use it; neither pulls in the other's I/O through it.
//! The only call into the kernel is `getrandom(2)` in [`random`]; times are always passed in.
//!
//! This crate contains no `unsafe` code.
#![forbid(unsafe_code)]

pub mod error;
pub mod fido2;
pub mod import;
pub mod offline_window;
pub mod otpauth;
pub mod passkey;
pub mod random;
pub mod recovery;
pub mod secret;
pub mod totp;
pub mod username;

pub use error::{Error, Result};
