//! The encrypted per-user secret store.
//!
//! Layout under `state_dir` (all root-owned, 0700/0600):
//!
//! ```text
//! users/<name>   encrypted UserRecord (see docs/store-format.md)
//! locks/<name>   empty lock file; an exclusive flock serializes read-verify-write
//! offline/<name> encrypted OfflineState of a fleet host (issue 21), made when first needed
//! ```
//!
//! Reading without the lock is allowed (to decide what to ask the user); every change is made
//! under the lock, re-reading the file first, so two parallel logins can never both accept one
//! code. Writes are atomic and durable.

mod envelope;
mod master_key;
mod offline;
mod record;

pub use envelope::{FORMAT_VERSION, MAGIC};
pub use master_key::{KEY_LEN, MasterKey};
pub use offline::{MAX_PENDING, OfflineState};
pub use record::{EnrollmentState, TotpFactor, UserRecord};

use crate::config::StoreConfig;
use crate::error::Result;
use crate::secure_fs::{FileLock, FilePolicy, SecureDir};
use crate::username::UserName;

/// Largest accepted store file.
pub const MAX_FILE_SIZE: u64 = 256 * 1024;
const USERS: &str = "users";
const LOCKS: &str = "locks";
const OFFLINE: &str = "offline";

/// An opened store: checked directories and the master key.
#[derive(Debug)]
pub struct Store {
    root: SecureDir,
    users: SecureDir,
    locks: SecureDir,
    master: MasterKey,
    lock_wait: std::time::Duration,
}

/// Exclusive access to one user's record, held until dropped.
#[derive(Debug)]
pub struct UserLock<'a> {
    store: &'a Store,
    user: UserName,
    lock: FileLock,
}

impl Store {
    /// Opens an existing store; every directory and the master key are checked.
    pub fn open(cfg: &StoreConfig) -> Result<Store> {
        let master = MasterKey::load(&cfg.master_key)?;
        let root = SecureDir::open(&cfg.state_dir)?;
        Ok(Store {
            users: root.subdir(USERS, false)?,
            locks: root.subdir(LOCKS, false)?,
            root,
            master,
            lock_wait: std::time::Duration::from_secs(cfg.lock_wait),
        })
    }

    /// Creates what is missing (state directory tree with mode 0700, master key with mode
    /// 0600), then opens the store. Used by the installer and `mfa-enroll init`.
    pub fn init(cfg: &StoreConfig) -> Result<Store> {
        MasterKey::create_if_missing(&cfg.master_key)?;
        crate::secure_fs::create_dir_all_private(&cfg.state_dir)?;
        let root = SecureDir::open(&cfg.state_dir)?;
        root.subdir(USERS, true)?;
        root.subdir(LOCKS, true)?;
        Store::open(cfg)
    }

    /// Reads a user's record without taking the lock. `Ok(None)`: not enrolled.
    pub fn load(&self, user: &UserName) -> Result<Option<UserRecord>> {
        let Some(bytes) = self.users.read(user.as_str(), FilePolicy::secret(MAX_FILE_SIZE))? else {
            return Ok(None);
        };
        let path = self.users.entry_path(user.as_str());
        let plain = envelope::open(&self.master, user, &bytes, &path)?;
        UserRecord::decode(&plain, user, &path).map(Some)
    }

    /// Takes the user's exclusive lock, waiting for other holders at most `[store] lock_wait`
    /// ([`crate::Error::Busy`] then).
    pub fn lock(&self, user: &UserName) -> Result<UserLock<'_>> {
        let lock = self.locks.lock(user.as_str(), self.lock_wait)?;
        Ok(UserLock { store: self, user: user.clone(), lock })
    }

    /// Names of all users with a record.
    pub fn users(&self) -> Result<Vec<String>> {
        Ok(self.users.list()?)
    }

    /// The offline directory, if it exists (it is made by the first save).
    fn offline_dir(&self) -> Result<Option<SecureDir>> {
        if !self.root.entry_path(OFFLINE).exists() {
            return Ok(None);
        }
        Ok(Some(self.root.subdir(OFFLINE, false)?))
    }

    /// Names of the users with an offline state on this host (fleet hosts, issue 21).
    pub fn offline_users(&self) -> Result<Vec<String>> {
        match self.offline_dir()? {
            Some(dir) => Ok(dir.list()?),
            None => Ok(Vec::new()),
        }
    }

    /// Reads a user's offline state (fleet hosts, issue 21) without the lock.
    pub fn load_offline(&self, user: &UserName) -> Result<Option<OfflineState>> {
        let Some(dir) = self.offline_dir()? else { return Ok(None) };
        let Some(bytes) = dir.read(user.as_str(), FilePolicy::secret(MAX_FILE_SIZE * 4))? else {
            return Ok(None);
        };
        let path = dir.entry_path(user.as_str());
        let plain = envelope::open_as(&self.master, envelope::Kind::Offline, user, &bytes, &path)?;
        OfflineState::decode(&plain, user, &path).map(Some)
    }
}

impl UserLock<'_> {
    /// The locked user.
    pub fn user(&self) -> &UserName {
        &self.user
    }

    /// Reads the record under the lock.
    pub fn load(&self) -> Result<Option<UserRecord>> {
        self.store.load(&self.user)
    }

    /// Encrypts and atomically replaces the record (under this lock, so the temporary file has
    /// a fixed name and one left by a writer that died mid-write is replaced).
    pub fn save(&self, record: &UserRecord) -> Result<()> {
        let plain = record.encode();
        let sealed = envelope::seal(&self.store.master, &self.user, &plain)?;
        Ok(self.store.users.write_atomic_locked(self.user.as_str(), &sealed)?)
    }

    /// Reads the user's offline state under the lock.
    pub fn load_offline(&self) -> Result<Option<OfflineState>> {
        self.store.load_offline(&self.user)
    }

    /// Encrypts and atomically replaces the user's offline state; an empty one is deleted.
    pub fn save_offline(&self, state: &OfflineState) -> Result<()> {
        if state.is_empty() {
            if let Some(dir) = self.store.offline_dir()? {
                dir.remove(self.user.as_str())?;
            }
            return Ok(());
        }
        let dir = self.store.root.subdir(OFFLINE, true)?;
        let plain = state.encode();
        let sealed =
            envelope::seal_as(&self.store.master, envelope::Kind::Offline, &self.user, &plain)?;
        Ok(dir.write_atomic_locked(self.user.as_str(), &sealed)?)
    }

    /// Deletes the record and then the user's lock file (still holding the lock, so nobody
    /// can see the record half removed; waiters move on to a fresh lock file); returns whether
    /// there was a record.
    pub fn remove(self) -> Result<bool> {
        let had = self.store.users.remove(self.user.as_str())?;
        self.store.locks.remove_lock(self.user.as_str(), &self.lock)?;
        Ok(had)
    }
}

/// The decoders and encoders behind [`Store::load`] and [`UserLock::save`], without the file
/// system, for `crate::fuzzing` only (cargo feature `fuzzing`; not built in production).
#[cfg(feature = "fuzzing")]
pub(crate) mod codec {
    use super::{MasterKey, UserRecord, envelope};
    use crate::error::Result;
    use crate::username::UserName;
    use std::path::Path;
    use zeroize::Zeroizing;

    /// Header checks, AEAD open and JSON decode, as [`super::Store::load`] does.
    pub(crate) fn decode_file(
        master: &MasterKey,
        user: &UserName,
        data: &[u8],
        path: &Path,
    ) -> Result<UserRecord> {
        let plain = envelope::open(master, user, data, path)?;
        UserRecord::decode(&plain, user, path)
    }

    /// The JSON decode alone.
    pub(crate) fn decode_payload(plain: &[u8], user: &UserName, path: &Path) -> Result<UserRecord> {
        UserRecord::decode(plain, user, path)
    }

    /// Encryption with a fresh nonce, as [`super::UserLock::save`] does.
    pub(crate) fn seal(master: &MasterKey, user: &UserName, plain: &[u8]) -> Result<Vec<u8>> {
        envelope::seal(master, user, plain)
    }

    /// The JSON encoding, as [`super::UserLock::save`] does.
    pub(crate) fn encode(record: &UserRecord) -> Zeroizing<Vec<u8>> {
        record.encode()
    }
}
