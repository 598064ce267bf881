//! Enrollment operations shared by `mfa-enroll` and (later) the enroll-on-login flow.
//!
//! A new TOTP secret only becomes active after the user proved the app works by typing a
//! current code ([`PendingTotp::confirm`]); that code's step is stored as used, so the
//! confirmation code cannot be replayed for a login.

use crate::config::TotpConfig;
use crate::error::{Error, Result};
use crate::otpauth::TotpUri;
use crate::push::PushDevice;
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
    let shown = new_codes_if(&mut record, new_recovery_codes, now)?;
    lock.save(&record)?;
    Ok(shown)
}

/// Gives the record a new set of recovery codes when `replace` is set or it has none; returns
/// the codes to show once.
pub(crate) fn new_codes_if(
    record: &mut UserRecord,
    replace: bool,
    now: u64,
) -> Result<Option<Vec<Zeroizing<String>>>> {
    if !replace && record.recovery.is_some() {
        return Ok(None);
    }
    let (shown, codes) = RecoveryCodes::generate(now)?;
    record.recovery = Some(codes);
    Ok(Some(shown))
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

/// Makes a new set of recovery codes for a user whose second factor is kept elsewhere
/// (privacyIDEA): like [`regenerate_recovery_codes`], but a user without a local record gets
/// one holding only the codes.
pub fn recovery_codes_for_remote_user(
    store: &Store,
    user: &UserName,
    now: u64,
) -> Result<Vec<Zeroizing<String>>> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    let (shown, codes) = RecoveryCodes::generate(now)?;
    record.recovery = Some(codes);
    lock.save(&record)?;
    Ok(shown)
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
    /// Names of registered security keys.
    #[serde(default)]
    pub security_keys: Vec<String>,
    /// Names of paired push devices.
    #[serde(default)]
    pub push_devices: Vec<String>,
}

/// Reads a user's status at time `now`. `Ok(None)`: nothing stored.
pub fn status(store: &Store, user: &UserName, now: u64) -> Result<Option<Status>> {
    Ok(store.load(user)?.map(|r| Status {
        locked_until: r.lockout.locked_until.filter(|_| r.lockout.locked_for(now).is_some()),
        skips: r.enrollment.skips,
        opted_out: r.enrollment.opted_out,
        security_keys: r.fido2.iter().map(|c| c.name.clone()).collect(),
        push_devices: r.push.iter().map(|d| d.name.clone()).collect(),
        user: r.user.clone(),
        totp_enrolled: r.totp.as_ref().map(|t| t.enrolled),
        totp_params: r.totp.as_ref().map(|t| {
            format!("{}/{}/{}", t.params.algorithm.name(), t.params.digits, t.params.step)
        }),
        recovery_codes_left: r.recovery.as_ref().map_or(0, RecoveryCodes::remaining),
    }))
}

/// Whether `user` already has a push device called `device.name` other than `device` itself
/// (a device paired again under its old id replaces its old entry). Names must be unique:
/// they are what prompts show and what `mfa-enroll push --remove NAME` acts on.
pub fn push_name_taken(store: &Store, user: &UserName, device: &PushDevice) -> Result<bool> {
    Ok(store.load(user)?.is_some_and(|r| name_taken(&r, device)))
}

fn name_taken(record: &UserRecord, device: &PushDevice) -> bool {
    record.push.iter().any(|d| d.name == device.name && d.id != device.id)
}

/// Saves a confirmed push device under the user's lock (replacing an entry with the same id),
/// refusing a name another of the user's devices has. Returns new recovery codes if the user
/// had none.
pub fn add_push_device(
    store: &Store,
    user: &UserName,
    device: &PushDevice,
    now: u64,
) -> Result<Option<Vec<Zeroizing<String>>>> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    if name_taken(&record, device) {
        return Err(Error::Invalid(format!(
            "{user} already has a push device named '{}'",
            crate::username::log_safe(&device.name)
        )));
    }
    record.push.retain(|d| d.id != device.id);
    record.push.push(device.clone());
    let codes = new_codes_if(&mut record, false, now)?;
    lock.save(&record)?;
    Ok(codes)
}

/// Removes the user's push device `name` from this host's store: the device with that id, else
/// the one device with that name. Several devices with that name (paired before names had to
/// be unique) are an error naming their ids, so one `--remove` never removes two. (The device
/// stays paired at the service; `mfa-server device revoke` ends it there.) `Ok(false)`: no
/// device has that id or name.
pub fn remove_push(store: &Store, user: &UserName, name: &str) -> Result<bool> {
    let lock = store.lock(user)?;
    let Some(mut record) = lock.load()? else {
        return Ok(false);
    };
    let by_id = record.push.iter().position(|d| d.id == name);
    let by_name: Vec<usize> =
        record.push.iter().enumerate().filter(|(_, d)| d.name == name).map(|(i, _)| i).collect();
    let index = match (by_id, by_name.as_slice()) {
        (Some(i), _) | (None, &[i]) => i,
        (None, []) => return Ok(false),
        (None, several) => {
            let ids: Vec<&str> = several.iter().map(|i| record.push[*i].id.as_str()).collect();
            return Err(Error::Invalid(format!(
                "{} push devices of {user} are named '{}' (ids {}): remove one by its id",
                several.len(),
                crate::username::log_safe(name),
                ids.join(", ")
            )));
        }
    };
    record.push.remove(index);
    lock.save(&record)?;
    Ok(true)
}

/// A security key to register: its name, whether logins must verify the user (PIN or
/// fingerprint), and the PIN for the registration, if any.
#[derive(Clone, Copy, Debug)]
pub struct NewKey<'k> {
    /// The key's name (1-64 characters, no ':' or control characters).
    pub name: &'k str,
    /// Require user verification at login.
    pub user_verification: bool,
    /// The key's PIN, when it has one and user verification is asked for.
    pub pin: Option<&'k Zeroizing<String>>,
}

/// Registers a security key for `user` under `key.name`: [`new_fido2_credential`] for the
/// configured RP id, then saved in the user's record. `touch` tells the user when to touch
/// the key. Returns new recovery codes if the user had none.
pub fn register_fido2(
    cfg: &crate::config::Config,
    store: &Store,
    user: &UserName,
    key: &NewKey<'_>,
    device: &mut dyn crate::fido2::device::Authenticator,
    now: u64,
    touch: &mut dyn FnMut(&str),
) -> Result<Option<Vec<Zeroizing<String>>>> {
    let name = key.name;
    if store.load(user)?.is_some_and(|r| r.fido2.iter().any(|c| c.name == name)) {
        return Err(Error::Invalid(format!("{user} already has a security key named '{name}'")));
    }
    let rp_id = cfg.fido2.rp_id();
    let candidate = new_fido2_credential(cfg, &rp_id, user, key, device, now, touch)?;
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    if record.fido2.iter().any(|c| c.name == name) {
        return Err(Error::Invalid(format!("{user} already has a security key named '{name}'")));
    }
    record.fido2.push(candidate);
    let shown = new_codes_if(&mut record, false, now)?;
    lock.save(&record)?;
    Ok(shown)
}

/// Makes a credential for `rp_id` on the key (`touch` tells the user when to touch it),
/// checks what it returned with our own parser, then asks for one test assertion and
/// verifies it: a credential that can log in, stored nowhere yet (standalone: the user's
/// record; fleet mode: the fleet's service).
pub fn new_fido2_credential(
    cfg: &crate::config::Config,
    rp_id: &str,
    user: &UserName,
    key: &NewKey<'_>,
    device: &mut dyn crate::fido2::device::Authenticator,
    now: u64,
    touch: &mut dyn FnMut(&str),
) -> Result<crate::fido2::Fido2Credential> {
    let NewKey { name, user_verification, pin } = *key;
    use crate::fido2::authdata::{AuthData, FLAG_UP};
    use crate::fido2::device::Registration;
    use crate::fido2::{Fido2Credential, b64, cose::PublicKey};
    let fido = |e: crate::fido2::Fido2Error| Error::Invalid(e.to_string());
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == ':') {
        return Err(Error::Invalid(
            "key names are 1-64 characters without ':' or control characters".into(),
        ));
    }
    let mut user_id = [0u8; 16];
    crate::random::fill(&mut user_id)?;
    let mut challenge = [0u8; 32];
    crate::random::fill(&mut challenge)?;
    touch("Touch your security key to register it.");
    let raw = device
        .make_credential(&Registration {
            rp_id,
            user_id: &user_id,
            user_name: user.as_str(),
            challenge: &challenge,
            user_verification,
            pin,
        })
        .map_err(fido)?;
    let data = AuthData::parse(&raw).map_err(fido)?;
    let expected: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(rp_id.as_bytes()).into();
    if data.rp_id_hash != expected || data.flags & FLAG_UP == 0 {
        return Err(Error::Invalid(
            "the key's registration is for another RP id or without user presence".into(),
        ));
    }
    let attested =
        data.attested.ok_or_else(|| Error::Invalid("no credential in the key's answer".into()))?;
    let public_key = PublicKey::from_cose(&attested.public_key).map_err(fido)?;
    let mut candidate = Fido2Credential {
        name: name.to_string(),
        credential_id: b64(&attested.credential_id),
        public_key: b64(&public_key.to_cose()),
        rp_id: rp_id.to_string(),
        sign_count: data.sign_count,
        user_verification,
        created: now,
    };
    // Only a key that can also log in is kept.
    crate::random::fill(&mut challenge)?;
    touch("Touch it once more to confirm it works.");
    let allow = std::slice::from_ref(&attested.credential_id);
    candidate.sign_count = test_assertion(cfg, &candidate, key, device, allow, &challenge)?;
    Ok(candidate)
}

/// Asks the key just registered for an assertion over `challenge` (fresh) and verifies it; the
/// key's signature counter.
fn test_assertion(
    cfg: &crate::config::Config,
    candidate: &crate::fido2::Fido2Credential,
    key: &NewKey<'_>,
    device: &mut dyn crate::fido2::device::Authenticator,
    allow_list: &[Vec<u8>],
    challenge: &[u8; 32],
) -> Result<u32> {
    use crate::fido2::device::{Login, client_data_hash};
    use crate::fido2::verify::verify_assertion;
    let fido = |e: crate::fido2::Fido2Error| Error::Invalid(e.to_string());
    let assertion = device
        .get_assertion(&Login {
            rp_id: &candidate.rp_id,
            challenge,
            allow_list,
            user_verification: key.user_verification,
            pin: key.pin,
            timeout: std::time::Duration::from_secs(cfg.fido2.timeout),
        })
        .map_err(fido)?;
    let (_, count) = verify_assertion(
        std::slice::from_ref(candidate),
        &candidate.rp_id,
        &client_data_hash(challenge),
        &assertion,
    )
    .map_err(fido)?;
    Ok(count)
}

/// Removes the security key `name`; returns whether it existed.
pub fn remove_fido2(store: &Store, user: &UserName, name: &str) -> Result<bool> {
    let lock = store.lock(user)?;
    let Some(mut record) = lock.load()? else {
        return Ok(false);
    };
    let before = record.fido2.len();
    record.fido2.retain(|c| c.name != name);
    if record.fido2.len() == before {
        return Ok(false);
    }
    lock.save(&record)?;
    Ok(true)
}

/// Adds security keys imported from a pam_u2f authfile (named `pam_u2f-1`, `pam_u2f-2`, …);
/// keys already registered (same credential id) are skipped. Returns how many were added.
pub fn import_fido2(
    store: &Store,
    user: &UserName,
    creds: Vec<crate::fido2::Fido2Credential>,
    now: u64,
) -> Result<usize> {
    let lock = store.lock(user)?;
    let mut record = lock.load()?.unwrap_or_else(|| UserRecord::new(user, now));
    let mut added = 0;
    for c in creds {
        if !record.fido2.iter().any(|x| x.credential_id == c.credential_id) {
            record.fido2.push(c);
            added += 1;
        }
    }
    lock.save(&record)?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let cfg = crate::config::StoreConfig {
            state_dir: dir.path().join("state"),
            master_key: dir.path().join("master.key"),
            lock_wait: 10,
        };
        let store = Store::init(&cfg).unwrap();
        (dir, store)
    }

    fn device(id: &str, name: &str) -> PushDevice {
        PushDevice {
            id: id.into(),
            name: name.into(),
            public_key: "k".into(),
            added: 1,
            passkey: None,
        }
    }

    fn names(store: &Store, user: &UserName) -> Vec<String> {
        store
            .load(user)
            .unwrap()
            .unwrap()
            .push
            .iter()
            .map(|d| format!("{}={}", d.id, d.name))
            .collect()
    }

    #[test]
    fn push_device_names_are_unique_per_user() {
        let (_d, store) = store();
        let alice = UserName::parse("alice").unwrap();
        let bob = UserName::parse("bob").unwrap();
        assert!(add_push_device(&store, &alice, &device("d1", "pixel"), 1).unwrap().is_some());
        assert!(push_name_taken(&store, &alice, &device("d2", "pixel")).unwrap());
        let e = add_push_device(&store, &alice, &device("d2", "pixel"), 1).unwrap_err();
        assert!(e.to_string().contains("alice already has a push device named 'pixel'"), "{e}");
        // The same device paired again replaces itself; other users and names are free.
        assert!(!push_name_taken(&store, &alice, &device("d1", "pixel")).unwrap());
        add_push_device(&store, &alice, &device("d1", "pixel"), 2).unwrap();
        add_push_device(&store, &alice, &device("d3", "ipad"), 2).unwrap();
        add_push_device(&store, &bob, &device("d4", "pixel"), 2).unwrap();
        assert_eq!(names(&store, &alice), ["d1=pixel", "d3=ipad"]);
    }

    #[test]
    fn remove_push_never_removes_two() {
        let (_d, store) = store();
        let alice = UserName::parse("alice").unwrap();
        // Two devices with one name, as stores made before names had to be unique can hold.
        {
            let lock = store.lock(&alice).unwrap();
            let mut r = UserRecord::new(&alice, 1);
            r.push = vec![device("d1", "pixel"), device("d2", "pixel"), device("d3", "ipad")];
            lock.save(&r).unwrap();
        }
        let e = remove_push(&store, &alice, "pixel").unwrap_err();
        assert!(
            e.to_string().contains("2 push devices of alice are named 'pixel' (ids d1, d2)"),
            "{e}"
        );
        assert_eq!(names(&store, &alice).len(), 3, "nothing removed");
        assert!(remove_push(&store, &alice, "d2").unwrap(), "by id");
        assert!(remove_push(&store, &alice, "pixel").unwrap(), "the one left with that name");
        assert!(!remove_push(&store, &alice, "pixel").unwrap());
        assert_eq!(names(&store, &alice), ["d3=ipad"]);
    }
}
