//! The command-line device (`mfa-push-device`): pairs with a one-time link, keeps a P-256 key
//! in a private key file, lists the requests sent to it (checking the service's signature on
//! each) and answers them.

pub mod cli;
pub mod commands;
pub mod keyfile;
