//! Fleet mode's records (issue 20, first slice): per user and fleet scope, a TOTP record (the
//! secret sealed with the master key, [`crate::fleet::master_key`]; its parameters; the
//! watermark, i.e. the last accepted step), recovery-code hashes with used flags, and the
//! fleet-wide failure count and lockout; plus the hosts' verification nonces.
//!
//! Single use across instances rests on the database, not on a process: an attempt is counted
//! (and committed) by [`FleetStore::begin_attempt`] before the answer is checked, and the
//! answer is accepted by one guarded `UPDATE` in a transaction that also clears the failure
//! count ([`FleetStore::accept_totp`]: `... WHERE last_step < step`;
//! [`FleetStore::use_recovery`]: `... WHERE used_at IS NULL`), so of two instances racing the
//! same code exactly one sees its row change.

use super::Result;
use async_trait::async_trait;

/// A user's TOTP record.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// Fleet scope ([`crate::scope::fleet_of_host`]).
    pub scope: String,
    /// User name.
    pub user: String,
    /// The secret, sealed ([`crate::fleet::master_key::MasterKey::seal_totp`]).
    pub sealed: Vec<u8>,
    /// HMAC algorithm name (`SHA1`, `SHA256`, `SHA512`).
    pub algorithm: String,
    /// Code length.
    pub digits: u8,
    /// Seconds per step.
    pub step: u64,
    /// The watermark: the last accepted step (none accepted yet: `None`).
    pub last_step: Option<u64>,
    /// When the record was set.
    pub updated_at: u64,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("scope", &self.scope)
            .field("user", &self.user)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("step", &self.step)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// One recovery code's stored hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoverySlot {
    /// Its index (the code's first character).
    pub slot: u8,
    /// Argon2id PHC string (mfa-factors' recovery module).
    pub hash: String,
    /// When it was used, if it was.
    pub used_at: Option<u64>,
}

/// A user's fleet-wide failure count and lockout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lockout {
    /// Attempts counted since the last success or lockout.
    pub failures: u32,
    /// End of the running or last lockout.
    pub locked_until: Option<u64>,
}

/// The limits [`FleetStore::begin_attempt`] applies.
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    /// Verifications per user (within its fleet scope) in the last 60 s.
    pub per_user: u32,
    /// Verifications per host in the last 60 s.
    pub per_host: u32,
    /// Counted attempts after which the user is locked out.
    pub max_failures: u32,
    /// Lockout length, seconds.
    pub lockout: u64,
}

/// An attempt about to be checked.
#[derive(Clone, Copy, Debug)]
pub struct AttemptOf<'a> {
    /// Fleet scope.
    pub scope: &'a str,
    /// User.
    pub user: &'a str,
    /// Asking host's id.
    pub host_id: &'a str,
    /// The host's nonce.
    pub nonce: &'a str,
    /// Until when the nonce is remembered.
    pub nonce_expires_at: u64,
}

/// What [`FleetStore::begin_attempt`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begun {
    /// Counted (committed): check the answer now. This is the attempt's number since the
    /// last success or lockout.
    Counted(u32),
    /// The user is locked out until then (the nonce is used up, nothing else changed; or this
    /// attempt was one too many and started the lockout).
    Locked(u64),
    /// The host used this nonce before: nothing changed.
    NonceReplayed,
    /// The user's verification rate is reached (nonce used up, nothing counted).
    UserRateLimited,
    /// The host's verification rate is reached (nonce used up, nothing counted).
    HostRateLimited,
}

/// Storage of fleet-mode records (part of every [`super::Store`]).
#[async_trait]
pub trait FleetStore: Send + Sync {
    /// Stores (replacing any) the user's TOTP record, watermark included.
    async fn set_totp(&self, rec: &TotpRecord) -> Result<()>;
    /// The user's TOTP record.
    async fn totp(&self, scope: &str, user: &str) -> Result<Option<TotpRecord>>;
    /// Replaces the user's recovery codes with `hashes` (slot = position; `None`: a slot
    /// used already, not stored), all unused.
    async fn set_recovery(
        &self,
        scope: &str,
        user: &str,
        hashes: &[Option<String>],
        now: u64,
    ) -> Result<()>;
    /// The user's recovery codes, by slot.
    async fn recovery(&self, scope: &str, user: &str) -> Result<Vec<RecoverySlot>>;
    /// The user's failure count and lockout.
    async fn lockout(&self, scope: &str, user: &str) -> Result<Lockout>;

    /// In one transaction: uses up the host's nonce (a seen nonce changes nothing), refuses
    /// while the user is locked out, applies the rate limits and counts the attempt (starting
    /// the lockout when this attempt is past the limit). Committed before the answer is
    /// checked: an attempt whose count cannot be stored is never checked.
    async fn begin_attempt(
        &self,
        a: &AttemptOf<'_>,
        limits: AttemptLimits,
        now: u64,
    ) -> Result<Begun>;
    /// Accepts TOTP step `step` checked against `sealed`: raises the watermark to it if it is
    /// still below and the secret unchanged, and clears the failure count, in one
    /// transaction. False if another request got there first (a replay).
    async fn accept_totp(
        &self,
        scope: &str,
        user: &str,
        sealed: &[u8],
        step: u64,
        now: u64,
    ) -> Result<bool>;
    /// Marks recovery code `slot` (still `hash`) used and clears the failure count, in one
    /// transaction. False if it was used meanwhile.
    async fn use_recovery(
        &self,
        scope: &str,
        user: &str,
        slot: u8,
        hash: &str,
        now: u64,
    ) -> Result<bool>;
    /// After a wrong answer: starts the lockout until `until` if `max_failures` attempts are
    /// counted and none is running. Whether it started one.
    async fn lock_if_due(
        &self,
        scope: &str,
        user: &str,
        max_failures: u32,
        until: u64,
        now: u64,
    ) -> Result<bool>;
    /// Clears the user's failure count and lockout (the later `user unlock`).
    async fn unlock(&self, scope: &str, user: &str) -> Result<()>;
    /// Forgets verification nonces that expired before `before`.
    async fn prune_fleet_nonces(&self, before: u64) -> Result<()>;
}
