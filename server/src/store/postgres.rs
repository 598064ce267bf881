//! The PostgreSQL backend (sqlx without macros), for one or several `mfa-server` instances on
//! one database.
//!
//! Every rule holds in the database, not in one process: answers, cancels and pairing use are
//! single conditional `UPDATE`s; the one open challenge per user is a partial unique index;
//! the rate limits are counted from `rate_events` under per-user and per-host transaction
//! advisory locks, so two instances cannot both pass the last free slot. Each change that
//! ends a long-poll also sends `NOTIFY mfa_server, '<hub key>'` in the same transaction
//! (delivered on commit); [`super::pg_notify`] feeds those into every instance's `Hub`.

use super::codec::{i, u};
use super::passkeys::Passkey;
use super::pg_notify::payload;
use super::sql::{
    CHALLENGE_SELECT, Columns, bind_answer, bind_challenge, bind_device, bind_host, bind_pairing,
    bind_pairing_use, bind_passkey, bind_push_subscription, challenge_row, db, device_row,
    fetch_all, fetch_optional, host_row, pairing_row, push_subscription_row, user_summary_row,
};
use super::url::DatabaseUrl;
use super::{
    Answer, Challenge, Created, Device, Host, Pairing, RateLimits, Result, Store, StoreError,
    UserSummary, user_key,
};
use async_trait::async_trait;
use push_proto::api::{CancelReason, PushSubscription, Status};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use std::time::Duration;

mod fleet;
mod fleet_admin;
mod fleet_enroll;
mod fleet_keys;
mod fleet_offline;
mod passkeys;

/// The schema migrations, applied in order at start; `schema_version` records the last one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_passkeys.sql")),
    (3, include_str!("../../migrations/postgres/0003_web_push.sql")),
    (4, include_str!("../../migrations/postgres/0004_protocol_v2.sql")),
    (5, include_str!("../../migrations/postgres/0005_rate_event_txid.sql")),
    (6, include_str!("../../migrations/postgres/0006_fleet.sql")),
    (7, include_str!("../../migrations/postgres/0007_fleet_admin.sql")),
    (8, include_str!("../../migrations/postgres/0008_fleet_keys.sql")),
    (9, include_str!("../../migrations/postgres/0009_fleet_enroll.sql")),
    (10, include_str!("../../migrations/postgres/0010_fleet_push.sql")),
    (13, include_str!("../../migrations/postgres/0013_fleet_key_purpose.sql")),
    (14, include_str!("../../migrations/postgres/0014_fleet_offline.sql")),
    (15, include_str!("../../migrations/postgres/0015_fleet_offline_windows.sql")),
];

/// The `NOTIFY` channel; payloads are `Hub` keys (`tx:<txid>`, `dev:<id>`, `pair:<id>`).
pub const CHANNEL: &str = "mfa_server";

/// Advisory lock key held while migrating (instances starting together migrate once).
const MIGRATE_LOCK: i64 = 0x6d66_615f_7075_7368; // "mfa_push"

/// Advisory lock key held by the one instance sweeping expired challenges.
const SWEEP_LOCK: i64 = 0x6d66_615f_7377_6570; // "mfa_swep"

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
}

/// Marks the matching pending challenges expired and returns them (as they are now).
const EXPIRE_RETURNING: &str = "UPDATE challenges c SET status = 'expired', closed_at = $1 \
     FROM hosts h WHERE h.id = c.host_id AND c.status = 'pending' AND c.expires_at <= $1";

/// Queues `NOTIFY mfa_server` for each hub key (with our instance id); sent when `tx` commits.
async fn notify(tx: &mut Transaction<'_, Postgres>, keys: Vec<String>) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, k) FROM unnest($2::text[]) AS k")
        .bind(CHANNEL)
        .bind(keys.iter().map(|k| payload(k)).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Serializes transactions on `key` until the end of `tx` (across every instance).
async fn lock(tx: &mut Transaction<'_, Postgres>, key: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

fn tx_keys(challenges: &[Challenge]) -> Vec<String> {
    challenges.iter().map(|c| format!("tx:{}", c.txid)).collect()
}

impl PostgresStore {
    /// Connects to `url` and applies the pending migrations.
    pub async fn open(url: &DatabaseUrl) -> Result<PostgresStore> {
        PostgresStore::open_with(url.options().application_name("mfa-server"))
            .await
            .map_err(|e| StoreError::Db(format!("{url}: {e}")))
    }

    async fn open_with(opts: PgConnectOptions) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db)?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Each migration not yet recorded, in order: numbers are assigned per feature, so a
        // lower one may arrive after a higher one was applied.
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_version")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get("version"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db)?;
        if let Some(v) = applied.iter().find(|v| !MIGRATIONS.iter().any(|m| m.0 == **v)) {
            return Err(StoreError::Db(format!(
                "database schema version {v} is unknown to this mfa-server (newer?)"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn count_since(
        tx: &mut Transaction<'_, Postgres>,
        scope: &str,
        key: &str,
        since: u64,
    ) -> Result<i64> {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM rate_events WHERE scope = $1 AND key = $2 AND at > $3",
        )
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
impl Store for PostgresStore {
    async fn add_host(&self, h: &Host) -> Result<()> {
        bind_host(
            sqlx::query(
                "INSERT INTO hosts (id, name, token_hash, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            ),
            h,
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn host_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<Host>> {
        let q = sqlx::query("SELECT * FROM hosts WHERE token_hash = $1").bind(&hash[..]);
        fetch_optional(q, &self.pool, host_row).await
    }

    async fn revoke_host(&self, name: &str, now: u64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE hosts SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
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
        let q = sqlx::query("SELECT * FROM devices WHERE id = $1").bind(id);
        fetch_optional(q, &self.pool, device_row).await
    }

    async fn devices(&self, user: Option<&str>) -> Result<Vec<Device>> {
        let q = match user {
            Some(user) => {
                sqlx::query("SELECT * FROM devices WHERE \"user\" = $1 ORDER BY created_at, id")
                    .bind(user)
            }
            None => sqlx::query("SELECT * FROM devices ORDER BY \"user\", created_at, id"),
        };
        fetch_all(q, &self.pool, device_row).await
    }

    async fn revoke_device(&self, id: &str, now: u64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(i(now))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn users(&self) -> Result<Vec<UserSummary>> {
        let q = sqlx::query(
            "SELECT u.\"user\" AS \"user\", \
               (SELECT COUNT(*) FROM devices d WHERE d.\"user\" = u.\"user\" AND d.revoked_at IS NULL) AS active, \
               (SELECT COUNT(*) FROM devices d WHERE d.\"user\" = u.\"user\" AND d.revoked_at IS NOT NULL) AS revoked, \
               (SELECT MAX(until) FROM cooldowns c WHERE c.\"user\" = u.\"user\") AS until \
             FROM (SELECT \"user\" FROM devices UNION SELECT \"user\" FROM cooldowns) u \
             ORDER BY u.\"user\"",
        );
        fetch_all(q, &self.pool, user_summary_row).await
    }

    async fn add_pairing(&self, p: &Pairing) -> Result<()> {
        bind_pairing(
            sqlx::query(
                "INSERT INTO pairings (id, host_id, \"user\", credential_hash, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            ),
            p,
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn pairing(&self, id: &str) -> Result<Option<Pairing>> {
        let q = sqlx::query("SELECT * FROM pairings WHERE id = $1").bind(id);
        fetch_optional(q, &self.pool, pairing_row).await
    }

    async fn pairing_by_credential(&self, hash: &[u8; 32]) -> Result<Option<Pairing>> {
        let q = sqlx::query("SELECT * FROM pairings WHERE credential_hash = $1").bind(&hash[..]);
        fetch_optional(q, &self.pool, pairing_row).await
    }

    async fn use_pairing(
        &self,
        pairing_id: &str,
        d: &Device,
        passkey: Option<&Passkey>,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        bind_device(
            sqlx::query(
                "INSERT INTO devices (id, \"user\", name, public_key, created_at, host_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
                     created_at, registration) VALUES ($1, $2, $3, $4, $5, $6)",
                ),
                p,
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        // A concurrent second use waits on this row's lock, then finds `used_at` set and
        // rolls its device back.
        let r = bind_pairing_use(
            sqlx::query(
                "UPDATE pairings SET used_at = $1, device_id = $2 \
                 WHERE id = $3 AND used_at IS NULL AND expires_at > $1",
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
        notify(&mut tx, vec![format!("pair:{pairing_id}")]).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn use_request_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        expires_at: u64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO request_nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3) \
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
        let q = sqlx::query("SELECT until FROM cooldowns WHERE scope = $1 AND \"user\" = $2")
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Always user first, then host: no two transactions wait on each other in a cycle.
        let user = user_key(&c.scope, &c.user);
        lock(&mut tx, &format!("user:{user}")).await?;
        lock(&mut tx, &format!("host:{}", c.host_id)).await?;
        let since = now.saturating_sub(60);
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
        let stale = sqlx::query(&format!(
            "{EXPIRE_RETURNING} AND c.scope = $2 AND c.\"user\" = $3 \
             RETURNING c.*, h.name AS hostname"
        ))
        .bind(i(now))
        .bind(&c.scope)
        .bind(&c.user)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(challenge_row)
        .collect::<Result<Vec<_>>>()?;
        notify(&mut tx, tx_keys(&stale)).await?;
        let inserted = bind_challenge(
            sqlx::query(
                "INSERT INTO challenges (txid, host_id, scope, \"user\", service, rhost, \
                 login_time, nonce, choices, created_at, expires_at, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending') \
                 ON CONFLICT (scope, \"user\") WHERE status = 'pending' DO NOTHING",
            ),
            c,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if inserted.rows_affected() != 1 {
            // Keep the stale ones' expiry (it is true either way), refuse the new one.
            tx.commit().await.map_err(db)?;
            return Ok(Created::Pending);
        }
        sqlx::query(
            "INSERT INTO challenge_devices (txid, device_id) SELECT $1, d FROM unnest($2::text[]) AS d",
        )
        .bind(&c.txid)
        .bind(devices)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO rate_events (scope, key, at, txid) \
             VALUES ('user', $1, $3, $4), ('host', $2, $3, $4)",
        )
        .bind(&user)
        .bind(&c.host_id)
        .bind(i(now))
        .bind(&c.txid)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        notify(&mut tx, devices.iter().map(|d| format!("dev:{d}")).collect()).await?;
        tx.commit().await.map_err(db)?;
        Ok(Created::Ok { expired: stale })
    }

    async fn challenge(&self, txid: &str) -> Result<Option<Challenge>> {
        let sql = format!("{CHALLENGE_SELECT} WHERE c.txid = $1");
        let q = sqlx::query(&sql).bind(txid);
        fetch_optional(q, &self.pool, challenge_row).await
    }

    async fn sent_to(&self, txid: &str, device_id: &str) -> Result<bool> {
        let q = sqlx::query("SELECT 1 FROM challenge_devices WHERE txid = $1 AND device_id = $2")
            .bind(txid)
            .bind(device_id);
        Ok(fetch_optional(q, &self.pool, |_| Ok(())).await?.is_some())
    }

    async fn recipients(&self, txid: &str) -> Result<Vec<String>> {
        let q = sqlx::query("SELECT device_id FROM challenge_devices WHERE txid = $1").bind(txid);
        fetch_all(q, &self.pool, |r| r.text("device_id")).await
    }

    async fn pending_for_device(&self, device_id: &str, now: u64) -> Result<Vec<Challenge>> {
        let sql = format!(
            "{CHALLENGE_SELECT} JOIN challenge_devices cd ON cd.txid = c.txid \
             WHERE cd.device_id = $1 AND c.status = 'pending' AND c.expires_at > $2 \
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let r = bind_answer(
            sqlx::query(
                "UPDATE challenges SET status = $1, closed_at = $2, device_id = $3, \
                 decision = $4, answer_number = $5, device_signature = $6, answered_at = $7, \
                 receipt_signature = $8, passkey = $10 \
                 WHERE txid = $9 AND status = 'pending' AND expires_at > $2",
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
                "INSERT INTO cooldowns (scope, \"user\", until) \
                 SELECT scope, \"user\", $1 FROM challenges WHERE txid = $2 \
                 ON CONFLICT (scope, \"user\") DO UPDATE \
                 SET until = GREATEST(cooldowns.until, excluded.until)",
            )
            .bind(i(until))
            .bind(txid)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        notify(&mut tx, vec![format!("tx:{txid}")]).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn cancel(&self, txid: &str, now: u64, reason: Option<CancelReason>) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let r = sqlx::query(
            "UPDATE challenges SET status = 'cancelled', closed_at = $1 \
             WHERE txid = $2 AND status = 'pending' AND expires_at > $1",
        )
        .bind(i(now))
        .bind(txid)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() != 1 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        if reason == Some(CancelReason::CodeTyped) {
            sqlx::query("DELETE FROM rate_events WHERE scope = 'user' AND txid = $1")
                .bind(txid)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        notify(&mut tx, vec![format!("tx:{txid}")]).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn expire_due(&self, now: u64) -> Result<Vec<Challenge>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One sweeper at a time across instances; the others skip this round. Each row is
        // marked by exactly one UPDATE either way, so each expiry is reported once.
        let mine: bool = sqlx::query("SELECT pg_try_advisory_xact_lock($1) AS ok")
            .bind(SWEEP_LOCK)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get("ok"))
            .map_err(db)?;
        if !mine {
            tx.rollback().await.map_err(db)?;
            return Ok(Vec::new());
        }
        let due = sqlx::query(&format!("{EXPIRE_RETURNING} RETURNING c.*, h.name AS hostname"))
            .bind(i(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .iter()
            .map(challenge_row)
            .collect::<Result<Vec<_>>>()?;
        notify(&mut tx, tx_keys(&due)).await?;
        tx.commit().await.map_err(db)?;
        Ok(due)
    }

    async fn prune(&self, before: u64) -> Result<()> {
        sqlx::query("DELETE FROM rate_events WHERE at < $1")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM request_nonces WHERE expires_at < $1")
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
        bind_push_subscription(
            sqlx::query(
                "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO UPDATE SET \
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
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = $1",
        )
        .bind(device_id);
        fetch_optional(q, &self.pool, push_subscription_row).await
    }

    async fn delete_push_subscription(
        &self,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool> {
        let r = sqlx::query(
            "DELETE FROM push_subscriptions \
             WHERE device_id = $1 AND ($2 IS NULL OR endpoint = $2)",
        )
        .bind(device_id)
        .bind(endpoint)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }
}
