//! Logging in and enrolling with push approval (mfa-server).
//!
//! Login: a challenge goes to the user's paired devices; the prompt itself carries the number
//! and what to do ("Push sent to 'pixel': type 42 on it to approve, then press Enter (or type a
//! code); Enter waits up to 60 s:"), because sshd shows informational text only with the next
//! prompt and sudo asks for none (`PAM_SILENT`). The number (and, with `number_entry =
//! "choose"`, the three numbers the phone offers) is picked here, never by the service. Enter
//! waits for the answer until `push.timeout` (local logins that show messages are told "Waiting
//! for your phone" if it has not answered yet); typing a code withdraws the push and checks the
//! code instead. Only a receipt that verifies against this login ([`crate::push::check`]) lets
//! the login in.
//!
//! When the service cannot answer (down, slow, TLS failure, a receipt that does not verify) a
//! user who has a code or recovery code is asked for it. Otherwise an outage (no connection, no
//! answer in time, a gateway's 502/503/504) is decided by `failmode`: `closed` denies, `open`
//! lets the login in without a second factor ([`super::Decision::FailOpen`], logged at warning
//! level); anything else (a receipt that does not verify, a malformed reply, an unreadable
//! credential or CA file) denies.
//!
//! Enrollment: a pairing link as a QR code (with a secret of this host's that the service never
//! sees), the device pairs and shows a pairing code, the user types that code here, which must
//! be the code of the device the service says paired (so a device that used the link first,
//! or a key the service swapped in, is refused), a test push must be approved with the right
//! number, and only then is the device saved (with recovery codes if the user has none).

use super::context::LoginContext;
use super::conversation::PROMPT;
use super::outcome::{Denial, Factor, Outcome, answered};
use super::remote::PushRemote;
use super::verify;
use crate::config::Config;
use crate::policy::FailMode;
use crate::push::{self, Expected, NumberEntry, PushConfig, PushDevice, PushError, Verdict};
use crate::qr::{self, Qr, Style};
use crate::store::UserRecord;
use push_proto::api::{
    ChallengeCreated, ChallengeState, CreateChallenge, DeviceInfo, PairingStatus,
};
use push_proto::signed::{self, LoginFields};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

fn new_nonce() -> crate::Result<String> {
    random_b64::<32>()
}

fn random_b64<const N: usize>() -> crate::Result<String> {
    let mut n = Zeroizing::new([0u8; N]);
    crate::random::fill(&mut n[..])?;
    Ok(push_proto::b64(&n[..]))
}

/// The number to show and the numbers the phone offers (none when the user types it).
fn login_numbers(entry: NumberEntry) -> crate::Result<(u8, Vec<u8>)> {
    push_proto::numbers::login_numbers(entry.into())
        .map_err(|e| crate::Error::Random(e.to_string()))
}

/// What the user sees when the service refused to send a push.
fn refusal_text(code: &str) -> &'static str {
    use push_proto::api::errors as e;
    match code {
        e::CHALLENGE_PENDING => "Another login is already waiting for approval on your phone.",
        e::RATE_LIMITED => "Too many push requests just now; wait a minute.",
        e::COOLDOWN => {
            "Push is paused because a login was reported as not yours. \
             Contact your administrator if that was a mistake."
        }
        e::NO_DEVICE => "Your phone is no longer paired for push (revoked?).",
        _ => "The push service refused the request.",
    }
}

/// A challenge this module sent: what it asked the service for, what the service answered, and
/// what the approval must match (the number shown, the choices offered, the nonce).
struct Sent {
    request: CreateChallenge,
    created: ChallengeCreated,
    number: u8,
    entry: NumberEntry,
}

impl Sent {
    /// What the device must have signed: this module's own login, never the service's copy.
    fn login<'s>(&'s self, client: &'s dyn PushRemote) -> LoginFields<'s> {
        LoginFields {
            txid: &self.created.txid,
            host_id: client.host_id(),
            hostname: client.hostname(),
            user: &self.request.user,
            service: &self.request.service,
            rhost: self.request.rhost.as_deref(),
            time: self.request.time,
            nonce: &self.request.nonce,
            choices: &self.request.choices,
        }
    }
}

/// Creates a challenge for `devices`: a fresh nonce and number, this login's fields.
fn send_challenge(
    client: &dyn PushRemote,
    pcfg: &PushConfig,
    request: Login<'_>,
) -> Result<Result<Sent, PushError>, Outcome> {
    let nonce = new_nonce()?;
    let entry = pcfg.number_entry_for(request.service);
    let (number, choices) = login_numbers(entry)?;
    let request = CreateChallenge {
        user: request.user.to_string(),
        service: request.service.to_string(),
        rhost: request.rhost.map(str::to_string),
        time: request.time,
        nonce,
        choices,
        devices: request.devices,
        ttl: pcfg.timeout,
    };
    Ok(client.create_challenge(&request).map(|created| Sent { request, created, number, entry }))
}

/// The fields of a challenge to send.
struct Login<'l> {
    user: &'l str,
    service: &'l str,
    rhost: Option<&'l str>,
    time: u64,
    devices: Vec<String>,
}

/// The login's code prompt instead of push: says why, then asks for a code; the log reason
/// starts with `note`.
fn code_instead(ctx: &mut LoginContext<'_>, why: &str, note: String) -> Outcome {
    ctx.tell_error(why);
    let o = verify::ask_and_verify(ctx, None, PROMPT);
    Outcome { reason: format!("{note}; {}", o.reason), ..o }
}

/// Asks an enrolled user with push devices to approve on a device or type a code.
pub(crate) fn push_or_code(
    ctx: &mut LoginContext<'_>,
    failmode_override: Option<FailMode>,
    record: &UserRecord,
) -> Outcome {
    let has_codes = record.has_codes();
    let cfg: &Config = ctx.cfg;
    let Some(pcfg) = cfg.push.as_ref() else {
        if has_codes {
            return code_instead(
                ctx,
                "Push approval is not set up on this computer: type a code.",
                "push device enrolled but [push] not configured".into(),
            );
        }
        return Outcome::deny(Denial::Config, "push device enrolled but [push] is not configured")
            .with_factor(Factor::Push);
    };
    let failmode = failmode_override.unwrap_or(pcfg.failmode);
    PushLogin { ctx, pcfg, failmode, has_codes, holder: Holder::Local(record) }.run()
}

/// A code typed instead of a push, or (`None`) to be asked for, in fleet mode: the fleet
/// service checks it.
pub(super) type FleetCode<'f> =
    &'f dyn Fn(&mut LoginContext<'_>, Option<Zeroizing<String>>) -> Outcome;

/// Whose push devices a login uses, and what checks a code typed instead.
pub(super) enum Holder<'r> {
    /// Standalone: the local record's devices; codes and the lockout are checked here.
    Local(&'r UserRecord),
    /// Fleet mode: the devices of the service's signed list; a code goes to the fleet service
    /// (which counts attempts and keeps the lockout).
    Fleet {
        /// The user's fleet devices (from a list that verified).
        devices: &'r [PushDevice],
        /// Checks a code instead.
        code: FleetCode<'r>,
    },
}

impl Holder<'_> {
    fn devices(&self) -> &[PushDevice] {
        match self {
            Holder::Local(record) => &record.push,
            Holder::Fleet { devices, .. } => devices,
        }
    }
}

/// Runs a push login for a fleet user to `devices` (`[push]` must be configured); a code
/// typed instead, and every fallback to a code, goes to `code`.
pub(super) fn fleet_push(
    ctx: &mut LoginContext<'_>,
    pcfg: &PushConfig,
    failmode: FailMode,
    devices: &[PushDevice],
    code: FleetCode<'_>,
) -> Outcome {
    PushLogin { ctx, pcfg, failmode, has_codes: true, holder: Holder::Fleet { devices, code } }
        .run()
}

/// One push login.
struct PushLogin<'c, 'a, 'r> {
    ctx: &'c mut LoginContext<'a>,
    pcfg: &'r PushConfig,
    failmode: FailMode,
    /// Whether the user has a code or recovery code to fall back on.
    has_codes: bool,
    holder: Holder<'r>,
}

impl PushLogin<'_, '_, '_> {
    /// The code prompt instead of push: says why, then asks for a code (the log reason starts
    /// with `note`).
    fn code_instead(&mut self, why: &str, note: String) -> Outcome {
        match self.holder {
            Holder::Local(_) => code_instead(self.ctx, why, note),
            Holder::Fleet { code, .. } => {
                self.ctx.tell_error(why);
                let o = code(self.ctx, None);
                Outcome { reason: format!("{note}; {}", o.reason), ..o }
            }
        }
    }

    fn run(mut self) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(self.pcfg.timeout);
        let remotes = self.ctx.remotes;
        let client = match remotes.push(self.pcfg) {
            Ok(c) => c,
            Err(e) => {
                let outage = e.is_outage();
                return self.service_down(e.to_string(), outage);
            }
        };
        let sent = match self.send(&*client) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let prompt = approve_prompt(
            &sent.created,
            sent.number,
            sent.entry,
            self.has_codes,
            "Push sent to",
            self.pcfg.timeout,
        );
        let answer = match answered(self.ctx.conv.prompt_secret(&prompt)) {
            Ok(a) => a,
            Err(o) => {
                let _ = client.cancel(&sent.created.txid);
                return o.with_factor(Factor::Push);
            }
        };
        if !answer.trim().is_empty() {
            // The user typed a code: the push is withdrawn so it cannot be approved later, and
            // (the user being at the keyboard) not counted against the user's push rate; the
            // code itself counts towards the lockout.
            let _ = client.withdraw_for_code(&sent.created.txid);
            return match self.holder {
                Holder::Local(_) => verify::ask_and_verify(self.ctx, Some(answer), PROMPT),
                Holder::Fleet { code, .. } => code(self.ctx, Some(answer)),
            };
        }
        match self.wait(&*client, &sent.created.txid, deadline) {
            Ok(state) => self.judge(&*client, &sent, &state),
            Err(o) => o,
        }
    }

    /// Sends the challenge to the user's devices. `Err`: the login is decided (the service
    /// refused or could not be used, or no nonce, time or number could be had).
    fn send(&mut self, client: &dyn PushRemote) -> Result<Sent, Outcome> {
        let time = self.ctx.clock.now()?;
        let req = self.ctx.req;
        let login = Login {
            user: self.ctx.user.as_str(),
            service: &req.service,
            rhost: req.rhost.as_deref().filter(|r| !r.is_empty()),
            time,
            devices: self.holder.devices().iter().map(|d| d.id.clone()).collect(),
        };
        match send_challenge(client, self.pcfg, login)? {
            Ok(sent) => Ok(sent),
            Err(PushError::Outage(m)) => Err(self.service_down(m, true)),
            Err(PushError::Unavailable(m)) => Err(self.service_down(m, false)),
            Err(PushError::Refused { code, message }) => Err(self.refused(&code, &message)),
        }
    }

    /// The service refused to send the push (rate limit, cooldown, no device...).
    fn refused(&mut self, code: &str, message: &str) -> Outcome {
        let note =
            format!("push refused by the service: {code} ({})", crate::username::log_safe(message));
        if self.has_codes {
            return self
                .code_instead(&format!("{} Type a code instead.", refusal_text(code)), note);
        }
        self.ctx.tell_error(refusal_text(code));
        Outcome::deny(Denial::AuthFailed, note).with_factor(Factor::Push)
    }

    /// The service cannot answer: a code instead if the user has one, else `failmode` decides
    /// an outage, and anything else denies.
    fn service_down(&mut self, why: String, outage: bool) -> Outcome {
        if self.has_codes {
            return self.code_instead(
                "The push service cannot be reached: type a code instead.",
                format!("push unavailable ({why})"),
            );
        }
        let o = match self.failmode {
            FailMode::Open if outage => Outcome::fail_open(format!(
                "FAIL-OPEN: push unavailable ({why}); failmode=open lets the login in WITHOUT a \
                 second factor"
            )),
            _ => {
                self.ctx.tell_error("The push service cannot be reached; try again later.");
                let mode = if outage { "failmode=closed" } else { "not an outage" };
                Outcome::deny(Denial::Unavailable, format!("push unavailable, {mode}: {why}"))
            }
        };
        o.with_factor(Factor::Push)
    }

    /// Waits for the phone's answer (Enter came first) until `deadline`.
    fn wait(
        &mut self,
        client: &dyn PushRemote,
        txid: &str,
        deadline: Instant,
    ) -> Result<ChallengeState, Outcome> {
        // Unless the phone has answered already, say that we wait for it. Only for local logins
        // (su, console, screen lockers), whose conversation shows it at once: sshd (a remote
        // login) holds messages back until the login is over, when "waiting" would be shown
        // after the fact, and sudo asks for silence (PAM_SILENT); the prompt has said it. Not
        // for screen lockers (`locker`) either: xscreensaver shows a message with an OK button
        // and holds the conversation, so the wait would start only after OK.
        let local = self.ctx.req.rhost.as_deref().is_none_or(str::is_empty) && !self.ctx.cfg.locker;
        let state = match client.challenge_state(txid, 0) {
            Ok(s) if !s.status.is_pending() => Ok(s),
            Ok(_) => {
                if !self.ctx.req.silent && local {
                    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                    self.ctx
                        .conv
                        .info(&format!("Waiting for your phone to answer (up to {left} s)..."));
                }
                client.wait_challenge(txid, deadline)
            }
            Err(e) => Err(e),
        };
        state.map_err(|e| match e {
            PushError::Outage(m) => self.service_down(m, true),
            PushError::Unavailable(m) => self.service_down(m, false),
            e @ PushError::Refused { .. } => {
                Outcome::deny(Denial::AuthFailed, e.to_string()).with_factor(Factor::Push)
            }
        })
    }

    /// Judges the answer: in fleet mode against the listed devices, standalone under the
    /// user's lock, against the devices enrolled right now.
    fn judge(&mut self, client: &dyn PushRemote, sent: &Sent, state: &ChallengeState) -> Outcome {
        let Holder::Fleet { devices, .. } = self.holder else {
            return self.judge_local(client, sent, state);
        };
        let expected = Expected { login: sent.login(client), number: sent.number, devices };
        match push::check(state, client.service_key(), &expected) {
            Ok(Verdict::Approved { device, .. }) => Outcome::success(format!(
                "fleet push approved on '{}'",
                crate::username::log_safe(&device.name)
            ))
            .with_factor(Factor::Push),
            Err(bad) => self.service_down(format!("receipt rejected: {bad}"), false),
            Ok(verdict) => {
                let (why, tell) = self.not_approved(client, sent, verdict);
                self.ctx.tell_error(tell);
                Outcome::deny(Denial::AuthFailed, why).with_factor(Factor::Push)
            }
        }
    }

    /// Judges the answer under the user's lock, against the devices enrolled right now.
    fn judge_local(
        &mut self,
        client: &dyn PushRemote,
        sent: &Sent,
        state: &ChallengeState,
    ) -> Outcome {
        let (lock, mut record, now) = match verify::lock_and_load(self.ctx) {
            Ok(l) => l,
            Err(o) => return o.with_factor(Factor::Push),
        };
        let expected =
            Expected { login: sent.login(client), number: sent.number, devices: &record.push };
        let verdict = push::check(state, client.service_key(), &expected);
        let (why, tell) = match verdict {
            Ok(Verdict::Approved { device, passkey_count }) => {
                record.lockout.clear();
                if let Some(count) = passkey_count {
                    let stored = record.push.iter_mut().find(|d| d.id == device.id);
                    if let Some(pk) = stored.and_then(|d| d.passkey.as_mut()) {
                        pk.sign_count = count;
                    }
                }
                let o = match lock.save(&record) {
                    Ok(()) => Outcome::success(format!(
                        "push approved on '{}'",
                        crate::username::log_safe(&device.name)
                    )),
                    Err(e) => Outcome::failed("cannot record the login", e),
                };
                return o.with_factor(Factor::Push);
            }
            Err(bad) => {
                drop(lock);
                return self.service_down(format!("receipt rejected: {bad}"), false);
            }
            Ok(verdict) => self.not_approved(client, sent, verdict),
        };
        let (outcome, locked) = verify::count_failure(self.ctx.cfg, &lock, &mut record, now, why);
        drop(lock);
        self.ctx.tell_error(tell);
        if locked {
            self.ctx
                .tell_error(&verify::locked_message(self.ctx.user, self.ctx.cfg.lockout.duration));
        }
        outcome.with_factor(Factor::Push)
    }

    /// Why a verdict other than an approval refuses the login (for the log, for the user); a
    /// challenge still pending is withdrawn.
    fn not_approved(
        &self,
        client: &dyn PushRemote,
        sent: &Sent,
        verdict: Verdict,
    ) -> (String, &'static str) {
        let timeout = self.pcfg.timeout;
        match verdict {
            Verdict::Pending => {
                let _ = client.cancel(&sent.created.txid);
                (format!("no answer within {timeout} s"), "No answer from your phone in time.")
            }
            Verdict::Denied => {
                ("push denied on the device".into(), "The login was denied on your phone.")
            }
            Verdict::WrongNumber => (
                "wrong number picked on the device".into(),
                "The wrong number was picked on your phone; the login is refused.",
            ),
            Verdict::Fraud => (
                "user reported the login as not theirs".into(),
                "You reported this login as not yours. It was refused, and push is paused for your account.",
            ),
            // The service's expiry and our deadline are the same moment seen from two clocks:
            // either way nobody answered in time.
            Verdict::Expired => (
                format!("no answer within {timeout} s (the request expired)"),
                "No answer from your phone in time.",
            ),
            Verdict::Cancelled => ("push cancelled".into(), "The push request was withdrawn."),
            Verdict::Approved { .. } => {
                ("approval not judged here".into(), "The login is refused.")
            }
        }
    }
}

/// The prompt of a push. It also says that Enter waits for the phone: sudo asks modules to be
/// silent (`PAM_SILENT`) and sshd shows messages only with the next prompt, so for them the
/// prompt is the only text that can say so.
fn approve_prompt(
    created: &ChallengeCreated,
    number: u8,
    entry: NumberEntry,
    or_code: bool,
    lead: &str,
    wait: u64,
) -> String {
    let names: Vec<String> =
        created.devices.iter().take(3).map(|d| format!("'{}'", push::shown(&d.name))).collect();
    let verb = match entry {
        NumberEntry::Type => "type",
        NumberEntry::Choose => "choose",
    };
    format!(
        "{lead} {}: {verb} {number} on it to approve, then press Enter{}; Enter waits up to {wait} s: ",
        names.join(", "),
        if or_code { " (or type a code)" } else { "" }
    )
}

/// How many times the user may type the pairing code.
const PAIRING_CODE_TRIES: usize = 3;

/// The code the device that paired must show: from this host's secret in the link, the
/// credential, and the keys the service says the device registered.
fn expected_pairing_code(host_secret: &str, credential: &str, device: &DeviceInfo) -> String {
    signed::pairing_code(host_secret, credential, &device.public_key, device.passkey.as_ref())
}

/// Whether `typed` is `code` (spaces and dashes ignored), in constant time.
fn code_matches(typed: &str, code: &str) -> bool {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    digits.len() == code.len() && bool::from(digits.as_bytes().ct_eq(code.as_bytes()))
}

/// Pairs a device and confirms it with a test push, inside the conversation (enroll-on-login,
/// `mfa-enroll push`, self-service through the helper). Saves the device, with recovery codes
/// if the user has none.
pub(crate) fn enroll_push(ctx: &mut LoginContext<'_>) -> Outcome {
    match pair_and_confirm(ctx) {
        Ok(candidate) => save_device(ctx, &candidate),
        Err(o) => o,
    }
}

/// Pairs a device and confirms it with a test push; the device, not saved (a fleet host
/// registers it at the service instead).
pub(crate) fn pair_and_confirm(ctx: &mut LoginContext<'_>) -> Result<PushDevice, Outcome> {
    let cfg: &Config = ctx.cfg;
    let Some(pcfg) = cfg.push.as_ref() else {
        return Err(Outcome::deny(
            Denial::Config,
            "push is not configured ([push] in pam_mfa.toml)",
        ));
    };
    let remotes = ctx.remotes;
    let client = remotes.push(pcfg).map_err(|e| enrollment_unavailable(ctx, e))?;
    let mut candidate = pair_device(ctx, pcfg, &*client)?;
    match crate::enroll::push_name_taken(ctx.store, ctx.user, &candidate) {
        Ok(false) => {}
        Ok(true) => {
            ctx.conv.error(&format!(
                "{} already has a push device named '{}'; this one was not added. Pair \
                 again under another name, or first remove the old one: mfa-enroll push \
                 --remove '{}'",
                ctx.user, candidate.name, candidate.name
            ));
            return Err(Outcome::deny(Denial::AuthFailed, "push device name already in use"));
        }
        Err(e) => return Err(e.into()),
    }
    test_push(ctx, pcfg, &*client, &mut candidate)?;
    Ok(candidate)
}

/// The push service cannot be used for an enrollment.
fn enrollment_unavailable(ctx: &mut LoginContext<'_>, e: PushError) -> Outcome {
    ctx.conv.error("The push service cannot be used right now; try again later or set up an app.");
    Outcome::deny(Denial::Unavailable, format!("push enrollment: {e}"))
}

/// Shows a pairing link (with a secret of this host's that the service never sees), waits for
/// a device to pair, and checks the pairing code the user types against that device. The
/// device, not yet saved.
fn pair_device(
    ctx: &mut LoginContext<'_>,
    pcfg: &PushConfig,
    client: &dyn PushRemote,
) -> Result<PushDevice, Outcome> {
    let pairing = client
        .create_pairing(ctx.user.as_str(), pcfg.pairing_timeout)
        .map_err(|e| enrollment_unavailable(ctx, e))?;
    let Some(credential) = push_proto::pairing_uri::parse(&pairing.uri).map(|l| l.credential)
    else {
        let e = PushError::Unavailable("malformed pairing link".into());
        return Err(enrollment_unavailable(ctx, e));
    };
    // Our own secret in the link: the service never sees it, so it cannot pick a device key
    // whose pairing code matches the one the user's phone shows.
    let host_secret = Zeroizing::new(random_b64::<16>()?);
    let link =
        Zeroizing::new(push_proto::pairing_uri::with_host_secret(&pairing.uri, &host_secret));
    let picture = qr::render(&Qr::encode(&link)?, Style::Plain);
    ctx.conv.info(&Zeroizing::new(format!(
        "Scan this QR code with your phone's camera to pair it for push approval:\n\n{}\n\
         Or open this link on the phone (or give it to `mfa-push-device pair`):\n{}\n\
         The link works once, for {} minutes. Once paired, the phone shows a pairing code.",
        picture.as_str(),
        link.as_str(),
        pcfg.pairing_timeout.div_ceil(60)
    )));
    let typed = answered(ctx.conv.prompt_visible("Type the pairing code your phone shows: "))?;
    let deadline = Instant::now() + Duration::from_secs(pcfg.pairing_timeout);
    let state = client
        .wait_pairing(&pairing.pairing_id, deadline)
        .map_err(|e| enrollment_unavailable(ctx, e))?;
    let device = match (state.status, state.device) {
        (PairingStatus::Paired, Some(d)) => d,
        (PairingStatus::Expired, _) => {
            ctx.conv.error("The pairing link expired. Start again.");
            return Err(Outcome::deny(Denial::AuthFailed, "pairing link expired unused"));
        }
        _ => {
            ctx.conv.error("No device paired in time. Start again.");
            return Err(Outcome::deny(Denial::AuthFailed, "no device paired in time"));
        }
    };
    // A passkey made while pairing is checked here, against this pairing and device key; the
    // pairing code below covers it, so the key kept is the one on the user's phone.
    let passkey = match &device.passkey {
        None => None,
        Some(reg) => {
            let challenge = signed::passkey_pairing_challenge(&credential, &device.public_key);
            match push::passkey::verify_registration(reg, &challenge, None) {
                Ok(p) => Some(p),
                Err(e) => {
                    ctx.conv.error("The phone's passkey could not be verified; nothing was added.");
                    return Err(Outcome::deny(
                        Denial::AuthFailed,
                        format!("push enrollment: passkey refused: {e}"),
                    ));
                }
            }
        }
    };
    let code = Zeroizing::new(expected_pairing_code(&host_secret, &credential, &device));
    confirm_pairing_code(ctx, typed, &code)?;
    Ok(PushDevice {
        id: device.id.clone(),
        name: push::shown(&device.name),
        public_key: device.public_key.clone(),
        added: ctx.clock.now()?,
        passkey,
    })
}

/// Compares the typed pairing code with the paired device's, asking again up to
/// [`PAIRING_CODE_TRIES`] times in all.
fn confirm_pairing_code(
    ctx: &mut LoginContext<'_>,
    mut typed: Zeroizing<String>,
    code: &str,
) -> Result<(), Outcome> {
    let mut tries = 1;
    while !code_matches(&typed, code) {
        if tries == PAIRING_CODE_TRIES {
            ctx.conv.error(
                "That is not the code of the device that used the pairing link: another device \
                 may have used it. Nothing was added; start again.",
            );
            return Err(Outcome::deny(
                Denial::AuthFailed,
                "push enrollment: the pairing code does not match the device that paired",
            ));
        }
        tries += 1;
        typed =
            answered(ctx.conv.prompt_visible("That code does not match. Type the code again: "))?;
    }
    Ok(())
}

/// The test push: the new device must approve the right number before it is saved. Stores the
/// passkey's signature counter in `candidate`.
fn test_push(
    ctx: &mut LoginContext<'_>,
    pcfg: &PushConfig,
    client: &dyn PushRemote,
    candidate: &mut PushDevice,
) -> Result<(), Outcome> {
    let login = Login {
        user: ctx.user.as_str(),
        service: "mfa-enroll",
        rhost: None,
        time: candidate.added,
        devices: vec![candidate.id.clone()],
    };
    let sent = send_challenge(client, pcfg, login)?.map_err(|e| enrollment_unavailable(ctx, e))?;
    ctx.conv.info(&format!("'{}' is paired. A test push was sent to it.", candidate.name));
    let prompt = approve_prompt(
        &sent.created,
        sent.number,
        sent.entry,
        false,
        "Test push sent to",
        pcfg.timeout,
    );
    if let Err(o) = answered(ctx.conv.prompt_visible(&prompt)) {
        let _ = client.cancel(&sent.created.txid);
        return Err(o);
    }
    let deadline = Instant::now() + Duration::from_secs(pcfg.timeout);
    let state = client
        .wait_challenge(&sent.created.txid, deadline)
        .map_err(|e| enrollment_unavailable(ctx, e))?;
    let devices = [candidate.clone()];
    let expected = Expected { login: sent.login(client), number: sent.number, devices: &devices };
    match push::check(&state, client.service_key(), &expected) {
        Ok(Verdict::Approved { passkey_count, .. }) => {
            if let (Some(pk), Some(count)) = (candidate.passkey.as_mut(), passkey_count) {
                pk.sign_count = count;
            }
            Ok(())
        }
        Ok(other) => {
            if other == Verdict::Pending {
                let _ = client.cancel(&sent.created.txid);
            }
            ctx.conv.error(
                "The test push was not approved with the right number; the phone was not added.",
            );
            Err(Outcome::deny(Denial::AuthFailed, format!("test push not approved: {other:?}")))
        }
        Err(bad) => {
            ctx.conv.error("The test push could not be verified; the phone was not added.");
            Err(Outcome::deny(Denial::Unavailable, format!("test push receipt rejected: {bad}")))
        }
    }
}

/// Saves the confirmed device (with recovery codes if the user has none) and tells the user.
fn save_device(ctx: &mut LoginContext<'_>, candidate: &PushDevice) -> Outcome {
    let codes =
        match crate::enroll::add_push_device(ctx.store, ctx.user, candidate, candidate.added) {
            Ok(c) => c,
            Err(e) => return Outcome::failed("cannot save the push device", e),
        };
    let done = format!(
        "Push approval is set up with '{}'. Remove it with: mfa-enroll push --remove '{}'",
        candidate.name, candidate.name
    );
    match codes {
        Some(codes) => {
            ctx.conv.info(&crate::recovery::listing(
                &format!(
                    "{done}\nYour recovery codes: each works once if you lose the phone. Store \
                     them somewhere safe now; they are not shown again.\n"
                ),
                &codes,
            ));
            let _ =
                ctx.conv.prompt_visible("Press Enter when you have stored the recovery codes: ");
        }
        None => ctx.conv.info(&done),
    }
    Outcome::success(format!("push device '{}' paired and confirmed", candidate.name))
}
