//! Asking an enrolled user for a code and checking it, with replay protection and lockout.

use super::context::LoginContext;
use super::conversation::{Clock, Conversation, MAX_ANSWER_LEN, SINGLE_PROMPT};
use super::outcome::{Denial, Factor, Outcome, answered};
use crate::config::Config;
use crate::recovery::{self, Attempt};
use crate::store::{Store, UserLock, UserRecord};
use crate::totp;
use crate::username::UserName;
use zeroize::Zeroizing;

enum Answer {
    Totp(Zeroizing<String>),
    Recovery(Attempt),
    Malformed,
    TooLong,
}

fn classify(answer: &str, totp_digits: Option<u8>) -> Answer {
    let compact: Zeroizing<String> =
        Zeroizing::new(answer.chars().filter(|c| !c.is_whitespace()).collect());
    if let Some(d) = totp_digits {
        if compact.len() == usize::from(d) && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Answer::Totp(compact);
        }
    }
    // Eight digits that are not a TOTP code: an imported google-authenticator scratch code.
    if let Some(legacy) = Attempt::legacy(&compact) {
        return Answer::Recovery(legacy);
    }
    Attempt::parse(answer).map_or(Answer::Malformed, Answer::Recovery)
}

/// The message shown when the factor is locked: for how long, and the command that lifts it,
/// with the user's name as an administrator types it. One short line: xsecurelock draws a
/// message on one line, cut at the screen's edges.
pub(crate) fn locked_message(user: &UserName, seconds_left: u64) -> String {
    let minutes = seconds_left.div_ceil(60);
    format!(
        "Too many wrong codes: locked for {minutes} more minute{} (admin: mfa-enroll --user {} \
         admin unlock)",
        if minutes == 1 { "" } else { "s" },
        user.as_str()
    )
}

/// The message for a code that was right but already used (replay protection): the user typed
/// the code just used, and the next one comes with the next time step.
pub(crate) const REPLAYED_MESSAGE: &str =
    "This code was already used. Wait for the next code in your app, then try again.";

/// Why an answer was not accepted. The replayed code is the one refusal the user is told
/// about (with [`REPLAYED_MESSAGE`]); the others look alike to the user and differ in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A TOTP-shaped answer, but the user has no TOTP enrolled.
    NoTotp,
    /// The right TOTP code of a step already used.
    Replayed,
    /// A TOTP code that is not the right one.
    WrongCode,
    /// A recovery code that is not one of the user's, or already used.
    WrongRecovery,
    /// Neither a code nor a recovery code.
    Malformed,
    /// Longer than any answer could be.
    TooLong,
}

impl Refusal {
    /// The log's words.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::NoTotp => "no TOTP enrolled",
            Refusal::Replayed => "code already used",
            Refusal::WrongCode => "wrong code",
            Refusal::WrongRecovery => "wrong or used recovery code",
            Refusal::Malformed => "answer is neither a code nor a recovery code",
            Refusal::TooLong => "answer too long",
        }
    }
}

/// Single-prompt mode: asks for password and code in one answer, hands the password to the next
/// module, and returns the code part (`None` when the user has no TOTP factor, in which case
/// the whole answer was the password). The code part is a recovery code as printed
/// (`3-7KQ2M-9XD4P`), the TOTP code's digits, or a recovery code without its dashes, in that
/// order of preference (a user with recovery codes only).
pub(super) fn split_single_prompt(
    conv: &mut dyn Conversation,
    digits: Option<usize>,
    has_recovery: bool,
) -> Result<Option<Zeroizing<String>>, Outcome> {
    let answer = answered(conv.prompt_secret(SINGLE_PROMPT))?;
    let (password, code) = match digits {
        Some(d) => {
            let Some(split) = code_at_end(&answer, d, has_recovery) else {
                return Err(Outcome::deny(
                    Denial::AuthFailed,
                    "single prompt: no code at the end of the answer",
                ));
            };
            (
                Zeroizing::new(answer[..split].to_string()),
                Some(Zeroizing::new(answer[split..].to_string())),
            )
        }
        None => (answer, None),
    };
    conv.set_password(&password)?;
    Ok(code)
}

/// Where the code starts at the end of a single-prompt answer, if it ends in one.
fn code_at_end(answer: &str, digits: usize, has_recovery: bool) -> Option<usize> {
    let tail = |n: usize| {
        let at = answer.len().checked_sub(n)?;
        answer.is_char_boundary(at).then(|| (at, &answer[at..]))
    };
    let printed_recovery = tail(13).filter(|(_, t)| {
        let b = t.as_bytes();
        has_recovery && b[1] == b'-' && b[7] == b'-' && Attempt::parse(t).is_some()
    });
    let totp = tail(digits).filter(|(_, t)| t.bytes().all(|b| b.is_ascii_digit()));
    let compact_recovery = tail(11).filter(|(_, t)| {
        has_recovery && t.bytes().all(|b| b.is_ascii_alphanumeric()) && Attempt::parse(t).is_some()
    });
    printed_recovery.or(totp).or(compact_recovery).map(|(at, _)| at)
}

/// The message when another login of the same user holds the lock for too long.
pub(crate) const BUSY_MESSAGE: &str =
    "Another login of your account is still being checked. Try again in a moment.";

/// Asks for a code (unless single-prompt mode already has it) and verifies it as a counted
/// attempt ([`begin_attempt`]). A right code clears the count; a wrong one stays counted.
pub(crate) fn ask_and_verify(
    ctx: &mut LoginContext<'_>,
    preset: Option<Zeroizing<String>>,
    prompt: &str,
) -> Outcome {
    let answer = match preset {
        Some(a) => a,
        None => match answered(ctx.conv.prompt_secret(prompt)) {
            Ok(a) => a,
            Err(o) => return o,
        },
    };
    if answer.trim().is_empty() {
        return Outcome::deny(Denial::AuthFailed, "empty answer");
    }
    let mut counted = match begin_attempt(ctx) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let (factor, result) = check_answer(ctx.cfg, &mut counted, &answer);
    let o = match result {
        // The used step / code is on disk before we say yes, or it could be used again.
        Ok(recovery_left) => match counted.accept(ctx) {
            Err(o) => o,
            Ok(()) => match recovery_left {
                None => Outcome::success("code accepted"),
                Some(left) => {
                    tell_recovery_left(ctx, left);
                    Outcome::success(format!("recovery code accepted, {left} left"))
                }
            },
        },
        Err(refusal) => counted.refuse(ctx, refusal),
    };
    Outcome { factor, ..o }
}

/// Checks an answer against the record read under the lock, marking what it used (the TOTP
/// step, the recovery code) in that record. The factor the answer was taken for, and the
/// recovery codes left after a recovery code (`Ok(None)` for a TOTP code) or why it failed.
fn check_answer(
    cfg: &Config,
    counted: &mut CountedAttempt<'_>,
    answer: &str,
) -> (Option<Factor>, Result<Option<usize>, Refusal>) {
    let now = counted.now;
    let record = &mut counted.record;
    let answer_kind = if answer.len() > MAX_ANSWER_LEN {
        Answer::TooLong
    } else {
        classify(answer, record.totp.as_ref().map(|t| t.params.digits))
    };
    match answer_kind {
        Answer::Totp(code) => {
            let Some(f) = record.totp.as_mut() else {
                return (Some(Factor::Totp), Err(Refusal::NoTotp));
            };
            let window = f.window.unwrap_or(cfg.totp.window);
            let check =
                totp::verify(f.secret.expose(), &f.params, &code, now, window, f.last_used_step);
            let result = match check {
                totp::Check::Accepted(step) => {
                    f.last_used_step = Some(step);
                    Ok(None)
                }
                totp::Check::Replayed => Err(Refusal::Replayed),
                totp::Check::Wrong => Err(Refusal::WrongCode),
            };
            (Some(Factor::Totp), result)
        }
        Answer::Recovery(attempt) => {
            let result = match record.recovery.as_mut().map(|c| c.redeem(&attempt)) {
                Some(recovery::Check::Accepted { remaining }) => Ok(Some(remaining)),
                _ => Err(Refusal::WrongRecovery),
            };
            (Some(Factor::Recovery), result)
        }
        Answer::Malformed => (None, Err(Refusal::Malformed)),
        Answer::TooLong => (None, Err(Refusal::TooLong)),
    }
}

/// One answer's check, counted before it is made (issue 15, finding 1).
///
/// Under the user's lock the attempt is first recorded as a failure and written to disk
/// (fsync'd); only then is the answer checked. A right answer clears the count with the same
/// lock held ([`CountedAttempt::accept`]); anything else leaves it counted ([`CountedAttempt::reject`]).
/// When the count cannot be written (a full disk, or a caller's resource limits), the answer is
/// never checked, so no guess is ever free. The caller sees only the decision: every denial
/// after the check looks the same (`AuthFailed`, the same messages), whether the answer was
/// wrong or right but could not be recorded; the difference is in the log only.
pub(crate) struct CountedAttempt<'s> {
    lock: UserLock<'s>,
    /// The record read under the lock, with this attempt counted; the check changes it (used
    /// step, used recovery code, key counter).
    pub(crate) record: UserRecord,
    /// The time the answer is judged at (read under the lock).
    pub(crate) now: u64,
    /// Whether counting this attempt locked the factor.
    locks_now: bool,
    /// Whose attempt this is (named in the lockout message).
    user: UserName,
}

/// Takes the user's lock (waiting at most `[store] lock_wait`), reads the record, refuses a
/// locked factor, counts the attempt and writes the count. Every `Err` is a denial made before
/// the answer was looked at.
pub(crate) fn begin_attempt<'s>(ctx: &mut LoginContext<'s>) -> Result<CountedAttempt<'s>, Outcome> {
    let (store, user) = (ctx.store, ctx.user);
    let (lock, mut record, now) = match lock_and_load_inner(store, user, ctx.clock) {
        Ok(l) => l,
        Err((o, busy)) => {
            if busy {
                ctx.tell_error(BUSY_MESSAGE);
            }
            return Err(o);
        }
    };
    if let Some(left) = record.lockout.locked_for(now) {
        drop(lock);
        ctx.tell_error(&locked_message(user, left));
        return Err(Outcome::deny(Denial::AuthFailed, format!("locked for {left} more seconds")));
    }
    let before = record.lockout.clone();
    let locks_now = record.lockout.record_failure(now, &ctx.cfg.lockout);
    if record.lockout != before {
        if let Err(e) = lock.save(&record) {
            return Err(Outcome::deny(
                Denial::Unavailable,
                format!("cannot record the attempt, so the answer was not checked: {e}"),
            ));
        }
    }
    Ok(CountedAttempt { lock, record, now, locks_now, user: user.clone() })
}

impl CountedAttempt<'_> {
    /// The answer was right: the count is cleared and the record (with what the check changed)
    /// is written. If that write fails, the answer stays unused and counted: a denial that looks
    /// exactly like a wrong answer to the caller.
    pub(crate) fn accept(mut self, ctx: &mut LoginContext<'_>) -> Result<(), Outcome> {
        self.record.lockout.clear();
        match self.lock.save(&self.record) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.reject(
                ctx,
                format!("right answer, but it could not be recorded as used ({e}); counted"),
            )),
        }
    }

    /// A code or recovery code was refused: see [`CountedAttempt::reject`]; a replayed code is
    /// also explained to the user.
    pub(crate) fn refuse(self, ctx: &mut LoginContext<'_>, refusal: Refusal) -> Outcome {
        self.deny(ctx, refusal.reason().to_string(), refusal == Refusal::Replayed)
    }

    /// The answer was wrong (or could not be used): it is already counted. Releases the lock,
    /// then tells the user if this attempt locked the factor.
    pub(crate) fn reject(self, ctx: &mut LoginContext<'_>, reason: String) -> Outcome {
        self.deny(ctx, reason, false)
    }

    fn deny(self, ctx: &mut LoginContext<'_>, mut reason: String, replayed: bool) -> Outcome {
        let CountedAttempt { lock, locks_now, user, .. } = self;
        drop(lock);
        if locks_now {
            reason.push_str("; factor now locked");
            ctx.tell_error(&locked_message(&user, ctx.cfg.lockout.duration));
        } else if replayed {
            ctx.tell_error(REPLAYED_MESSAGE);
        }
        Outcome::deny(Denial::AuthFailed, reason)
    }
}

/// The user's lock, the record read under it, and the time an answer is judged at (after the
/// answer, under the lock).
pub(crate) type Locked<'s> = (UserLock<'s>, UserRecord, u64);

/// Takes the user's lock and reads the record and the time. A removed enrollment, an unusable
/// store or clock is the denial; `true` with it when the lock was busy.
fn lock_and_load_inner<'s>(
    store: &'s Store,
    user: &UserName,
    clock: &dyn Clock,
) -> Result<Locked<'s>, (Outcome, bool)> {
    let lock = store.lock(user).map_err(|e| {
        let busy = matches!(e, crate::Error::Busy(_));
        (Outcome::from(e), busy)
    })?;
    let record = match lock.load() {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err((
                Outcome::deny(Denial::AuthFailed, "enrollment removed during login"),
                false,
            ));
        }
        Err(e) => return Err((e.into(), false)),
    };
    let now = clock.now().map_err(|e| (Outcome::from(e), false))?;
    Ok((lock, record, now))
}

/// [`lock_and_load_inner`] for callers that do not tell the user about a busy lock.
pub(crate) fn lock_and_load<'s>(ctx: &LoginContext<'s>) -> Result<Locked<'s>, Outcome> {
    lock_and_load_inner(ctx.store, ctx.user, ctx.clock).map_err(|(o, _)| o)
}

/// Counts a failure under the lock (a push denied on the phone, a wrong security-key PIN) and
/// returns the denial, and whether this failure locked the factor (the caller tells the user
/// after releasing the lock). The record is written only when the counter changed (never with
/// the lockout disabled). A failed write does not change what the caller sees: the denial is
/// the same, the log says the failure could not be recorded.
pub(crate) fn count_failure(
    cfg: &Config,
    lock: &UserLock<'_>,
    record: &mut UserRecord,
    now: u64,
    mut reason: String,
) -> (Outcome, bool) {
    let before = record.lockout.clone();
    let locked = record.lockout.record_failure(now, &cfg.lockout);
    let saved = if record.lockout == before { Ok(()) } else { lock.save(record) };
    if locked {
        reason.push_str("; factor now locked");
    }
    if let Err(e) = saved {
        reason.push_str(&format!("; cannot record the failure: {e}"));
    }
    (Outcome::deny(Denial::AuthFailed, reason), locked)
}

fn tell_recovery_left(ctx: &mut LoginContext<'_>, left: usize) {
    // A screen locker may hold the unlock until a message after success is acknowledged
    // (xscreensaver shows it with an OK button and stays locked if nobody presses it): the
    // decision line in the log has the count, `mfa-enroll status` shows it.
    if ctx.req.silent || ctx.cfg.locker {
        return;
    }
    ctx.conv.info(&format!(
        "Recovery code accepted. {left} recovery code{} left.",
        if left == 1 { "" } else { "s" }
    ));
    if left <= ctx.cfg.recovery.warn_below as usize {
        ctx.conv.info("Make new recovery codes soon: mfa-enroll recovery-codes --regenerate");
    }
}
