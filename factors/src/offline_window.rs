//! Pre-hashed TOTP codes for logins while the fleet's service cannot be reached (issue 21).
//!
//! The service, which holds the user's TOTP secret, computes the code of every time step of a
//! short window ahead and hands the host one slow salted hash per step, never the secret:
//! `Argon2id(code, salt)` with `salt = SHA-256("pam_mfa-offline-totp-v1" 0x00 host 0x00 user
//! 0x00 step (8 bytes, big-endian) window_salt)`. The host, offline, hashes what the user
//! typed for the steps around its clock and compares in constant time.
//!
//! What this protects, and what it does not (docs/threat-model.md): the window reveals no
//! secret and no code of a step outside it; salts bound to host, user and step make each
//! step's hash a separate search, useless on another host's bundle. Root on the host can still
//! search a step's code space (10^6 for six digits) at [`WindowCost`] per guess, so windows
//! are short, hashes slow, and bundles per host.

use crate::error::{Error, Result};
use crate::totp::{self, Params};
use argon2::{Algorithm, Argon2, Version};
use push_proto::offline::TotpWindow;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The domain string of a step's salt.
const DOMAIN: &[u8] = b"pam_mfa-offline-totp-v1";
/// Bytes of a window's random salt.
pub const SALT_LEN: usize = 16;
/// Bytes of each step's hash.
pub const HASH_LEN: usize = 32;
/// The most steps a window may hold (a day of 30-second steps).
pub const MAX_STEPS: u32 = 2880;

/// The Argon2id cost of one step's hash (one lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowCost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub passes: u32,
}

impl WindowCost {
    /// The least cost a host accepts: a window hashed cheaper than this is refused, so a
    /// service (or whoever forged a bundle) cannot make the hashes cheap to search.
    pub const MIN: WindowCost = WindowCost { memory_kib: 8 * 1024, passes: 1 };
    /// The most a host spends per hash (bounds the work an attacker's bundle can cause).
    pub const MAX: WindowCost = WindowCost { memory_kib: 256 * 1024, passes: 8 };

    /// Whether the cost is within [`Self::MIN`] and [`Self::MAX`].
    pub fn in_bounds(self) -> bool {
        (Self::MIN.memory_kib..=Self::MAX.memory_kib).contains(&self.memory_kib)
            && (Self::MIN.passes..=Self::MAX.passes).contains(&self.passes)
    }

    fn argon2(self) -> Result<Argon2<'static>> {
        let params = argon2::Params::new(self.memory_kib, self.passes, 1, Some(HASH_LEN))
            .map_err(|e| Error::Invalid(format!("offline window cost: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for WindowCost {
    /// 16 MiB, one pass.
    fn default() -> Self {
        WindowCost { memory_kib: 16 * 1024, passes: 1 }
    }
}

/// Whose window it is: a hash made for one host and user matches for no other.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// The host's id at the service.
    pub host_id: &'a str,
    /// The user (canonical name).
    pub user: &'a str,
}

fn step_salt(binding: Binding<'_>, step: u64, window_salt: &[u8; SALT_LEN]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [DOMAIN, binding.host_id.as_bytes(), binding.user.as_bytes()] {
        h.update(part);
        h.update([0u8]);
    }
    h.update(step.to_be_bytes());
    h.update(window_salt);
    h.finalize().into()
}

fn step_hash(
    argon: &Argon2<'_>,
    code: &str,
    binding: Binding<'_>,
    step: u64,
    window_salt: &[u8; SALT_LEN],
) -> Result<[u8; HASH_LEN]> {
    let mut out = [0u8; HASH_LEN];
    argon
        .hash_password_into(code.as_bytes(), &step_salt(binding, step, window_salt), &mut out)
        .map_err(|e| Error::Invalid(format!("offline window hash: {e}")))?;
    Ok(out)
}

/// The hashed codes of consecutive steps, and what is needed to check one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedWindow {
    /// The code length and step length (the HMAC does not matter once hashed).
    pub digits: u8,
    /// Seconds per step.
    pub step_secs: u64,
    /// The first step hashed.
    pub first_step: u64,
    /// The window's random salt.
    pub salt: [u8; SALT_LEN],
    /// The cost of each hash.
    pub cost: WindowCost,
    /// One hash per step from `first_step`.
    pub hashes: Vec<[u8; HASH_LEN]>,
}

/// Hashes the codes of `steps` steps from `first_step` (the service's side).
pub fn build(
    secret: &[u8],
    params: &Params,
    first_step: u64,
    steps: u32,
    binding: Binding<'_>,
    cost: WindowCost,
) -> Result<HashedWindow> {
    if steps > MAX_STEPS || !cost.in_bounds() {
        return Err(Error::Invalid("offline window out of bounds".into()));
    }
    let mut salt = [0u8; SALT_LEN];
    crate::random::fill(&mut salt)?;
    let argon = cost.argon2()?;
    let hashes = (first_step..first_step.saturating_add(u64::from(steps)))
        .map(|step| {
            let code: Zeroizing<String> = totp::code_for_step(secret, params, step);
            step_hash(&argon, &code, binding, step, &salt)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HashedWindow {
        digits: params.digits,
        step_secs: params.step,
        first_step,
        salt,
        cost,
        hashes,
    })
}

impl HashedWindow {
    /// The window as sent in a bundle.
    pub fn to_wire(&self) -> TotpWindow {
        TotpWindow {
            digits: self.digits,
            step_secs: self.step_secs,
            first_step: self.first_step,
            salt: push_proto::b64(&self.salt),
            memory_kib: self.cost.memory_kib,
            passes: self.cost.passes,
            hashes: self.hashes.iter().map(|h| push_proto::b64(h)).collect(),
        }
    }

    /// The window from a bundle (after its signature verified): every hash exactly
    /// [`HASH_LEN`] bytes, the salt [`SALT_LEN`], at most [`MAX_STEPS`] steps, the cost in
    /// bounds.
    pub fn from_wire(w: &TotpWindow) -> Result<HashedWindow> {
        let bad = |what: &str| Error::Invalid(format!("offline window: {what}"));
        let cost = WindowCost { memory_kib: w.memory_kib, passes: w.passes };
        if !cost.in_bounds() {
            return Err(bad("cost"));
        }
        if w.hashes.len() > MAX_STEPS as usize {
            return Err(bad("too many steps"));
        }
        let salt = push_proto::unb64(&w.salt)
            .and_then(|s| <[u8; SALT_LEN]>::try_from(s).ok())
            .ok_or_else(|| bad("salt"))?;
        let hashes = w
            .hashes
            .iter()
            .map(|h| push_proto::unb64(h).and_then(|h| <[u8; HASH_LEN]>::try_from(h).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("hash"))?;
        Ok(HashedWindow {
            digits: w.digits,
            step_secs: w.step_secs,
            first_step: w.first_step,
            salt,
            cost,
            hashes,
        })
    }

    /// The last step hashed.
    pub fn last_step(&self) -> u64 {
        let len = u64::try_from(self.hashes.len()).unwrap_or(u64::MAX);
        self.first_step.saturating_add(len).saturating_sub(1)
    }

    /// Checks `code` typed at `unix_time` (the host's side): the step it matches among the
    /// current step and its neighbours (the same ±1 window as online), only steps newer than
    /// `watermark` (the last step used on this host or reported by the service) and inside
    /// the window. Every candidate step is hashed and compared in constant time, whether or
    /// not an earlier one matched. A malformed window or code matches nothing.
    pub fn check(
        &self,
        code: &str,
        unix_time: u64,
        watermark: Option<u64>,
        binding: Binding<'_>,
    ) -> Option<u64> {
        let shaped = code.len() == usize::from(self.digits)
            && code.bytes().all(|b| b.is_ascii_digit())
            && matches!(self.digits, 6 | 8);
        if !shaped || self.step_secs == 0 || !self.cost.in_bounds() {
            return None;
        }
        let argon = self.cost.argon2().ok()?;
        let now = unix_time / self.step_secs;
        let mut matched = None;
        for step in now.saturating_sub(1)..=now.saturating_add(1) {
            let fresh = watermark.is_none_or(|w| step > w);
            let Some(i) = step.checked_sub(self.first_step) else { continue };
            let Some(stored) = usize::try_from(i).ok().and_then(|i| self.hashes.get(i)) else {
                continue;
            };
            let Ok(typed) = step_hash(&argon, code, binding, step, &self.salt) else {
                return None;
            };
            if bool::from(typed.ct_eq(stored)) && fresh && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";
    const AT: u64 = 1_800_000_000;
    const CHEAP: WindowCost = WindowCost::MIN;

    fn who() -> Binding<'static> {
        Binding { host_id: "host-a", user: "alice" }
    }

    fn window(first: u64, steps: u32) -> HashedWindow {
        build(SECRET, &Params::default(), first, steps, who(), CHEAP).unwrap()
    }

    fn code(t: u64) -> String {
        totp::code_at(SECRET, &Params::default(), t).to_string()
    }

    #[test]
    fn the_code_of_each_step_matches_that_step_only() {
        let now = AT / 30;
        let w = window(now - 2, 8);
        assert_eq!(w.hashes.len(), 8);
        assert_eq!(w.check(&code(AT), AT, None, who()), Some(now));
        assert_eq!(w.check(&code(AT + 30), AT, None, who()), Some(now + 1));
        assert_eq!(w.check(&code(AT - 30), AT, None, who()), Some(now - 1));
        // Two steps away: outside the ±1 window, though hashed.
        assert_eq!(w.check(&code(AT + 60), AT, None, who()), None);
    }

    #[test]
    fn the_watermark_refuses_used_and_older_steps() {
        let now = AT / 30;
        let w = window(now - 2, 8);
        assert_eq!(w.check(&code(AT), AT, Some(now), who()), None);
        assert_eq!(w.check(&code(AT - 30), AT, Some(now), who()), None);
        assert_eq!(w.check(&code(AT + 30), AT, Some(now), who()), Some(now + 1));
    }

    #[test]
    fn outside_the_window_nothing_matches() {
        let now = AT / 30;
        let w = window(now + 10, 4);
        assert_eq!(w.check(&code(AT), AT, None, who()), None);
        // A clock far ahead of the window, or behind it, opens nothing.
        let w = window(now - 1, 3);
        assert_eq!(w.check(&code(AT + 3600), AT + 3600, None, who()), None);
        assert_eq!(w.check(&code(AT - 3600), AT - 3600, None, who()), None);
        assert_eq!(w.last_step(), now + 1);
    }

    #[test]
    fn a_window_made_for_another_host_or_user_matches_nothing() {
        let w = window(AT / 30 - 1, 3);
        for binding in [
            Binding { host_id: "host-b", user: "alice" },
            Binding { host_id: "host-a", user: "bob" },
        ] {
            assert_eq!(w.check(&code(AT), AT, None, binding), None);
        }
    }

    #[test]
    fn malformed_codes_and_windows_match_nothing() {
        let now = AT / 30;
        let w = window(now - 1, 3);
        for typed in ["", "12345", "1234567", "12345a", " 123456", "１２３４５６"] {
            assert_eq!(w.check(typed, AT, None, who()), None, "{typed:?}");
        }
        let cheap = HashedWindow { cost: WindowCost { memory_kib: 64, passes: 1 }, ..w.clone() };
        assert_eq!(cheap.check(&code(AT), AT, None, who()), None, "below the least cost");
        let no_step = HashedWindow { step_secs: 0, ..w.clone() };
        assert_eq!(no_step.check(&code(AT), AT, None, who()), None);
        let mut tampered = w.clone();
        tampered.hashes[1][0] ^= 1;
        assert_eq!(tampered.check(&code(AT), AT, None, who()), None);
        assert_eq!(w.check(&code(AT), AT, None, who()), Some(now));
    }

    #[test]
    fn a_window_survives_the_wire_and_malformed_wire_windows_are_refused() {
        let w = window(AT / 30 - 1, 3);
        let back = HashedWindow::from_wire(&w.to_wire()).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.check(&code(AT), AT, None, who()), Some(AT / 30));
        let mut bad = w.to_wire();
        bad.hashes[0].pop();
        assert!(HashedWindow::from_wire(&bad).is_err());
        let bad = TotpWindow { salt: "AAAA".into(), ..w.to_wire() };
        assert!(HashedWindow::from_wire(&bad).is_err());
        let bad = TotpWindow { memory_kib: 8, ..w.to_wire() };
        assert!(HashedWindow::from_wire(&bad).is_err());
    }

    #[test]
    fn windows_out_of_bounds_are_not_built() {
        let p = Params::default();
        assert!(build(SECRET, &p, 0, MAX_STEPS + 1, who(), CHEAP).is_err());
        let cheap = WindowCost { memory_kib: 1024, passes: 1 };
        assert!(build(SECRET, &p, 0, 2, who(), cheap).is_err());
        // Each window has its own salt: the same codes hash differently.
        assert_ne!(window(5, 2).hashes, window(5, 2).hashes);
    }
}
