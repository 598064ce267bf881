//! Test support for pam_mfa: a PAM client over `pam_start_confdir` that drives the real
//! `pam_mfa.so` through the real libpam with a scripted conversation, and fixtures that build a
//! throwaway configuration, store and pam.d directory.
//!
//! Every capability's integration tests use these pieces; see `tests/tests/` for examples.

pub mod accounts;
pub mod browser;
pub mod client;
pub mod desktop;
pub mod fixture;
pub mod hostile;
pub mod live;
pub mod nss;
pub use push_harness::pg;
pub mod privacyidea;
pub mod push;
pub mod sandbox;
pub mod syslog;
