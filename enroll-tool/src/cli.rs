//! The command line, defined with clap. Every command's `--help` explains what it changes and
//! shows an example.

use clap::{Args, Parser, Subcommand, ValueEnum};
use mfa_login::config::DEFAULT_PATH;
use std::path::PathBuf;

const MAIN_AFTER_HELP: &str = "\
Examples:
  sudo mfa-enroll init                      create the master key and state directory
  sudo mfa-enroll --user alice totp         enroll alice's phone (she types a code to confirm)
  sudo mfa-enroll --user alice status       show what alice has enrolled

Without sudo, users manage their own account (totp, push, fido2, status, remove,
recovery-codes, opt-in) through the setuid helper; changing an enrolled factor asks for a
current code first.
On a fleet host ([fleet] and a rule with backend = \"fleet\"), totp, recovery-codes, status
and remove act on the user's record at the fleet's service: as root with --user, or without
sudo for the user's own account through the setuid helper (which reads the host credential;
the caller never sees it). The service checks the current code, and the codes it makes are
shown once.
`sudo mfa-enroll migrate-to-fleet --all` moves a standalone host's records to the fleet's
service (see its --help).
Everything else, and --user, is for root.
Exit status: 0 ok, 1 error, 2 wrong usage, 3 not confirmed (wrong code, no answer, declined).";

/// Enroll authenticator apps (TOTP) and manage recovery codes for pam_mfa.
#[derive(Debug, Parser)]
#[command(name = "mfa-enroll", version, after_help = MAIN_AFTER_HELP)]
pub(crate) struct Cli {
    /// Configuration file (must be owned by root and not group- or world-writable)
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub(crate) config: PathBuf,

    /// Act for this user instead of the one running the command (root only)
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) user: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the master key and the state directories if they are missing
    #[command(
        long_about = "Create the master key and the state directories named in the \
                      configuration if they are missing, and check the ones that exist. \
                      Safe to run again: nothing that exists is changed. The installer runs it.",
        after_help = "Example:\n  sudo mfa-enroll init\n  sudo mfa-enroll --config /etc/pam_mfa/test.toml init"
    )]
    Init,

    /// Enroll an authenticator app: shows a QR code, then asks for a code to confirm
    #[command(
        long_about = "Enroll an authenticator app (Google Authenticator, Aegis, FreeOTP, ...).\n\n\
                      A new 160-bit secret is made and shown as an otpauth:// URI, as text for \
                      manual entry and as a QR code. The enrollment is saved only after a code \
                      from the app is typed correctly (3 attempts). Then 10 new recovery codes \
                      are shown, once; they replace any earlier set.\n\n\
                      With --yes nothing is asked: the secret is saved at once (for \
                      configuration management, which hands it to the user another way).",
        after_help = "Examples:\n  \
                      sudo mfa-enroll --user alice totp\n  \
                      sudo mfa-enroll --user alice totp --qr png:/root/alice-qr.png\n  \
                      sudo mfa-enroll --user bob totp --yes --json > bob.json"
    )]
    Totp(TotpArgs),

    /// Show whether a user is enrolled: TOTP, push devices, security keys, recovery codes left
    #[command(
        long_about = "Show whether the user is enrolled: the TOTP parameters and when it was \
                      enrolled, the paired push devices (name and id), the registered security \
                      keys, and how many recovery codes are left. A user who is not enrolled \
                      is reported as such (exit status 0). Secrets are never shown.",
        after_help = "Examples:\n  sudo mfa-enroll status\n  sudo mfa-enroll --user alice status --json"
    )]
    Status(JsonArgs),

    /// List every enrolled user with the same summary as `status`
    #[command(after_help = "Examples:\n  sudo mfa-enroll list\n  sudo mfa-enroll list --json")]
    List(JsonArgs),

    /// Remove all second factors of a user (TOTP and recovery codes)
    #[command(
        long_about = "Remove everything stored for the user: the authenticator app's secret and \
                      the recovery codes. Asks for confirmation unless --yes is given. \
                      Whether the user can then log in depends on the PAM configuration \
                      (nullok).",
        after_help = "Examples:\n  sudo mfa-enroll --user alice remove\n  sudo mfa-enroll --user alice remove --yes"
    )]
    Remove(RemoveArgs),

    /// Show how many recovery codes are left, or make a new set
    #[command(
        long_about = "Without options: show how many unused recovery codes the user has left.\n\n\
                      With --regenerate: make a new set of 10 codes and show it once. Every \
                      earlier code stops working. The user must be enrolled.",
        after_help = "Examples:\n  sudo mfa-enroll --user alice recovery-codes\n  \
                      sudo mfa-enroll --user alice recovery-codes --regenerate"
    )]
    RecoveryCodes(RecoveryArgs),

    /// Register, list or remove security keys (FIDO2: YubiKey, SoloKey, Nitrokey, ...)
    #[command(
        long_about = "Register a security key for the user (--name), list the registered keys \
                      (--list) or remove one (--remove NAME). Registering asks for one touch to \
                      create the credential and one more to confirm it works; only then is it \
                      saved. With --uv every login with this key also needs the key's PIN (or \
                      fingerprint). Keys work at the console, in desktop logins, for sudo and \
                      su; they cannot be used over SSH (use a code there).\n\n\
                      On a fleet host (a [fleet] table and a rule with backend = \"fleet\"), \
                      the key is registered at the fleet's service for the fleet's RP id \
                      ([fleet] rp_id of mfa-server, default pam://fleet) and works on every \
                      fleet host. A user who has a factor there proves a current one: when the \
                      user has a key at the service and this is not an SSH session, Enter at \
                      the prompt uses the key (it signs the service's enrollment challenge), \
                      or type a code from the app or a recovery code. --list shows how many \
                      keys the user has at the service; keys there are removed all at once \
                      with `mfa-enroll remove` or one by one by the admin (mfa-server fleet \
                      user remove-key).",
        after_help = "Examples:\n  sudo mfa-enroll --user alice fido2 --name yubikey-blue\n  \
                      sudo mfa-enroll --user alice fido2 --name work-key --uv\n  \
                      sudo mfa-enroll --user alice fido2 --list\n  \
                      sudo mfa-enroll --user alice fido2 --remove yubikey-blue"
    )]
    Fido2(Fido2Args),

    /// Pair a phone for push approval (mfa-server), list or remove push devices
    #[command(
        long_about = "Pair a phone (or the mfa-push-device CLI) for push approval through the \
                      push service named in [push] of pam_mfa.toml. Shows a one-time pairing link \
                      as a QR code; once the device has paired it shows a pairing code, which \
                      you type here (a device that is not yours gives another code and is \
                      refused); then a test push is sent to it, and only when it is approved \
                      with the number shown here is the device saved. Users without recovery \
                      codes get them. At login, the prompt then shows the number to type on \
                      the phone; typing a code instead always works.\n\n\
                      --list shows the paired devices, --remove NAME forgets one on this host \
                      (the push service keeps it paired until `mfa-server device revoke`).\n\n\
                      On a fleet host (a [fleet] table and a rule with backend = \"fleet\"; \
                      root with --user), the confirmed device is not saved here but registered \
                      at the fleet's service, after a current code if the user has a factor \
                      there, and approves the user's logins on every fleet host whose [push] \
                      names the same service.",
        after_help = "Examples:\n  mfa-enroll push                      pair your own phone\n  \
                      sudo mfa-enroll --user alice push\n  \
                      mfa-enroll push --list\n  \
                      mfa-enroll push --remove pixel"
    )]
    Push(PushArgs),

    /// Import an enrollment from another PAM module (google-authenticator)
    #[command(
        long_about = "Import a user's enrollment from another PAM module, so the user keeps the \
                      same authenticator app entry and codes.\n\n\
                      pam-u2f: the user's line of a pam_u2f authfile (both formats, options \
                      +presence, +verification, +pin); the keys keep working for the same RP id \
                      (--rp-id, default pam://<hostname> like pam_u2f's origin).\n\n\
                      google-authenticator: a ~/.google_authenticator file (time-based only). \
                      The secret and STEP_SIZE are kept; WINDOW_SIZE becomes this user's window; \
                      the time steps listed by DISALLOW_REUSE stay used; the scratch codes \
                      become single-use recovery codes (typed as the 8 digits). RATE_LIMIT and \
                      TIME_SKEW are not carried over: pam_mfa's [lockout] applies. The file is \
                      not changed; remove it and pam_google_authenticator's PAM line once \
                      pam_mfa is in place.",
        after_help = "Example:\n  sudo mfa-enroll --user alice import google-authenticator ~alice/.google_authenticator"
    )]
    Import(ImportArgs),

    /// Check the PAM stacks and sshd configuration for ways around pam_mfa and lockouts
    #[command(
        long_about = "Read /etc/pam.d (following @include, include and substack) and the sshd \
                      configuration (Include, Match) and report every stack where pam_mfa can \
                      be bypassed or locks everyone out: its control (sufficient, optional, \
                      [...]), arguments, position before the password, a missing module or \
                      pam_permit, a configuration that does not load, a store in which nobody \
                      is enrolled yet, and the sshd settings UsePAM, KbdInteractiveAuthentication, \
                      AuthenticationMethods and PasswordAuthentication. Each finding names the \
                      file and line, says what follows from it and how to fix it. Nothing is \
                      changed.\n\n\
                      --root DIR checks the files below DIR instead (an image or a copy; root \
                      is not needed then). --config names the configuration used by pam_mfa \
                      lines without config= (read as given; by default /etc/pam_mfa/pam_mfa.toml \
                      below the root).\n\n\
                      Exit status: 0 when there are no errors (warnings allowed), 1 with errors.",
        after_help = "Examples:\n  sudo mfa-enroll doctor\n  \
                      sudo mfa-enroll doctor --json\n  \
                      mfa-enroll doctor --root /srv/images/web01"
    )]
    Doctor(DoctorArgs),

    /// Be offered enrollment at login again (undo "opt out", reset the skips)
    #[command(
        long_about = "Undo an \"opt out\" chosen in the enroll-on-login menu and reset the \
                      number of skipped enrollments, so the menu is offered again at the next \
                      login. Used by the user, or by an administrator with --user.",
        after_help = "Examples:\n  sudo mfa-enroll --user alice opt-in"
    )]
    OptIn,

    /// Administration: unlock a user's second factor after too many wrong codes
    #[command(subcommand)]
    Admin(AdminCommand),

    /// Move this host's standalone records to the fleet's service ([fleet] in the configuration)
    #[command(
        long_about = "Upload a user's (--user) or every user's (--all) standalone records to \
                      the fleet's service named in [fleet]: the TOTP secret with its \
                      parameters and its watermark (a code already used here stays refused \
                      everywhere), the unused recovery codes (as their hashes: the codes the \
                      user holds keep working, each once in the whole fleet) and the security \
                      keys registered for the fleet's RP id ([fleet] rp_id). Keys for another \
                      RP id are reported \"register again on the fleet\", push devices \"pair \
                      again\", imported scratch codes \"make new recovery codes\".\n\n\
                      The service takes a user's records only when the user has no factor \
                      there: otherwise the line says conflict and nothing is sent into the \
                      record or overwritten (there is no --replace: remove the user at the \
                      service first, `mfa-server fleet user remove`, if the host's record is \
                      the one to keep). Host groups and first_enrollment apply as to a first \
                      enrollment. One line per user: migrated, conflict, refused or outage. \
                      --dry-run reads and reports without contacting the service. The local \
                      records stay; switch the host's rules to backend = \"fleet\" right after, \
                      then remove them with `mfa-enroll remove` when you are sure.\n\n\
                      Exit status: 0 when every user was migrated, 1 otherwise.",
        after_help = "Examples:\n  sudo mfa-enroll migrate-to-fleet --all --dry-run\n  \
                      sudo mfa-enroll migrate-to-fleet --all\n  \
                      sudo mfa-enroll --user alice migrate-to-fleet"
    )]
    MigrateToFleet(MigrateArgs),

    /// Fleet hosts: fetch offline bundles now and report offline logins to the service
    #[command(
        long_about = "On a fleet host ([fleet] with offline = true): contact the fleet's \
                      service for the user (--user, or yourself) or, with --all, for every \
                      user this host holds or awaits an offline bundle for. Offline logins \
                      not yet reported are reported; the bundle is fetched, kept or dropped \
                      as the service says (a bundle takes the service a few seconds to make, \
                      so the first login of a user on a host may leave it 'being made' until \
                      the next contact). Logins do this by themselves after every answer of \
                      the service; run this from a timer, or before maintenance, to have \
                      bundles ready. One line per user; exit status 1 if any contact failed.",
        after_help = "Examples:\n  sudo mfa-enroll offline-bundles --all\n  \
                      sudo mfa-enroll --user alice offline-bundles"
    )]
    OfflineBundles(OfflineBundlesArgs),
}

/// Options of `migrate-to-fleet`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Migrate every user with a record on this host (instead of --user NAME)
    #[arg(long)]
    pub(crate) all: bool,

    /// Read and report what would be sent; contact nothing, change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// Options of `offline-bundles`.
#[derive(Debug, Args)]
pub(crate) struct OfflineBundlesArgs {
    /// Every user this host holds or awaits an offline bundle for
    #[arg(long)]
    pub(crate) all: bool,
}

/// `mfa-enroll admin ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Clear the wrong-code counter and lock of a user
    #[command(
        long_about = "Clear the user's wrong-code counter and lift the lock set after too many \
                      wrong codes ([lockout] in the configuration). `status` shows whether a \
                      user is locked.",
        after_help = "Example:\n  sudo mfa-enroll --user alice admin unlock"
    )]
    Unlock,
}

impl Command {
    /// The subcommand's name as typed, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Command::Init => "init",
            Command::Totp(_) => "totp",
            Command::Status(_) => "status",
            Command::List(_) => "list",
            Command::Remove(_) => "remove",
            Command::RecoveryCodes(_) => "recovery-codes",
            Command::OptIn => "opt-in",
            Command::Import(_) => "import",
            Command::Fido2(_) => "fido2",
            Command::Push(_) => "push",
            Command::Doctor(_) => "doctor",
            Command::Admin(AdminCommand::Unlock) => "admin unlock",
            Command::MigrateToFleet(_) => "migrate-to-fleet",
            Command::OfflineBundles(_) => "offline-bundles",
        }
    }
}

/// Options of `fido2`.
#[derive(Debug, Args)]
pub(crate) struct Fido2Args {
    /// Register a new key under this name (e.g. yubikey-blue)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["list", "remove"], required_unless_present_any = ["list", "remove"])]
    pub(crate) name: Option<String>,

    /// Require user verification (the key's PIN or fingerprint) at every login with this key
    /// (--pin is the same: in CTAP2 a PIN is user verification)
    #[arg(long, alias = "pin", requires = "name")]
    pub(crate) uv: bool,

    /// List the user's registered keys
    #[arg(long, conflicts_with = "remove")]
    pub(crate) list: bool,

    /// Remove the key with this name
    #[arg(long, value_name = "NAME")]
    pub(crate) remove: Option<String>,
}

/// Options of `push`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// List the user's paired push devices
    #[arg(long, conflicts_with = "remove")]
    pub(crate) list: bool,

    /// Forget the push device with this name (or id; ids may start with '-') on this host
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub(crate) remove: Option<String>,
}

/// Options of `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The format of FILE
    #[arg(value_enum)]
    pub(crate) format: ImportFormat,

    /// The file to import (a regular file; symbolic links are refused)
    pub(crate) file: PathBuf,

    /// Replace an existing enrollment of the user
    #[arg(long)]
    pub(crate) force: bool,

    /// pam-u2f: the RP id (pam_u2f's `origin`) the keys were registered for, if not the
    /// configured one (default pam://<hostname>)
    #[arg(long, value_name = "ID")]
    pub(crate) rp_id: Option<String>,
}

/// Formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFormat {
    /// A ~/.google_authenticator file (google-authenticator-libpam).
    GoogleAuthenticator,
    /// A pam_u2f authfile (central file or ~/.config/Yubico/u2f_keys); the user's line.
    PamU2f,
}

/// Options of `doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Check the files below DIR instead of / (DIR/etc/pam.d, DIR/etc/ssh/sshd_config, the
    /// pam_mfa configuration and store); root is not needed
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,

    /// Print the findings as one JSON array instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

/// Options of `totp`.
#[derive(Debug, Args)]
pub(crate) struct TotpArgs {
    /// Replace an existing enrollment (the old app's codes stop working)
    #[arg(long)]
    pub(crate) force: bool,

    /// Do not ask for a code: save the secret at once (implies --force)
    #[arg(long)]
    pub(crate) yes: bool,

    /// With --yes: print one JSON object (user, secret, uri, algorithm, digits, period,
    /// recovery_codes) and nothing else on stdout
    #[arg(long, requires = "yes")]
    pub(crate) json: bool,

    /// How to show the QR code: ansi (terminal, black on white; the default), plain (terminal,
    /// no colour codes, for light text on a dark background), none, svg:FILE or png:FILE (write
    /// an image; the file must not exist and is created with mode 0600: it holds the secret)
    #[arg(long, value_name = "FORM", value_parser = QrTarget::parse)]
    pub(crate) qr: Option<QrTarget>,
}

/// Where the QR code goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QrTarget {
    /// Unicode half blocks with explicit colours (black on bright white).
    Ansi,
    /// Unicode half blocks without colour codes; light modules are drawn as blocks.
    Plain,
    /// No QR code.
    None,
    /// An SVG image file.
    Svg(PathBuf),
    /// A PNG image file.
    Png(PathBuf),
}

impl QrTarget {
    /// Parses the `--qr` value.
    fn parse(s: &str) -> Result<QrTarget, String> {
        let file = |p: &str| {
            if p.is_empty() {
                Err("a file name is needed after ':'".to_string())
            } else {
                Ok(PathBuf::from(p))
            }
        };
        match s {
            "ansi" => Ok(QrTarget::Ansi),
            "plain" => Ok(QrTarget::Plain),
            "none" => Ok(QrTarget::None),
            _ => match s.split_once(':') {
                Some(("svg", p)) => file(p).map(QrTarget::Svg),
                Some(("png", p)) => file(p).map(QrTarget::Png),
                _ => Err("expected ansi, plain, none, svg:FILE or png:FILE".to_string()),
            },
        }
    }

    /// True for the forms drawn on standard output.
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, QrTarget::Ansi | QrTarget::Plain)
    }
}

/// The `--json` option.
#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

/// Options of `remove`.
#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub(crate) yes: bool,
}

/// Options of `recovery-codes`.
#[derive(Debug, Args)]
pub(crate) struct RecoveryArgs {
    /// Make a new set of 10 codes; every earlier code stops working
    #[arg(long)]
    pub(crate) regenerate: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn qr_values() {
        assert_eq!(QrTarget::parse("ansi"), Ok(QrTarget::Ansi));
        assert_eq!(QrTarget::parse("none"), Ok(QrTarget::None));
        assert_eq!(QrTarget::parse("png:/tmp/a:b.png"), Ok(QrTarget::Png("/tmp/a:b.png".into())));
        assert_eq!(QrTarget::parse("svg:x.svg"), Ok(QrTarget::Svg("x.svg".into())));
        for bad in ["", "png:", "jpg:x", "ANSI", "svg"] {
            assert!(QrTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_needs_yes_for_totp() {
        assert!(Cli::try_parse_from(["mfa-enroll", "totp", "--json"]).is_err());
        let cli = Cli::try_parse_from(["mfa-enroll", "--user", "bob", "totp", "--yes", "--json"])
            .expect("valid");
        assert_eq!(cli.user.as_deref(), Some("bob"));
        assert_eq!(cli.config, PathBuf::from(DEFAULT_PATH));
    }
}
