//! Wake-ups across instances: `LISTEN mfa_server` on a connection of its own, feeding what
//! other instances change into this instance's `Hub`.
//!
//! [`super::postgres::PostgresStore`] sends `NOTIFY mfa_server, '<instance> <hub key>'` in the
//! transaction of each change that ends a long-poll. This instance's own changes are already
//! published by its handlers, so the listener skips them and wakes waiters for the others'.
//! Notifications are not queued for a lost connection: after reconnecting (and listening
//! again) the listener wakes every waiter, and they read the database again.

use super::postgres::CHANNEL;
use super::url::DatabaseUrl;
use sqlx::postgres::{PgListener, PgPoolOptions};
use std::sync::OnceLock;
use std::time::Duration;

/// `application_name` of the listening connection (what an operator sees in
/// `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "mfa-server-listen";

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Longest payload accepted (`pair:` plus an id, with the instance prefix, is far shorter).
const MAX_PAYLOAD: usize = 256;

/// This process's random id, the first word of every payload it sends.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 8];
        // Uniqueness among a few instances is all that matters; the clock is a fallback.
        if getrandom::getrandom(&mut b).is_err() {
            b = crate::time::now().to_le_bytes();
            b[7] ^= (std::process::id() & 0xff) as u8;
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    })
}

/// The payload announcing `key`.
pub fn payload(key: &str) -> String {
    format!("{} {key}", instance_id())
}

/// The hub key in a payload from another instance; `None` for our own, or for anything that
/// is not a hub key.
pub fn foreign_key(payload: &str) -> Option<&str> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let (from, key) = payload.split_once(' ')?;
    let known = ["tx:", "dev:", "pair:"].iter().any(|p| key.starts_with(p));
    (from != instance_id() && known && !key.contains(char::is_whitespace)).then_some(key)
}

/// A subscribed listening connection.
pub struct Listener {
    url: DatabaseUrl,
    inner: PgListener,
}

async fn subscribe(url: &DatabaseUrl) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(url.options().application_name(APPLICATION_NAME))
        .await?;
    let mut l = PgListener::connect_with(&pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

impl Listener {
    /// Connects and subscribes; the service starts serving only once this succeeded, so no
    /// change made after start-up goes unheard.
    pub async fn connect(url: &DatabaseUrl) -> Result<Listener, String> {
        let inner = subscribe(url).await.map_err(|e| format!("{url}: listen: {e}"))?;
        Ok(Listener { url: url.clone(), inner })
    }

    /// Runs forever: `publish(key)` for each foreign change, `wake_all()` after each
    /// reconnection (changes made while disconnected were not heard).
    pub async fn run(mut self, publish: impl Fn(&str), wake_all: impl Fn()) {
        loop {
            match self.inner.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(key) = foreign_key(n.payload()) {
                        publish(key);
                    }
                }
                // The driver reconnected and listens again.
                Ok(None) => {
                    eprintln!("mfa-server: database notifications: connection lost, reconnected");
                    wake_all();
                }
                Err(e) => {
                    eprintln!("mfa-server: database notifications: {e}; reconnecting");
                    self.reconnect().await;
                    eprintln!("mfa-server: database notifications: listening again");
                    wake_all();
                }
            }
        }
    }

    async fn reconnect(&mut self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            match subscribe(&self.url).await {
                Ok(l) => {
                    self.inner = l;
                    return;
                }
                Err(e) => eprintln!("mfa-server: database notifications: {}: {e}", self.url),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_malformed_payloads_are_skipped() {
        assert_eq!(foreign_key(&payload("tx:abc")), None);
        assert_eq!(foreign_key("0011223344556677 tx:abc"), Some("tx:abc"));
        assert_eq!(foreign_key("0011223344556677 dev:d1"), Some("dev:d1"));
        assert_eq!(foreign_key("0011223344556677 pair:p1"), Some("pair:p1"));
        for bad in ["tx:abc", "0011223344556677 other:x", "0011223344556677 tx:a b", ""] {
            assert_eq!(foreign_key(bad), None, "{bad}");
        }
        assert_eq!(foreign_key(&format!("0011223344556677 tx:{}", "a".repeat(300))), None);
    }
}
