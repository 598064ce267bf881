//! Fleet enrollment's records (issue 20): the admin's opt-ins for `first_enrollment =
//! "admin"`, and the one transaction that checks the enrollment rule, uses up the proof and
//! makes the change ([`FleetEnrollStore::enroll`]).
//!
//! The rule is decided here, under the user's lock (PostgreSQL: the transaction advisory lock
//! of `begin_attempt`; SQLite: the write lock), so two hosts enrolling "a first factor" at once
//! cannot both skip the proof, and a proof is used up by the same guarded `UPDATE` as a login
//! (`last_step < step`, `used_at IS NULL`) in the transaction that makes the change: of two
//! requests with one code at most one changes anything.

use super::Result;
use super::fleet::{AttemptLimits, AttemptOf, Begun, TotpRecord};
use super::fleet_keys::FleetKey;
use async_trait::async_trait;
use push_proto::fleet::Factor;

/// Who may enroll a first factor (the service's `[fleet] first_enrollment`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstEnrollment {
    /// Any user without a factor (through a fleet host; the host's helper lets users enroll
    /// only themselves).
    #[default]
    #[serde(rename = "self")]
    SelfService,
    /// Only users the admin opted in (`mfa-server fleet user opt-in`).
    Admin,
}

/// A checked proof, to be used up in the change's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofUse {
    /// A TOTP code of this step, checked against this sealed secret.
    Totp {
        /// The sealed secret the code was checked against (unchanged since).
        sealed: Vec<u8>,
        /// The code's step: the new watermark.
        step: u64,
    },
    /// The recovery code in `slot`, whose hash is `hash`.
    Recovery {
        /// Its slot.
        slot: u8,
        /// Its stored hash (unchanged since).
        hash: String,
    },
    /// A security key's assertion (its enrollment challenge taken already): the key's
    /// counter goes from `stored` to `new` by a guarded update.
    Key {
        /// The key as read when the assertion was verified.
        key: FleetKey,
        /// The assertion's counter.
        new: u32,
    },
}

/// The change to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredChange {
    /// Set (replacing any) the TOTP record.
    Totp(TotpRecord),
    /// Replace the recovery codes with these hashes (all unused).
    Recovery(Vec<String>),
    /// Remove a factor.
    Remove(Factor),
    /// Remove every factor.
    RemoveAll,
    /// Register a security key (unless its credential id is in the scope already, or the
    /// user has [`push_proto::fleet_keys::MAX_KEYS`]).
    AddKey(FleetKey),
    /// A standalone host's records (`mfa-enroll migrate-to-fleet`); only for a user without
    /// any factor ([`Applied::NeedsCurrentFactor`] otherwise, as every change without proof).
    Migrate(Migrated),
    /// Make this device (checked by the caller: the user's, paired through the asking fleet
    /// host, not revoked) a fleet push factor.
    AddPushDevice(String),
}

/// One user's migrated records, checked and (the secret) sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The TOTP record with the host's watermark.
    pub totp: Option<TotpRecord>,
    /// Unused recovery codes: slot and Argon2id hash.
    pub recovery: Vec<(u8, String)>,
    /// Security keys for the fleet's RP id.
    pub keys: Vec<FleetKey>,
}

/// One enrollment.
#[derive(Clone, Debug)]
pub struct Enrollment<'a> {
    /// Fleet scope.
    pub scope: &'a str,
    /// User.
    pub user: &'a str,
    /// The checked proof, if the request had one.
    pub proof: Option<ProofUse>,
    /// The change.
    pub change: StoredChange,
    /// The service's `first_enrollment`.
    pub first: FirstEnrollment,
    /// Now.
    pub now: u64,
}

/// What [`FleetEnrollStore::enroll`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The change is made (and the proof, if any, used up).
    Done,
    /// The user has a factor and there is no proof: nothing changed.
    NeedsCurrentFactor,
    /// First enrollment with `first_enrollment = "admin"` of a user not opted in: nothing
    /// changed.
    NotOptedIn,
    /// The proof was used meanwhile (another login or enrollment won): nothing changed.
    ProofUsed,
    /// The key to add has a credential id registered in the scope already, or the user has
    /// as many keys as allowed: nothing changed (the proof not used up).
    KeyRefused,
}

/// Storage of fleet enrollment (part of every [`super::Store`]).
#[async_trait]
pub trait FleetEnrollStore: Send + Sync {
    /// In one transaction under the user's lock: decides the rule (a user with a factor needs
    /// a proof; a first factor needs `first` to allow it), uses up the proof by the guarded
    /// update a login uses (clearing the failure count), makes the change.
    async fn enroll(&self, e: &Enrollment<'_>) -> Result<Applied>;
    /// For a request that proves nothing (status, a first enrollment): in one transaction,
    /// uses up the host's nonce and applies and records the per-user and per-host rate limits
    /// of verification, counting no failure. [`Begun::Counted`]`(0)` when it may go on.
    async fn begin_request(
        &self,
        a: &AttemptOf<'_>,
        events: RateEvents,
        limits: AttemptLimits,
        now: u64,
    ) -> Result<Begun>;
    /// Opts the user in (`on`) or out of a first enrollment under `first_enrollment = "admin"`.
    async fn set_opt_in(&self, scope: &str, user: &str, on: bool, now: u64) -> Result<()>;
    /// Whether the admin opted the user in.
    async fn opted_in(&self, scope: &str, user: &str) -> Result<bool>;
}

/// Which rate events a request without proof spends (the `scope` column of `rate_events`):
/// per user, per host. Verification-like requests (status, enrollment) share the
/// verifications' budget; offline bundle and report requests, made by the host after every
/// answered login, have their own, so they never take a user's logins' budget.
pub type RateEvents = (&'static str, &'static str);

/// The verifications' rate events (challenges use `user` and `host`).
pub const VERIFY_EVENTS: RateEvents = ("fleet-user", "fleet-host");
/// The offline requests' rate events.
pub const OFFLINE_EVENTS: RateEvents = ("fleet-offline-user", "fleet-offline-host");

/// Whether the rule lets a change without proof through, given whether the user has a
/// factor and is opted in (both read under the user's lock).
pub(crate) fn unproven(
    change: &StoredChange,
    has_factor: bool,
    first: FirstEnrollment,
    opted_in: bool,
) -> Option<Applied> {
    match (has_factor, change) {
        (true, _) => Some(Applied::NeedsCurrentFactor),
        // Nothing to remove: nothing to protect.
        (false, StoredChange::Remove(_) | StoredChange::RemoveAll) => None,
        (false, _) if first == FirstEnrollment::Admin && !opted_in => Some(Applied::NotOptedIn),
        (false, _) => None,
    }
}
