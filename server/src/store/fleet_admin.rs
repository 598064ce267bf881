//! Fleet mode's access model (issue 20): host groups, their member hosts, and per user (within
//! a fleet scope) the groups whose hosts may authenticate or enroll the user; and removing a
//! user's fleet records. The decision itself is [`crate::fleet::access::may`]: this module
//! only stores what it reads.

use super::Result;
use async_trait::async_trait;

/// What a host asks to do for a user (stored as text: `authenticate`, `enroll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Verify the user's factors at login.
    Authenticate,
    /// Add, change or remove the user's factors.
    Enroll,
}

impl Purpose {
    /// Both purposes, in display order.
    pub const ALL: [Purpose; 2] = [Purpose::Authenticate, Purpose::Enroll];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Authenticate => "authenticate",
            Purpose::Enroll => "enroll",
        }
    }

    /// Parses a stored name; anything else is `None` (a reader treats it as corrupt).
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A host group with its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGroup {
    /// The group's name ([`crate::fleet::access::is_group_name`]).
    pub name: String,
    /// Creation time.
    pub created_at: u64,
    /// Ids of its member hosts, sorted.
    pub hosts: Vec<String>,
}

/// One of a user's restrictions: hosts of `group` may act for `purpose`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Restriction {
    /// For what.
    pub purpose: Purpose,
    /// Which group's hosts.
    pub group: String,
}

/// What [`FleetAdminStore::remove_group`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRemoved {
    /// The group and its memberships are gone.
    Removed,
    /// There is no such group.
    NoSuchGroup,
    /// Users' restrictions name it (`scope/user`, sorted): removing it would lift them, so it
    /// stays.
    InUse(Vec<String>),
}

/// Storage of host groups and users' restrictions (part of every [`super::Store`]).
#[async_trait]
pub trait FleetAdminStore: Send + Sync {
    /// Creates an empty group; [`super::StoreError::Conflict`] if the name is taken.
    async fn add_group(&self, name: &str, now: u64) -> Result<()>;
    /// Removes a group and its memberships, unless a user's restriction names it.
    async fn remove_group(&self, name: &str) -> Result<GroupRemoved>;
    /// Every group with its members, by name.
    async fn groups(&self) -> Result<Vec<HostGroup>>;
    /// Makes host `host_id` a member of `group` (already one: no change). False if there is
    /// no such group.
    async fn add_group_host(&self, group: &str, host_id: &str) -> Result<bool>;
    /// Removes host `host_id` from `group`; false if it was not a member.
    async fn remove_group_host(&self, group: &str, host_id: &str) -> Result<bool>;
    /// The groups host `host_id` belongs to, sorted.
    async fn groups_of_host(&self, host_id: &str) -> Result<Vec<String>>;
    /// The user's restrictions, sorted. A stored purpose that does not parse is an error
    /// (never skipped: skipping could lift a restriction).
    async fn user_groups(&self, scope: &str, user: &str) -> Result<Vec<Restriction>>;
    /// Replaces the user's restrictions for `purpose` with `groups` (empty: unrestricted for
    /// it), in one transaction. A group that does not exist fails the whole change.
    async fn set_user_groups(
        &self,
        scope: &str,
        user: &str,
        purpose: Purpose,
        groups: &[String],
    ) -> Result<()>;
    /// Every user with a fleet record in `scope` (TOTP, recovery codes, a failure count or a
    /// restriction), sorted.
    async fn fleet_users(&self, scope: &str) -> Result<Vec<String>>;
    /// Removes every fleet record of the user in `scope` (TOTP, recovery codes, failure count
    /// and lockout, restrictions) in one transaction; whether there was any. Later factors
    /// (security keys, devices) add their tables here.
    async fn remove_user(&self, scope: &str, user: &str) -> Result<bool>;
}
