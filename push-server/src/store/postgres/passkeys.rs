//! [`PasskeyStore`] on the postgres backend (`migrations/postgres/0002_passkeys.sql`).

use super::super::codec::{i, u};
use super::super::passkeys::{Passkey, PasskeyStore};
use super::super::{Result, StoreError};
use super::{PostgresStore, db};
use async_trait::async_trait;
use sqlx::Row;

fn passkey_row(r: &sqlx::postgres::PgRow) -> Result<Passkey> {
    let count = u(r.try_get("sign_count").map_err(db)?);
    Ok(Passkey {
        device_id: r.try_get("device_id").map_err(db)?,
        credential_id: r.try_get("credential_id").map_err(db)?,
        public_key: r.try_get("public_key").map_err(db)?,
        sign_count: u32::try_from(count)
            .map_err(|_| StoreError::Db("stored passkey counter out of range".into()))?,
        created_at: u(r.try_get("created_at").map_err(db)?),
        registration: r.try_get("registration").map_err(db)?,
    })
}

#[async_trait]
impl PasskeyStore for PostgresStore {
    async fn passkey(&self, device_id: &str) -> Result<Option<Passkey>> {
        sqlx::query(
            "SELECT device_id, credential_id, public_key, sign_count, created_at, registration \
             FROM passkeys WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| passkey_row(&r))
        .transpose()
    }

    async fn bump_passkey_counter(&self, device_id: &str, old: u32, new: u32) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET sign_count = $1 WHERE device_id = $2 AND sign_count = $3",
        )
        .bind(i(u64::from(new)))
        .bind(device_id)
        .bind(i(u64::from(old)))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
