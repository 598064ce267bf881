//! [`crate::store::fleet_admin::FleetAdminStore`] on the sqlite backend
//! (`migrations/sqlite/0007_fleet_admin.sql`; the statements are shared with PostgreSQL in
//! [`crate::store::fleet_admin_sql`]). Every write holds the store's write lock.

use super::SqliteStore;

impl SqliteStore {
    /// The write lock, held across each admin write.
    pub(super) async fn serialize(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }
}

crate::store::fleet_admin_sql::fleet_admin_impl!(SqliteStore);
