//! [`PasskeyStore`] on the sqlite backend (`migrations/sqlite/0002_passkeys.sql`).

use super::super::Result;
use super::super::codec::i;
use super::super::passkeys::{Passkey, PasskeyStore};
use super::super::sql::{db, fetch_optional, passkey_row};
use super::SqliteStore;
use async_trait::async_trait;

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn passkey(&self, device_id: &str) -> Result<Option<Passkey>> {
        let q = sqlx::query(
            "SELECT device_id, credential_id, public_key, sign_count, created_at, registration \
             FROM passkeys WHERE device_id = ?",
        )
        .bind(device_id);
        fetch_optional(q, &self.pool, passkey_row).await
    }

    async fn bump_passkey_counter(&self, device_id: &str, old: u32, new: u32) -> Result<bool> {
        let _w = self.write.lock().await;
        let done = sqlx::query(
            "UPDATE passkeys SET sign_count = ? WHERE device_id = ? AND sign_count = ?",
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
