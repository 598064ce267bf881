//! Logging in through a privacyIDEA server (`backend = "privacyidea"`).
//!
//! One prompt: a code (sent to privacyIDEA as `pass`), one of the user's local recovery codes
//! (checked here, so they work while the server is down), or Enter, which sends an empty
//! `pass` and so triggers the user's challenge-response tokens. A push challenge is shown in
//! the next prompt, with the number to press when the server asks for number matching (sshd
//! shows messages only together with a prompt), then `/validate/polltransaction` is polled
//! until the phone answers or `timeout` passes, and the transaction is finalized with
//! `/validate/check`. Other challenges (HOTP, e-mail, SMS) are answered with a typed code.
//!
//! Only an outage (no connection, no answer in time, a gateway's 502/503/504) is subject to
//! `failmode`, and an open failmode is its own decision ([`Decision::FailOpen`], logged at
//! warning level); a TLS failure, an HTTP 500 or any other unexpected reply is a denial. Every
//! request is bounded by the client's per-phase timeouts and the wait for the phone by
//! `timeout`: no unbounded loop.
//!
//! privacyIDEA counts failed checks per token itself. A rejection also counts towards the
//! local lockout of a user who has a local record, and an accepted login clears that count, as
//! a local code does.
//!
//! [`Decision::FailOpen`]: super::Decision::FailOpen

use super::context::LoginContext;
use super::conversation::{MAX_ANSWER_LEN, PROMPT};
use super::outcome::{Denial, Factor, Outcome, answered};
use super::remote::PrivacyIdeaRemote;
use super::verify;
use crate::config::Config;
use crate::policy::{FailMode, Policy};
use crate::privacyidea::{CheckResult, PiError, PollStatus, PrivacyIdeaConfig};
use crate::recovery::Attempt;
use crate::store::UserRecord;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The first prompt.
pub const PI_PROMPT: &str = "Verification code (or press Enter for a push to your phone): ";
/// The factor of every outcome here.
const FACTOR: Factor = Factor::PrivacyIdea;

/// One privacyIDEA login: the login's context, and what this backend adds to it.
struct Login<'c, 'a> {
    ctx: &'c mut LoginContext<'a>,
    section: &'a PrivacyIdeaConfig,
    failmode: FailMode,
    client_addr: Option<&'a str>,
    /// Whether the user has unused local recovery codes (messages point to them only then).
    has_recovery: bool,
}

/// Runs the login against privacyIDEA. `record` is the user's local record, if any (only its
/// recovery codes and lockout are used).
pub(crate) fn authenticate(
    ctx: &mut LoginContext<'_>,
    policy: &Policy,
    record: Option<&UserRecord>,
) -> Outcome {
    let cfg: &Config = ctx.cfg;
    let Some(section) = cfg.privacyidea.as_ref() else {
        return Outcome::deny(Denial::Config, "backend privacyidea without [privacyidea]");
    };
    if cfg.single_prompt {
        return Outcome::deny(Denial::Config, "single_prompt is not supported with privacyidea");
    }
    let clock = ctx.clock;
    if let Some(left) = record.and_then(|r| clock.now().ok().and_then(|n| r.lockout.locked_for(n)))
    {
        ctx.tell_error(&verify::locked_message(ctx.user, left));
        return Outcome::deny(Denial::AuthFailed, format!("locked for {left} more seconds"));
    }
    let req = ctx.req;
    let client_addr = req
        .rhost
        .as_deref()
        .map(str::trim)
        .filter(|r| section.pass_client_address && r.parse::<std::net::IpAddr>().is_ok());
    let has_recovery = record.and_then(|r| r.recovery.as_ref()).is_some_and(|c| c.remaining() > 0);
    let answer = match ask(ctx, PI_PROMPT) {
        Ok(a) => a,
        Err(o) => return o,
    };
    if has_recovery && Attempt::parse(&answer).is_some() {
        return verify::ask_and_verify(ctx, Some(answer), PROMPT);
    }
    let remotes = ctx.remotes;
    let pi = match remotes.privacyidea(section) {
        Ok(p) => p,
        // A CA file or proxy that cannot be used is a configuration fault: never fail open.
        Err(e) => return Outcome::deny(Denial::Unavailable, e.to_string()).with_factor(FACTOR),
    };
    let failmode = policy.failmode.unwrap_or(section.failmode);
    let mut login = Login { ctx, section, failmode, client_addr, has_recovery };
    let first = pi.check(login.ctx.user.as_str(), answer.trim(), None, login.client_addr);
    let typed_code = !answer.trim().is_empty();
    login.decide(&*pi, first, typed_code)
}

fn ask(ctx: &mut LoginContext<'_>, prompt: &str) -> Result<Zeroizing<String>, Outcome> {
    let answer = answered(ctx.conv.prompt_secret(prompt))?;
    if answer.len() > MAX_ANSWER_LEN {
        return Err(Outcome::deny(Denial::AuthFailed, "answer too long"));
    }
    Ok(answer)
}

impl Login<'_, '_> {
    /// Turns a `/validate/check` result into the decision, answering a challenge if needed.
    fn decide(
        &mut self,
        pi: &dyn PrivacyIdeaRemote,
        result: Result<CheckResult, PiError>,
        typed_code: bool,
    ) -> Outcome {
        match result {
            Ok(CheckResult::Accept) => self.accepted("accepted by privacyIDEA".into()),
            Ok(CheckResult::Reject(msg)) => self.rejected(&msg, typed_code),
            Ok(CheckResult::Challenge { transaction_id, challenges }) => {
                self.challenge(pi, &transaction_id, &challenges)
            }
            Err(e) => self.failed(e),
        }
    }

    /// A rejection counts towards the local lockout when the user has a local record (the
    /// server keeps its own failure counter as well).
    fn rejected(&mut self, server_msg: &str, typed_code: bool) -> Outcome {
        let reason = if server_msg.is_empty() {
            "rejected by privacyIDEA".to_string()
        } else {
            format!("rejected by privacyIDEA: {server_msg}")
        };
        // The same words for every rejected code (the server's own message stays in the log):
        // nothing a wrong guess would not tell.
        self.ctx.tell_error(if typed_code {
            "The verification server did not accept this code."
        } else {
            "The verification server refused the login."
        });
        if !typed_code {
            return Outcome::deny(Denial::AuthFailed, reason).with_factor(FACTOR);
        }
        let had_record = matches!(self.ctx.store.load(self.ctx.user), Ok(Some(_)));
        if !had_record {
            return Outcome::deny(Denial::AuthFailed, reason).with_factor(FACTOR);
        }
        match verify::lock_and_load(self.ctx) {
            Ok((lock, mut record, now)) => {
                verify::count_failure(self.ctx.cfg, &lock, &mut record, now, reason)
                    .0
                    .with_factor(FACTOR)
            }
            Err(_) => Outcome::deny(Denial::AuthFailed, reason).with_factor(FACTOR),
        }
    }

    /// privacyIDEA accepted: the local failure count (if the user has a local record) is
    /// cleared, as after a local code. The login stands if that cannot be written (nothing
    /// local was used up); the log says so.
    fn accepted(&self, mut reason: String) -> Outcome {
        if let Ok(Some(r)) = self.ctx.store.load(self.ctx.user) {
            if r.lockout != crate::lockout::LockoutState::default() {
                let cleared = verify::lock_and_load(self.ctx).map_err(|o| o.reason).and_then(
                    |(lock, mut record, _)| {
                        record.lockout.clear();
                        lock.save(&record).map_err(|e| e.to_string())
                    },
                );
                if let Err(e) = cleared {
                    reason.push_str(&format!(" (the local failure count was not cleared: {e})"));
                }
            }
        }
        Outcome::success(reason).with_factor(FACTOR)
    }

    /// The server could not answer: `failmode` decides an outage, loudly; anything else denies.
    fn failed(&mut self, e: PiError) -> Outcome {
        match e {
            PiError::Down(why) if self.failmode == FailMode::Open => Outcome::fail_open(format!(
                "privacyIDEA unreachable ({why}), failmode=open: letting in WITHOUT second factor"
            ))
            .with_factor(FACTOR),
            PiError::Down(why) => {
                self.ctx.tell_error(if self.has_recovery {
                    "The verification service cannot be reached. Try a recovery code."
                } else {
                    "The verification service cannot be reached. Try again later."
                });
                Outcome::deny(
                    Denial::Unavailable,
                    format!("privacyIDEA unreachable ({why}), failmode=closed"),
                )
                .with_factor(FACTOR)
            }
            other => Outcome::deny(Denial::AuthFailed, other.to_string()).with_factor(FACTOR),
        }
    }

    fn challenge(
        &mut self,
        pi: &dyn PrivacyIdeaRemote,
        tid: &str,
        challenges: &[crate::privacyidea::Challenge],
    ) -> Outcome {
        let push = challenges.iter().find(|c| c.kind == "push");
        let code_challenge = challenges.iter().find(|c| !matches!(c.kind.as_str(), "push"));
        let prompt = match (push, code_challenge) {
            (Some(p), _) => push_prompt(p),
            (None, Some(c)) if !c.message.is_empty() => format!("{}: ", c.message),
            (None, _) => PROMPT.to_string(),
        };
        let answer = match ask(self.ctx, &prompt) {
            Ok(a) => a,
            Err(o) => return o,
        };
        if !answer.trim().is_empty() || push.is_none() {
            // A typed code answers the transaction's code challenge, or (without one) is
            // checked on its own, e.g. a TOTP code typed instead of approving the push.
            let tid = code_challenge.map(|_| tid);
            let typed = !answer.trim().is_empty();
            return match pi.check(self.ctx.user.as_str(), answer.trim(), tid, self.client_addr) {
                Ok(CheckResult::Challenge { .. }) => {
                    Outcome::deny(Denial::AuthFailed, "privacyIDEA asked for a further challenge")
                        .with_factor(FACTOR)
                }
                other => self.decide(pi, other, typed),
            };
        }
        let number_matching = push.is_some_and(|p| p.presence_answer.is_some());
        self.wait_for_phone(pi, tid, number_matching)
    }

    /// Polls until the phone answers or `timeout` passes, then finalizes the transaction.
    fn wait_for_phone(
        &mut self,
        pi: &dyn PrivacyIdeaRemote,
        tid: &str,
        number_matching: bool,
    ) -> Outcome {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(self.section.timeout);
        let interval = Duration::from_millis(self.section.poll_interval);
        // Bounded even if the clock misbehaves: at most timeout / interval + 1 polls.
        let max_polls = self.section.timeout * 1000 / self.section.poll_interval + 1;
        for _ in 0..max_polls {
            match pi.poll(tid) {
                Ok(PollStatus::Accepted) => {
                    return match pi.check(self.ctx.user.as_str(), "", Some(tid), self.client_addr) {
                        Ok(CheckResult::Accept) => self.accepted(format!(
                            "push approved after {} ms, accepted by privacyIDEA",
                            start.elapsed().as_millis()
                        )),
                        Ok(CheckResult::Reject(m)) => Outcome::deny(
                            Denial::AuthFailed,
                            format!("push approved but the transaction was rejected: {m}"),
                        )
                        .with_factor(FACTOR),
                        Ok(CheckResult::Challenge { .. }) => Outcome::deny(
                            Denial::AuthFailed,
                            "push approved but privacyIDEA asked for a further challenge",
                        )
                        .with_factor(FACTOR),
                        Err(e) => self.failed(e),
                    };
                }
                Ok(PollStatus::Declined) => {
                    self.ctx.tell_error("The login was declined on the phone.");
                    return Outcome::deny(Denial::AuthFailed, "push declined on the phone")
                        .with_factor(FACTOR);
                }
                Ok(PollStatus::Pending) => {}
                Err(e) => return self.failed(e),
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep(interval.min(deadline - now));
        }
        // With number matching, privacyIDEA refuses a wrong number to the phone and keeps the
        // challenge open: to us that is the same as no answer. Say both.
        self.ctx.tell_error(if number_matching {
            "No approval from your phone in time. If you pressed a number, it was not the one \
             shown here."
        } else {
            "The phone did not answer in time."
        });
        Outcome::deny(
            Denial::AuthFailed,
            format!("no answer from the phone within {} s", self.section.timeout),
        )
        .with_factor(FACTOR)
    }
}

/// The prompt shown while a push is out: what to press on the phone when number matching is
/// on, and that Enter comes after approving (sshd shows text only together with a prompt).
fn push_prompt(push: &crate::privacyidea::Challenge) -> String {
    match &push.presence_answer {
        Some(n) => format!(
            "Approve the login on your phone by pressing {n}, then press Enter (or type a code): "
        ),
        None => "Approve the login on your phone, then press Enter (or type a code): ".to_string(),
    }
}
