//! `mfa-server`, the central MFA service of pam_mfa (fleet mode and push approval), and `mfa-push-device`, its
//! command-line device. The protocol is `push-proto`; this crate is its service side
//! (`docs/push-service.md`, `docs/openapi.yaml`).

#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod cli;
pub mod client;
pub mod config;
pub mod device;
pub mod error;
pub mod files;
pub mod fleet;
pub mod http;
pub mod hub;
pub mod scope;
pub mod server;
pub mod service_key;
pub mod store;
pub mod time;
pub mod tls;
pub mod tlsinit;
pub mod webpush;
