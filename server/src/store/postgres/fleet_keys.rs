//! [`FleetKeyStore`] on the postgres backend (`migrations/postgres/0008_fleet_keys.sql`), for
//! several instances on one database: a challenge is taken by one `DELETE … RETURNING` (a
//! concurrent taker waits for the row lock and then finds it gone), and a counter is raised by
//! a guarded `UPDATE`, which PostgreSQL re-checks on the row version a concurrent winner
//! committed (READ COMMITTED), so the loser changes nothing.

use super::super::Result;
use super::super::codec::i;
use super::super::fleet_keys::{FleetKey, FleetKeyStore, KeyChallenge, challenge_row, key_row};
use super::super::sql::{db, fetch_all};
use super::PostgresStore;
use super::fleet::clear_failures;
use async_trait::async_trait;
use sqlx::PgConnection;

/// Inserts a key on `conn` (a pooled connection, or a transaction's: the migration adds
/// keys in its one transaction).
pub(super) async fn insert_key(conn: &mut PgConnection, k: &FleetKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO fleet_keys (scope, \"user\", credential_id, public_key, name, sign_count, \
         user_verification, created_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
impl FleetKeyStore for PostgresStore {
    async fn add_fleet_key(&self, k: &FleetKey) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_key(&mut conn, k).await
    }

    async fn remove_fleet_key(&self, scope: &str, user: &str, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "DELETE FROM fleet_keys WHERE scope = $1 AND \"user\" = $2 AND credential_id = $3",
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
            "SELECT * FROM fleet_keys WHERE scope = $1 AND \"user\" = $2 ORDER BY created_at, credential_id",
        )
        .bind(scope)
        .bind(user);
        fetch_all(q, &self.pool, key_row).await
    }

    async fn put_key_challenge(&self, c: &KeyChallenge) -> Result<()> {
        sqlx::query(
            "INSERT INTO fleet_key_challenges (challenge, host_id, scope, \"user\", nonce, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let row = sqlx::query(
            "DELETE FROM fleet_key_challenges WHERE challenge = $1 AND host_id = $2 RETURNING *",
        )
        .bind(challenge)
        .bind(host_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(challenge_row).transpose()
    }

    async fn accept_fleet_key(&self, k: &FleetKey, new: u32, now: u64) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let won = sqlx::query(
            "UPDATE fleet_keys SET sign_count = $1, used_at = $2 WHERE scope = $3 AND \"user\" = $4 \
             AND credential_id = $5 AND public_key = $6 AND sign_count = $7",
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
        sqlx::query("DELETE FROM fleet_key_challenges WHERE expires_at < $1")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_fleet_push_host(&self, host_id: &str, joined: bool, now: u64) -> Result<bool> {
        let q = if joined {
            sqlx::query(
                "INSERT INTO fleet_push_hosts (host_id, joined_at) VALUES ($1, $2) \
                 ON CONFLICT (host_id) DO NOTHING",
            )
            .bind(host_id)
            .bind(i(now))
        } else {
            sqlx::query("DELETE FROM fleet_push_hosts WHERE host_id = $1").bind(host_id)
        };
        Ok(q.execute(&self.pool).await.map_err(db)?.rows_affected() == 1)
    }

    async fn is_fleet_push_host(&self, host_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT host_id FROM fleet_push_hosts WHERE host_id = $1")
            .bind(host_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }
}
