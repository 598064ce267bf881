//! The embedded SQLite backend (sqlx, WAL journal, `synchronous = FULL`).
//!
//! SQLite has one writer at a time; every mutating operation here also takes one in-process
//! lock, so multi-statement steps (check limits, then insert) never interleave and never hit
//! SQLite's "busy" upgrade failure. Reads run in parallel on the pool.

use super::codec::{i, u};
use super::passkeys::Passkey;
use super::sql::{
    CHALLENGE_SELECT, Columns, bind_answer, bind_challenge, bind_device, bind_host, bind_pairing,
    bind_pairing_use, bind_passkey, bind_push_subscription, challenge_row, db, device_row,
    fetch_all, fetch_optional, host_row, now_expired, pairing_row, push_subscription_row,
    user_summary_row,
};
use super::{
    Answer, Challenge, Created, Device, Host, Pairing, RateLimits, Result, Store, StoreError,
    UserSummary, user_key,
};
use async_trait::async_trait;
use push_proto::api::{CancelReason, PushSubscription, Status};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;

mod fleet;
mod fleet_admin;
mod fleet_enroll;
mod fleet_keys;
mod fleet_offline;
mod passkeys;

/// The schema migrations, applied in order at start; `schema_version` records the last one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_passkeys.sql")),
    (3, include_str!("../../migrations/sqlite/0003_web_push.sql")),
    (4, include_str!("../../migrations/sqlite/0004_protocol_v2.sql")),
    (5, include_str!("../../migrations/sqlite/0005_rate_event_txid.sql")),
    (6, include_str!("../../migrations/sqlite/0006_fleet.sql")),
    (7, include_str!("../../migrations/sqlite/0007_fleet_admin.sql")),
    (8, include_str!("../../migrations/sqlite/0008_fleet_keys.sql")),
    (9, include_str!("../../migrations/sqlite/0009_fleet_enroll.sql")),
    (10, include_str!("../../migrations/sqlite/0010_fleet_push.sql")),
    (13, include_str!("../../migrations/sqlite/0013_fleet_key_purpose.sql")),
    (14, include_str!("../../migrations/sqlite/0014_fleet_offline.sql")),
    (15, include_str!("../../migrations/sqlite/0015_fleet_offline_windows.sql")),
];

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
}

impl SqliteStore {
    /// Opens (creating it with mode 0600 if missing) the database at `path` and applies the
    /// pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if !path.exists() {
            // An empty file is an empty SQLite database; creating it here fixes its mode. A
            // process that opens it at the same moment may have created it first: fine.
            match crate::files::write_new_private(path, b"") {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::Db(format!("{}: {e}", path.display())));
                }
                _ => {}
            }
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
        let store = SqliteStore { pool, write: Mutex::new(()) };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations in one `BEGIN IMMEDIATE` transaction: the write lock is
    /// taken before the applied versions are read, so two processes opening the same new
    /// database (the service starting and an admin command) cannot both apply a migration
    /// (the second waits on the busy timeout, then sees the first one's versions).
    async fn migrate(&self) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_version")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get("version"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db)?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        if let Some(v) = applied.iter().find(|v| **v > newest) {
            return Err(StoreError::Db(format!(
                "database schema version {v} is newer than this mfa-server ({newest})"
            )));
        }
        // Every migration not recorded yet, in order: numbers are assigned per feature, so a
        // database may have a later one and still lack an earlier one.
        for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Marks this user's pending challenges past their expiry as expired, returning them.
    async fn expire_stale(
        tx: &mut Transaction<'_, Sqlite>,
        c: &Challenge,
        now: u64,
    ) -> Result<Vec<Challenge>> {
        let stale = sqlx::query(&format!(
            "{CHALLENGE_SELECT} WHERE c.scope = ? AND c.user = ? AND c.status = 'pending' \
             AND c.expires_at <= ?"
        ))
        .bind(&c.scope)
        .bind(&c.user)
        .bind(i(now))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
        .iter()
        .map(challenge_row)
        .collect::<Result<Vec<_>>>()?;
        if !stale.is_empty() {
            sqlx::query(
                "UPDATE challenges SET status = 'expired', closed_at = ? \
                 WHERE scope = ? AND user = ? AND status = 'pending' AND expires_at <= ?",
            )
            .bind(i(now))
            .bind(&c.scope)
            .bind(&c.user)
            .bind(i(now))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        }
        Ok(stale)
    }

    /// The devices a new challenge went to and its rate events (per user and per host).
    async fn record_sent(
        tx: &mut Transaction<'_, Sqlite>,
        c: &Challenge,
        devices: &[String],
        user: &str,
        now: u64,
    ) -> Result<()> {
        for d in devices {
            sqlx::query("INSERT INTO challenge_devices (txid, device_id) VALUES (?, ?)")
                .bind(&c.txid)
                .bind(d)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        for (scope, key) in [("user", user), ("host", c.host_id.as_str())] {
            sqlx::query("INSERT INTO rate_events (scope, key, at, txid) VALUES (?, ?, ?, ?)")
                .bind(scope)
                .bind(key)
                .bind(i(now))
                .bind(&c.txid)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn count_since(
        tx: &mut Transaction<'_, Sqlite>,
        scope: &str,
        key: &str,
        since: u64,
    ) -> Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM rate_events WHERE scope = ? AND key = ? AND at > ?")
            .bind(scope)
            .bind(key)
            .bind(i(since))
            .fetch_one(&mut **tx)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(db)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_host(&self, h: &Host) -> Result<()> {
        let _w = self.write.lock().await;
        bind_host(
            sqlx::query(
                "INSERT INTO hosts (id, name, token_hash, created_at, revoked_at) \
                 VALUES (?, ?, ?, ?, ?)",
            ),
            h,
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn host_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<Host>> {
        let q = sqlx::query("SELECT * FROM hosts WHERE token_hash = ?").bind(&hash[..]);
        fetch_optional(q, &self.pool, host_row).await
    }

    async fn revoke_host(&self, name: &str, now: u64) -> Result<bool> {
        let _w = self.write.lock().await;
        let r =
            sqlx::query("UPDATE hosts SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
                .bind(i(now))
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn hosts(&self) -> Result<Vec<Host>> {
        let q = sqlx::query("SELECT * FROM hosts ORDER BY name");
        fetch_all(q, &self.pool, host_row).await
    }

    async fn device(&self, id: &str) -> Result<Option<Device>> {
        let q = sqlx::query("SELECT * FROM devices WHERE id = ?").bind(id);
        fetch_optional(q, &self.pool, device_row).await
    }

    async fn devices(&self, user: Option<&str>) -> Result<Vec<Device>> {
        let q = match user {
            Some(user) => {
                sqlx::query("SELECT * FROM devices WHERE user = ? ORDER BY created_at, id")
                    .bind(user)
            }
            None => sqlx::query("SELECT * FROM devices ORDER BY user, created_at, id"),
        };
        fetch_all(q, &self.pool, device_row).await
    }

    async fn revoke_device(&self, id: &str, now: u64) -> Result<bool> {
        let _w = self.write.lock().await;
        let r =
            sqlx::query("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(i(now))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn users(&self) -> Result<Vec<UserSummary>> {
        let q = sqlx::query(
            "SELECT u.user AS user, \
               (SELECT COUNT(*) FROM devices d WHERE d.user = u.user AND d.revoked_at IS NULL) AS active, \
               (SELECT COUNT(*) FROM devices d WHERE d.user = u.user AND d.revoked_at IS NOT NULL) AS revoked, \
               (SELECT MAX(until) FROM cooldowns c WHERE c.user = u.user) AS until \
             FROM (SELECT user FROM devices UNION SELECT user FROM cooldowns) u ORDER BY u.user",
        );
        fetch_all(q, &self.pool, user_summary_row).await
    }

    async fn add_pairing(&self, p: &Pairing) -> Result<()> {
        let _w = self.write.lock().await;
        bind_pairing(
            sqlx::query(
                "INSERT INTO pairings (id, host_id, user, credential_hash, created_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            ),
            p,
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn pairing(&self, id: &str) -> Result<Option<Pairing>> {
        let q = sqlx::query("SELECT * FROM pairings WHERE id = ?").bind(id);
        fetch_optional(q, &self.pool, pairing_row).await
    }

    async fn pairing_by_credential(&self, hash: &[u8; 32]) -> Result<Option<Pairing>> {
        let q = sqlx::query("SELECT * FROM pairings WHERE credential_hash = ?").bind(&hash[..]);
        fetch_optional(q, &self.pool, pairing_row).await
    }

    async fn use_pairing(
        &self,
        pairing_id: &str,
        d: &Device,
        passkey: Option<&Passkey>,
        now: u64,
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        bind_device(
            sqlx::query(
                "INSERT INTO devices (id, user, name, public_key, created_at, host_id) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            ),
            d,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(p) = passkey {
            bind_passkey(
                sqlx::query(
                    "INSERT INTO passkeys (device_id, credential_id, public_key, sign_count, \
                     created_at, registration) VALUES (?, ?, ?, ?, ?, ?)",
                ),
                p,
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let r = bind_pairing_use(
            sqlx::query(
                "UPDATE pairings SET used_at = ?1, device_id = ?2 \
                 WHERE id = ?3 AND used_at IS NULL AND expires_at > ?1",
            ),
            now,
            &d.id,
            pairing_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() != 1 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn use_request_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        expires_at: u64,
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let r = sqlx::query(
            "INSERT INTO request_nonces (device_id, nonce, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (device_id, nonce) DO NOTHING",
        )
        .bind(device_id)
        .bind(nonce)
        .bind(i(expires_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn cooldown_until(&self, scope: &str, user: &str) -> Result<Option<u64>> {
        let q = sqlx::query("SELECT until FROM cooldowns WHERE scope = ? AND user = ?")
            .bind(scope)
            .bind(user);
        fetch_optional(q, &self.pool, |r| r.int("until").map(u)).await
    }

    async fn create_challenge(
        &self,
        c: &Challenge,
        devices: &[String],
        limits: RateLimits,
        now: u64,
    ) -> Result<Created> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let since = now.saturating_sub(60);
        let user = user_key(&c.scope, &c.user);
        if Self::count_since(&mut tx, "user", &user, since).await? >= i64::from(limits.per_user) {
            return Ok(Created::UserRateLimited);
        }
        if Self::count_since(&mut tx, "host", &c.host_id, since).await?
            >= i64::from(limits.per_host)
        {
            return Ok(Created::HostRateLimited);
        }
        // Stale pending challenges of this user are expired now, so the one-open rule only
        // counts live ones.
        let stale = Self::expire_stale(&mut tx, c, now).await?;
        let inserted = bind_challenge(
            sqlx::query(
                "INSERT INTO challenges (txid, host_id, scope, user, service, rhost, login_time, \
                 nonce, choices, created_at, expires_at, status) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
            ),
            c,
        )
        .execute(&mut *tx)
        .await
        .map_err(db);
        match inserted {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                // Keep the stale ones' expiry (it is true either way), refuse the new one.
                tx.commit().await.map_err(db)?;
                return Ok(Created::Pending);
            }
            Err(e) => return Err(e),
        }
        Self::record_sent(&mut tx, c, devices, &user, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(Created::Ok { expired: now_expired(stale) })
    }

    async fn challenge(&self, txid: &str) -> Result<Option<Challenge>> {
        let sql = format!("{CHALLENGE_SELECT} WHERE c.txid = ?");
        let q = sqlx::query(&sql).bind(txid);
        fetch_optional(q, &self.pool, challenge_row).await
    }

    async fn sent_to(&self, txid: &str, device_id: &str) -> Result<bool> {
        let q = sqlx::query("SELECT 1 FROM challenge_devices WHERE txid = ? AND device_id = ?")
            .bind(txid)
            .bind(device_id);
        Ok(fetch_optional(q, &self.pool, |_| Ok(())).await?.is_some())
    }

    async fn recipients(&self, txid: &str) -> Result<Vec<String>> {
        let q = sqlx::query("SELECT device_id FROM challenge_devices WHERE txid = ?").bind(txid);
        fetch_all(q, &self.pool, |r| r.text("device_id")).await
    }

    async fn pending_for_device(&self, device_id: &str, now: u64) -> Result<Vec<Challenge>> {
        let sql = format!(
            "{CHALLENGE_SELECT} JOIN challenge_devices cd ON cd.txid = c.txid \
             WHERE cd.device_id = ? AND c.status = 'pending' AND c.expires_at > ? \
             ORDER BY c.created_at, c.txid"
        );
        let q = sqlx::query(&sql).bind(device_id).bind(i(now));
        fetch_all(q, &self.pool, challenge_row).await
    }

    async fn answer(
        &self,
        txid: &str,
        status: Status,
        a: &Answer,
        cooldown_until: Option<u64>,
        now: u64,
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let r = bind_answer(
            sqlx::query(
                "UPDATE challenges SET status = ?1, closed_at = ?2, device_id = ?3, \
                 decision = ?4, answer_number = ?5, device_signature = ?6, answered_at = ?7, \
                 receipt_signature = ?8, passkey = ?10 \
                 WHERE txid = ?9 AND status = 'pending' AND expires_at > ?2",
            ),
            txid,
            status,
            a,
            now,
        )?
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() != 1 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        if let Some(until) = cooldown_until {
            sqlx::query(
                "INSERT INTO cooldowns (scope, user, until) \
                 SELECT scope, user, ? FROM challenges WHERE txid = ? \
                 ON CONFLICT (scope, user) DO UPDATE SET until = MAX(until, excluded.until)",
            )
            .bind(i(until))
            .bind(txid)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn cancel(&self, txid: &str, now: u64, reason: Option<CancelReason>) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let r = sqlx::query(
            "UPDATE challenges SET status = 'cancelled', closed_at = ? \
             WHERE txid = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(i(now))
        .bind(txid)
        .bind(i(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() != 1 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        if reason == Some(CancelReason::CodeTyped) {
            sqlx::query("DELETE FROM rate_events WHERE scope = 'user' AND txid = ?")
                .bind(txid)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn expire_due(&self, now: u64) -> Result<Vec<Challenge>> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let due = sqlx::query(&format!(
            "{CHALLENGE_SELECT} WHERE c.status = 'pending' AND c.expires_at <= ?"
        ))
        .bind(i(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(challenge_row)
        .collect::<Result<Vec<_>>>()?;
        if due.is_empty() {
            return Ok(due);
        }
        sqlx::query(
            "UPDATE challenges SET status = 'expired', closed_at = ? \
             WHERE status = 'pending' AND expires_at <= ?",
        )
        .bind(i(now))
        .bind(i(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(now_expired(due))
    }

    async fn prune(&self, before: u64) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query("DELETE FROM rate_events WHERE at < ?")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM request_nonces WHERE expires_at < ?")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_push_subscription(
        &self,
        device_id: &str,
        sub: &PushSubscription,
        now: u64,
    ) -> Result<()> {
        let _w = self.write.lock().await;
        bind_push_subscription(
            sqlx::query(
                "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET \
                 endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, \
                 created_at = excluded.created_at",
            ),
            device_id,
            sub,
            now,
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn push_subscription(&self, device_id: &str) -> Result<Option<PushSubscription>> {
        let q = sqlx::query(
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = ?",
        )
        .bind(device_id);
        fetch_optional(q, &self.pool, push_subscription_row).await
    }

    async fn delete_push_subscription(
        &self,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool> {
        let _w = self.write.lock().await;
        let r = sqlx::query(
            "DELETE FROM push_subscriptions \
             WHERE device_id = ?1 AND (?2 IS NULL OR endpoint = ?2)",
        )
        .bind(device_id)
        .bind(endpoint)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }
}
