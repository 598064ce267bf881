//! Locking a user's second factor after repeated wrong codes.
//!
//! The state lives in the user's record and is only changed under the user's lock, so the count
//! is exact however many attempts run in parallel: an attempt that finds the factor locked is
//! refused without checking its code.

use crate::config::LockoutConfig;
use serde::{Deserialize, Serialize};

/// Recent failures and the lock, stored in the user's record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutState {
    /// Times (Unix seconds) of recent wrong answers, oldest first, at most `max_failures`.
    pub failures: Vec<u64>,
    /// Locked until this time (Unix seconds).
    pub locked_until: Option<u64>,
}

impl LockoutState {
    /// Seconds the factor stays locked, if it is locked at `now`.
    pub fn locked_for(&self, now: u64) -> Option<u64> {
        self.locked_until.filter(|until| *until > now).map(|until| until - now)
    }

    /// Records a wrong answer at `now`; returns true if this failure locked the factor.
    pub fn record_failure(&mut self, now: u64, cfg: &LockoutConfig) -> bool {
        if cfg.max_failures == 0 {
            return false;
        }
        let since = now.saturating_sub(cfg.window);
        self.failures.retain(|t| *t > since && *t <= now);
        self.failures.push(now);
        if self.failures.len() >= cfg.max_failures as usize {
            self.failures.clear();
            self.locked_until = Some(now.saturating_add(cfg.duration));
            return true;
        }
        false
    }

    /// Forgets failures and any lock (after a correct answer, or by an administrator).
    pub fn clear(&mut self) {
        self.failures.clear();
        self.locked_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LockoutConfig {
        LockoutConfig { max_failures: 3, window: 60, duration: 300, fail_delay_ms: 0 }
    }

    #[test]
    fn locks_after_max_failures_in_window_and_expires() {
        let mut s = LockoutState::default();
        assert!(!s.record_failure(1000, &cfg()));
        assert!(!s.record_failure(1010, &cfg()));
        assert!(s.record_failure(1020, &cfg()));
        assert_eq!(s.locked_for(1020), Some(300));
        assert_eq!(s.locked_for(1319), Some(1));
        assert_eq!(s.locked_for(1320), None);
    }

    #[test]
    fn old_failures_fall_out_of_the_window() {
        let mut s = LockoutState::default();
        s.record_failure(1000, &cfg());
        s.record_failure(1010, &cfg());
        assert!(!s.record_failure(1070, &cfg()), "the first two are older than 60 s");
        assert_eq!(s.failures, vec![1070]);
    }

    #[test]
    fn zero_disables_and_clear_resets() {
        let mut s = LockoutState::default();
        let off = LockoutConfig { max_failures: 0, ..cfg() };
        for t in 0..100 {
            assert!(!s.record_failure(t, &off));
        }
        s.record_failure(1, &cfg());
        s.locked_until = Some(10);
        s.clear();
        assert_eq!(s, LockoutState::default());
    }
}
