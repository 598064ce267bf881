//! `mfa-helper`: the setuid-root helper of pam_mfa (the `unix_chkpwd` pattern).
//!
//! On a fleet host, enrollment requests go to the fleet's service
//! ([`mfa_login::selfservice_fleet`]), with the host credential read here as root.
//!
//! Screen lockers and `su` run the PAM stack without root, and users run `mfa-enroll` without
//! sudo; the secrets are root-only. This program, installed setuid root, gives such callers the
//! module's logic for **the calling user only** (the user of the real uid; a name in the request
//! is only compared against it), reads only the system configuration
//! (`/etc/pam_mfa/pam_mfa.toml`), trusts nothing from its environment (cleared at start), and
//! speaks the line protocol of [`mfa_login::helper`] on stdin/stdout. Wrong answers count towards
//! the same lockout as the module's, so going through the helper gives no extra guesses. Each
//! use is logged (authpriv).

mod sys;

use mfa_login::account::{self, Account, SystemDirectory};
use mfa_login::config::{Config, DEFAULT_PATH};
use mfa_login::helper::{self, Done, PipeConversation, Request};
use mfa_login::login::{ConvError, Conversation, Decision, Denial, Factor, SystemClock};
use mfa_login::username::log_safe;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

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

/// Whether `request` would change or show factors on a fleet host (`[fleet]` and a rule with
/// `backend = "fleet"`), where they are the service's, not this host's store's.
fn fleet_enrollment(cfg: &Config, request: &Request) -> bool {
    let fleet = cfg.fleet.is_some()
        && cfg.rules.iter().any(|r| r.backend == Some(mfa_login::policy::Backend::Fleet));
    fleet && !matches!(request, Request::Login { .. })
}

/// The calling account: the real uid's first passwd name.
fn caller(uid: u32) -> Result<Account, String> {
    account::by_uid(&SystemDirectory, uid).map_err(|e| e.to_string())
}

/// The pipe conversation, with debug lines going to this helper's log instead of the caller
/// (they describe the record and the policy).
struct Logged<R: BufRead, W: Write>(PipeConversation<R, W>);

impl<R: BufRead, W: Write> Conversation for Logged<R, W> {
    fn prompt_secret(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.0.prompt_secret(p)
    }
    fn prompt_visible(&mut self, p: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.0.prompt_visible(p)
    }
    fn info(&mut self, text: &str) {
        self.0.info(text)
    }
    fn error(&mut self, text: &str) {
        self.0.error(text)
    }
    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        self.0.set_password(password)
    }
    fn fail_delay(&mut self, ms: u32) {
        self.0.fail_delay(ms)
    }
    fn debug(&mut self, text: &str) {
        sys::log(libc::LOG_DEBUG, text);
    }
}

fn main() -> ExitCode {
    // Before anything else, and before any state is touched: the caller's limits, signals,
    // timers and descriptors are gone (or the helper stops here).
    let hardened = sys::harden();
    sys::open_log();
    let uid = nix::unistd::getuid().as_raw();
    let mut output = std::io::stdout().lock();

    // A refusal before the request is served: the reason goes to the log, the caller gets the
    // decision only.
    let fail = |output: &mut dyn Write, why: &str, denial: Denial| {
        sys::log(libc::LOG_WARNING, &format!("uid={uid} refused: {why}"));
        let done = Done { decision: Decision::Deny(denial), factor: None, status: None };
        let _ = helper::write_line(
            &mut std::io::BufWriter::new(output),
            &helper::Event::Done(Box::new(done)),
        );
        ExitCode::from(1)
    };
    if let Err(e) = hardened {
        return fail(&mut output, &format!("cannot start cleanly: {e}"), Denial::Unavailable);
    }
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let request = match helper::read_line(&mut input) {
        Ok(Some(line)) => match helper::parse::<Request>(&line) {
            Ok(r) => r,
            Err(e) => return fail(&mut output, &format!("bad request: {e}"), Denial::Config),
        },
        Ok(None) => return fail(&mut output, "no request (input closed)", Denial::Conversation),
        Err(e) => return fail(&mut output, &format!("bad request: {e}"), Denial::Config),
    };
    if !nix::unistd::geteuid().is_root() {
        return fail(&mut output, "not installed setuid root", Denial::Unavailable);
    }
    let user = match caller(uid) {
        Ok(u) => u,
        Err(e) => return fail(&mut output, &e, Denial::BadUser),
    };
    if let Err(e) = sys::become_root() {
        return fail(&mut output, &e, Denial::Unavailable);
    }
    let cfg = match Config::load(Path::new(DEFAULT_PATH)) {
        Ok(c) => c,
        Err(e) => return fail(&mut output, &e.to_string(), Denial::Config),
    };
    let op = op_name(&request);
    let mut conv = Logged(PipeConversation::new(input, output));
    // On a fleet host the user's factors are the service's: enrollment goes there, with this
    // host's credential (read here, as root, never sent to the caller), for the caller's own
    // name.
    let served = if fleet_enrollment(&cfg, &request) {
        mfa_login::selfservice_fleet::serve(
            request,
            &user,
            &cfg,
            &mut conv,
            &SystemClock,
            &mfa_remote::Network,
        )
    } else {
        mfa_login::selfservice::serve(
            request,
            &user,
            &cfg,
            &mut conv,
            &SystemClock,
            &SystemDirectory,
            &mfa_remote::Network,
        )
    };
    let o = &served.outcome;
    let priority = match o.decision {
        Decision::Deny(_) => libc::LOG_NOTICE,
        Decision::FailOpen | Decision::Offline => libc::LOG_WARNING,
        Decision::Success | Decision::Ignore => libc::LOG_INFO,
    };
    sys::log(
        priority,
        &format!(
            "uid={uid} user=\"{}\" op={op} decision={} factor={} reason=\"{}\"",
            log_safe(user.name.as_str()),
            o.decision.name(),
            o.factor.map_or("none", Factor::name),
            o.reason.chars().take(400).flat_map(char::escape_default).collect::<String>()
        ),
    );
    match conv.0.finish(served.done()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
