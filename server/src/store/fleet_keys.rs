//! Fleet mode's security keys (issue 20): per user and fleet scope, FIDO2 credentials
//! registered for the fleet's one RP id (`[fleet] rp_id`), and the assertion challenges the
//! service hands to hosts; and which hosts share the fleet's push scope.
//!
//! Single use across instances rests on the database: a challenge is taken by one `DELETE …
//! RETURNING` (two instances taking the same one: one gets the row, the other nothing), and an
//! assertion is accepted by one guarded `UPDATE … SET sign_count = new WHERE sign_count =
//! stored` in the transaction that clears the failure count
//! ([`FleetKeyStore::accept_fleet_key`]): of two instances verifying assertions with the same
//! counter (a replay, or a cloned key), exactly one sees its row change.

use super::Result;
use super::sql::Columns;
use async_trait::async_trait;

/// The rate events of key challenges (the `scope` column of `rate_events`): per user, per
/// host.
pub(crate) const KEY_EVENTS: (&str, &str) = ("fleet-key-user", "fleet-key-host");

/// A security key registered at the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetKey {
    /// Fleet scope ([`crate::scope::fleet_of_host`]).
    pub scope: String,
    /// User name.
    pub user: String,
    /// Credential id, base64url without padding.
    pub credential_id: String,
    /// COSE_Key, base64url without padding.
    pub public_key: String,
    /// The user's name for the key.
    pub name: String,
    /// The last signature counter accepted (fleet-wide).
    pub sign_count: u32,
    /// Require user verification (PIN) at login.
    pub user_verification: bool,
    /// When it was registered.
    pub created_at: u64,
    /// When it was last used.
    pub used_at: Option<u64>,
}

/// What a challenge is for: each endpoint takes only challenges of its own purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPurpose {
    /// A login (`/v2/fleet/key/*`).
    Login,
    /// The proof of an enrollment change (`/v2/fleet/enroll/key/challenge`, `/v2/fleet/enroll`).
    Enroll,
}

impl KeyPurpose {
    /// The `purpose` column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Login => "login",
            KeyPurpose::Enroll => "enroll",
        }
    }

    fn parse(s: &str) -> Result<KeyPurpose> {
        [KeyPurpose::Login, KeyPurpose::Enroll]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| super::StoreError::Db(format!("unknown key challenge purpose {s:?}")))
    }
}

/// An assertion challenge handed to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChallenge {
    /// 32 random bytes, base64url.
    pub challenge: String,
    /// The host it was given to.
    pub host_id: String,
    /// The user's fleet scope.
    pub scope: String,
    /// The user.
    pub user: String,
    /// The host's nonce for the login (or for the enrollment challenge's request).
    pub nonce: String,
    /// When it stops being usable.
    pub expires_at: u64,
    /// What it is for.
    pub purpose: KeyPurpose,
}

/// A row of `fleet_keys`.
pub(crate) fn key_row(r: &impl Columns) -> Result<FleetKey> {
    Ok(FleetKey {
        scope: r.text("scope")?,
        user: r.text("user")?,
        credential_id: r.text("credential_id")?,
        public_key: r.text("public_key")?,
        name: r.text("name")?,
        sign_count: u32::try_from(r.int("sign_count")?).unwrap_or(u32::MAX),
        user_verification: r.int("user_verification")? != 0,
        created_at: super::codec::u(r.int("created_at")?),
        used_at: r.opt_int("used_at")?.map(super::codec::u),
    })
}

/// A row of `fleet_key_challenges`.
pub(crate) fn challenge_row(r: &impl Columns) -> Result<KeyChallenge> {
    Ok(KeyChallenge {
        challenge: r.text("challenge")?,
        host_id: r.text("host_id")?,
        scope: r.text("scope")?,
        user: r.text("user")?,
        nonce: r.text("nonce")?,
        expires_at: super::codec::u(r.int("expires_at")?),
        purpose: KeyPurpose::parse(&r.text("purpose")?)?,
    })
}

/// Storage of fleet security keys (part of every [`super::Store`]).
#[async_trait]
pub trait FleetKeyStore: Send + Sync {
    /// Registers a key (the admin CLI, and enrollment through the service later);
    /// [`super::StoreError::Conflict`] if the user has this credential id already.
    async fn add_fleet_key(&self, key: &FleetKey) -> Result<()>;
    /// Removes the user's key `credential_id`; false if there was none.
    async fn remove_fleet_key(&self, scope: &str, user: &str, credential_id: &str) -> Result<bool>;
    /// The user's keys, oldest first.
    async fn fleet_keys(&self, scope: &str, user: &str) -> Result<Vec<FleetKey>>;
    /// Remembers a challenge handed to a host.
    async fn put_key_challenge(&self, c: &KeyChallenge) -> Result<()>;
    /// Takes (deletes and returns) the challenge `challenge` given to host `host_id`: at most
    /// once, whoever asks. The caller checks its user, nonce and expiry.
    async fn take_key_challenge(
        &self,
        host_id: &str,
        challenge: &str,
    ) -> Result<Option<KeyChallenge>>;
    /// Accepts an assertion of key `credential_id` checked against counter `stored`: sets the
    /// counter to `new` if it is still `stored`, and clears the user's failure count, in one
    /// transaction. False if another request changed it first (a replay or a cloned key).
    async fn accept_fleet_key(&self, key: &FleetKey, new: u32, now: u64) -> Result<bool>;
    /// Applies and records the per-user and per-host rate limits of key challenges (logins'
    /// and enrollment proofs' together; their own events, apart from verifications'):
    /// the limit reached ([`super::fleet::Begun::UserRateLimited`] or `HostRateLimited`,
    /// nothing recorded), or `None` after recording this request. Uses up no nonce (a login's
    /// nonce is used up by its verification).
    async fn take_key_challenge_rate(
        &self,
        a: &super::fleet::AttemptOf<'_>,
        limits: super::fleet::AttemptLimits,
        now: u64,
    ) -> Result<Option<super::fleet::Begun>>;
    /// Forgets challenges that expired before `before`.
    async fn prune_key_challenges(&self, before: u64) -> Result<()>;

    /// Makes host `host_id` a fleet host for push (`joined`) or its own push scope again
    /// ([`crate::scope::push_scope`]); whether anything changed.
    async fn set_fleet_push_host(&self, host_id: &str, joined: bool, now: u64) -> Result<bool>;
    /// Whether host `host_id` is a fleet host for push.
    async fn is_fleet_push_host(&self, host_id: &str) -> Result<bool>;
}
