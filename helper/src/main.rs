//! `mfa-helper`: the setuid-root helper of pam_mfa (the `unix_chkpwd` pattern).
//!
//! Screen lockers and `su` run the PAM stack without root, and users run `mfa-enroll` without
//! sudo; the secrets are root-only. This program, installed setuid root, gives such callers the
//! module's logic for **the calling user only** (the user of the real uid; a name in the request
//! is only compared against it), reads only the system configuration
//! (`/etc/pam_mfa/pam_mfa.toml`), trusts nothing from its environment (cleared at start), and
//! speaks the line protocol of [`mfa_core::helper`] on stdin/stdout. Wrong answers count towards
//! the same lockout as the module's, so going through the helper gives no extra guesses. Each
//! use is logged (authpriv).

mod sys;

use mfa_core::account::{self, Account, SystemDirectory};
use mfa_core::config::{Config, DEFAULT_PATH};
use mfa_core::helper::{self, Done, PipeConversation, Request};
use mfa_core::login::SystemClock;
use mfa_core::username::log_safe;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

fn deny(reason: &str, denial: &str) -> Done {
    Done {
        decision: "deny".into(),
        denial: Some(denial.into()),
        factor: None,
        reason: reason.into(),
        status: None,
    }
}

fn op_name(r: &Request) -> &'static str {
    match r {
        Request::Login { .. } => "login",
        Request::EnrollTotp { .. } => "enroll-totp",
        Request::Remove => "remove",
        Request::RegenerateRecoveryCodes => "regenerate-recovery-codes",
        Request::RegisterSecurityKey { .. } => "register-security-key",
        Request::RemoveSecurityKey { .. } => "remove-security-key",
        Request::EnrollPush => "enroll-push",
        Request::RemovePush { .. } => "remove-push",
        Request::Status => "status",
        Request::OptIn => "opt-in",
    }
}

/// The calling account: the real uid's first passwd name.
fn caller() -> Result<Account, String> {
    account::by_uid(&SystemDirectory, nix::unistd::getuid().as_raw()).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    sys::harden();
    sys::open_log();
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let mut output = std::io::stdout().lock();
    let uid = nix::unistd::getuid();

    let fail = |output: &mut dyn Write, why: &str, denial: &str| {
        sys::log(libc::LOG_WARNING, &format!("uid={uid} refused: {why}"));
        let _ = helper::write_line(
            &mut std::io::BufWriter::new(output),
            &helper::Event::Done(Box::new(deny(why, denial))),
        );
        ExitCode::from(1)
    };
    let request = match helper::read_line(&mut input) {
        Ok(Some(line)) => match helper::parse::<Request>(&line) {
            Ok(r) => r,
            Err(e) => return fail(&mut output, &format!("bad request: {e}"), "config"),
        },
        Ok(None) => return fail(&mut output, "no request (input closed)", "conversation"),
        Err(e) => return fail(&mut output, &format!("bad request: {e}"), "config"),
    };
    if !nix::unistd::geteuid().is_root() {
        return fail(&mut output, "not installed setuid root", "unavailable");
    }
    let user = match caller() {
        Ok(u) => u,
        Err(e) => return fail(&mut output, &e, "user"),
    };
    let cfg = match Config::load(Path::new(DEFAULT_PATH)) {
        Ok(c) => c,
        Err(e) => return fail(&mut output, &e.to_string(), "config"),
    };
    let op = op_name(&request);
    let mut conv = PipeConversation::new(input, output);
    let done = mfa_core::selfservice::serve(
        request,
        &user,
        &cfg,
        &mut conv,
        &SystemClock,
        &SystemDirectory,
    );
    sys::log(
        if done.decision == "deny" { libc::LOG_NOTICE } else { libc::LOG_INFO },
        &format!(
            "uid={uid} user=\"{}\" op={op} decision={} reason=\"{}\"",
            log_safe(user.name.as_str()),
            done.decision,
            log_safe(&done.reason)
        ),
    );
    match conv.finish(done) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
