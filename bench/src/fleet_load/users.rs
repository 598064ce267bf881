//! The benchmark's enrolled users and their TOTP codes, the same for every service: user `i`
//! is `fleet<i>`, with a 20-byte secret derived from the run's random seed and `i` (so 100,000
//! users need no table), SHA-1, 6 digits, 30 s (the defaults of `mfa-enroll` and privacyIDEA).

use mfa_factors::totp::{self, Algorithm, Params};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The TOTP parameters of every benchmark user.
pub(crate) const PARAMS: Params = Params { algorithm: Algorithm::Sha1, digits: 6, step: 30 };

/// The users of one run.
#[derive(Clone, Copy)]
pub(crate) struct Users {
    seed: [u8; 16],
}

impl Users {
    /// A fresh run's users (a random seed).
    pub(crate) fn new() -> Result<Users, String> {
        let mut seed = [0u8; 16];
        let token = push_proto::random_token(16).map_err(|e| e.0)?;
        seed.copy_from_slice(&Sha256::digest(token.as_bytes())[..16]);
        Ok(Users { seed })
    }

    /// User `i`'s name.
    pub(crate) fn name(i: usize) -> String {
        format!("fleet{i}")
    }

    /// User `i`'s TOTP secret.
    pub(crate) fn secret(&self, i: usize) -> [u8; 20] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update((i as u64).to_be_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&h.finalize()[..20]);
        out
    }

    /// User `i`'s code for TOTP step `step`, as an authenticator app shows it.
    pub(crate) fn code(&self, i: usize, step: u64) -> String {
        totp::code_for_step(&self.secret(i), &PARAMS, step).to_string()
    }
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The current TOTP step.
pub(crate) fn current_step() -> u64 {
    unix_now() / PARAMS.step
}

/// How long until the next TOTP step begins.
pub(crate) fn until_next_step() -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let step_ms = u128::from(PARAMS.step) * 1000;
    let left = step_ms - now.as_millis() % step_ms;
    Duration::from_millis(u64::try_from(left).unwrap_or(0) + 20)
}

/// Users the workers share, oldest-used first: a code is accepted once per user and step, so
/// a user used in this step waits for the next one. With enough users (verifications/s × 30 s)
/// no worker ever waits; when one has to, it is counted (`Level::dry_waits`).
pub(crate) struct Pool {
    queue: Mutex<VecDeque<(usize, u64)>>,
}

impl Pool {
    /// A pool of `users`, none used yet.
    pub(crate) fn new(users: impl IntoIterator<Item = usize>) -> Pool {
        Pool { queue: Mutex::new(users.into_iter().map(|u| (u, 0)).collect()) }
    }

    /// Number of users in the pool.
    pub(crate) fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The least recently used user, if not used in `step` yet.
    pub(crate) fn take(&self, step: u64) -> Option<usize> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match q.front() {
            Some(&(_, last)) if last < step => q.pop_front().map(|(u, _)| u),
            _ => None,
        }
    }

    /// Gives `user` back, used in `step`.
    pub(crate) fn put(&self, user: usize, step: u64) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push_back((user, step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_comes_back_only_in_a_later_step() {
        let pool = Pool::new([1, 2]);
        assert_eq!(pool.take(10), Some(1));
        pool.put(1, 10);
        assert_eq!(pool.take(10), Some(2));
        pool.put(2, 10);
        assert_eq!(pool.take(10), None);
        assert_eq!(pool.take(11), Some(1));
    }

    #[test]
    fn codes_are_rfc6238_for_the_derived_secret() {
        let users = Users::new().unwrap();
        assert_ne!(users.secret(0), users.secret(1));
        let code = users.code(7, 1234);
        assert_eq!(code.len(), 6);
        let expected = totp::hotp(&users.secret(7), 1234, Algorithm::Sha1, 6).to_string();
        assert_eq!(code.trim_start_matches('0'), expected.trim_start_matches('0'));
    }
}
