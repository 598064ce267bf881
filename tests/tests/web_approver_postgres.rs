//! The web approver tests (`web_approver.rs`) again, with mfa-server on PostgreSQL (each test
//! starts its own throwaway cluster), so passkeys and the page's flows run on both backends.

/// Read by `web_approver.rs` as `crate::BACKEND`.
const BACKEND: mfa_tests::push::Backend = mfa_tests::push::Backend::Postgres;

#[path = "web_approver.rs"]
mod suite;
