//! Fleet mode, first slice (issue 20; `docs/ARCHITECTURE.md`, "Fleet mode"): the service keeps
//! each user's TOTP secret (sealed with [`master_key`]) and recovery-code hashes, and decides
//! a host's verification with a signed receipt ([`push_proto::fleet`]).
//!
//! The order of [`crate::http::fleet::verify`] is the contract: the attempt is counted and committed first
//! ([`crate::store::fleet::FleetStore::begin_attempt`]), then the answer is checked with
//! mfa-factors' TOTP and recovery code, and a right answer is accepted only by the store's
//! guarded update, which at most one request in the fleet wins.

pub mod access;
pub mod keys;
pub mod master_key;
pub mod migrate;
pub mod offline;
pub mod offline_windows;

use crate::store::fleet::TotpRecord;
use crate::store::fleet_enroll::ProofUse;
use crate::store::{Store, StoreError};
use master_key::{MasterKey, TotpBinding};
use mfa_factors::recovery::{Attempt, Check as RecoveryCheck, RecoveryCodes};
use mfa_factors::totp::{self, Algorithm, Check as TotpCheck, Params};
use zeroize::Zeroizing;

/// Why an answer was rejected (audited; never the answer itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The user has no such factor.
    NoFactor,
    /// Not a right answer.
    Wrong,
    /// Right, but accepted before (here or on another instance).
    Replayed,
    /// The stored secret does not open with this master key (wrong key file, or the row was
    /// altered or moved).
    Unreadable,
    /// A security-key challenge that is unknown, used, expired, or another host's, user's or
    /// login's.
    BadChallenge,
    /// A security-key assertion for another relying party.
    WrongRp,
    /// A security key's signature counter did not increase: a replayed assertion or a
    /// cloned key.
    KeyCounter,
    /// A factor that cannot be sent as an answer (a push approval) offered as one.
    NotAProof,
}

impl Rejected {
    /// Short text for the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejected::NoFactor => "no such factor",
            Rejected::Wrong => "wrong answer",
            Rejected::Replayed => "used before",
            Rejected::Unreadable => "stored secret does not open with the master key",
            Rejected::BadChallenge => "challenge unknown, used, expired or not this login's",
            Rejected::WrongRp => "assertion for another relying party",
            Rejected::KeyCounter => "signature counter did not increase (replay or cloned key)",
            Rejected::NotAProof => "not a factor that can be sent as an answer",
        }
    }
}

/// A check's result: accepted (the factor is used up), or rejected and why.
pub type Outcome = Result<(), Rejected>;

fn binding<'a>(r: &'a TotpRecord) -> TotpBinding<'a> {
    TotpBinding {
        scope: &r.scope,
        user: &r.user,
        algorithm: &r.algorithm,
        digits: r.digits,
        step: r.step,
    }
}

/// Seals `secret` into a TOTP record for `user` in `scope` (admin CLI, later migration).
pub fn totp_record(
    master: &MasterKey,
    scope: &str,
    user: &str,
    secret: &[u8],
    params: Params,
    last_step: Option<u64>,
    now: u64,
) -> Result<TotpRecord, String> {
    let mut rec = TotpRecord {
        scope: scope.to_string(),
        user: user.to_string(),
        sealed: Vec::new(),
        algorithm: params.algorithm.name().to_string(),
        digits: params.digits,
        step: params.step,
        last_step,
        updated_at: now,
    };
    rec.sealed = master.seal_totp(&binding(&rec), secret)?;
    Ok(rec)
}

/// Checks a TOTP code against the user's record and, if right and newer than the watermark,
/// accepts it by raising the watermark (guarded: one winner across instances).
pub async fn check_totp(
    store: &dyn Store,
    master: &MasterKey,
    scope: &str,
    user: &str,
    code: &str,
    window: u32,
    now: u64,
) -> Result<Outcome, StoreError> {
    let found = match match_totp(store, master, scope, user, code, window, now).await? {
        Ok(ProofUse::Totp { sealed, step }) => (sealed, step),
        Ok(ProofUse::Recovery { .. } | ProofUse::Key { .. }) => return Ok(Err(Rejected::Wrong)),
        Err(why) => return Ok(Err(why)),
    };
    if store.accept_totp(scope, user, &found.0, found.1, now).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Rejected::Replayed))
    }
}

/// Checks a TOTP code against the user's record without using it up: the step to accept and
/// the sealed secret it was checked against, for a guarded update (a login's or an
/// enrollment's).
pub async fn match_totp(
    store: &dyn Store,
    master: &MasterKey,
    scope: &str,
    user: &str,
    code: &str,
    window: u32,
    now: u64,
) -> Result<Result<ProofUse, Rejected>, StoreError> {
    let Some(rec) = store.totp(scope, user).await? else { return Ok(Err(Rejected::NoFactor)) };
    let Some(secret) = master.open_totp(&binding(&rec), &rec.sealed) else {
        return Ok(Err(Rejected::Unreadable));
    };
    let Some(algorithm) = Algorithm::from_name(&rec.algorithm) else {
        return Ok(Err(Rejected::Unreadable));
    };
    let params = Params { algorithm, digits: rec.digits, step: rec.step.max(1) };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let code = Zeroizing::new(code);
    match totp::verify(&secret, &params, &code, now, window, rec.last_step) {
        TotpCheck::Wrong => Ok(Err(Rejected::Wrong)),
        TotpCheck::Replayed => Ok(Err(Rejected::Replayed)),
        TotpCheck::Accepted(step) => Ok(Ok(ProofUse::Totp { sealed: rec.sealed, step })),
    }
}

/// Checks a recovery code (one Argon2id verification, on a blocking thread) and, if right and
/// unused, marks it used (guarded: one winner across instances).
pub async fn check_recovery(
    store: &dyn Store,
    scope: &str,
    user: &str,
    answer: Zeroizing<String>,
    now: u64,
) -> Result<Outcome, StoreError> {
    let (slot, hash) = match match_recovery(store, scope, user, answer).await? {
        Ok(ProofUse::Recovery { slot, hash }) => (slot, hash),
        Ok(ProofUse::Totp { .. } | ProofUse::Key { .. }) => return Ok(Err(Rejected::Wrong)),
        Err(why) => return Ok(Err(why)),
    };
    if store.use_recovery(scope, user, slot, &hash, now).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Rejected::Replayed))
    }
}

/// Checks a recovery code without using it up: its slot and hash, for a guarded update.
pub async fn match_recovery(
    store: &dyn Store,
    scope: &str,
    user: &str,
    answer: Zeroizing<String>,
) -> Result<Result<ProofUse, Rejected>, StoreError> {
    let slots = store.recovery(scope, user).await?;
    if slots.is_empty() {
        return Ok(Err(Rejected::NoFactor));
    }
    let Some(attempt) = Attempt::parse(&answer) else { return Ok(Err(Rejected::Wrong)) };
    let mut set =
        RecoveryCodes { generated: 0, slots: Vec::with_capacity(slots.len()), legacy: None };
    for s in &slots {
        while set.slots.len() < usize::from(s.slot) {
            set.slots.push(None);
        }
        set.slots.push(s.used_at.is_none().then(|| s.hash.clone()));
    }
    let before = set.slots.clone();
    let (check, after) = tokio::task::spawn_blocking(move || {
        let mut set = set;
        let check = set.redeem(&attempt);
        (check, set.slots)
    })
    .await
    .map_err(|e| StoreError::Db(format!("recovery check: {e}")))?;
    if check == RecoveryCheck::Rejected {
        return Ok(Err(Rejected::Wrong));
    }
    // The slot redeem emptied is the code used.
    let used = before.iter().zip(&after).position(|(b, a)| b.is_some() && a.is_none());
    let Some((slot, Some(hash))) = used.map(|i| (i, before[i].clone())) else {
        return Ok(Err(Rejected::Wrong));
    };
    let slot = u8::try_from(slot).unwrap_or(u8::MAX);
    Ok(Ok(ProofUse::Recovery { slot, hash }))
}
