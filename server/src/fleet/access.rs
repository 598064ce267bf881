//! Who may do what in the fleet: which hosts may authenticate and enroll which users
//! (issue 20; `docs/ARCHITECTURE.md`, "Fleet mode", access model).
//!
//! The model, in two rules:
//!
//! 1. A user with no restriction for a purpose may be served for it by every host. A user
//!    with restrictions for a purpose (host groups, [`Purpose`]) may be served for it only by
//!    a host that is a member of at least one of those groups (a group with no hosts: none).
//! 2. Enrolling is never wider than authenticating: a host may enroll a user only if it may
//!    also authenticate the user, and it passes the user's enroll restrictions (if any).
//!
//! Fail closed: a revoked host may do nothing; any storage error is an error (the caller
//! refuses); a stored restriction that does not parse is an error, never skipped; a group
//! named by a restriction cannot be deleted (that would lift the restriction).

pub use crate::store::fleet_admin::Purpose;
use crate::store::fleet_admin::Restriction;
use crate::store::{Host, Store, StoreError};

/// Longest host group name.
pub const MAX_GROUP_NAME: usize = 64;

/// Whether `name` is a valid host group name: 1 to [`MAX_GROUP_NAME`] characters of ASCII
/// letters, digits, `.`, `_` and `-`, starting with a letter or digit (so it is never taken
/// for an option, and lists of names split on `,` unambiguously).
pub fn is_group_name(name: &str) -> bool {
    name.len() <= MAX_GROUP_NAME
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Whether `restrictions` let a host in `host_groups` act for `purpose` (rule 1 only).
fn passes(restrictions: &[Restriction], host_groups: &[String], purpose: Purpose) -> bool {
    let mut of_purpose = restrictions.iter().filter(|r| r.purpose == purpose).peekable();
    if of_purpose.peek().is_none() {
        return true;
    }
    of_purpose.any(|r| host_groups.contains(&r.group))
}

/// Whether `host` may act for `user` of fleet scope `scope` for `purpose`.
///
/// The contract every fleet endpoint relies on (verification, enrollment, security keys,
/// push): call this once per request, after the host is authenticated and the request
/// validated, and **before** anything that changes or reveals the user's state (counting an
/// attempt, using a nonce, reading a factor). `Ok(false)` means refuse: audit it and answer as
/// for a user who cannot pass (never say why to the host). `Err` means refuse too (the
/// service's error path). The answer depends only on the host's group memberships and the
/// user's restrictions, not on whether the user has factors: a host learns nothing about an
/// unrestricted or unknown user from it, and a revoked host is refused for everything.
pub async fn may(
    store: &dyn Store,
    host: &Host,
    scope: &str,
    user: &str,
    purpose: Purpose,
) -> Result<bool, StoreError> {
    if host.revoked_at.is_some() {
        return Ok(false);
    }
    let restrictions = store.user_groups(scope, user).await?;
    if restrictions.is_empty() {
        return Ok(true);
    }
    let host_groups = store.groups_of_host(&host.id).await?;
    let authenticate = passes(&restrictions, &host_groups, Purpose::Authenticate);
    Ok(match purpose {
        Purpose::Authenticate => authenticate,
        Purpose::Enroll => authenticate && passes(&restrictions, &host_groups, Purpose::Enroll),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fleet_admin::FleetAdminStore;

    fn r(purpose: Purpose, group: &str) -> Restriction {
        Restriction { purpose, group: group.into() }
    }

    #[test]
    fn no_restriction_for_a_purpose_allows_every_host() {
        let rs = [r(Purpose::Enroll, "db")];
        assert!(passes(&rs, &[], Purpose::Authenticate));
        assert!(!passes(&rs, &[], Purpose::Enroll));
        assert!(passes(&rs, &["db".into()], Purpose::Enroll));
    }

    #[test]
    fn a_restricted_user_needs_a_host_in_one_of_the_groups() {
        let rs = [r(Purpose::Authenticate, "db"), r(Purpose::Authenticate, "ops")];
        assert!(passes(&rs, &["web".into(), "ops".into()], Purpose::Authenticate));
        assert!(!passes(&rs, &["web".into()], Purpose::Authenticate));
        assert!(!passes(&rs, &[], Purpose::Authenticate));
    }

    fn host(id: &str, revoked_at: Option<u64>) -> Host {
        let token_hash = crate::http::auth::secret_hash(id);
        Host { id: id.into(), name: id.into(), token_hash, created_at: 1, revoked_at }
    }

    #[tokio::test]
    async fn may_applies_both_rules_and_refuses_revoked_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::store::sqlite::SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let (db1, web1) = (host("db1", None), host("web1", None));
        for h in [&db1, &web1] {
            store.add_host(h).await.unwrap();
        }
        store.add_group("db", 1).await.unwrap();
        store.add_group("web", 1).await.unwrap();
        assert!(store.add_group_host("db", "db1").await.unwrap());
        assert!(store.add_group_host("web", "web1").await.unwrap());
        let may = |h: &Host, user: &'static str, p: Purpose| {
            let (store, h) = (&store, h.clone());
            async move { may(store, &h, "fleet", user, p).await.unwrap() }
        };
        // Unrestricted: every host, both purposes; a revoked host: nothing.
        assert!(may(&web1, "dba", Purpose::Enroll).await);
        assert!(!may(&host("db1", Some(2)), "dba", Purpose::Authenticate).await);
        // Authenticate restricted to db: enrolling follows it (rule 2).
        store.set_user_groups("fleet", "dba", Purpose::Authenticate, &["db".into()]).await.unwrap();
        assert!(may(&db1, "dba", Purpose::Authenticate).await);
        assert!(may(&db1, "dba", Purpose::Enroll).await);
        assert!(!may(&web1, "dba", Purpose::Authenticate).await);
        assert!(!may(&web1, "dba", Purpose::Enroll).await);
        // Enroll groups outside the authenticate groups widen nothing.
        store.set_user_groups("fleet", "dba", Purpose::Enroll, &["web".into()]).await.unwrap();
        assert!(!may(&web1, "dba", Purpose::Enroll).await);
        assert!(!may(&db1, "dba", Purpose::Enroll).await);
        assert!(may(&db1, "dba", Purpose::Authenticate).await);
        // Removing the user removes the restrictions.
        assert!(store.remove_user("fleet", "dba").await.unwrap());
        assert!(may(&web1, "dba", Purpose::Authenticate).await);
    }

    #[test]
    fn group_names_are_strict() {
        for ok in ["db", "db-1", "a.b_c", &"x".repeat(64)] {
            assert!(is_group_name(ok), "{ok}");
        }
        for bad in ["", "-db", ".db", "db,web", "db web", "dé", "db/1", &"x".repeat(65)] {
            assert!(!is_group_name(bad), "{bad}");
        }
    }
}
