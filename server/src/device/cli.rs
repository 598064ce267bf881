//! Command line of `mfa-push-device`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mfa-push-device: a pam_mfa push device on the command line.
///
/// Pairs with an mfa-server service through the one-time link a host shows (and prints the
/// pairing code to type there), then lists and answers login requests sent to it. Every
/// request's login context is checked against the service's signature before it is shown, and
/// an answer signs exactly the login shown; approving needs the number shown at login.
///
/// Exit status: 0 when the service recorded the intended answer (or the listing succeeded),
/// 1 when the service refused or anything failed, 2 for usage errors. Whether an approved
/// number is the one shown at login only the host knows: a wrong one is refused there.
#[derive(Debug, Parser)]
#[command(name = "mfa-push-device", version, about, long_about)]
pub struct Cli {
    /// The device key file (JSON, mode 0600). Default: $HOME/.config/mfa-push-device/key.json.
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pair with a service using a pairing link (https://host/pair#c=...&k=...); creates the key
    /// file and prints the pairing code to type where the pairing was started.
    Pair {
        /// The pairing link.
        uri: String,
        /// A name for this device, shown to administrators.
        #[arg(long)]
        name: String,
        /// PEM file of the CA that signed the service's certificate (remembered in the key
        /// file).
        #[arg(long, value_name = "CA")]
        ca_file: Option<PathBuf>,
    },
    /// List pending login requests (their signed context, and the three choices if the host
    /// offers them).
    Pending {
        /// Wait up to SECS for a request to arrive.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request with the number shown at login.
    Approve {
        /// The request; default: the only pending one (ids may start with '-').
        #[arg(allow_hyphen_values = true)]
        txid: Option<String>,
        /// The number shown at login (one of the three choices, if the request offers them).
        #[arg(long)]
        number: u8,
        /// Wait up to SECS for the request to arrive.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Deny a request.
    Deny {
        /// The request; default: the only pending one (ids may start with '-').
        #[arg(allow_hyphen_values = true)]
        txid: Option<String>,
        /// Wait up to SECS for the request to arrive.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Deny a request and report it as not yours: the service blocks new requests for the
    /// user for a while and records the report.
    Fraud {
        /// The request; default: the only pending one (ids may start with '-').
        #[arg(allow_hyphen_values = true)]
        txid: Option<String>,
        /// Wait up to SECS for the request to arrive.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_starting_with_a_hyphen_are_ids_and_options_stay_options() {
        let id = "-8AAAAAAAAAAAAAAAAAAAAA";
        let c = Cli::try_parse_from(["d", "approve", id, "--number", "42"]).unwrap();
        assert!(
            matches!(c.command, Command::Approve { txid: Some(ref t), number: 42, .. } if t == id)
        );
        let c = Cli::try_parse_from(["d", "approve", "--number", "42"]).unwrap();
        assert!(matches!(c.command, Command::Approve { txid: None, number: 42, .. }));
        let c = Cli::try_parse_from(["d", "deny", "--wait", "5"]).unwrap();
        assert!(matches!(c.command, Command::Deny { txid: None, wait: 5, .. }));
        let c = Cli::try_parse_from(["d", "fraud", id]).unwrap();
        assert!(matches!(c.command, Command::Fraud { txid: Some(ref t), .. } if t == id));
    }
}
