//! `mfa-enroll totp`: enrolls an authenticator app.
//!
//! Interactive: the secret is shown (URI, grouped base32, QR code), and saved only after the
//! user typed a current code from the app; that code's step is stored as used. With `--yes`
//! (configuration management) it is saved at once and printed, as text or one JSON object.

use crate::cli::{Cli, QrTarget, TotpArgs};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use crate::output::{group4, warn, write_json, write_recovery_codes};
use crate::prompt::Console;
use crate::qr::{self, Qr, Style};
use mfa_login::config::Config;
use mfa_login::enroll::{Existing, PendingTotp, save_totp};
use mfa_login::login::{Clock, SystemClock};
use mfa_login::store::Store;
use mfa_login::username::UserName;
use serde::Serialize;
use std::io::Write;
use zeroize::Zeroizing;

/// Codes the user may type before the enrollment is abandoned.
const ATTEMPTS: u32 = 3;

/// The `--yes --json` output. Printed once; holds the secret.
#[derive(Serialize)]
struct Provisioned<'a> {
    user: &'a str,
    secret: &'a str,
    uri: &'a str,
    algorithm: &'static str,
    digits: u8,
    period: u64,
    recovery_codes: Vec<&'a str>,
}

/// What is being enrolled, with the secret in its displayed forms.
pub(crate) struct Enrollment {
    pub(crate) user: UserName,
    pub(crate) pending: PendingTotp,
    pub(crate) uri: Zeroizing<String>,
    pub(crate) secret: Zeroizing<String>,
}

/// Runs `mfa-enroll totp`.
pub(crate) fn run(cli: &Cli, args: &TotpArgs, console: &mut Console<'_>) -> Result<()> {
    let target = qr_target(args)?;
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    let force = args.force || args.yes;
    if !force {
        refuse_if_enrolled(&store, &user)?;
    }
    let account = format!("{user}@{}", hostname()?);
    let pending = PendingTotp::generate(&cfg.totp, &account)?;
    let e = Enrollment {
        uri: pending.uri_string(),
        secret: pending.uri.secret.to_base32(),
        user,
        pending,
    };
    // Write the image first: if the file exists, stop before any secret is shown.
    write_qr_file(&target, &e.uri)?;
    if args.yes {
        provision(&cfg, &store, &e, args.json, &target, console.out)
    } else {
        interactive(&cfg, &store, &e, &target, console, force)
    }
}

/// The QR form: `--qr`, or by default `ansi` (text) and `none` (JSON, which must be alone on
/// standard output).
pub(crate) fn qr_target(args: &TotpArgs) -> Result<QrTarget> {
    match (&args.qr, args.json) {
        (Some(t), true) if t.is_terminal() => Err(Error::Usage(
            "--json prints only JSON on standard output; use --qr svg:FILE, png:FILE or none"
                .into(),
        )),
        (Some(t), _) => Ok(t.clone()),
        (None, true) => Ok(QrTarget::None),
        (None, false) => Ok(QrTarget::Ansi),
    }
}

fn refuse_if_enrolled(store: &Store, user: &UserName) -> Result<()> {
    match store.load(user)? {
        Some(record) if record.totp.is_some() => Err(Error::AlreadyEnrolled(user.to_string())),
        _ => Ok(()),
    }
}

pub(crate) fn hostname() -> Result<String> {
    mfa_login::host::hostname().map_err(|e| Error::io("get the host name", e))
}

pub(crate) fn write_qr_file(target: &QrTarget, uri: &str) -> Result<()> {
    let (path, data) = match target {
        QrTarget::Svg(path) => {
            (path, Zeroizing::new(qr::svg(&Qr::encode(uri)?).as_bytes().to_vec()))
        }
        QrTarget::Png(path) => (path, qr::png(&Qr::encode(uri)?)?),
        QrTarget::Ansi | QrTarget::Plain | QrTarget::None => return Ok(()),
    };
    qr::write_new_private_file(path, &data)?;
    // On stderr: with --json, stdout carries only the JSON object.
    warn(&format!(
        "the QR code was written to {} (mode 0600); it contains the secret: delete it once \
         the app is set up",
        path.display()
    ));
    Ok(())
}

/// Shows the secret as a terminal QR code (if asked), grouped base32 and URI.
pub(crate) fn show_secret(
    cfg: &Config,
    e: &Enrollment,
    target: &QrTarget,
    out: &mut dyn Write,
) -> Result<()> {
    let mut text = Zeroizing::new(String::new());
    let style = match target {
        QrTarget::Ansi => Some(Style::Ansi),
        QrTarget::Plain => Some(Style::Plain),
        _ => None,
    };
    if let Some(style) = style {
        text.push_str("Scan this QR code with the app, or enter the secret by hand:\n\n");
        text.push_str(&qr::terminal(&Qr::encode(&e.uri)?, style));
        text.push('\n');
    }
    let p = &e.pending.uri.params;
    let lines = format!(
        "Account:    {account} (issuer {issuer})\n\
         Secret:     {secret}\n\
         Type:       time-based (TOTP), {alg}, {digits} digits, every {step} s\n\
         URI:        {uri}\n",
        account = e.pending.uri.account,
        issuer = cfg.totp.issuer,
        secret = group4(&e.secret).as_str(),
        alg = p.algorithm.name(),
        digits = p.digits,
        step = p.step,
        uri = e.uri.as_str(),
    );
    text.push_str(&Zeroizing::new(lines));
    out.write_all(text.as_bytes()).map_err(Error::stdout)
}

fn interactive(
    cfg: &Config,
    store: &Store,
    e: &Enrollment,
    target: &QrTarget,
    console: &mut Console<'_>,
    force: bool,
) -> Result<()> {
    writeln!(console.out, "Enrolling an authenticator app for {}.\n", e.user)
        .map_err(Error::stdout)?;
    show_secret(cfg, e, target, console.out)?;
    writeln!(console.out).map_err(Error::stdout)?;
    let prompt =
        format!("Enter the {}-digit code from your app to confirm: ", e.pending.uri.params.digits);
    for attempt in 1..=ATTEMPTS {
        let answer = console.ask(&prompt)?;
        let Some(code) = answer.filter(|a| !a.is_empty()) else {
            return Err(Error::Aborted("no code entered; nothing was saved".into()));
        };
        let now = SystemClock.now()?;
        if let Some(step) = e.pending.confirm(&code, now, cfg.totp.window) {
            // Checked again under the user's lock: someone may have enrolled this user while
            // we waited for the code.
            let existing = if force { Existing::Replace } else { Existing::Keep };
            let codes = save_totp(store, &e.user, &e.pending, Some(step), now, existing, true)?;
            writeln!(console.out, "\nThe code is right: the authenticator app is enrolled.")
                .map_err(Error::stdout)?;
            return write_recovery_codes(console.out, e.user.as_str(), &made(codes)?);
        }
        let left = ATTEMPTS - attempt;
        if left > 0 {
            writeln!(
                console.out,
                "That code is not right. Check that the phone's time is correct and type the \
                 code shown now ({left} attempt{} left).",
                if left == 1 { "" } else { "s" }
            )
            .map_err(Error::stdout)?;
        }
    }
    Err(Error::ConfirmationFailed)
}

fn provision(
    cfg: &Config,
    store: &Store,
    e: &Enrollment,
    json: bool,
    target: &QrTarget,
    out: &mut dyn Write,
) -> Result<()> {
    let now = SystemClock.now()?;
    let codes = made(save_totp(store, &e.user, &e.pending, None, now, Existing::Replace, true)?)?;
    if json {
        let p = &e.pending.uri.params;
        return write_json(
            out,
            &Provisioned {
                user: e.user.as_str(),
                secret: &e.secret,
                uri: &e.uri,
                algorithm: p.algorithm.name(),
                digits: p.digits,
                period: p.step,
                recovery_codes: codes.iter().map(|c| c.as_str()).collect(),
            },
        );
    }
    writeln!(out, "Enrolled an authenticator app for {} (without a confirmation code).\n", e.user)
        .map_err(Error::stdout)?;
    show_secret(cfg, e, target, out)?;
    write_recovery_codes(out, e.user.as_str(), &codes)
}

/// The recovery codes `save_totp` made (it always makes them when asked to).
fn made(codes: Option<Vec<Zeroizing<String>>>) -> Result<Vec<Zeroizing<String>>> {
    codes
        .ok_or_else(|| Error::Core(mfa_login::Error::Invalid("no recovery codes were made".into())))
}
