//! [`FleetStore`] on the postgres backend (`migrations/postgres/0006_fleet.sql`), for several
//! instances on one database: an attempt is counted under per-user and per-host transaction
//! advisory locks (as challenges are), and an answer is accepted by a guarded `UPDATE`, which
//! PostgreSQL re-checks on the row version a concurrent winner committed, so the loser
//! changes nothing.

use super::super::codec::i;
use super::super::fleet::{
    AttemptLimits, AttemptOf, Begun, FleetStore, Lockout, RecoverySlot, TotpRecord,
};
use super::super::sql::{db, fetch_all, fetch_optional, lockout_row, recovery_row, totp_row};
use super::super::{Result, user_key};
use super::{PostgresStore, lock};
use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

async fn set_lockout(
    tx: &mut Transaction<'_, Postgres>,
    a: &AttemptOf<'_>,
    failures: u32,
    locked_until: Option<u64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO fleet_lockout (scope, \"user\", failures, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, \"user\") DO UPDATE SET failures = $3, locked_until = $4",
    )
    .bind(a.scope)
    .bind(a.user)
    .bind(i64::from(failures))
    .bind(locked_until.map(i))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Applies the per-user and per-host rate limits of fleet requests in `tx`: the limit reached
/// (nothing recorded), or `None` after recording this request's two rate events.
pub(super) async fn take_rate(
    tx: &mut Transaction<'_, Postgres>,
    a: &AttemptOf<'_>,
    limits: AttemptLimits,
    now: u64,
) -> Result<Option<Begun>> {
    take_rate_of(tx, super::super::fleet_enroll::VERIFY_EVENTS, a, limits, now).await
}

/// [`take_rate`] with other rate events (`kinds`: per user, per host), e.g. key challenges'.
pub(super) async fn take_rate_of(
    tx: &mut Transaction<'_, Postgres>,
    kinds: (&str, &str),
    a: &AttemptOf<'_>,
    limits: AttemptLimits,
    now: u64,
) -> Result<Option<Begun>> {
    let (user_events, host_events) = kinds;
    let since = now.saturating_sub(60);
    let user = user_key(a.scope, a.user);
    if PostgresStore::count_since(tx, user_events, &user, since).await?
        >= i64::from(limits.per_user)
    {
        return Ok(Some(Begun::UserRateLimited));
    }
    if PostgresStore::count_since(tx, host_events, a.host_id, since).await?
        >= i64::from(limits.per_host)
    {
        return Ok(Some(Begun::HostRateLimited));
    }
    sqlx::query("INSERT INTO rate_events (scope, key, at) VALUES ($1, $2, $5), ($3, $4, $5)")
        .bind(user_events)
        .bind(&user)
        .bind(host_events)
        .bind(a.host_id)
        .bind(i(now))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(None)
}

/// The attempt's steps after its nonce was taken: lockout, rate limits, count.
async fn count_attempt(
    tx: &mut Transaction<'_, Postgres>,
    a: &AttemptOf<'_>,
    limits: AttemptLimits,
    now: u64,
) -> Result<Begun> {
    let lo = sqlx::query("SELECT * FROM fleet_lockout WHERE scope = $1 AND \"user\" = $2")
        .bind(a.scope)
        .bind(a.user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
        .as_ref()
        .map(lockout_row)
        .transpose()?
        .unwrap_or_default();
    if let Some(until) = lo.locked_until.filter(|t| *t > now) {
        return Ok(Begun::Locked(until));
    }
    if let Some(limited) = take_rate(tx, a, limits, now).await? {
        return Ok(limited);
    }
    // A lockout that ended starts the count afresh.
    let n = lo.failures.saturating_add(1);
    if n > limits.max_failures {
        let until = now.saturating_add(limits.lockout);
        set_lockout(tx, a, 0, Some(until)).await?;
        return Ok(Begun::Locked(until));
    }
    set_lockout(tx, a, n, None).await?;
    Ok(Begun::Counted(n))
}

pub(super) async fn clear_failures(
    tx: &mut Transaction<'_, Postgres>,
    scope: &str,
    user: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE fleet_lockout SET failures = 0, locked_until = NULL WHERE scope = $1 AND \"user\" = $2",
    )
    .bind(scope)
    .bind(user)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Uses up the host's nonce in `tx`; false if the host used it before (then nothing else may
/// change: the caller rolls back).
pub(super) async fn take_nonce(
    tx: &mut Transaction<'_, Postgres>,
    a: &AttemptOf<'_>,
) -> Result<bool> {
    let fresh = sqlx::query(
        "INSERT INTO fleet_nonces (host_id, nonce, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (host_id, nonce) DO NOTHING",
    )
    .bind(a.host_id)
    .bind(a.nonce)
    .bind(i(a.nonce_expires_at))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(fresh.rows_affected() == 1)
}

#[async_trait]
impl FleetStore for PostgresStore {
    async fn set_totp(&self, r: &TotpRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO fleet_totp \
             (scope, \"user\", secret, algorithm, digits, step, last_step, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (scope, \"user\") DO UPDATE SET \
             secret = $3, algorithm = $4, digits = $5, step = $6, last_step = $7, updated_at = $8",
        )
        .bind(&r.scope)
        .bind(&r.user)
        .bind(&r.sealed)
        .bind(&r.algorithm)
        .bind(i64::from(r.digits))
        .bind(i(r.step))
        .bind(r.last_step.map(i))
        .bind(i(r.updated_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn totp(&self, scope: &str, user: &str) -> Result<Option<TotpRecord>> {
        let q = sqlx::query("SELECT * FROM fleet_totp WHERE scope = $1 AND \"user\" = $2")
            .bind(scope)
            .bind(user);
        fetch_optional(q, &self.pool, totp_row).await
    }

    async fn set_recovery(
        &self,
        scope: &str,
        user: &str,
        hashes: &[Option<String>],
        now: u64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM fleet_recovery WHERE scope = $1 AND \"user\" = $2")
            .bind(scope)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for (slot, hash) in hashes.iter().enumerate() {
            let Some(hash) = hash else { continue };
            sqlx::query(
                "INSERT INTO fleet_recovery (scope, \"user\", slot, hash, used_at, created_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5)",
            )
            .bind(scope)
            .bind(user)
            .bind(i64::try_from(slot).unwrap_or(i64::MAX))
            .bind(hash)
            .bind(i(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn recovery(&self, scope: &str, user: &str) -> Result<Vec<RecoverySlot>> {
        let q = sqlx::query(
            "SELECT * FROM fleet_recovery WHERE scope = $1 AND \"user\" = $2 ORDER BY slot",
        )
        .bind(scope)
        .bind(user);
        fetch_all(q, &self.pool, recovery_row).await
    }

    async fn lockout(&self, scope: &str, user: &str) -> Result<Lockout> {
        let q = sqlx::query("SELECT * FROM fleet_lockout WHERE scope = $1 AND \"user\" = $2")
            .bind(scope)
            .bind(user);
        Ok(fetch_optional(q, &self.pool, lockout_row).await?.unwrap_or_default())
    }

    async fn begin_attempt(
        &self,
        a: &AttemptOf<'_>,
        limits: AttemptLimits,
        now: u64,
    ) -> Result<Begun> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock(&mut tx, &format!("fleet-user:{}", user_key(a.scope, a.user))).await?;
        lock(&mut tx, &format!("fleet-host:{}", a.host_id)).await?;
        if !take_nonce(&mut tx, a).await? {
            return Ok(Begun::NonceReplayed);
        }
        let begun = count_attempt(&mut tx, a, limits, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(begun)
    }

    async fn accept_totp(
        &self,
        scope: &str,
        user: &str,
        sealed: &[u8],
        step: u64,
        _now: u64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let won = sqlx::query(
            "UPDATE fleet_totp SET last_step = $1 WHERE scope = $2 AND \"user\" = $3 \
             AND secret = $4 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(i(step))
        .bind(scope)
        .bind(user)
        .bind(sealed)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if won.rows_affected() != 1 {
            return Ok(false);
        }
        clear_failures(&mut tx, scope, user).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn use_recovery(
        &self,
        scope: &str,
        user: &str,
        slot: u8,
        hash: &str,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let won = sqlx::query(
            "UPDATE fleet_recovery SET used_at = $1 WHERE scope = $2 AND \"user\" = $3 AND slot = $4 \
             AND hash = $5 AND used_at IS NULL",
        )
        .bind(i(now))
        .bind(scope)
        .bind(user)
        .bind(i64::from(slot))
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if won.rows_affected() != 1 {
            return Ok(false);
        }
        clear_failures(&mut tx, scope, user).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn lock_if_due(
        &self,
        scope: &str,
        user: &str,
        max_failures: u32,
        until: u64,
        now: u64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE fleet_lockout SET failures = 0, locked_until = $1 WHERE scope = $2 AND \"user\" = $3 \
             AND failures >= $4 AND (locked_until IS NULL OR locked_until <= $5)",
        )
        .bind(i(until))
        .bind(scope)
        .bind(user)
        .bind(i64::from(max_failures))
        .bind(i(now))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() == 1)
    }

    async fn unlock(&self, scope: &str, user: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        clear_failures(&mut tx, scope, user).await?;
        tx.commit().await.map_err(db)
    }

    async fn prune_fleet_nonces(&self, before: u64) -> Result<()> {
        sqlx::query("DELETE FROM fleet_nonces WHERE expires_at < $1")
            .bind(i(before))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
