//! `mfa-enroll` without root: the caller's own enrollment, through the setuid helper.
//!
//! The store is root-only. For the user's own account, `totp`, `push`, `fido2`, `status`,
//! `remove`, `recovery-codes` and `opt-in` are relayed to `mfa-helper` (path from the configuration),
//! which acts only on the calling user and asks for a current code before changing an enrolled
//! factor. The conversation happens on this terminal.

use crate::cli::{Cli, Command, QrTarget};
use crate::error::{Error, Result};
use crate::prompt::Console;
use mfa_login::config::Config;
use mfa_login::enroll::Status;
use mfa_login::helper::{self, Request};
use mfa_login::login::{ConvError, Conversation, Decision, Denial};
use std::io::Write;
use zeroize::Zeroizing;

/// The helper request for a command a user may run on their own account, if it is one.
pub(crate) fn request_for(command: &Command) -> Option<Request> {
    match command {
        Command::Totp(a) if !a.yes && a.qr.as_ref().is_none_or(QrTarget::is_terminal) => {
            Some(Request::EnrollTotp { replace: a.force })
        }
        Command::Status(_) => Some(Request::Status),
        Command::Remove(_) => Some(Request::Remove),
        Command::RecoveryCodes(a) if a.regenerate => Some(Request::RegenerateRecoveryCodes),
        Command::RecoveryCodes(_) => Some(Request::Status),
        Command::OptIn => Some(Request::OptIn),
        Command::Push(a) if a.list => Some(Request::Status),
        Command::Push(a) => match &a.remove {
            Some(name) => Some(Request::RemovePush { name: name.clone() }),
            None => Some(Request::EnrollPush),
        },
        Command::Fido2(a) if a.list => Some(Request::Status),
        Command::Fido2(a) => match (&a.name, &a.remove) {
            (Some(name), _) => {
                Some(Request::RegisterSecurityKey { name: name.clone(), user_verification: a.uv })
            }
            (None, Some(name)) => Some(Request::RemoveSecurityKey { name: name.clone() }),
            (None, None) => None,
        },
        _ => None,
    }
}

/// The terminal as the conversation partner (of the helper, or of core's push enrollment).
pub(crate) struct Terminal<'a, 'b> {
    /// Where prompts go and answers come from.
    pub(crate) console: &'a mut Console<'b>,
}

impl Conversation for Terminal<'_, '_> {
    fn prompt_secret(
        &mut self,
        prompt: &str,
    ) -> std::result::Result<Option<Zeroizing<String>>, ConvError> {
        self.console.ask_hidden(prompt).map_err(|e| ConvError(e.to_string()))
    }
    fn prompt_visible(
        &mut self,
        prompt: &str,
    ) -> std::result::Result<Option<Zeroizing<String>>, ConvError> {
        self.console.ask(prompt).map_err(|e| ConvError(e.to_string()))
    }
    fn info(&mut self, text: &str) {
        let _ = writeln!(self.console.out, "{text}");
    }
    fn error(&mut self, text: &str) {
        let _ = writeln!(self.console.out, "{text}");
    }
    fn set_password(&mut self, _: &str) -> std::result::Result<(), ConvError> {
        Err(ConvError("no password here".into()))
    }
    fn fail_delay(&mut self, _: u32) {}
    fn debug(&mut self, _: &str) {}
}

fn print_status(
    out: &mut dyn Write,
    s: Option<&Status>,
    json: bool,
    count_only: bool,
) -> Result<()> {
    if json {
        let text = serde_json::to_string(&s)
            .map_err(|e| Error::io("encode JSON", std::io::Error::other(e)))?;
        return writeln!(out, "{text}").map_err(Error::stdout);
    }
    let Some(s) = s else {
        return writeln!(out, "Nothing is enrolled.").map_err(Error::stdout);
    };
    if count_only {
        return writeln!(
            out,
            "{} of {} recovery codes left.",
            s.recovery_codes_left,
            mfa_login::recovery::CODE_COUNT
        )
        .map_err(Error::stdout);
    }
    let mut text = format!(
        "{}: {}\n",
        s.user,
        if s.totp_enrolled.is_some() || s.recovery_codes_left > 0 {
            "enrolled"
        } else {
            "not enrolled"
        }
    );
    if let Some(p) = &s.totp_params {
        text.push_str(&format!("  Authenticator app: {p}\n"));
    }
    text.push_str(&format!("  Recovery codes:    {} left\n", s.recovery_codes_left));
    if !s.push_devices.is_empty() {
        text.push_str(&format!("  Push devices:      {}\n", s.push_devices.join(", ")));
    }
    if !s.security_keys.is_empty() {
        text.push_str(&format!("  Security keys:     {}\n", s.security_keys.join(", ")));
    }
    if s.locked_until.is_some() {
        text.push_str("  Locked:            too many wrong codes (an administrator can unlock)\n");
    }
    if s.opted_out {
        text.push_str("  Enrollment:        opted out at login (`mfa-enroll opt-in` undoes it)\n");
    }
    write!(out, "{text}").map_err(Error::stdout)
}

/// Runs `request` through the helper named in the configuration.
pub(crate) fn run(cli: &Cli, request: Request, console: &mut Console<'_>) -> Result<()> {
    if let Command::Remove(a) = &cli.command {
        if !a.yes && !console.confirm("Remove all your second factors?")? {
            return Err(Error::Aborted("nothing was removed".into()));
        }
    }
    let cfg = Config::load(&cli.config)?;
    // The helper replies with the decision only, so a helper that is not setuid root (an
    // administrator's dpkg-statoverride, a copy without the bit) is named here, from its file's
    // mode, which anyone can read.
    if let Ok(meta) = std::fs::metadata(&cfg.helper) {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != 0 || meta.mode() & 0o4000 == 0 {
            return Err(Error::Helper(format!(
                "{} is not installed setuid root, so mfa-enroll cannot act without sudo",
                cfg.helper.display()
            )));
        }
    }
    let mut terminal = Terminal { console };
    let done = helper::call(&cfg.helper, &request, &mut terminal).map_err(|e| {
        Error::Helper(format!("{e} (is {} installed setuid root?)", cfg.helper.display()))
    })?;
    // The helper sends the decision only; why it refused is in its log line (authpriv), and
    // what the user must know it has shown already.
    match done.decision {
        Decision::Success | Decision::Ignore => {}
        Decision::Deny(Denial::AuthFailed | Denial::Conversation) => {
            return Err(Error::Aborted("not confirmed; nothing was changed".into()));
        }
        Decision::Deny(Denial::Config) => {
            return Err(Error::Helper(
                "refused by the configuration (the reason is in the system log)".into(),
            ));
        }
        Decision::Deny(Denial::BadUser) => {
            return Err(Error::Helper(
                "your account cannot use pam_mfa (the reason is in the system log)".into(),
            ));
        }
        Decision::Deny(Denial::Unavailable) | Decision::FailOpen | Decision::Offline => {
            return Err(Error::Helper(
                "the request could not be completed (the reason is in the system log)".into(),
            ));
        }
    }
    if let Command::Push(a) = &cli.command {
        if a.list {
            let names = done.status.map(|s| s.push_devices).unwrap_or_default();
            let text = if names.is_empty() {
                "You have no push device.".to_string()
            } else {
                names.join("\n")
            };
            return writeln!(terminal.console.out, "{text}").map_err(Error::stdout);
        }
        return Ok(());
    }
    if let Command::Fido2(a) = &cli.command {
        if a.list {
            let keys = done.status.map(|s| s.security_keys).unwrap_or_default();
            let text = if keys.is_empty() {
                "You have no security key.".to_string()
            } else {
                keys.join("\n")
            };
            return writeln!(terminal.console.out, "{text}").map_err(Error::stdout);
        }
        return Ok(());
    }
    let (json, count_only) = match &cli.command {
        Command::Status(a) => (a.json, false),
        Command::RecoveryCodes(a) if !a.regenerate => (a.json, true),
        _ => return Ok(()),
    };
    print_status(terminal.console.out, done.status.as_ref(), json, count_only)
}
