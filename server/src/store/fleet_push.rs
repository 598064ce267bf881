//! Fleet push devices (issue 20, `migrations/*/0010_fleet_push.sql`): the devices a user made
//! fleet factors (`mfa-enroll push` on a fleet host), offered at login on every fleet host.
//!
//! They are added and removed by the enrollment transaction
//! ([`super::fleet_enroll::FleetEnrollStore::enroll`], [`super::fleet_enroll::StoredChange`]),
//! under the same rule as every factor, and by `fleet user remove` (the table is one of
//! [`super::fleet_admin_sql::USER_TABLES`]). Reading them is written once for both backends
//! ([`fleet_push_impl`]): `$n` placeholders and the quoted `"user"` column read the same on
//! SQLite and PostgreSQL.

use super::Result;
use async_trait::async_trait;

/// The user's fleet push devices that are not revoked, oldest first (`$1` scope, `$2` user).
pub(crate) const DEVICES: &str = "SELECT f.device_id AS v FROM fleet_push_devices f \
     JOIN devices d ON d.id = f.device_id \
     WHERE f.scope = $1 AND f.\"user\" = $2 AND d.revoked_at IS NULL \
     ORDER BY f.added_at, f.device_id";

/// Makes a device a fleet factor (binds [`bind_add`]); both backends, in the enrollment's
/// transaction.
pub(crate) const ADD: &str = "INSERT INTO fleet_push_devices (scope, \"user\", device_id, added_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (scope, \"user\", device_id) DO NOTHING";

/// Binds [`ADD`]: 1 scope, 2 user, 3 device id, 4 when.
pub(crate) fn bind_add<'q, Q: super::sql::Binds<'q>>(
    q: Q,
    e: &'q super::fleet_enroll::Enrollment<'_>,
    device_id: &'q str,
) -> Q {
    q.text(e.scope).text(e.user).text(device_id).int(e.now)
}

/// Storage of fleet push devices (part of every [`super::Store`]).
#[async_trait]
pub trait FleetPushStore: Send + Sync {
    /// The ids of the user's fleet push devices that are not revoked, oldest first.
    async fn fleet_push_devices(&self, scope: &str, user: &str) -> Result<Vec<String>>;
}

/// Implements [`FleetPushStore`] for `$store`, which has a `pool`.
macro_rules! fleet_push_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::fleet_push::FleetPushStore for $store {
            async fn fleet_push_devices(
                &self,
                scope: &str,
                user: &str,
            ) -> $crate::store::Result<Vec<String>> {
                let q = sqlx::query($crate::store::fleet_push::DEVICES).bind(scope).bind(user);
                $crate::store::sql::fetch_all(q, &self.pool, $crate::store::sql::text_row).await
            }
        }
    };
}

pub(crate) use fleet_push_impl;
