//! The embedded SQLite backend (sqlx, WAL journal, `synchronous = FULL`).
//!
//! SQLite has one writer at a time; every mutating operation here also takes one in-process
//! lock, so multi-statement steps (check limits, then insert) never interleave and never hit
//! SQLite's "busy" upgrade failure. Reads run in parallel on the pool.

use super::codec::{
    choices_text, hash32, i, parse_choices, parse_decision, parse_passkey, parse_status,
    passkey_text, small, status_text, u,
};
use super::passkeys::Passkey;
use super::{
    Answer, Challenge, Created, Device, Host, Pairing, RateLimits, Result, Store, StoreError,
    UserSummary, user_key,
};
use async_trait::async_trait;
use push_proto::api::{CancelReason, PushSubscription, Status};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;

mod passkeys;

/// The schema migrations, applied in order at start; `schema_version` records the last one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_passkeys.sql")),
    (3, include_str!("../../migrations/sqlite/0003_web_push.sql")),
    (4, include_str!("../../migrations/sqlite/0004_protocol_v2.sql")),
    (5, include_str!("../../migrations/sqlite/0005_rate_event_txid.sql")),
];

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
}

fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(d.message().to_string());
        }
    }
    StoreError::Db(e.to_string())
}

fn host_row(r: &SqliteRow) -> Result<Host> {
    Ok(Host {
        id: r.try_get("id").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        token_hash: hash32(r.try_get("token_hash").map_err(db)?)?,
        created_at: u(r.try_get("created_at").map_err(db)?),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at").map_err(db)?.map(u),
    })
}

fn device_row(r: &SqliteRow) -> Result<Device> {
    Ok(Device {
        id: r.try_get("id").map_err(db)?,
        user: r.try_get("user").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        public_key: r.try_get("public_key").map_err(db)?,
        created_at: u(r.try_get("created_at").map_err(db)?),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at").map_err(db)?.map(u),
        host_id: r.try_get("host_id").map_err(db)?,
    })
}

fn pairing_row(r: &SqliteRow) -> Result<Pairing> {
    Ok(Pairing {
        id: r.try_get("id").map_err(db)?,
        host_id: r.try_get("host_id").map_err(db)?,
        user: r.try_get("user").map_err(db)?,
        credential_hash: hash32(r.try_get("credential_hash").map_err(db)?)?,
        created_at: u(r.try_get("created_at").map_err(db)?),
        expires_at: u(r.try_get("expires_at").map_err(db)?),
        used_at: r.try_get::<Option<i64>, _>("used_at").map_err(db)?.map(u),
        device_id: r.try_get("device_id").map_err(db)?,
    })
}

fn challenge_row(r: &SqliteRow) -> Result<Challenge> {
    let choices: String = r.try_get("choices").map_err(db)?;
    let choices = parse_choices(&choices)?;
    let decision: Option<String> = r.try_get("decision").map_err(db)?;
    let answer = match decision {
        None => None,
        Some(d) => Some(Answer {
            device_id: r.try_get::<Option<String>, _>("device_id").map_err(db)?.unwrap_or_default(),
            decision: parse_decision(&d)?,
            number: r
                .try_get::<Option<i64>, _>("answer_number")
                .map_err(db)?
                .map(small)
                .transpose()?,
            device_signature: r
                .try_get::<Option<String>, _>("device_signature")
                .map_err(db)?
                .unwrap_or_default(),
            passkey: parse_passkey(r.try_get("passkey").map_err(db)?)?,
            answered_at: u(r.try_get::<Option<i64>, _>("answered_at").map_err(db)?.unwrap_or(0)),
            receipt_signature: r
                .try_get::<Option<String>, _>("receipt_signature")
                .map_err(db)?
                .unwrap_or_default(),
        }),
    };
    Ok(Challenge {
        txid: r.try_get("txid").map_err(db)?,
        host_id: r.try_get("host_id").map_err(db)?,
        scope: r.try_get("scope").map_err(db)?,
        hostname: r.try_get("hostname").map_err(db)?,
        user: r.try_get("user").map_err(db)?,
        service: r.try_get("service").map_err(db)?,
        rhost: r.try_get("rhost").map_err(db)?,
        time: u(r.try_get("login_time").map_err(db)?),
        nonce: r.try_get("nonce").map_err(db)?,
        choices,
        created_at: u(r.try_get("created_at").map_err(db)?),
        expires_at: u(r.try_get("expires_at").map_err(db)?),
        status: parse_status(&r.try_get::<String, _>("status").map_err(db)?)?,
        answer,
    })
}

const CHALLENGE_SELECT: &str =
    "SELECT c.*, h.name AS hostname FROM challenges c JOIN hosts h ON h.id = c.host_id";

impl SqliteStore {
    /// Opens (creating it with mode 0600 if missing) the database at `path` and applies the
    /// pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if !path.exists() {
            // An empty file is an empty SQLite database; creating it here fixes its mode.
            crate::files::write_new_private(path, b"")
                .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
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

    async fn migrate(&self) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_version")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.try_get("version"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db)?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        if let Some(v) = applied.iter().find(|v| **v > newest) {
            return Err(StoreError::Db(format!(
                "database schema version {v} is newer than this mfa-pushd ({newest})"
            )));
        }
        // Every migration not recorded yet, in order: numbers are assigned per feature, so a
        // database may have a later one and still lack an earlier one.
        for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
            let mut tx = self.pool.begin().await.map_err(db)?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
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
        sqlx::query(
            "INSERT INTO hosts (id, name, token_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&h.id)
        .bind(&h.name)
        .bind(&h.token_hash[..])
        .bind(i(h.created_at))
        .bind(h.revoked_at.map(i))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn host_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<Host>> {
        let r = sqlx::query("SELECT * FROM hosts WHERE token_hash = ?")
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.as_ref().map(host_row).transpose()
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
        let rows = sqlx::query("SELECT * FROM hosts ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(host_row).collect()
    }

    async fn device(&self, id: &str) -> Result<Option<Device>> {
        let r = sqlx::query("SELECT * FROM devices WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.as_ref().map(device_row).transpose()
    }

    async fn devices(&self, user: Option<&str>) -> Result<Vec<Device>> {
        let rows = match user {
            Some(user) => {
                sqlx::query("SELECT * FROM devices WHERE user = ? ORDER BY created_at, id")
                    .bind(user)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query("SELECT * FROM devices ORDER BY user, created_at, id")
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db)?;
        rows.iter().map(device_row).collect()
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
        let rows = sqlx::query(
            "SELECT u.user AS user, \
               (SELECT COUNT(*) FROM devices d WHERE d.user = u.user AND d.revoked_at IS NULL) AS active, \
               (SELECT COUNT(*) FROM devices d WHERE d.user = u.user AND d.revoked_at IS NOT NULL) AS revoked, \
               (SELECT MAX(until) FROM cooldowns c WHERE c.user = u.user) AS until \
             FROM (SELECT user FROM devices UNION SELECT user FROM cooldowns) u ORDER BY u.user",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(UserSummary {
                    user: r.try_get("user").map_err(db)?,
                    active_devices: u(r.try_get("active").map_err(db)?),
                    revoked_devices: u(r.try_get("revoked").map_err(db)?),
                    cooldown_until: r.try_get::<Option<i64>, _>("until").map_err(db)?.map(u),
                })
            })
            .collect()
    }

    async fn add_pairing(&self, p: &Pairing) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "INSERT INTO pairings (id, host_id, user, credential_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.host_id)
        .bind(&p.user)
        .bind(&p.credential_hash[..])
        .bind(i(p.created_at))
        .bind(i(p.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn pairing(&self, id: &str) -> Result<Option<Pairing>> {
        let r = sqlx::query("SELECT * FROM pairings WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.as_ref().map(pairing_row).transpose()
    }

    async fn pairing_by_credential(&self, hash: &[u8; 32]) -> Result<Option<Pairing>> {
        let r = sqlx::query("SELECT * FROM pairings WHERE credential_hash = ?")
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.as_ref().map(pairing_row).transpose()
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
        sqlx::query(
            "INSERT INTO devices (id, user, name, public_key, created_at, host_id) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&d.id)
        .bind(&d.user)
        .bind(&d.name)
        .bind(&d.public_key)
        .bind(i(d.created_at))
        .bind(&d.host_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(p) = passkey {
            sqlx::query(
                "INSERT INTO passkeys (device_id, credential_id, public_key, sign_count, \
                 created_at, registration) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&p.device_id)
            .bind(&p.credential_id)
            .bind(&p.public_key)
            .bind(i(u64::from(p.sign_count)))
            .bind(i(p.created_at))
            .bind(&p.registration)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let r = sqlx::query(
            "UPDATE pairings SET used_at = ?, device_id = ? \
             WHERE id = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(i(now))
        .bind(&d.id)
        .bind(pairing_id)
        .bind(i(now))
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
        let r = sqlx::query("SELECT until FROM cooldowns WHERE scope = ? AND user = ?")
            .bind(scope)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.map(|r| r.try_get::<i64, _>("until").map(u)).transpose().map_err(db)
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
        let stale = sqlx::query(&format!(
            "{CHALLENGE_SELECT} WHERE c.scope = ? AND c.user = ? AND c.status = 'pending' \
             AND c.expires_at <= ?"
        ))
        .bind(&c.scope)
        .bind(&c.user)
        .bind(i(now))
        .fetch_all(&mut *tx)
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
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let choices = choices_text(&c.choices);
        let inserted = sqlx::query(
            "INSERT INTO challenges (txid, host_id, scope, user, service, rhost, login_time, \
             nonce, choices, created_at, expires_at, status) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        )
        .bind(&c.txid)
        .bind(&c.host_id)
        .bind(&c.scope)
        .bind(&c.user)
        .bind(&c.service)
        .bind(&c.rhost)
        .bind(i(c.time))
        .bind(&c.nonce)
        .bind(choices)
        .bind(i(c.created_at))
        .bind(i(c.expires_at))
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
        for d in devices {
            sqlx::query("INSERT INTO challenge_devices (txid, device_id) VALUES (?, ?)")
                .bind(&c.txid)
                .bind(d)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for (scope, key) in [("user", &user), ("host", &c.host_id)] {
            sqlx::query("INSERT INTO rate_events (scope, key, at, txid) VALUES (?, ?, ?, ?)")
                .bind(scope)
                .bind(key)
                .bind(i(now))
                .bind(&c.txid)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let expired = stale
            .into_iter()
            .map(|mut s| {
                s.status = Status::Expired;
                s
            })
            .collect();
        Ok(Created::Ok { expired })
    }

    async fn challenge(&self, txid: &str) -> Result<Option<Challenge>> {
        let r = sqlx::query(&format!("{CHALLENGE_SELECT} WHERE c.txid = ?"))
            .bind(txid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.as_ref().map(challenge_row).transpose()
    }

    async fn sent_to(&self, txid: &str, device_id: &str) -> Result<bool> {
        let r = sqlx::query("SELECT 1 FROM challenge_devices WHERE txid = ? AND device_id = ?")
            .bind(txid)
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.is_some())
    }

    async fn recipients(&self, txid: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT device_id FROM challenge_devices WHERE txid = ?")
            .bind(txid)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(|r| r.try_get("device_id").map_err(db)).collect()
    }

    async fn pending_for_device(&self, device_id: &str, now: u64) -> Result<Vec<Challenge>> {
        let rows = sqlx::query(&format!(
            "{CHALLENGE_SELECT} JOIN challenge_devices cd ON cd.txid = c.txid \
             WHERE cd.device_id = ? AND c.status = 'pending' AND c.expires_at > ? \
             ORDER BY c.created_at, c.txid"
        ))
        .bind(device_id)
        .bind(i(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(challenge_row).collect()
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
        let r = sqlx::query(
            "UPDATE challenges SET status = ?, closed_at = ?, device_id = ?, decision = ?, \
             answer_number = ?, device_signature = ?, passkey = ?, answered_at = ?, \
             receipt_signature = ? WHERE txid = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(status_text(status))
        .bind(i(now))
        .bind(&a.device_id)
        .bind(a.decision.as_str())
        .bind(a.number.map(i64::from))
        .bind(&a.device_signature)
        .bind(passkey_text(a.passkey.as_ref())?)
        .bind(i(a.answered_at))
        .bind(&a.receipt_signature)
        .bind(txid)
        .bind(i(now))
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
        Ok(due
            .into_iter()
            .map(|mut c| {
                c.status = Status::Expired;
                c
            })
            .collect())
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
        sqlx::query(
            "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET \
             endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, \
             created_at = excluded.created_at",
        )
        .bind(device_id)
        .bind(&sub.endpoint)
        .bind(&sub.p256dh)
        .bind(&sub.auth)
        .bind(i(now))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn push_subscription(&self, device_id: &str) -> Result<Option<PushSubscription>> {
        let row = sqlx::query(
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = ?",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(PushSubscription {
                endpoint: r.try_get("endpoint").map_err(db)?,
                p256dh: r.try_get("p256dh").map_err(db)?,
                auth: r.try_get("auth").map_err(db)?,
            })
        })
        .transpose()
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
