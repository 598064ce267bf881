//! Fleet mode offline's records (issue 21; `migrations/*/0014_fleet_offline.sql`): which hosts
//! may hold an offline bundle for a user (an accepted online login from that host, or the
//! admin's mark), the bundles issued (for `fleet offline list` and the keep rule), and the
//! offline uses hosts reported, each applied once; and (`0015_fleet_offline_windows.sql`) the
//! hashed TOTP windows made in the background, so that a bundle request never hashes.
//!
//! Written once for both SQL backends (`$n` placeholders, the `"user"` column quoted, as
//! [`super::fleet_admin_sql`]): each backend expands [`fleet_offline_impl`] with its
//! `serialize()` (SQLite's write lock) and `lock_user()` (PostgreSQL: the per-user advisory
//! lock `begin_attempt` takes, so a report's failure count and an online attempt's do not
//! overwrite each other).

use super::sql::Columns;
use super::{Result, StoreError};
use async_trait::async_trait;
use mfa_factors::offline_window::{HASH_LEN, HashedWindow, SALT_LEN, WindowCost};
use push_proto::offline::OfflineUse;

/// A bundle the service issued to a host (nothing secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedBundle {
    /// The host it was made for.
    pub host_id: String,
    /// Fleet scope.
    pub scope: String,
    /// The user.
    pub user: String,
    /// Its `issued_at`.
    pub issued_at: u64,
    /// Its `expires_at`.
    pub expires_at: u64,
    /// The last TOTP step of its window, if it had one.
    pub last_step: Option<u64>,
    /// SHA-256 (hex) of the factors it was made from ([`crate::fleet::offline::fingerprint`]):
    /// a held bundle is kept only while this is unchanged.
    pub fingerprint: String,
}

/// A row of `fleet_offline_bundles`.
pub(crate) fn issued_row(r: &impl Columns) -> Result<IssuedBundle> {
    Ok(IssuedBundle {
        host_id: r.text("host_id")?,
        scope: r.text("scope")?,
        user: r.text("user")?,
        issued_at: super::codec::u(r.int("issued_at")?),
        expires_at: super::codec::u(r.int("expires_at")?),
        last_step: r.opt_int("last_step")?.map(super::codec::u),
        fingerprint: r.text("fingerprint")?,
    })
}

/// A hashed TOTP window kept for a host and user, made in the background
/// ([`crate::fleet::offline_windows`]); nothing secret (the hashes are what a bundle carries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWindow {
    /// The host it was made for (its hashes are bound to it).
    pub host_id: String,
    /// Fleet scope.
    pub scope: String,
    /// The user.
    pub user: String,
    /// The window.
    pub window: HashedWindow,
    /// When it was made.
    pub made_at: u64,
    /// SHA-256 (hex) of the TOTP secret and parameters it was made from
    /// ([`crate::fleet::offline::Factors::totp_fingerprint`]): used only while unchanged.
    pub fingerprint: String,
}

/// A row of `fleet_offline_windows`.
pub(crate) fn window_row(r: &impl Columns) -> Result<StoredWindow> {
    let bad = |what: &str| StoreError::Db(format!("fleet_offline_windows: bad {what}"));
    let small = |col: &str| r.int(col).and_then(|v| u32::try_from(v).map_err(|_| bad(col)));
    let salt = <[u8; SALT_LEN]>::try_from(r.bytes("salt")?).map_err(|_| bad("salt"))?;
    let raw = r.bytes("hashes")?;
    let steps = usize::try_from(small("steps")?).map_err(|_| bad("steps"))?;
    if raw.len() != steps.saturating_mul(HASH_LEN) {
        return Err(bad("hashes"));
    }
    let hashes = raw
        .chunks_exact(HASH_LEN)
        .map(|c| <[u8; HASH_LEN]>::try_from(c).map_err(|_| bad("hashes")))
        .collect::<Result<Vec<_>>>()?;
    Ok(StoredWindow {
        host_id: r.text("host_id")?,
        scope: r.text("scope")?,
        user: r.text("user")?,
        window: HashedWindow {
            digits: u8::try_from(small("digits")?).map_err(|_| bad("digits"))?,
            step_secs: super::codec::u(r.int("step_secs")?),
            first_step: super::codec::u(r.int("first_step")?),
            salt,
            cost: WindowCost { memory_kib: small("memory_kib")?, passes: small("passes")? },
            hashes,
        },
        made_at: super::codec::u(r.int("made_at")?),
        fingerprint: r.text("fingerprint")?,
    })
}

/// One host's report of offline uses, to apply.
#[derive(Clone, Copy, Debug)]
pub struct Report<'a> {
    /// The reporting host.
    pub host_id: &'a str,
    /// Fleet scope.
    pub scope: &'a str,
    /// The user.
    pub user: &'a str,
    /// The uses, oldest first.
    pub uses: &'a [OfflineUse],
    /// `[fleet] max_failures`: a refused use that reaches it starts the lockout.
    pub max_failures: u32,
    /// `[fleet] lockout`, seconds.
    pub lockout: u64,
    /// The newest TOTP step a report may raise the watermark to (the service's current step
    /// plus the clock skew allowed): a host cannot push the watermark into the future.
    pub newest_time: u64,
    /// Now.
    pub now: u64,
}

/// Storage of fleet mode offline (part of every [`super::Store`]).
#[async_trait]
pub trait FleetOfflineStore: Send + Sync {
    /// Records an accepted online login of `user` from host `host_id` (eligibility).
    async fn record_login(&self, host_id: &str, scope: &str, user: &str, now: u64) -> Result<()>;
    /// Marks host `host_id` eligible for the user's bundle without a login there.
    async fn mark_offline(&self, host_id: &str, scope: &str, user: &str, now: u64) -> Result<()>;
    /// Whether the host may hold a bundle for the user: marked, or an accepted online login
    /// from it at or after `since`.
    async fn offline_eligible(
        &self,
        host_id: &str,
        scope: &str,
        user: &str,
        since: u64,
    ) -> Result<bool>;
    /// The last bundle issued to the host for the user, if not revoked since.
    async fn offline_issued(
        &self,
        host_id: &str,
        scope: &str,
        user: &str,
    ) -> Result<Option<IssuedBundle>>;
    /// Records (replacing any) the bundle issued, in one step with checking that the host is
    /// still eligible at `since` (a revocation during the build wins). False: not eligible
    /// any more, nothing recorded; the bundle must not be handed out.
    async fn record_issued(&self, b: &IssuedBundle, since: u64) -> Result<bool>;
    /// Bundles issued in `scope`, optionally of one user and one host, by user then host.
    async fn offline_bundles(
        &self,
        scope: &str,
        user: Option<&str>,
        host_id: Option<&str>,
    ) -> Result<Vec<IssuedBundle>>;
    /// Revokes the user's bundles on host `host_id` (`None`: every host) and their
    /// eligibility, in one transaction: the host drops its bundle at its next contact and
    /// gets none until the user's next accepted online login from it. How many issued
    /// bundles were revoked.
    async fn revoke_offline(&self, scope: &str, user: &str, host_id: Option<&str>) -> Result<u64>;
    /// The window kept for the host and user, if any.
    async fn offline_window(
        &self,
        host_id: &str,
        scope: &str,
        user: &str,
    ) -> Result<Option<StoredWindow>>;
    /// Stores (replacing any) a window made in the background, in one step with checking
    /// that the host is still eligible at `since` (a revocation or removal during the build
    /// wins). False: not eligible any more, nothing stored.
    async fn store_window(&self, w: &StoredWindow, since: u64) -> Result<bool>;
    /// Deletes the window kept for the host and user (the host was told to drop its bundle).
    async fn delete_window(&self, host_id: &str, scope: &str, user: &str) -> Result<()>;
    /// Deletes every window whose host is no longer eligible for the user (no mark and no
    /// accepted online login at or after `since`). How many were deleted.
    async fn prune_offline_windows(&self, since: u64) -> Result<u64>;
    /// Applies a host's report in one transaction: each use not seen before from this host
    /// once (an accepted TOTP raises the watermark, never lowers it; an accepted recovery
    /// code marks its slot used if its hash is unchanged; an accepted key raises its counter;
    /// a refusal counts one failure towards the fleet-wide lockout). How many uses were new.
    async fn apply_report(&self, r: &Report<'_>) -> Result<u32>;
}

/// Implements `FleetOfflineStore` for `$store` on database `$db`: `$store` has a `pool`, an
/// inherent `async fn serialize(&self)` (a guard held across each write) and
/// `async fn lock_user(&self, tx, key)`.
macro_rules! fleet_offline_impl {
    ($store:ty, $db:ty) => {
        use $crate::store::Result;
        use $crate::store::codec::i;
        use $crate::store::fleet_offline::{
            FleetOfflineStore, IssuedBundle, Report, StoredWindow, issued_row, window_row,
        };
        use $crate::store::sql::{db, fetch_all, fetch_optional};
        use push_proto::offline::{OfflineFactor, OfflineUse};

        type Tx<'t> = sqlx::Transaction<'t, $db>;

        /// The row of `table` of one host, scope and user, read by `row`.
        async fn keyed<T>(
            pool: &sqlx::Pool<$db>,
            table: &str,
            key: (&str, &str, &str),
            row: impl Fn(&<$db as sqlx::Database>::Row) -> Result<T>,
        ) -> Result<Option<T>> {
            let sql = format!(
                "SELECT * FROM {table} WHERE host_id = $1 AND scope = $2 AND \"user\" = $3"
            );
            let q = sqlx::query(&sql).bind(key.0).bind(key.1).bind(key.2);
            fetch_optional(q, pool, row).await
        }

        /// Records the use; false if this host reported it before.
        async fn first_report(tx: &mut Tx<'_>, r: &Report<'_>, u: &OfflineUse) -> Result<bool> {
            let q = sqlx::query(
                "INSERT INTO fleet_offline_uses (host_id, use_id, scope, \"user\", at, accepted, \
                 applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (host_id, use_id) DO NOTHING",
            )
            .bind(r.host_id)
            .bind(&u.id)
            .bind(r.scope)
            .bind(r.user)
            .bind(i(u.at))
            .bind(i64::from(u.accepted))
            .bind(i(r.now));
            Ok(q.execute(&mut **tx).await.map_err(db)?.rows_affected() == 1)
        }

        /// A refused use: one failure counted, the lockout started when due (as after a
        /// wrong online answer).
        async fn count_failure(tx: &mut Tx<'_>, r: &Report<'_>) -> Result<()> {
            sqlx::query(
                "INSERT INTO fleet_lockout (scope, \"user\", failures, locked_until) \
                 VALUES ($1, $2, 1, NULL) ON CONFLICT (scope, \"user\") \
                 DO UPDATE SET failures = fleet_lockout.failures + 1",
            )
            .bind(r.scope)
            .bind(r.user)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "UPDATE fleet_lockout SET failures = 0, locked_until = $3 WHERE scope = $1 \
                 AND \"user\" = $2 AND failures >= $4 \
                 AND (locked_until IS NULL OR locked_until <= $5)",
            )
            .bind(r.scope)
            .bind(r.user)
            .bind(i(r.now.saturating_add(r.lockout)))
            .bind(i64::from(r.max_failures))
            .bind(i(r.now))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
            Ok(())
        }

        /// An accepted use: the guarded update of its factor (nothing if the factor changed
        /// or moved past it meanwhile).
        async fn apply_accepted(tx: &mut Tx<'_>, r: &Report<'_>, f: &OfflineFactor) -> Result<()> {
            let q = match f {
                OfflineFactor::Totp { step: Some(step) } => sqlx::query(
                    "UPDATE fleet_totp SET last_step = $3 WHERE scope = $1 AND \"user\" = $2 \
                     AND (last_step IS NULL OR last_step < $3) AND step > 0 AND $3 <= $4 / step",
                )
                .bind(r.scope)
                .bind(r.user)
                .bind(i(*step))
                .bind(i(r.newest_time)),
                OfflineFactor::Recovery { slot: Some(slot), hash: Some(hash) } => sqlx::query(
                    "UPDATE fleet_recovery SET used_at = $5 WHERE scope = $1 AND \"user\" = $2 \
                     AND slot = $3 AND hash = $4 AND used_at IS NULL",
                )
                .bind(r.scope)
                .bind(r.user)
                .bind(i64::from(*slot))
                .bind(hash.clone())
                .bind(i(r.now)),
                OfflineFactor::SecurityKey {
                    credential_id: Some(id),
                    sign_count: Some(count),
                } => sqlx::query(
                    "UPDATE fleet_keys SET sign_count = $4, used_at = $5 WHERE scope = $1 \
                     AND \"user\" = $2 AND credential_id = $3 AND sign_count < $4",
                )
                .bind(r.scope)
                .bind(r.user)
                .bind(id.clone())
                .bind(i64::from(*count))
                .bind(i(r.now)),
                // An accepted use that names nothing to update: recorded, nothing else.
                _ => return Ok(()),
            };
            q.execute(&mut **tx).await.map_err(db)?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl FleetOfflineStore for $store {
            async fn record_login(
                &self,
                host_id: &str,
                scope: &str,
                user: &str,
                now: u64,
            ) -> Result<()> {
                let _w = self.serialize().await;
                sqlx::query(
                    "INSERT INTO fleet_offline_eligible (host_id, scope, \"user\", last_login_at, \
                     marked_at) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (host_id, scope, \"user\") \
                     DO UPDATE SET last_login_at = $4",
                )
                .bind(host_id)
                .bind(scope)
                .bind(user)
                .bind(i(now))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn mark_offline(
                &self,
                host_id: &str,
                scope: &str,
                user: &str,
                now: u64,
            ) -> Result<()> {
                let _w = self.serialize().await;
                sqlx::query(
                    "INSERT INTO fleet_offline_eligible (host_id, scope, \"user\", last_login_at, \
                     marked_at) VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (host_id, scope, \"user\") \
                     DO UPDATE SET marked_at = $4",
                )
                .bind(host_id)
                .bind(scope)
                .bind(user)
                .bind(i(now))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn offline_eligible(
                &self,
                host_id: &str,
                scope: &str,
                user: &str,
                since: u64,
            ) -> Result<bool> {
                let q = sqlx::query(
                    "SELECT host_id AS v FROM fleet_offline_eligible WHERE host_id = $1 \
                     AND scope = $2 AND \"user\" = $3 \
                     AND (marked_at IS NOT NULL OR last_login_at >= $4)",
                )
                .bind(host_id)
                .bind(scope)
                .bind(user)
                .bind(i(since));
                Ok(fetch_optional(q, &self.pool, $crate::store::sql::text_row).await?.is_some())
            }

            async fn offline_issued(
                &self,
                host_id: &str,
                scope: &str,
                user: &str,
            ) -> Result<Option<IssuedBundle>> {
                keyed(&self.pool, "fleet_offline_bundles", (host_id, scope, user), issued_row).await
            }

            async fn record_issued(&self, b: &IssuedBundle, since: u64) -> Result<bool> {
                let _w = self.serialize().await;
                let r = sqlx::query(
                    "INSERT INTO fleet_offline_bundles (host_id, scope, \"user\", issued_at, \
                     expires_at, last_step, fingerprint) SELECT $1, $2, $3, $4, $5, $6, $7 \
                     WHERE EXISTS (SELECT 1 FROM fleet_offline_eligible WHERE host_id = $1 \
                     AND scope = $2 AND \"user\" = $3 \
                     AND (marked_at IS NOT NULL OR last_login_at >= $8)) \
                     ON CONFLICT (host_id, scope, \"user\") DO UPDATE SET issued_at = $4, \
                     expires_at = $5, last_step = $6, fingerprint = $7",
                )
                .bind(&b.host_id)
                .bind(&b.scope)
                .bind(&b.user)
                .bind(i(b.issued_at))
                .bind(i(b.expires_at))
                .bind(b.last_step.map(i))
                .bind(&b.fingerprint)
                .bind(i(since))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(r.rows_affected() == 1)
            }

            async fn offline_bundles(
                &self,
                scope: &str,
                user: Option<&str>,
                host_id: Option<&str>,
            ) -> Result<Vec<IssuedBundle>> {
                let q = sqlx::query(
                    "SELECT * FROM fleet_offline_bundles WHERE scope = $1 \
                     AND ($2 IS NULL OR \"user\" = $2) AND ($3 IS NULL OR host_id = $3) \
                     ORDER BY \"user\", host_id",
                )
                .bind(scope)
                .bind(user)
                .bind(host_id);
                fetch_all(q, &self.pool, issued_row).await
            }

            async fn revoke_offline(
                &self,
                scope: &str,
                user: &str,
                host_id: Option<&str>,
            ) -> Result<u64> {
                let _w = self.serialize().await;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let mut revoked = 0;
                let tables =
                    ["fleet_offline_bundles", "fleet_offline_eligible", "fleet_offline_windows"];
                for table in tables {
                    let sql = format!(
                        "DELETE FROM {table} WHERE scope = $1 AND \"user\" = $2 \
                         AND ($3 IS NULL OR host_id = $3)"
                    );
                    let r = sqlx::query(&sql)
                        .bind(scope)
                        .bind(user)
                        .bind(host_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    if table == "fleet_offline_bundles" {
                        revoked = r.rows_affected();
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(revoked)
            }

            async fn offline_window(
                &self,
                host_id: &str,
                scope: &str,
                user: &str,
            ) -> Result<Option<StoredWindow>> {
                keyed(&self.pool, "fleet_offline_windows", (host_id, scope, user), window_row).await
            }

            async fn store_window(&self, w: &StoredWindow, since: u64) -> Result<bool> {
                let _w = self.serialize().await;
                let h = &w.window;
                let hashes: Vec<u8> = h.hashes.iter().flatten().copied().collect();
                let steps = u64::try_from(h.hashes.len()).unwrap_or(u64::MAX);
                let r = sqlx::query(
                    "INSERT INTO fleet_offline_windows (host_id, scope, \"user\", first_step, \
                     steps, step_secs, digits, salt, memory_kib, passes, hashes, made_at, \
                     fingerprint) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 \
                     WHERE EXISTS (SELECT 1 FROM fleet_offline_eligible WHERE host_id = $1 \
                     AND scope = $2 AND \"user\" = $3 \
                     AND (marked_at IS NOT NULL OR last_login_at >= $14)) \
                     ON CONFLICT (host_id, scope, \"user\") DO UPDATE SET first_step = $4, \
                     steps = $5, step_secs = $6, digits = $7, salt = $8, memory_kib = $9, \
                     passes = $10, hashes = $11, made_at = $12, fingerprint = $13",
                )
                .bind(&w.host_id)
                .bind(&w.scope)
                .bind(&w.user)
                .bind(i(h.first_step))
                .bind(i(steps))
                .bind(i(h.step_secs))
                .bind(i64::from(h.digits))
                .bind(h.salt.to_vec())
                .bind(i64::from(h.cost.memory_kib))
                .bind(i64::from(h.cost.passes))
                .bind(hashes)
                .bind(i(w.made_at))
                .bind(&w.fingerprint)
                .bind(i(since))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(r.rows_affected() == 1)
            }

            async fn delete_window(&self, host_id: &str, scope: &str, user: &str) -> Result<()> {
                let _w = self.serialize().await;
                sqlx::query(
                    "DELETE FROM fleet_offline_windows WHERE host_id = $1 AND scope = $2 \
                     AND \"user\" = $3",
                )
                .bind(host_id)
                .bind(scope)
                .bind(user)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn prune_offline_windows(&self, since: u64) -> Result<u64> {
                let _w = self.serialize().await;
                let r = sqlx::query(
                    "DELETE FROM fleet_offline_windows WHERE NOT EXISTS (SELECT 1 FROM \
                     fleet_offline_eligible e WHERE e.host_id = fleet_offline_windows.host_id \
                     AND e.scope = fleet_offline_windows.scope \
                     AND e.\"user\" = fleet_offline_windows.\"user\" \
                     AND (e.marked_at IS NOT NULL OR e.last_login_at >= $1))",
                )
                .bind(i(since))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(r.rows_affected())
            }

            async fn apply_report(&self, r: &Report<'_>) -> Result<u32> {
                let _w = self.serialize().await;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let key = format!("fleet-user:{}", $crate::store::user_key(r.scope, r.user));
                self.lock_user(&mut tx, &key).await?;
                let mut applied = 0u32;
                for u in r.uses {
                    if !first_report(&mut tx, r, u).await? {
                        continue;
                    }
                    applied += 1;
                    if u.accepted {
                        apply_accepted(&mut tx, r, &u.used).await?;
                    } else {
                        count_failure(&mut tx, r).await?;
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(applied)
            }
        }
    };
}

pub(crate) use fleet_offline_impl;
