//! Command line of `mfa-pushd` (clap definitions; also the source of its man page).

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

/// mfa-pushd: the central push-approval service of pam_mfa.
///
/// Hosts (PAM modules) create login challenges; paired devices approve them with the number
/// shown at login, signing the login they displayed; the service signs a receipt each host
/// verifies. Administration
/// commands work on the database directly; no running service is needed.
#[derive(Debug, Parser)]
#[command(name = "mfa-pushd", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service until SIGTERM or SIGINT.
    Serve,
    /// Create a private CA and a server certificate signed by it (ca.pem, server.pem,
    /// server.key), both valid 825 days. The CA is name-constrained to --name and the --ip
    /// addresses, and its key is not kept unless --ca-key names a file outside --out-dir.
    /// Does not read the configuration.
    TlsInit {
        /// Directory to write into (created if missing; existing files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// DNS name of the service, as in public_url.
        #[arg(long, value_name = "HOST")]
        name: String,
        /// An IP address the certificate is also valid for (repeatable).
        #[arg(long, value_name = "IP")]
        ip: Vec<IpAddr>,
        /// Also write the CA's private key (0600) to FILE, which must not be in --out-dir:
        /// only to issue certificates with other tools; phones trust this CA as a root, so
        /// keep it offline. Without it the key is discarded, and renewing means running
        /// tls-init again and handing out the new ca.pem.
        #[arg(long, value_name = "FILE")]
        ca_key: Option<PathBuf>,
    },
    /// Register, revoke and list hosts (PAM modules).
    #[command(subcommand)]
    Host(HostCommand),
    /// List users known to the service.
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Fleet mode (first slice): users' TOTP secrets and recovery codes kept by the service.
    #[command(subcommand)]
    Fleet(FleetCommand),
}

/// `fleet ...`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Fleet users' factors.
    #[command(subcommand)]
    User(FleetUserCommand),
}

/// Which user of which fleet scope.
#[derive(Debug, clap::Args)]
pub struct FleetUser {
    /// The fleet scope (today every host verifies in `fleet`). A literal here: xtask builds
    /// this file into the man pages without the rest of the crate (a test in `scope` checks it
    /// is `scope::DEFAULT_FLEET_SCOPE`).
    #[arg(long, value_name = "SCOPE", default_value = "fleet")]
    pub scope: String,
    /// The user.
    #[arg(long, value_name = "USER")]
    pub user: String,
}

/// `fleet user ...`.
#[derive(Debug, Subcommand)]
pub enum FleetUserCommand {
    /// Set (replacing any) the user's TOTP secret, sealed with the master key. Prints nothing
    /// secret.
    SetTotp {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// File (mode 0600) holding the secret in base32, as in an otpauth URI.
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// Code length (6 or 8).
        #[arg(long, default_value_t = 6)]
        digits: u8,
        /// Seconds per step.
        #[arg(long, default_value_t = 30)]
        step: u64,
        /// HMAC algorithm: SHA1, SHA256 or SHA512.
        #[arg(long, default_value = "SHA1")]
        algorithm: String,
        /// The last step already used (a migrated record's watermark): only later codes pass.
        #[arg(long, value_name = "STEP")]
        last_step: Option<u64>,
    },
    /// Set (replacing any) the user's recovery codes from their Argon2id hashes: a JSON file
    /// (mode 0600) as pam_mfa stores them (`{"generated": T, "slots": ["$argon2id$...", null,
    /// ...]}`; null for a used slot). Plain codes are never read.
    SetRecovery {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// The hashes file.
        #[arg(long, value_name = "FILE")]
        hashes_file: PathBuf,
    },
    /// Show what the service keeps for the user (nothing secret).
    Show {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Clear the user's failure count and lockout.
    Unlock {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
    },
    /// Allow the user to enroll a first factor from a fleet host when the service's
    /// `[fleet] first_enrollment = "admin"` (a user who has a factor needs a current one to
    /// change anything, opted in or not).
    OptIn {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
    },
    /// Withdraw `opt-in` (factors already enrolled stay).
    OptOut {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
    },
}

/// `host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Register a host and write its credential (JSON, mode 0600) for the PAM module.
    Add {
        /// The host's name (shown on devices).
        name: String,
        /// Credential file to create (refuses to overwrite); `-` prints it to standard output
        /// instead (e.g. `runuser -u mfa-pushd -- mfa-pushd host add web1 --out - | ssh web1
        /// 'umask 077; cat > /etc/pam_mfa/push-host.json'`).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Revoke a host: its token stops working at once.
    Revoke {
        /// The host's name.
        name: String,
    },
    /// List hosts.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users with devices or a fraud cooldown.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices.
    List {
        /// Only this user's devices.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: it can no longer authenticate or receive challenges.
    Revoke {
        /// The device id (ids may start with '-': taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_id_starting_with_a_hyphen_is_an_id() {
        let id = "-8AAAAAAAAAAAAAAAAAAAAA";
        let c = Cli::try_parse_from(["mfa-pushd", "device", "revoke", id]).unwrap();
        assert!(
            matches!(c.command, Command::Device(DeviceCommand::Revoke { id: ref got }) if got == id)
        );
    }
}
