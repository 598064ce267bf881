//! [`FleetKeyStore`] on the sqlite backend (`migrations/sqlite/0008_fleet_keys.sql`). One
//! instance: every write holds the store's write lock, and challenges are taken and counters
//! raised by guarded statements as on PostgreSQL.

use super::super::Result;
use super::super::codec::i;
use super::super::fleet_keys::{FleetKey, FleetKeyStore, KeyChallenge, challenge_row, key_row};
use super::super::sql::{db, fetch_all};
use super::SqliteStore;
use super::fleet::clear_failures;
use async_trait::async_trait;
use sqlx::SqliteConnection;

/// Inserts a key on `conn` (a pooled connection, or a transaction's: the migration adds
/// keys in its one transaction).
pub(super) async fn insert_key(conn: &mut SqliteConnection, k: &FleetKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO fleet_keys (scope, user, credential_id, public_key, name, sign_count, \
         user_verification, created_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&k.scope)
    .bind(&k.user)
    .bind(&k.credential_id)
    .bind(&k.public_key)
    .bind(&k.name)
    .bind(i64::from(k.sign_count))
    .bind(i64::from(k.user_verification))
    .bind(i(k.created_at))
    .bind(k.used_at.map(i))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl FleetKeyStore for SqliteStore {
    async fn add_fleet_key(&self, k: &FleetKey) -> Result<()> {
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_key(&mut conn, k).await
    }

    async fn remove_fleet_key(&self, scope: &str, user: &str, id: &str) -> Result<bool> {
        let _w = self.write.lock().await;
        let r = sqlx::query(
            "DELETE FROM fleet_keys WHERE scope = ? AND user = ? AND credential_id = ?",
        )
        .bind(scope)
        .bind(user)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn fleet_keys(&self, scope: &str, user: &str) -> Result<Vec<FleetKey>> {
        let q = sqlx::query(
            "SELECT * FROM fleet_keys WHERE scope = ? AND user = ? ORDER BY created_at, credential_id",
        )
        .bind(scope)
        .bind(user);
        fetch_all(q, &self.pool, key_row).await
    }

    async fn put_key_challenge(&self, c: &KeyChallenge) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "INSERT INTO fleet_key_challenges (challenge, host_id, scope, user, nonce, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.challenge)
        .bind(&c.host_id)
        .bind(&c.scope)
        .bind(&c.user)
        .bind(&c.nonce)
        .bind(i(c.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn take_key_challenge(
        &self,
        host_id: &str,
        challenge: &str,
    ) -> Result<Option<KeyChallenge>> {
        let _w = self.write.lock().await;
        let row = sqlx::query(
            "DELETE FROM fleet_key_challenges WHERE challenge = ? AND host_id = ? RETURNING *",
        )
        .bind(challenge)
        .bind(host_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(challenge_row).transpose()
    }

    async fn accept_fleet_key(&self, k: &FleetKey, new: u32, now: u64) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let won = sqlx::query(
            "UPDATE fleet_keys SET sign_count = ?, used_at = ? WHERE scope = ? AND user = ? \
             AND credential_id = ? AND public_key = ? AND sign_count = ?",
        )
        .bind(i64::from(new))
        .bind(i(now))
        .bind(&k.scope)
        .bind(&k.user)
        .bind(&k.credential_id)
        .bind(&k.public_key)
        .bind(i64::from(k.sign_count))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if won.rows_affected() != 1 {
            return Ok(false);
        }
        clear_failures(&mut tx, &k.scope, &k.user).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn prune_key_challenges(&self, before: u64) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("DELETE FROM fleet_key_challenges WHERE expires_at < ?")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_fleet_push_host(&self, host_id: &str, joined: bool, now: u64) -> Result<bool> {
        let _w = self.write.lock().await;
        let q = if joined {
            sqlx::query(
                "INSERT INTO fleet_push_hosts (host_id, joined_at) VALUES (?, ?) \
                 ON CONFLICT (host_id) DO NOTHING",
            )
            .bind(host_id)
            .bind(i(now))
        } else {
            sqlx::query("DELETE FROM fleet_push_hosts WHERE host_id = ?").bind(host_id)
        };
        Ok(q.execute(&self.pool).await.map_err(db)?.rows_affected() == 1)
    }

    async fn is_fleet_push_host(&self, host_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT host_id FROM fleet_push_hosts WHERE host_id = ?")
            .bind(host_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }
}
