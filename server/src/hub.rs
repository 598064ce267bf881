//! In-process wake-ups for long-polls, keyed by what changed (`tx:<txid>`, `pair:<id>`,
//! `dev:<device id>`).
//!
//! A waiter registers before it reads the database and sleeps until the key is published, its
//! deadline passes, or the service shuts down; then it reads again. Publishing is only a hint
//! (the database stays the truth), so the PostgreSQL `LISTEN/NOTIFY` bridge
//! (`store::pg_notify`) calls [`Hub::publish`] for changes made by other instances.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The registry of waiters.
#[derive(Default)]
pub struct Hub {
    keys: Mutex<HashMap<String, Weak<Notify>>>,
    closing: AtomicBool,
    closed: Notify,
}

/// Why [`Hub::wait`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    /// The key was published (or may have been): read again.
    Changed,
    /// The deadline passed.
    Deadline,
    /// The service is shutting down.
    Closing,
}

impl Hub {
    /// A new hub.
    pub fn new() -> Hub {
        Hub::default()
    }

    /// The notifier of `key`, created on first use.
    pub fn subscribe(&self, key: &str) -> Arc<Notify> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = keys.get(key).and_then(Weak::upgrade) {
            return n;
        }
        if keys.len() >= 1024 && keys.len().is_power_of_two() {
            keys.retain(|_, w| w.strong_count() > 0);
        }
        let n = Arc::new(Notify::new());
        keys.insert(key.to_string(), Arc::downgrade(&n));
        n
    }

    /// Wakes everyone waiting on `key`.
    pub fn publish(&self, key: &str) {
        let n = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            let n = keys.get(key).and_then(Weak::upgrade);
            if n.is_none() {
                keys.remove(key);
            }
            n
        };
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    /// Wakes every waiter on every key, once: they read the database again. Used when
    /// changes made by other instances may have gone unheard (a lost `LISTEN` connection).
    pub fn publish_all(&self) {
        let all: Vec<Arc<Notify>> = {
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.values().filter_map(Weak::upgrade).collect()
        };
        all.iter().for_each(|n| n.notify_waiters());
    }

    /// Wakes every waiter for good: the service is stopping.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.closed.notify_waiters();
    }

    /// Whether [`Hub::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Polls `check` until it yields a value, waking on `key`, giving up at `deadline` (then
    /// `check` runs one last time and its `None` becomes `Err`). `check` must read the truth
    /// (the database); wake-ups only say when to read again.
    pub async fn wait_for<T, E, F, Fut>(
        &self,
        key: &str,
        deadline: Instant,
        mut check: F,
    ) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let notify = self.subscribe(key);
        loop {
            // Register before reading, so a change between the read and the sleep still wakes.
            let notified = notify.notified();
            let closed = self.closed.notified();
            tokio::pin!(notified, closed);
            notified.as_mut().enable();
            closed.as_mut().enable();
            if let Some(v) = check().await? {
                return Ok(Some(v));
            }
            if self.is_closing() || Instant::now() >= deadline {
                return Ok(None);
            }
            let woken = tokio::select! {
                _ = &mut notified => Woken::Changed,
                _ = &mut closed => Woken::Closing,
                _ = tokio::time::sleep_until(deadline) => Woken::Deadline,
            };
            if woken != Woken::Changed {
                return check().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    #[tokio::test]
    async fn publish_wakes_the_waiter_and_deadline_ends_it() {
        let hub = Arc::new(Hub::new());
        let state = Arc::new(AtomicU32::new(0));
        let (h, s) = (hub.clone(), state.clone());
        let waiter = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            h.wait_for::<u32, (), _, _>("tx:a", deadline, || {
                let v = s.load(Ordering::SeqCst);
                async move { Ok((v != 0).then_some(v)) }
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        state.store(7, Ordering::SeqCst);
        let started = Instant::now();
        hub.publish("tx:a");
        assert_eq!(waiter.await.unwrap(), Ok(Some(7)));
        assert!(started.elapsed() < Duration::from_secs(2));

        let deadline = Instant::now() + Duration::from_millis(100);
        let r = hub.wait_for::<u32, (), _, _>("tx:b", deadline, || async { Ok(None) }).await;
        assert_eq!(r, Ok(None));
    }
}
