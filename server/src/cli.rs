//! Command line of `mfa-server` (clap definitions; also the source of its man page).

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

/// mfa-server: the central MFA service of pam_mfa.
///
/// Hosts (PAM modules) create login challenges; paired devices approve them with the number
/// shown at login, signing the login they displayed; the service signs a receipt each host
/// verifies. Administration
/// commands work on the database directly; no running service is needed.
#[derive(Debug, Parser)]
#[command(name = "mfa-server", version, about, long_about)]
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
    /// Fleet users' factors, host group restrictions and removal.
    #[command(subcommand)]
    User(FleetUserCommand),
    /// Host groups: which hosts a user's restrictions name (`fleet user groups`).
    #[command(subcommand)]
    Group(FleetGroupCommand),
    /// Read the service's audit log (the last 64 MiB; malformed lines are skipped and
    /// counted).
    Audit {
        /// Only events about this user.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only events about this host (its name or id).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// Only events of the last SECONDS seconds.
        #[arg(long, value_name = "SECONDS")]
        since: Option<u64>,
        /// Only the last N matching events.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// JSON output (`{"events": [...], "skipped_malformed": N}`).
        #[arg(long)]
        json: bool,
    },
    /// Fleet hosts for push: a device paired through one fleet host reaches every fleet host.
    #[command(subcommand)]
    Host(FleetHostCommand),
    /// Offline bundles (issue 21): which hosts hold one for which user until when, revoke
    /// them, mark a host eligible without a login there.
    ///
    /// A fleet host fetches a user's bundle (POST /v2/fleet/offline/bundle) after each
    /// online login and uses it only while the service cannot be reached. The service
    /// answers drop (host outside the user's host groups, no factor, locked out, offline
    /// disabled, or no accepted online login of the user from that host within the bundle
    /// lifetime and no mark, or revoked since), keep (the held bundle is the one last issued,
    /// made from the current factors, valid for more than half its lifetime and its TOTP
    /// window covering more than half a window ahead), a fresh bundle, or later (its TOTP
    /// window is being made in the background: the host keeps what it holds and asks again
    /// at its next contact; windows are made after each accepted online login and by
    /// `mark`, so a bundle request never waits for hashing). Hosts report what
    /// they accepted and refused offline (POST /v2/fleet/offline/report): the fleet-wide
    /// watermark rises, recovery codes are marked used, key counters rise and refusals
    /// count towards the lockout, each use once.
    ///
    /// The service configuration's [offline] table: enabled (true), bundle_lifetime (seconds,
    /// 259200 = 3 days; 3600 to 2592000), totp_window_hours (4; 1 to 24), hash_memory_kib
    /// (16384; 8192 to 262144) and hash_passes (1; 1 to 8), the Argon2id cost of each hashed
    /// code.
    #[command(subcommand)]
    Offline(FleetOfflineCommand),
}

/// `fleet offline ...`. A host gets a user's offline bundle only after an accepted online
/// login of the user from it (within `[offline] bundle_lifetime`) or the admin's `mark`.
#[derive(Debug, Subcommand)]
pub enum FleetOfflineCommand {
    /// List the bundles issued: user, host, issued, expires, last TOTP step of the window.
    List {
        /// The fleet scope.
        #[arg(long, value_name = "SCOPE", default_value = "fleet")]
        scope: String,
        /// Only this user's.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only this host's (its name).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the user's bundles on one host or (default) every host: each host drops its
    /// bundle at its next contact, and gets none until the user's next accepted online login
    /// from it. (A host that cannot reach the service keeps using its bundle until it expires:
    /// remove the user's factors too for an immediate stop at the next contact.)
    Revoke {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// Only on this host (its name).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
    },
    /// Let a host fetch the user's bundle without an online login there first (until
    /// revoked), and make the user's TOTP window for it now (waiting for it: about a second
    /// per hour of window at the default cost), so that the host's next request gets a
    /// bundle at once.
    Mark {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// The host (its name).
        #[arg(long, value_name = "HOST")]
        host: String,
    },
}

/// `fleet group ...`. Group names: 1 to 64 ASCII letters, digits, '.', '_' or '-', starting
/// with a letter or digit.
#[derive(Debug, Subcommand)]
pub enum FleetGroupCommand {
    /// Create an empty host group.
    Add {
        /// The group's name.
        name: String,
    },
    /// Remove a host group; refused while a user's restriction names it (removing it would
    /// lift the restriction).
    Remove {
        /// The group's name.
        name: String,
    },
    /// List host groups and their hosts.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Make a host (by name, as in `host add`) a member of a group.
    AddHost {
        /// The group.
        group: String,
        /// The host's name.
        host: String,
    },
    /// Remove a host from a group.
    RemoveHost {
        /// The group.
        group: String,
        /// The host's name.
        host: String,
    },
}

/// `fleet host ...`.
#[derive(Debug, Subcommand)]
pub enum FleetHostCommand {
    /// Put a host into the fleet's push scope: its users' push devices, paired through any
    /// fleet host, reach it, and devices paired through it reach every fleet host.
    Join {
        /// The host's name (`host list`).
        name: String,
    },
    /// Make a host its own push scope again (as every host is by default).
    Leave {
        /// The host's name.
        name: String,
    },
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
    /// Register security keys for the user at the service: a JSON file (mode 0600) with one
    /// credential as pam_mfa stores it on a host (`{"name", "credential_id", "public_key",
    /// "rp_id", "sign_count", "user_verification", "created"}`, base64url) or a list of them.
    /// The `rp_id` must be the service's `[fleet] rp_id`.
    AddKey {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// The credential file.
        #[arg(long, value_name = "FILE")]
        credential_file: PathBuf,
    },
    /// Remove one of the user's security keys at the service.
    RemoveKey {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// Its credential id (base64url, as `fleet user show` lists it).
        #[arg(long, value_name = "ID")]
        credential_id: String,
    },
    /// Clear the user's failure count and lockout.
    Unlock {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
    },
    /// List users with fleet records: factors, failures, lockout, host groups.
    List {
        /// The fleet scope.
        #[arg(long, value_name = "SCOPE", default_value = "fleet")]
        scope: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove every fleet record of the user (TOTP, recovery codes, security keys, push
    /// devices, lockout, host group restrictions): the user is then unknown on every host.
    Remove {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// Really remove (without it, nothing is changed).
        #[arg(long)]
        yes: bool,
    },
    /// Set, clear or show which host groups may authenticate and enroll the user. No
    /// restriction: every host. A host may enroll a user only where it may also
    /// authenticate them. Without options: show.
    Groups {
        /// Which user.
        #[command(flatten)]
        who: FleetUser,
        /// Groups whose hosts may authenticate the user (G1,G2; "" clears: every host).
        #[arg(long, value_name = "GROUPS")]
        authenticate: Option<String>,
        /// Groups whose hosts may enroll the user (G1,G2; "" clears: as authenticate).
        #[arg(long, value_name = "GROUPS")]
        enroll: Option<String>,
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
        /// instead (e.g. `runuser -u mfa-server -- mfa-server host add web1 --out - | ssh web1
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
        let c = Cli::try_parse_from(["mfa-server", "device", "revoke", id]).unwrap();
        assert!(
            matches!(c.command, Command::Device(DeviceCommand::Revoke { id: ref got }) if got == id)
        );
    }
}
