//! The master key: 32 random bytes in a root-owned 0600 file.

use crate::error::{Error, Result};
use crate::secure_fs::{self, FilePolicy};
use hkdf::Hkdf;
use rustix::fs::{Mode, OFlags};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of the master key in bytes.
pub const KEY_LEN: usize = 32;

/// The master key from which every user's file key is derived. Wiped on drop, never printed.
///
/// Held as its HKDF-SHA256 pseudorandom key (RFC 5869's extract step, no salt), not as the raw
/// bytes: the extract is the same for every user, and doing it once here instead of for each
/// record read or written halves the hashing of a login (docs/benchmarks.md, issue 19). The
/// derived file keys are unchanged.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; KEY_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Takes raw key bytes (and wipes the copy it was given).
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let (mut prk, _) = Hkdf::<Sha256>::extract(None, &bytes);
        bytes.zeroize();
        let mut key = MasterKey([0u8; KEY_LEN]);
        key.0.copy_from_slice(&prk);
        prk.as_mut_slice().zeroize();
        key
    }

    /// The HKDF-SHA256 pseudorandom key of the master key (see [`MasterKey`]).
    pub(crate) fn prk(&self) -> &[u8] {
        &self.0
    }

    /// Loads the key file: a regular file (no symlink), owned by the effective user, mode 0600
    /// or stricter, exactly 32 bytes.
    pub fn load(path: &Path) -> Result<MasterKey> {
        let bytes = secure_fs::read_file(path, FilePolicy::secret(KEY_LEN as u64 * 4))
            .map_err(|e| Error::MasterKey(e.to_string()))?;
        let arr: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            Error::MasterKey(format!("{} must hold exactly {KEY_LEN} bytes", path.display()))
        })?;
        Ok(MasterKey::from_bytes(arr))
    }

    /// Creates the key file with fresh random bytes if it does not exist (never overwrites).
    pub fn create_if_missing(path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
        }
        let key = crate::random::secret_bytes(KEY_LEN)?;
        let fd = match rustix::fs::open(
            path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => return Ok(()),
            Err(e) => {
                return Err(Error::io(format!("create {}", path.display()), e.into()));
            }
        };
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o600))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e.into()))?;
        let mut f = std::fs::File::from(fd);
        f.write_all(&key)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(format!("write {}", path.display()), e))
    }
}
