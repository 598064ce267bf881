//! [`FleetEnrollStore`] on the postgres backend (`migrations/postgres/0009_fleet_enroll.sql`):
//! the rule is decided and the change made under the user's transaction advisory lock (the one
//! `begin_attempt` takes), so two instances cannot both enroll a "first" factor; the proof's
//! update is guarded in SQL, which PostgreSQL re-checks on a concurrent winner's row.

use super::super::codec::i;
use super::super::fleet::{AttemptLimits, AttemptOf, Begun, TotpRecord};
use super::super::fleet_enroll::{
    Applied, Enrollment, FleetEnrollStore, ProofUse, StoredChange, unproven,
};
use super::super::fleet_keys::FleetKey;
use super::super::fleet_push::{ADD, bind_add};
use super::super::sql::db;
use super::super::{Result, user_key};
use super::fleet::{clear_failures, take_nonce, take_rate_of};
use super::fleet_keys::insert_key;
use super::{PostgresStore, lock};
use async_trait::async_trait;
use push_proto::fleet::Factor;
use sqlx::{Postgres, Row, Transaction};

type Tx<'t> = Transaction<'t, Postgres>;

async fn count(tx: &mut Tx<'_>, sql: &str, scope: &str, user: &str) -> Result<i64> {
    sqlx::query(sql)
        .bind(scope)
        .bind(user)
        .fetch_one(&mut **tx)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(db)
}

/// Whether the user has a factor, and whether the admin opted them in.
async fn standing(tx: &mut Tx<'_>, scope: &str, user: &str) -> Result<(bool, bool)> {
    let totp = "SELECT COUNT(*) AS n FROM fleet_totp WHERE scope = $1 AND \"user\" = $2";
    let codes = "SELECT COUNT(*) AS n FROM fleet_recovery WHERE scope = $1 AND \"user\" = $2 \
                 AND used_at IS NULL";
    let keys = "SELECT COUNT(*) AS n FROM fleet_keys WHERE scope = $1 AND \"user\" = $2";
    let push = "SELECT COUNT(*) AS n FROM fleet_push_devices f JOIN devices d ON d.id = f.device_id \
                   WHERE f.scope = $1 AND f.\"user\" = $2 AND d.revoked_at IS NULL";
    let opt = "SELECT COUNT(*) AS n FROM fleet_opt_in WHERE scope = $1 AND \"user\" = $2";
    let has = count(tx, totp, scope, user).await?
        + count(tx, codes, scope, user).await?
        + count(tx, keys, scope, user).await?
        + count(tx, push, scope, user).await?
        > 0;
    Ok((has, count(tx, opt, scope, user).await? > 0))
}

/// Uses up the proof by a login's guarded update; false if it was used meanwhile.
async fn use_proof(tx: &mut Tx<'_>, e: &Enrollment<'_>, p: &ProofUse) -> Result<bool> {
    let q = match p {
        ProofUse::Totp { sealed, step } => sqlx::query(
            "UPDATE fleet_totp SET last_step = $1 WHERE scope = $2 AND \"user\" = $3 \
             AND secret = $4 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(i(*step))
        .bind(e.scope)
        .bind(e.user)
        .bind(sealed.clone()),
        ProofUse::Recovery { slot, hash } => sqlx::query(
            "UPDATE fleet_recovery SET used_at = $1 WHERE scope = $2 AND \"user\" = $3 \
             AND slot = $4 AND hash = $5 AND used_at IS NULL",
        )
        .bind(i(e.now))
        .bind(e.scope)
        .bind(e.user)
        .bind(i64::from(*slot))
        .bind(hash.clone()),
        ProofUse::Key { key, new } => sqlx::query(
            "UPDATE fleet_keys SET sign_count = $1, used_at = $2 WHERE scope = $3 AND \"user\" = $4 \
             AND credential_id = $5 AND public_key = $6 AND sign_count = $7",
        )
        .bind(i64::from(*new))
        .bind(i(e.now))
        .bind(e.scope)
        .bind(e.user)
        .bind(key.credential_id.clone())
        .bind(key.public_key.clone())
        .bind(i64::from(key.sign_count)),
    };
    Ok(q.execute(&mut **tx).await.map_err(db)?.rows_affected() == 1)
}

/// Whether `k` may be added: its credential id is new in the scope, and the user has room.
async fn key_fits(tx: &mut Tx<'_>, k: &FleetKey) -> Result<bool> {
    let taken = "SELECT COUNT(*) AS n FROM fleet_keys WHERE scope = $1 AND credential_id = $2";
    let mine = "SELECT COUNT(*) AS n FROM fleet_keys WHERE scope = $1 AND \"user\" = $2";
    let max = i64::try_from(push_proto::fleet_keys::MAX_KEYS).unwrap_or(i64::MAX);
    Ok(count(tx, taken, &k.scope, &k.credential_id).await? == 0
        && count(tx, mine, &k.scope, &k.user).await? < max)
}

async fn set_totp(tx: &mut Tx<'_>, r: &TotpRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO fleet_totp (scope, \"user\", secret, algorithm, digits, step, last_step, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (scope, \"user\") DO UPDATE \
         SET secret = $3, algorithm = $4, digits = $5, step = $6, last_step = $7, updated_at = $8",
    )
    .bind(&r.scope)
    .bind(&r.user)
    .bind(&r.sealed)
    .bind(&r.algorithm)
    .bind(i64::from(r.digits))
    .bind(i(r.step))
    .bind(r.last_step.map(i))
    .bind(i(r.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn delete(tx: &mut Tx<'_>, table_sql: &str, scope: &str, user: &str) -> Result<()> {
    sqlx::query(table_sql).bind(scope).bind(user).execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

/// Inserts unused recovery codes: (slot, Argon2id hash).
async fn insert_codes(
    tx: &mut Tx<'_>,
    e: &Enrollment<'_>,
    codes: impl Iterator<Item = (usize, &str)>,
) -> Result<()> {
    for (slot, hash) in codes {
        sqlx::query(
            "INSERT INTO fleet_recovery (scope, \"user\", slot, hash, used_at, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(e.scope)
        .bind(e.user)
        .bind(i64::try_from(slot).unwrap_or(i64::MAX))
        .bind(hash)
        .bind(i(e.now))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn add_push_device(tx: &mut Tx<'_>, e: &Enrollment<'_>, device_id: &str) -> Result<()> {
    let q = bind_add(sqlx::query(ADD), e, device_id);
    q.execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

async fn apply(tx: &mut Tx<'_>, e: &Enrollment<'_>) -> Result<()> {
    const TOTP: &str = "DELETE FROM fleet_totp WHERE scope = $1 AND \"user\" = $2";
    const CODES: &str = "DELETE FROM fleet_recovery WHERE scope = $1 AND \"user\" = $2";
    const KEYS: &str = "DELETE FROM fleet_keys WHERE scope = $1 AND \"user\" = $2";
    const PUSH: &str = "DELETE FROM fleet_push_devices WHERE scope = $1 AND \"user\" = $2";
    match &e.change {
        StoredChange::Totp(r) => set_totp(tx, r).await,
        StoredChange::Remove(Factor::Totp) => delete(tx, TOTP, e.scope, e.user).await,
        StoredChange::Remove(Factor::Recovery) => delete(tx, CODES, e.scope, e.user).await,
        StoredChange::Remove(Factor::SecurityKey) => delete(tx, KEYS, e.scope, e.user).await,
        StoredChange::Remove(Factor::Push) => delete(tx, PUSH, e.scope, e.user).await,
        StoredChange::AddPushDevice(id) => add_push_device(tx, e, id).await,
        StoredChange::RemoveAll => {
            delete(tx, TOTP, e.scope, e.user).await?;
            delete(tx, CODES, e.scope, e.user).await?;
            delete(tx, KEYS, e.scope, e.user).await?;
            delete(tx, PUSH, e.scope, e.user).await
        }
        StoredChange::AddKey(k) => insert_key(tx, k).await,
        StoredChange::Recovery(hashes) => {
            delete(tx, CODES, e.scope, e.user).await?;
            insert_codes(tx, e, hashes.iter().enumerate().map(|(n, h)| (n, h.as_str()))).await
        }
        StoredChange::Migrate(m) => {
            if let Some(r) = &m.totp {
                set_totp(tx, r).await?;
            }
            // Only used codes can be here (an unused one is a factor): replaced.
            delete(tx, CODES, e.scope, e.user).await?;
            insert_codes(tx, e, m.recovery.iter().map(|(n, h)| (usize::from(*n), h.as_str())))
                .await?;
            for k in &m.keys {
                insert_key(tx, k).await?;
            }
            Ok(())
        }
    }
}

#[async_trait]
impl FleetEnrollStore for PostgresStore {
    async fn enroll(&self, e: &Enrollment<'_>) -> Result<Applied> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock(&mut tx, &format!("fleet-user:{}", user_key(e.scope, e.user))).await?;
        match &e.proof {
            Some(p) => {
                if !use_proof(&mut tx, e, p).await? {
                    return Ok(Applied::ProofUsed);
                }
                clear_failures(&mut tx, e.scope, e.user).await?;
            }
            None => {
                let (has, opted) = standing(&mut tx, e.scope, e.user).await?;
                if let Some(refused) = unproven(&e.change, has, e.first, opted) {
                    return Ok(refused);
                }
            }
        }
        if let StoredChange::AddKey(k) = &e.change {
            if !key_fits(&mut tx, k).await? {
                return Ok(Applied::KeyRefused);
            }
        }
        apply(&mut tx, e).await?;
        tx.commit().await.map_err(db)?;
        Ok(Applied::Done)
    }

    async fn begin_request(
        &self,
        a: &AttemptOf<'_>,
        events: super::super::fleet_enroll::RateEvents,
        limits: AttemptLimits,
        now: u64,
    ) -> Result<Begun> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock(&mut tx, &format!("fleet-user:{}", user_key(a.scope, a.user))).await?;
        lock(&mut tx, &format!("fleet-host:{}", a.host_id)).await?;
        if !take_nonce(&mut tx, a).await? {
            return Ok(Begun::NonceReplayed);
        }
        let limited = take_rate_of(&mut tx, events, a, limits, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(limited.unwrap_or(Begun::Counted(0)))
    }

    async fn set_opt_in(&self, scope: &str, user: &str, on: bool, now: u64) -> Result<()> {
        let q = if on {
            sqlx::query(
                "INSERT INTO fleet_opt_in (scope, \"user\", created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, \"user\") DO NOTHING",
            )
            .bind(scope)
            .bind(user)
            .bind(i(now))
        } else {
            sqlx::query("DELETE FROM fleet_opt_in WHERE scope = $1 AND \"user\" = $2")
                .bind(scope)
                .bind(user)
        };
        q.execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn opted_in(&self, scope: &str, user: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let opt = "SELECT COUNT(*) AS n FROM fleet_opt_in WHERE scope = $1 AND \"user\" = $2";
        let n = count(&mut tx, opt, scope, user).await?;
        tx.commit().await.map_err(db)?;
        Ok(n > 0)
    }
}

crate::store::fleet_push::fleet_push_impl!(PostgresStore);
