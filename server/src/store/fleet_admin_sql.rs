//! [`super::fleet_admin::FleetAdminStore`] for both SQL backends, written once: the statements
//! use `$n` placeholders, which sqlx binds by number on SQLite as on PostgreSQL, and quote the
//! `"user"` column for PostgreSQL (SQLite reads it the same). Each backend expands
//! [`fleet_admin_impl`] for its store type; its `serialize()` holds SQLite's single-writer lock
//! (and nothing on PostgreSQL, where the statements and foreign keys keep the rules).

/// Users whose restrictions name group `$1`.
pub(crate) const GROUP_USERS: &str = "SELECT scope || '/' || \"user\" AS v FROM fleet_user_groups \
     WHERE group_name = $1 GROUP BY scope, \"user\" ORDER BY 1";

/// Every user with a fleet record in scope `$1`.
pub(crate) const FLEET_USERS: &str = "SELECT \"user\" AS v FROM fleet_totp WHERE scope = $1 \
     UNION SELECT \"user\" FROM fleet_recovery WHERE scope = $1 \
     UNION SELECT \"user\" FROM fleet_lockout WHERE scope = $1 \
     UNION SELECT \"user\" FROM fleet_user_groups WHERE scope = $1 \
     UNION SELECT \"user\" FROM fleet_keys WHERE scope = $1 \
     UNION SELECT \"user\" FROM fleet_push_devices WHERE scope = $1 ORDER BY 1";

/// The tables holding a user's fleet records (`scope`, `"user"` columns), emptied by
/// `remove_user`. Later factors add theirs here.
pub(crate) const USER_TABLES: &[&str] = &[
    "fleet_totp",
    "fleet_recovery",
    "fleet_keys",
    "fleet_key_challenges",
    "fleet_lockout",
    "fleet_user_groups",
    "fleet_push_devices",
    "fleet_offline_eligible",
    "fleet_offline_bundles",
    "fleet_offline_windows",
];

/// Implements `FleetAdminStore` for `$store`, which has a `pool` and an inherent
/// `async fn serialize(&self)` returning a guard held across each write.
macro_rules! fleet_admin_impl {
    ($store:ty) => {
        use $crate::store::Result;
        use $crate::store::fleet_admin::{
            FleetAdminStore, GroupRemoved, HostGroup, Purpose, Restriction,
        };
        use $crate::store::fleet_admin_sql::{FLEET_USERS, GROUP_USERS, USER_TABLES};
        use $crate::store::sql::{
            db, fetch_all, group_row, member_row, restriction_row, text_row, with_members,
        };

        #[async_trait::async_trait]
        impl FleetAdminStore for $store {
            async fn add_group(&self, name: &str, now: u64) -> Result<()> {
                let _w = self.serialize().await;
                sqlx::query("INSERT INTO host_groups (name, created_at) VALUES ($1, $2)")
                    .bind(name)
                    .bind($crate::store::codec::i(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn remove_group(&self, name: &str) -> Result<GroupRemoved> {
                let _w = self.serialize().await;
                let users =
                    fetch_all(sqlx::query(GROUP_USERS).bind(name), &self.pool, text_row).await?;
                if !users.is_empty() {
                    return Ok(GroupRemoved::InUse(users));
                }
                // Memberships go with it (ON DELETE CASCADE); a restriction added meanwhile
                // makes this fail (ON DELETE RESTRICT) rather than lift it.
                let r = sqlx::query("DELETE FROM host_groups WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(if r.rows_affected() == 1 {
                    GroupRemoved::Removed
                } else {
                    GroupRemoved::NoSuchGroup
                })
            }

            async fn groups(&self) -> Result<Vec<HostGroup>> {
                let q = sqlx::query("SELECT * FROM host_groups ORDER BY name");
                let groups = fetch_all(q, &self.pool, group_row).await?;
                let q = sqlx::query("SELECT * FROM host_group_members ORDER BY group_name");
                Ok(with_members(groups, fetch_all(q, &self.pool, member_row).await?))
            }

            async fn add_group_host(&self, group: &str, host_id: &str) -> Result<bool> {
                let _w = self.serialize().await;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let found = sqlx::query("SELECT name FROM host_groups WHERE name = $1")
                    .bind(group)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if found.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO host_group_members (group_name, host_id) VALUES ($1, $2) \
                     ON CONFLICT (group_name, host_id) DO NOTHING",
                )
                .bind(group)
                .bind(host_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn remove_group_host(&self, group: &str, host_id: &str) -> Result<bool> {
                let _w = self.serialize().await;
                let r = sqlx::query(
                    "DELETE FROM host_group_members WHERE group_name = $1 AND host_id = $2",
                )
                .bind(group)
                .bind(host_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(r.rows_affected() == 1)
            }

            async fn groups_of_host(&self, host_id: &str) -> Result<Vec<String>> {
                let q = sqlx::query(
                    "SELECT group_name AS v FROM host_group_members WHERE host_id = $1 \
                     ORDER BY group_name",
                )
                .bind(host_id);
                fetch_all(q, &self.pool, text_row).await
            }

            async fn user_groups(&self, scope: &str, user: &str) -> Result<Vec<Restriction>> {
                let q = sqlx::query(
                    "SELECT * FROM fleet_user_groups WHERE scope = $1 AND \"user\" = $2",
                )
                .bind(scope)
                .bind(user);
                let mut r = fetch_all(q, &self.pool, restriction_row).await?;
                r.sort();
                Ok(r)
            }

            async fn set_user_groups(
                &self,
                scope: &str,
                user: &str,
                purpose: Purpose,
                groups: &[String],
            ) -> Result<()> {
                let _w = self.serialize().await;
                let mut tx = self.pool.begin().await.map_err(db)?;
                sqlx::query(
                    "DELETE FROM fleet_user_groups WHERE scope = $1 AND \"user\" = $2 \
                     AND purpose = $3",
                )
                .bind(scope)
                .bind(user)
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                for g in groups {
                    sqlx::query(
                        "INSERT INTO fleet_user_groups (scope, \"user\", purpose, group_name) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(scope)
                    .bind(user)
                    .bind(purpose.as_str())
                    .bind(g)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn fleet_users(&self, scope: &str) -> Result<Vec<String>> {
                fetch_all(sqlx::query(FLEET_USERS).bind(scope), &self.pool, text_row).await
            }

            async fn remove_user(&self, scope: &str, user: &str) -> Result<bool> {
                let _w = self.serialize().await;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let mut removed = 0;
                for table in USER_TABLES {
                    let sql = format!("DELETE FROM {table} WHERE scope = $1 AND \"user\" = $2");
                    let r = sqlx::query(&sql)
                        .bind(scope)
                        .bind(user)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    removed += r.rows_affected();
                }
                tx.commit().await.map_err(db)?;
                Ok(removed > 0)
            }
        }
    };
}

pub(crate) use fleet_admin_impl;
