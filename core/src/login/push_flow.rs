//! Logging in and enrolling with push approval (mfa-pushd).
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

use super::{Clock, ConvError, Conversation, Denial, Factor, Outcome, PROMPT, Request, verify};
use crate::config::Config;
use crate::policy::FailMode;
use crate::push::{self, Expected, NumberEntry, PushClient, PushDevice, PushError, Verdict};
use crate::qr::{self, Qr, Style};
use crate::store::{Store, UserRecord};
use crate::username::UserName;
use push_proto::api::{ChallengeCreated, CreateChallenge, DeviceInfo, PairingStatus};
use push_proto::signed::{self, LoginFields};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

fn conv_failed(e: ConvError) -> Outcome {
    Outcome::deny(Denial::Conversation, format!("conversation failed: {}", e.0))
}

fn new_nonce() -> crate::Result<String> {
    random_b64::<32>()
}

fn random_b64<const N: usize>() -> crate::Result<String> {
    let mut n = zeroize::Zeroizing::new([0u8; N]);
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

/// Asks an enrolled user with push devices to approve on a device or type a code.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_or_code(
    cfg: &Config,
    failmode_override: Option<FailMode>,
    req: &Request,
    store: &Store,
    user: &UserName,
    record: &UserRecord,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> Outcome {
    let has_codes = record.has_codes();
    let code_instead = |conv: &mut dyn Conversation, why: &str, note: String| {
        if !req.silent {
            conv.error(why);
        }
        let o = verify::ask_and_verify(cfg, req, store, user, conv, clock, None, PROMPT);
        Outcome { reason: format!("{note}; {}", o.reason), ..o }
    };
    let Some(pcfg) = cfg.push.as_ref() else {
        if has_codes {
            return code_instead(
                conv,
                "Push approval is not set up on this computer: type a code.",
                "push device enrolled but [push] not configured".into(),
            );
        }
        return Outcome::deny(Denial::Config, "push device enrolled but [push] is not configured")
            .with_factor(Factor::Push);
    };
    let failmode = failmode_override.unwrap_or(pcfg.failmode);
    let service_down = |conv: &mut dyn Conversation, why: String, outage: bool| {
        if has_codes {
            return code_instead(
                conv,
                "The push service cannot be reached: type a code instead.",
                format!("push unavailable ({why})"),
            );
        }
        match failmode {
            FailMode::Open if outage => Outcome::fail_open(format!(
                "FAIL-OPEN: push unavailable ({why}); failmode=open lets the login in WITHOUT a \
                 second factor"
            ))
            .with_factor(Factor::Push),
            _ => {
                if !req.silent {
                    conv.error("The push service cannot be reached; try again later.");
                }
                let mode = if outage { "failmode=closed" } else { "not an outage" };
                Outcome::deny(Denial::Unavailable, format!("push unavailable, {mode}: {why}"))
                    .with_factor(Factor::Push)
            }
        }
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(pcfg.timeout);
    let client = match PushClient::new(pcfg) {
        Ok(c) => c,
        Err(e) => {
            let outage = e.is_outage();
            return service_down(conv, e.to_string(), outage);
        }
    };
    let nonce = match new_nonce() {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let now = match clock.now() {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let entry = pcfg.number_entry_for(&req.service);
    let (number, choices) = match login_numbers(entry) {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let request = CreateChallenge {
        user: user.as_str().to_string(),
        service: req.service.clone(),
        rhost: req.rhost.clone().filter(|r| !r.is_empty()),
        time: now,
        nonce: nonce.clone(),
        choices: choices.clone(),
        devices: record.push.iter().map(|d| d.id.clone()).collect(),
        ttl: pcfg.timeout,
    };
    let created = match client.create_challenge(&request) {
        Ok(c) => c,
        Err(PushError::Outage(m)) => return service_down(conv, m, true),
        Err(PushError::Unavailable(m)) => return service_down(conv, m, false),
        Err(PushError::Refused { code, message }) => {
            let note = format!(
                "push refused by the service: {code} ({})",
                crate::username::log_safe(&message)
            );
            if has_codes {
                return code_instead(
                    conv,
                    &format!("{} Type a code instead.", refusal_text(&code)),
                    note,
                );
            }
            if !req.silent {
                conv.error(refusal_text(&code));
            }
            return Outcome::deny(Denial::AuthFailed, note).with_factor(Factor::Push);
        }
    };
    let prompt = approve_prompt(&created, number, entry, has_codes, "Push sent to", pcfg.timeout);
    let answer = match conv.prompt_secret(&prompt) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let _ = client.cancel(&created.txid);
            return Outcome::deny(Denial::Conversation, "no answer (cancelled)")
                .with_factor(Factor::Push);
        }
        Err(e) => {
            let _ = client.cancel(&created.txid);
            return conv_failed(e).with_factor(Factor::Push);
        }
    };
    if !answer.trim().is_empty() {
        // The user typed a code: the push is withdrawn so it cannot be approved later, and (the
        // user being at the keyboard) not counted against the user's push rate; the code itself
        // counts towards the lockout.
        let _ = client.withdraw_for_code(&created.txid);
        return verify::ask_and_verify(cfg, req, store, user, conv, clock, Some(answer), PROMPT);
    }
    // Enter came first: unless the phone has answered already, say that we wait for it. Only
    // for local logins (su, console, screen lockers), whose conversation shows it at once: sshd
    // (a remote login) holds messages back until the login is over, when "waiting" would be
    // shown after the fact, and sudo asks for silence (PAM_SILENT); the prompt has said it.
    // Not for screen lockers (`locker`) either: xscreensaver shows a message with an OK button
    // and holds the conversation, so the wait would start only after OK.
    let local = req.rhost.as_deref().is_none_or(str::is_empty) && !cfg.locker;
    let state = match client.challenge_state(&created.txid, 0) {
        Ok(s) if !s.status.is_pending() => Ok(s),
        Ok(_) => {
            if !req.silent && local {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                conv.info(&format!("Waiting for your phone to answer (up to {left} s)..."));
            }
            client.wait_challenge(&created.txid, deadline)
        }
        Err(e) => Err(e),
    };
    let state = match state {
        Ok(s) => s,
        Err(PushError::Outage(m)) => return service_down(conv, m, true),
        Err(PushError::Unavailable(m)) => return service_down(conv, m, false),
        Err(e @ PushError::Refused { .. }) => {
            return Outcome::deny(Denial::AuthFailed, e.to_string()).with_factor(Factor::Push);
        }
    };

    // Judge the answer under the user's lock, against the devices enrolled right now.
    let (lock, mut record, now) = match verify::lock_and_load(store, user, clock) {
        Ok(l) => l,
        Err(o) => return o.with_factor(Factor::Push),
    };
    let login = LoginFields {
        txid: &created.txid,
        host_id: client.host_id(),
        hostname: client.hostname(),
        user: user.as_str(),
        service: &request.service,
        rhost: request.rhost.as_deref(),
        time: request.time,
        nonce: &nonce,
        choices: &choices,
    };
    let verdict = push::check(
        &state,
        client.service_key(),
        &Expected { login, number, devices: &record.push },
    );
    let (why, tell): (String, &str) = match verdict {
        Ok(Verdict::Approved { device, passkey_count }) => {
            record.lockout.clear();
            if let Some(count) = passkey_count {
                let stored = record.push.iter_mut().find(|d| d.id == device.id);
                if let Some(pk) = stored.and_then(|d| d.passkey.as_mut()) {
                    pk.sign_count = count;
                }
            }
            if let Err(e) = lock.save(&record) {
                return Outcome::deny(Denial::Unavailable, format!("cannot record the login: {e}"))
                    .with_factor(Factor::Push);
            }
            return Outcome::success(format!(
                "push approved on '{}'",
                crate::username::log_safe(&device.name)
            ))
            .with_factor(Factor::Push);
        }
        Err(bad) => {
            drop(lock);
            return service_down(conv, format!("receipt rejected: {bad}"), false);
        }
        Ok(Verdict::Pending) => {
            let _ = client.cancel(&created.txid);
            (format!("no answer within {} s", pcfg.timeout), "No answer from your phone in time.")
        }
        Ok(Verdict::Denied) => {
            ("push denied on the device".into(), "The login was denied on your phone.")
        }
        Ok(Verdict::WrongNumber) => (
            "wrong number picked on the device".into(),
            "The wrong number was picked on your phone; the login is refused.",
        ),
        Ok(Verdict::Fraud) => (
            "user reported the login as not theirs".into(),
            "You reported this login as not yours. It was refused, and push is paused for your account.",
        ),
        // The service's expiry and our deadline are the same moment seen from two clocks:
        // either way nobody answered in time.
        Ok(Verdict::Expired) => (
            format!("no answer within {} s (the request expired)", pcfg.timeout),
            "No answer from your phone in time.",
        ),
        Ok(Verdict::Cancelled) => ("push cancelled".into(), "The push request was withdrawn."),
    };
    let (outcome, locked) = verify::count_failure(cfg, &lock, &mut record, now, why);
    drop(lock);
    if !req.silent {
        conv.error(tell);
        if locked {
            conv.error(&verify::locked_message(user, cfg.lockout.duration));
        }
    }
    outcome.with_factor(Factor::Push)
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
/// `mfa-enroll push`, self-service through the helper). `name` is only used when the device
/// gives none.
pub(crate) fn enroll_push(
    cfg: &Config,
    store: &Store,
    user: &UserName,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
) -> Outcome {
    let Some(pcfg) = cfg.push.as_ref() else {
        return Outcome::deny(Denial::Config, "push is not configured ([push] in pam_mfa.toml)");
    };
    let fail = |conv: &mut dyn Conversation, e: PushError| {
        conv.error("The push service cannot be used right now; try again later or set up an app.");
        Outcome::deny(Denial::Unavailable, format!("push enrollment: {e}"))
    };
    let client = match PushClient::new(pcfg) {
        Ok(c) => c,
        Err(e) => return fail(conv, e),
    };
    let pairing = match client.create_pairing(user.as_str(), pcfg.pairing_timeout) {
        Ok(p) => p,
        Err(e) => return fail(conv, e),
    };
    let Some(credential) = push_proto::pairing_uri::parse(&pairing.uri).map(|l| l.credential)
    else {
        return fail(conv, PushError::Unavailable("malformed pairing link".into()));
    };
    // Our own secret in the link: the service never sees it, so it cannot pick a device key
    // whose pairing code matches the one the user's phone shows.
    let host_secret = match random_b64::<16>() {
        Ok(k) => zeroize::Zeroizing::new(k),
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let link = zeroize::Zeroizing::new(push_proto::pairing_uri::with_host_secret(
        &pairing.uri,
        &host_secret,
    ));
    let picture = match Qr::encode(&link) {
        Ok(q) => qr::render(&q, Style::Plain),
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    conv.info(&zeroize::Zeroizing::new(format!(
        "Scan this QR code with your phone's camera to pair it for push approval:\n\n{}\n\
         Or open this link on the phone (or give it to `mfa-push-device pair`):\n{}\n\
         The link works once, for {} minutes. Once paired, the phone shows a pairing code.",
        picture.as_str(),
        link.as_str(),
        pcfg.pairing_timeout.div_ceil(60)
    )));
    let mut typed = match conv.prompt_visible("Type the pairing code your phone shows: ") {
        Ok(Some(t)) => zeroize::Zeroizing::new(t),
        Ok(None) => return Outcome::deny(Denial::Conversation, "no answer (cancelled)"),
        Err(e) => return conv_failed(e),
    };
    let deadline = Instant::now() + Duration::from_secs(pcfg.pairing_timeout);
    let state = match client.wait_pairing(&pairing.pairing_id, deadline) {
        Ok(s) => s,
        Err(e) => return fail(conv, e),
    };
    let device = match (state.status, state.device) {
        (PairingStatus::Paired, Some(d)) => d,
        (PairingStatus::Expired, _) => {
            conv.error("The pairing link expired. Start again.");
            return Outcome::deny(Denial::AuthFailed, "pairing link expired unused");
        }
        _ => {
            conv.error("No device paired in time. Start again.");
            return Outcome::deny(Denial::AuthFailed, "no device paired in time");
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
                    conv.error("The phone's passkey could not be verified; nothing was added.");
                    return Outcome::deny(
                        Denial::AuthFailed,
                        format!("push enrollment: passkey refused: {e}"),
                    );
                }
            }
        }
    };
    let code = zeroize::Zeroizing::new(expected_pairing_code(&host_secret, &credential, &device));
    let mut tries = 1;
    while !code_matches(&typed, &code) {
        if tries == PAIRING_CODE_TRIES {
            conv.error(
                "That is not the code of the device that used the pairing link: another device \
                 may have used it. Nothing was added; start again.",
            );
            return Outcome::deny(
                Denial::AuthFailed,
                "push enrollment: the pairing code does not match the device that paired",
            );
        }
        tries += 1;
        typed = match conv.prompt_visible("That code does not match. Type the code again: ") {
            Ok(Some(t)) => zeroize::Zeroizing::new(t),
            Ok(None) => return Outcome::deny(Denial::Conversation, "no answer (cancelled)"),
            Err(e) => return conv_failed(e),
        };
    }
    let now = match clock.now() {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let mut candidate = PushDevice {
        id: device.id.clone(),
        name: push::shown(&device.name),
        public_key: device.public_key.clone(),
        added: now,
        passkey,
    };
    match crate::enroll::push_name_taken(store, user, &candidate) {
        Ok(false) => {}
        Ok(true) => {
            conv.error(&format!(
                "{user} already has a push device named '{}'; this one was not added. Pair \
                 again under another name, or first remove the old one: mfa-enroll push \
                 --remove '{}'",
                candidate.name, candidate.name
            ));
            return Outcome::deny(Denial::AuthFailed, "push device name already in use");
        }
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    }

    // The test push: the device must approve the right number before it is saved.
    let nonce = match new_nonce() {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let service = "mfa-enroll";
    let entry = pcfg.number_entry_for(service);
    let (number, choices) = match login_numbers(entry) {
        Ok(n) => n,
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()),
    };
    let request = CreateChallenge {
        user: user.as_str().to_string(),
        service: service.into(),
        rhost: None,
        time: now,
        nonce: nonce.clone(),
        choices: choices.clone(),
        devices: vec![candidate.id.clone()],
        ttl: pcfg.timeout,
    };
    let created = match client.create_challenge(&request) {
        Ok(c) => c,
        Err(e) => return fail(conv, e),
    };
    conv.info(&format!("'{}' is paired. A test push was sent to it.", candidate.name));
    let prompt = approve_prompt(&created, number, entry, false, "Test push sent to", pcfg.timeout);
    match conv.prompt_visible(&prompt) {
        Ok(Some(_)) => {}
        Ok(None) => {
            let _ = client.cancel(&created.txid);
            return Outcome::deny(Denial::Conversation, "no answer (cancelled)");
        }
        Err(e) => {
            let _ = client.cancel(&created.txid);
            return conv_failed(e);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(pcfg.timeout);
    let state = match client.wait_challenge(&created.txid, deadline) {
        Ok(s) => s,
        Err(e) => return fail(conv, e),
    };
    let devices = [candidate.clone()];
    let login = LoginFields {
        txid: &created.txid,
        host_id: client.host_id(),
        hostname: client.hostname(),
        user: user.as_str(),
        service,
        rhost: None,
        time: request.time,
        nonce: &nonce,
        choices: &choices,
    };
    let expected = Expected { login, number, devices: &devices };
    match push::check(&state, client.service_key(), &expected) {
        Ok(Verdict::Approved { passkey_count, .. }) => {
            if let (Some(pk), Some(count)) = (candidate.passkey.as_mut(), passkey_count) {
                pk.sign_count = count;
            }
        }
        Ok(other) => {
            if other == Verdict::Pending {
                let _ = client.cancel(&created.txid);
            }
            conv.error(
                "The test push was not approved with the right number; the phone was not added.",
            );
            return Outcome::deny(Denial::AuthFailed, format!("test push not approved: {other:?}"));
        }
        Err(bad) => {
            conv.error("The test push could not be verified; the phone was not added.");
            return Outcome::deny(
                Denial::Unavailable,
                format!("test push receipt rejected: {bad}"),
            );
        }
    }
    let codes = match crate::enroll::add_push_device(store, user, &candidate, now) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::deny(Denial::Unavailable, format!("cannot save the push device: {e}"));
        }
    };
    let done = format!(
        "Push approval is set up with '{}'. Remove it with: mfa-enroll push --remove '{}'",
        candidate.name, candidate.name
    );
    match codes {
        Some(codes) => {
            conv.info(&crate::recovery::listing(
                &format!(
                    "{done}\nYour recovery codes: each works once if you lose the phone. Store \
                     them somewhere safe now; they are not shown again.\n"
                ),
                &codes,
            ));
            let _ = conv.prompt_visible("Press Enter when you have stored the recovery codes: ");
        }
        None => conv.info(&done),
    }
    Outcome::success(format!("push device '{}' paired and confirmed", candidate.name))
}
