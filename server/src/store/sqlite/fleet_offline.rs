//! [`crate::store::fleet_offline::FleetOfflineStore`] on the sqlite backend
//! (`migrations/sqlite/0014_fleet_offline.sql`; the statements are shared with PostgreSQL in
//! [`crate::store::fleet_offline`]). Every write holds the store's write lock, which also
//! serializes a report with online attempts.

use super::SqliteStore;
use sqlx::Sqlite;

impl SqliteStore {
    /// Nothing more to lock: the write lock (held by the caller) serializes every writer.
    async fn lock_user(&self, _tx: &mut sqlx::Transaction<'_, Sqlite>, _key: &str) -> Result<()> {
        Ok(())
    }
}

crate::store::fleet_offline::fleet_offline_impl!(SqliteStore, Sqlite);
