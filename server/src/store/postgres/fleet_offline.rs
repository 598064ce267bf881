//! [`crate::store::fleet_offline::FleetOfflineStore`] on the postgres backend
//! (`migrations/postgres/0014_fleet_offline.sql`; the statements are shared with SQLite in
//! [`crate::store::fleet_offline`]). A report takes the per-user advisory lock an online
//! attempt takes, so their failure counts add up.

use super::{PostgresStore, lock};
use sqlx::Postgres;

impl PostgresStore {
    /// The user's transaction advisory lock (as `begin_attempt`).
    async fn lock_user(&self, tx: &mut sqlx::Transaction<'_, Postgres>, key: &str) -> Result<()> {
        lock(tx, key).await
    }
}

crate::store::fleet_offline::fleet_offline_impl!(PostgresStore, Postgres);
