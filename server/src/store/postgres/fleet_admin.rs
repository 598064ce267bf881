//! [`crate::store::fleet_admin::FleetAdminStore`] on the postgres backend
//! (`migrations/postgres/0007_fleet_admin.sql`; the statements are shared with SQLite in
//! [`crate::store::fleet_admin_sql`]). Several instances: each write is one statement or one
//! transaction, and the foreign keys keep a restriction from naming a missing group.

use super::PostgresStore;

impl PostgresStore {
    /// Nothing to hold: the database serializes what must be.
    pub(super) async fn serialize(&self) {}
}

crate::store::fleet_admin_sql::fleet_admin_impl!(PostgresStore);
