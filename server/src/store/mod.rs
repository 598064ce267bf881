//! Persistent state behind one trait, so handlers and admin commands do not know the database.
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PostgresStore`] implements the
//! same trait for one or several instances on one PostgreSQL database.

mod codec;
pub mod fleet;
pub mod fleet_admin;
mod fleet_admin_sql;
pub mod fleet_enroll;
pub mod fleet_keys;
pub mod fleet_offline;
pub mod fleet_push;
pub mod passkeys;
pub mod pg_notify;
pub mod postgres;
mod sql;
pub mod sqlite;
pub mod url;

use async_trait::async_trait;
use push_proto::api::{CancelReason, Decision, PasskeyAssertion, PushSubscription, Status};

/// A storage failure. Messages may name tables and columns, never stored secrets.
#[derive(Debug)]
pub enum StoreError {
    /// A uniqueness rule was violated (the name says which).
    Conflict(String),
    /// The database failed.
    Db(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict(m) => write!(f, "conflict: {m}"),
            StoreError::Db(m) => write!(f, "database: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Storage result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A registered host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// Id (16 random bytes, base64url).
    pub id: String,
    /// Name shown on devices.
    pub name: String,
    /// SHA-256 of the bearer token.
    pub token_hash: [u8; 32],
    /// Registration time.
    pub created_at: u64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<u64>,
}

/// A paired device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Id (16 random bytes, base64url).
    pub id: String,
    /// The user it belongs to.
    pub user: String,
    /// The name it gave itself.
    pub name: String,
    /// P-256 public key (uncompressed SEC1, base64url).
    pub public_key: String,
    /// Pairing time.
    pub created_at: u64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<u64>,
    /// The host it was paired through: only hosts of its push scope may send it challenges
    /// ([`crate::scope`]). `None` for devices paired before protocol 2, which no host reaches.
    pub host_id: Option<String>,
}

/// A pairing (one-time credential).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pairing {
    /// Id (not secret).
    pub id: String,
    /// The host that created it.
    pub host_id: String,
    /// The user the device will belong to.
    pub user: String,
    /// SHA-256 of the credential.
    pub credential_hash: [u8; 32],
    /// Creation time.
    pub created_at: u64,
    /// Expiry time.
    pub expires_at: u64,
    /// When it was used, if it was.
    pub used_at: Option<u64>,
    /// The device that paired with it.
    pub device_id: Option<String>,
}

/// A device's recorded answer (with the service's receipt signature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The device that answered.
    pub device_id: String,
    /// Its decision.
    pub decision: Decision,
    /// The number it picked.
    pub number: Option<u8>,
    /// Its signature over `signed::answer`.
    pub device_signature: String,
    /// Its passkey's assertion over the same answer, for a device with a passkey.
    pub passkey: Option<PasskeyAssertion>,
    /// When the service received it.
    pub answered_at: u64,
    /// The service's signature over `signed::receipt`.
    pub receipt_signature: String,
}

/// A login challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Transaction id.
    pub txid: String,
    /// The host that created it.
    pub host_id: String,
    /// The push scope of that host ([`crate::scope`]): one open challenge, the user rate
    /// limit and fraud cooldowns count per user within a scope.
    pub scope: String,
    /// The host's name at creation.
    pub hostname: String,
    /// The user logging in.
    pub user: String,
    /// PAM service.
    pub service: String,
    /// Remote address.
    pub rhost: Option<String>,
    /// Login time by the host's clock.
    pub time: u64,
    /// The module's nonce.
    pub nonce: String,
    /// The three numbers the host had the phone offer, in display order, or none (the user
    /// types the number). The number shown at login is the host's alone.
    pub choices: Vec<u8>,
    /// Creation time.
    pub created_at: u64,
    /// Expiry time.
    pub expires_at: u64,
    /// Stored status (pending may be past its expiry: see [`Challenge::status_at`]).
    pub status: Status,
    /// The answer, once answered.
    pub answer: Option<Answer>,
}

impl Challenge {
    /// The login this challenge asks about, as the device signs it.
    pub fn login(&self) -> push_proto::signed::LoginFields<'_> {
        push_proto::signed::LoginFields {
            txid: &self.txid,
            host_id: &self.host_id,
            hostname: &self.hostname,
            user: &self.user,
            service: &self.service,
            rhost: self.rhost.as_deref(),
            time: self.time,
            nonce: &self.nonce,
            choices: &self.choices,
        }
    }

    /// The status at `now`: a pending challenge past its expiry is expired, whether or not
    /// the sweeper has marked it yet.
    pub fn status_at(&self, now: u64) -> Status {
        if self.status == Status::Pending && now >= self.expires_at {
            Status::Expired
        } else {
            self.status
        }
    }
}

/// The rate-limit key of a user within a push scope (user names never contain `/`).
pub fn user_key(scope: &str, user: &str) -> String {
    format!("{scope}/{user}")
}

/// Limits checked atomically with creating a challenge.
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    /// Challenges per user (within the challenge's scope) in the last 60 s.
    pub per_user: u32,
    /// Challenges per host in the last 60 s.
    pub per_host: u32,
}

/// What [`Store::create_challenge`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    /// Stored; these stale pending challenges of the user were marked expired on the way.
    Ok {
        /// The stale challenges now marked expired.
        expired: Vec<Challenge>,
    },
    /// The user has an open challenge.
    Pending,
    /// The user's rate limit is reached.
    UserRateLimited,
    /// The host's rate limit is reached.
    HostRateLimited,
}

/// User summary for `mfa-server user list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSummary {
    /// User name.
    pub user: String,
    /// Active (not revoked) devices.
    pub active_devices: u64,
    /// Revoked devices.
    pub revoked_devices: u64,
    /// End of the fraud cooldown, if one is running or was recorded.
    pub cooldown_until: Option<u64>,
}

/// The service's storage.
#[async_trait]
pub trait Store:
    passkeys::PasskeyStore
    + fleet::FleetStore
    + fleet_admin::FleetAdminStore
    + fleet_keys::FleetKeyStore
    + fleet_enroll::FleetEnrollStore
    + fleet_push::FleetPushStore
    + fleet_offline::FleetOfflineStore
    + Send
    + Sync
{
    /// Adds a host; [`StoreError::Conflict`] if the name is taken.
    async fn add_host(&self, host: &Host) -> Result<()>;
    /// The host whose token hashes to `hash` (revoked ones too).
    async fn host_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<Host>>;
    /// Revokes the host named `name`; false if there is no such active host.
    async fn revoke_host(&self, name: &str, now: u64) -> Result<bool>;
    /// All hosts.
    async fn hosts(&self) -> Result<Vec<Host>>;

    /// One device.
    async fn device(&self, id: &str) -> Result<Option<Device>>;
    /// All devices, or those of `user`.
    async fn devices(&self, user: Option<&str>) -> Result<Vec<Device>>;
    /// Revokes a device; false if there is no such active device.
    async fn revoke_device(&self, id: &str, now: u64) -> Result<bool>;
    /// Every user with a device or a cooldown.
    async fn users(&self) -> Result<Vec<UserSummary>>;

    /// Stores a new pairing.
    async fn add_pairing(&self, pairing: &Pairing) -> Result<()>;
    /// One pairing by id.
    async fn pairing(&self, id: &str) -> Result<Option<Pairing>>;
    /// The pairing whose credential hashes to `hash`.
    async fn pairing_by_credential(&self, hash: &[u8; 32]) -> Result<Option<Pairing>>;
    /// Marks the pairing used and creates `device` (with the passkey it made while pairing),
    /// atomically; false if it was used or expired meanwhile (a concurrent second use loses
    /// here).
    async fn use_pairing(
        &self,
        pairing_id: &str,
        device: &Device,
        passkey: Option<&passkeys::Passkey>,
        now: u64,
    ) -> Result<bool>;

    /// Records a device request's single-use nonce until `expires_at`; false if it was seen
    /// before (a replayed request).
    async fn use_request_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        expires_at: u64,
    ) -> Result<bool>;

    /// The end of `user`'s fraud cooldown in push scope `scope`, if any was recorded.
    async fn cooldown_until(&self, scope: &str, user: &str) -> Result<Option<u64>>;
    /// Stores a challenge sent to `devices` if the user has no open challenge in its scope and
    /// neither rate limit is reached, counting it against both; all in one step.
    async fn create_challenge(
        &self,
        challenge: &Challenge,
        devices: &[String],
        limits: RateLimits,
        now: u64,
    ) -> Result<Created>;
    /// One challenge.
    async fn challenge(&self, txid: &str) -> Result<Option<Challenge>>;
    /// Whether `txid` was sent to `device_id`.
    async fn sent_to(&self, txid: &str, device_id: &str) -> Result<bool>;
    /// The device ids `txid` was sent to.
    async fn recipients(&self, txid: &str) -> Result<Vec<String>>;
    /// Pending, unexpired challenges sent to `device_id`, oldest first.
    async fn pending_for_device(&self, device_id: &str, now: u64) -> Result<Vec<Challenge>>;
    /// Records an answer if the challenge is still pending and unexpired at `now`; with
    /// `cooldown_until`, starts the user's cooldown (in the challenge's scope) in the same
    /// step. False if it lost.
    async fn answer(
        &self,
        txid: &str,
        status: Status,
        answer: &Answer,
        cooldown_until: Option<u64>,
        now: u64,
    ) -> Result<bool>;
    /// Cancels a pending, unexpired challenge; false if it was not pending. With
    /// [`CancelReason::CodeTyped`] the challenge no longer counts against its user's rate
    /// limit (its event is removed in the same step); the host's rate still counts it.
    async fn cancel(&self, txid: &str, now: u64, reason: Option<CancelReason>) -> Result<bool>;
    /// Marks every pending challenge expired at `now` as expired and returns them.
    async fn expire_due(&self, now: u64) -> Result<Vec<Challenge>>;
    /// Forgets rate-limit events older than `before` and request nonces that expired before
    /// it.
    async fn prune(&self, before: u64) -> Result<()>;

    /// Stores `device_id`'s Web Push subscription, replacing any earlier one.
    async fn set_push_subscription(
        &self,
        device_id: &str,
        sub: &PushSubscription,
        now: u64,
    ) -> Result<()>;
    /// `device_id`'s Web Push subscription, if it has one.
    async fn push_subscription(&self, device_id: &str) -> Result<Option<PushSubscription>>;
    /// Deletes `device_id`'s subscription; with `endpoint`, only while it is still that one
    /// (a push service's "gone" must not delete a newer subscription). Whether one was deleted.
    async fn delete_push_subscription(
        &self,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool>;
}
