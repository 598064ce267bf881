//! Enrollment operations shared by `mfa-enroll` and (later) the enroll-on-login flow.
//!
//! A new TOTP secret only becomes active after the user proved the app works by typing a
//! current code ([`PendingTotp::confirm`]); that code's step is stored as used, so the
//! confirmation code cannot be replayed for a login.

use crate::config::TotpConfig;
use crate::error::{Error, Result};
use crate::otpauth::TotpUri;
use crate::recovery::RecoveryCodes;
use crate::secret::SecretBytes;
use crate::store::{Store, TotpFactor, UserRecord};
use crate::totp::{self, Params};
use crate::username::UserName;
use zeroize::Zeroizing;

/// Length of a new TOTP secret: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_LEN: usize = 20;

/// A generated, not yet confirmed TOTP secret.
#[derive(Debug)]
pub struct PendingTotp {
    /// The URI parts (issuer, account, secret, parameters).
    pub uri: TotpUri,
}

impl PendingTotp {
    /// Generates a fresh random secret with the configured parameters.
    pub fn generate(cfg: &TotpConfig, account: &str) -> Result<PendingTotp> {
        let secret = SecretBytes::new(crate::random::secret_bytes(SECRET_LEN)?.to_vec());
        let params = Params { algorithm: cfg.algorithm, digits: cfg.digits, step: cfg.step };
        Ok(PendingTotp {
            uri: TotpUri {
                issuer: cfg.issuer.clone(),
                account: account.to_string(),
                secret,
                params,
            },
        })
    }

    /// The otpauth URI to show (as text and QR code). Contains the secret.
    pub fn uri_string(&self) -> Zeroizing<String> {
        self.uri.to_uri()
    }

    /// Checks a code typed by the user; returns the step it belongs to.
    pub fn confirm(&self, code: &str, now: u64, window: u32) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        match totp::verify(self.uri.secret.expose(), &self.uri.params, &code, now, window, None) {
            totp::Check::Accepted(step) => Some(step),
            _ => None,
        }
    }
}

/// How [`save_totp`] treats an existing TOTP enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace it.
    Replace,
    /// Fail with [`Error::AlreadyEnrolled`] (checked under the lock, so two enrollments
    /// racing cannot both win).
    Keep,
}

/// Saves a confirmed TOTP factor under the user's lock. With `new_recovery_codes`, a fresh set
/// of recovery codes replaces any earlier set and is returned to be shown once.
pub fn save_totp(
    store: &Store,
    user: &UserName,
    pending: &PendingTotp,
    confirmed_step: Option<u64>,
    now: u64,
    existing: Existing,
    new_recovery_codes: bool,
) -> Result<Option<Vec<Zeroizing<String>>>> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    if existing == Existing::Keep && record.totp.is_some() {
        return Err(Error::AlreadyEnrolled(user.to_string()));
    }
    record.totp = Some(TotpFactor {
        secret: pending.uri.secret.clone(),
        params: pending.uri.params,
        enrolled: now,
        last_used_step: confirmed_step,
        window: None,
    });
    let shown = if new_recovery_codes || record.recovery.is_none() {
        let (shown, codes) = RecoveryCodes::generate(now)?;
        record.recovery = Some(codes);
        Some(shown)
    } else {
        None
    };
    lock.save(&record)?;
    Ok(shown)
}

/// Replaces the user's recovery codes with a new set and returns it. The user must already
/// have a record.
pub fn regenerate_recovery_codes(
    store: &Store,
    user: &UserName,
    now: u64,
) -> Result<Option<Vec<Zeroizing<String>>>> {
    let lock = store.lock(user)?;
    let Some(mut record) = lock.load()? else {
        return Ok(None);
    };
    let (shown, codes) = RecoveryCodes::generate(now)?;
    record.recovery = Some(codes);
    lock.save(&record)?;
    Ok(Some(shown))
}

/// Imports a google-authenticator enrollment: its secret and step (SHA1, 6 digits), its window
/// (`WINDOW_SIZE`) as this factor's window, the steps it already used (`DISALLOW_REUSE`) as
/// used, and its scratch codes as recovery codes (replacing any earlier set; none if it had
/// none). `RATE_LIMIT` and `TIME_SKEW` are not carried over: `[lockout]` applies instead.
pub fn import_google_authenticator(
    store: &Store,
    user: &UserName,
    file: &crate::import::google_authenticator::GoogleAuthenticatorFile,
    now: u64,
    existing: Existing,
) -> Result<()> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    if existing == Existing::Keep && record.totp.is_some() {
        return Err(Error::AlreadyEnrolled(user.to_string()));
    }
    record.totp = Some(TotpFactor {
        secret: file.secret.clone(),
        params: Params { algorithm: totp::Algorithm::Sha1, digits: 6, step: file.step },
        enrolled: now,
        last_used_step: file.last_used_step(),
        window: file.window(),
    });
    record.recovery = if file.scratch_codes.is_empty() {
        None
    } else {
        Some(RecoveryCodes {
            generated: now,
            slots: Vec::new(),
            legacy: Some(crate::recovery::LegacyCodes::new(&file.scratch_codes)?),
        })
    };
    lock.save(&record)
}

/// Clears the user's wrong-code counter and lock. Returns whether the user had a record.
pub fn unlock(store: &Store, user: &UserName) -> Result<bool> {
    let lock = store.lock(user)?;
    let Some(mut record) = lock.load()? else {
        return Ok(false);
    };
    record.lockout.clear();
    lock.save(&record)?;
    Ok(true)
}

/// Undoes "opt out" and resets the skip count, so the enroll-on-login menu is offered again
/// with all its skips. Returns whether the user had a record.
pub fn opt_in(store: &Store, user: &UserName) -> Result<bool> {
    let lock = store.lock(user)?;
    let Some(mut record) = lock.load()? else {
        return Ok(false);
    };
    record.enrollment = crate::store::EnrollmentState::default();
    lock.save(&record)?;
    Ok(true)
}

/// Removes everything stored for the user. Returns whether anything was there.
pub fn remove(store: &Store, user: &UserName) -> Result<bool> {
    store.lock(user)?.remove()
}

/// A summary of a user's enrollment, without secrets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// User name.
    pub user: String,
    /// TOTP enrolled (Unix time of enrollment).
    pub totp_enrolled: Option<u64>,
    /// TOTP parameters as `SHA1/6/30`.
    pub totp_params: Option<String>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Second factor locked until (Unix time), if locked now.
    pub locked_until: Option<u64>,
    /// Enroll-on-login: logins on which enrollment was skipped.
    pub skips: u32,
    /// Enroll-on-login: the user opted out.
    pub opted_out: bool,
}

/// Reads a user's status at time `now`. `Ok(None)`: nothing stored.
pub fn status(store: &Store, user: &UserName, now: u64) -> Result<Option<Status>> {
    Ok(store.load(user)?.map(|r| Status {
        locked_until: r.lockout.locked_until.filter(|_| r.lockout.locked_for(now).is_some()),
        skips: r.enrollment.skips,
        opted_out: r.enrollment.opted_out,
        user: r.user.clone(),
        totp_enrolled: r.totp.as_ref().map(|t| t.enrolled),
        totp_params: r.totp.as_ref().map(|t| {
            format!("{}/{}/{}", t.params.algorithm.name(), t.params.digits, t.params.step)
        }),
        recovery_codes_left: r.recovery.as_ref().map_or(0, RecoveryCodes::remaining),
    }))
}
