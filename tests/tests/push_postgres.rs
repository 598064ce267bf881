//! The whole libpam push suite (`push.rs`) again, with mfa-server on PostgreSQL: each test
//! starts its own throwaway cluster (Debian's `postgresql` package).

/// Read by `push.rs` as `crate::BACKEND`.
const BACKEND: mfa_tests::push::Backend = mfa_tests::push::Backend::Postgres;

#[path = "push.rs"]
mod suite;
