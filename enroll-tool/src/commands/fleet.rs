//! `mfa-enroll totp|recovery-codes|status|remove` on a fleet host: a configuration with a
//! `[fleet]` table and a rule with `backend = "fleet"`. They act on the user's record at the
//! fleet's service (`POST /v2/fleet/enroll`, `/v2/fleet/status`) with the host credential,
//! which only root can read. The service decides: a user who has a factor changes nothing
//! without a current one (asked for here, checked and used up there, counted towards the
//! fleet-wide lockout); a first factor needs the service's `first_enrollment` to allow it.
//! The TOTP secret is made here, shown once, sent with the code that proves the app has it,
//! and forgotten; recovery codes are made by the service and shown here once.

use super::totp::{Enrollment, hostname, qr_target, show_secret, write_qr_file};
use crate::cli::{Cli, Command, JsonArgs, RecoveryArgs, RemoveArgs, TotpArgs};
use crate::context::{load_config, target_user};
use crate::error::{Error, Result};
use crate::output::{write_json, write_recovery_codes};
use crate::prompt::Console;
use crate::selfservice::Terminal;
use mfa_login::config::Config;
use mfa_login::enroll::PendingTotp;
use mfa_login::fleet::FleetError;
pub(super) use mfa_login::fleet::enroll::code_proof;
use mfa_login::fleet::enroll::{FleetUser, Stop, new_totp};
use mfa_login::login::{Clock, SystemClock};
use mfa_login::policy::Backend;
use mfa_login::username::UserName;
use mfa_remote::fleet::FleetClient;
use push_proto::fleet_enroll::{Change, EnrollResponse, Proof, StatusResponse};
use std::io::Write;
use zeroize::Zeroizing;

/// Whether this host's configuration puts factors at the fleet's service.
fn fleet_host(cfg: &Config) -> bool {
    cfg.fleet.is_some() && cfg.rules.iter().any(|r| r.backend == Some(Backend::Fleet))
}

/// Runs the command at the service if this is a fleet host and the command is one of those;
/// `Ok(false)`: not handled here (standalone, exactly as before).
pub(crate) fn route(cli: &Cli, console: &mut Console<'_>) -> Result<bool> {
    if !matches!(
        cli.command,
        Command::Totp(_)
            | Command::Status(_)
            | Command::Remove(_)
            | Command::RecoveryCodes(_)
            | Command::Fido2(_)
            | Command::Push(_)
    ) || !nix::unistd::getuid().is_root()
    {
        return Ok(false);
    }
    // A configuration that does not load is reported by the standalone command, as before.
    let Ok(cfg) = load_config(cli) else { return Ok(false) };
    if !fleet_host(&cfg) {
        return Ok(false);
    }
    let f = At { client: connect(&cfg)?, user: target_user(cli)? };
    match &cli.command {
        Command::Totp(args) => f.totp(&cfg, args, console),
        Command::Status(args) => f.status(&cfg, args, console.out),
        Command::Remove(args) => f.remove(args, console),
        Command::RecoveryCodes(args) => f.recovery(args, console),
        Command::Fido2(args) => super::fleet_keys::run(&f, &cfg, args, console),
        Command::Push(args) => super::fleet_push::run(&f, cli, &cfg, args, console),
        _ => return Ok(false),
    }?;
    Ok(true)
}

fn connect(cfg: &Config) -> Result<FleetClient> {
    let fc = cfg.fleet.as_ref().ok_or_else(|| Error::Usage("no [fleet] table".into()))?;
    FleetClient::new(fc).map_err(|e| Error::Aborted(format!("the fleet service: {e}")))
}

pub(super) fn now() -> Result<u64> {
    Ok(SystemClock.now()?)
}

pub(super) fn nonce() -> Result<String> {
    push_proto::random_token(32).map_err(|e| Error::Aborted(format!("random: {e}")))
}

/// One user at the service: the shared steps ([`mfa_login::fleet::enroll`]) with this
/// command's messages for root.
pub(super) struct At {
    pub(super) client: FleetClient,
    pub(super) user: UserName,
}

/// A step that stopped, for root: the reason as it is (root reads the service's error code).
fn aborted(stop: Stop) -> Error {
    match stop {
        Stop::Service(FleetError::Refused(code)) => Error::Aborted(format!(
            "the fleet service refused the change, nothing changed (the fleet service refused \
             the request: {code})"
        )),
        Stop::NoAnswer => Error::Aborted("no current code entered; nothing changed".into()),
        s => Error::Aborted(format!("the fleet service: {s}")),
    }
}

impl At {
    fn at(&self) -> FleetUser<'_> {
        FleetUser { service: &self.client, user: &self.user, clock: &SystemClock }
    }

    fn with<T>(
        &self,
        step: impl FnOnce(&FleetUser<'_>) -> std::result::Result<T, Stop>,
    ) -> Result<T> {
        step(&self.at()).map_err(aborted)
    }

    pub(super) fn fetch_status(&self) -> Result<StatusResponse> {
        self.with(|u| u.status())
    }

    pub(super) fn send(&self, proof: Option<Proof>, change: Change) -> Result<EnrollResponse> {
        self.with(|u| u.send(proof, change))
    }

    /// With a user who has a factor: asks for a current one (a code from the app, or a
    /// recovery code), which the service checks and uses up.
    pub(super) fn proof(
        &self,
        st: &StatusResponse,
        console: &mut Console<'_>,
    ) -> Result<Option<Proof>> {
        let mut terminal = Terminal { console };
        match self.at().proof(st, &mut terminal) {
            Ok(p) => Ok(p),
            Err(Stop::NotOptedIn) => Err(Error::Aborted(format!(
                "{} has no factor yet and the fleet's service does not allow a first \
                 enrollment from a host (first_enrollment = \"admin\"): ask the admin to \
                 opt the user in",
                self.user
            ))),
            Err(s) => Err(aborted(s)),
        }
    }

    fn status(&self, cfg: &Config, args: &JsonArgs, out: &mut dyn Write) -> Result<()> {
        let st = match self.fetch_status() {
            Ok(st) => st,
            // The service cannot answer: what this host can still check offline.
            Err(e) if !args.json => {
                let offline =
                    super::fleet_offline::describe(cfg, &self.client, &self.user, now()?)?;
                let text = format!(
                    "{} (the fleet's service did not answer)
{offline}",
                    self.user
                );
                out.write_all(text.as_bytes()).map_err(Error::stdout)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if args.json {
            return write_json(out, &st);
        }
        let totp = st.totp.as_ref().map_or_else(
            || "none".to_string(),
            |t| format!("{} {} digits every {} s", t.algorithm.as_str(), t.digits, t.step),
        );
        let mut text = format!(
            "{} (at the fleet's service)\n  TOTP:           {totp}\n  Recovery codes: {} unused\n",
            self.user, st.recovery_codes
        );
        if let Some(until) = st.locked_until {
            text.push_str(&format!("  Locked out until {}\n", crate::output::utc(until)));
        }
        if !st.enrolled() {
            let first = if st.may_enroll_first { "may enroll" } else { "needs the admin's opt-in" };
            text.push_str(&format!("  Not enrolled; {first}\n"));
        }
        text.push_str(&super::fleet_offline::describe(cfg, &self.client, &self.user, now()?)?);
        out.write_all(text.as_bytes()).map_err(Error::stdout)
    }

    fn recovery(&self, args: &RecoveryArgs, console: &mut Console<'_>) -> Result<()> {
        let st = self.fetch_status()?;
        if st.recovery_codes > 0 && !args.regenerate {
            writeln!(console.out, "{} has {} unused recovery codes at the fleet's service (--regenerate makes a new set).", self.user, st.recovery_codes).map_err(Error::stdout)?;
            return Ok(());
        }
        let proof = if args.json {
            // With --json, standard output carries only the JSON: the question for the
            // current code goes to standard error (the terminal).
            let mut stderr = std::io::stderr().lock();
            self.proof(&st, &mut Console { input: &mut *console.input, out: &mut stderr })?
        } else {
            self.proof(&st, console)?
        };
        let made = self.send(proof, Change::RecoveryCodes)?;
        let codes: Vec<Zeroizing<String>> =
            made.recovery_codes.into_iter().map(Zeroizing::new).collect();
        if args.json {
            let shown: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            return write_json(console.out, &shown);
        }
        write_recovery_codes(console.out, self.user.as_str(), &codes)
    }

    fn remove(&self, args: &RemoveArgs, console: &mut Console<'_>) -> Result<()> {
        let st = self.fetch_status()?;
        if !st.enrolled() {
            return Err(Error::NotEnrolled(self.user.to_string()));
        }
        let question = format!("Remove every factor of {} at the fleet's service?", self.user);
        if !args.yes && !console.confirm(&question)? {
            return Err(Error::Aborted("nothing removed".into()));
        }
        let proof = self.proof(&st, console)?;
        self.send(proof, Change::RemoveAll)?;
        writeln!(console.out, "Removed every factor of {} at the fleet's service.", self.user)
            .map_err(Error::stdout)
    }

    fn totp(&self, cfg: &Config, args: &TotpArgs, console: &mut Console<'_>) -> Result<()> {
        let target = qr_target(args)?;
        if args.yes {
            return Err(Error::Usage(
                "--yes needs no confirmation code; the fleet's service needs one: run it \
                 interactively"
                    .into(),
            ));
        }
        let st = self.fetch_status()?;
        // Asked first; the service checks it together with the change.
        let proof = self.proof(&st, console)?;
        let account = format!("{}@{}", self.user, hostname()?);
        let pending = PendingTotp::generate(&cfg.totp, &account)?;
        let e = Enrollment {
            uri: pending.uri_string(),
            secret: pending.uri.secret.to_base32(),
            user: self.user.clone(),
            pending,
        };
        write_qr_file(&target, &e.uri)?;
        show_secret(cfg, &e, &target, console.out)?;
        let p = &e.pending.uri.params;
        let prompt = format!("\nEnter the {}-digit code from your app to confirm: ", p.digits);
        let Some(code) = console.ask(&prompt)?.filter(|a| !a.is_empty()) else {
            return Err(Error::Aborted("no code entered; nothing was saved".into()));
        };
        self.send(proof, new_totp(&e.pending, &code))?;
        writeln!(
            console.out,
            "\nThe code is right: the authenticator app is enrolled at the fleet's service."
        )
        .map_err(Error::stdout)
    }
}
