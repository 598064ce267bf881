//! mfa-server's private and public files, through the shared secure-file layer
//! (`mfa-securefs`, also the login crate's): private files are created new with mode 0600 (never
//! overwritten, no symlink followed) and read only when nobody but the owner can read or write
//! them; public files (certificates) are read bounded.

use mfa_securefs::{FilePolicy, SecureDir};
use std::path::Path;

/// Writes `bytes` to a new file `path` with mode 0600; fails if it exists (also a symlink).
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    mfa_securefs::create_new_private(path, bytes)
}

/// Reads a private file of at most `max` bytes: a regular file (not a symlink), owned by the
/// effective user (or root), with one link, not readable or writable by group or others.
pub fn read_private(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let bytes =
        mfa_securefs::read_file(path, FilePolicy::secret(max)).map_err(|e| e.to_string())?;
    Ok(bytes.to_vec())
}

/// Reads at most `max` bytes of a file anyone may own (certificates, CA files).
pub fn read_public(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    mfa_securefs::read_public(path, max).map_err(|e| e.to_string())
}

/// Creates directory `path` with mode 0700 if missing (parents too); an existing one must be
/// a directory (not a symlink) owned by the effective user or root that group and others
/// cannot write.
pub fn ensure_private_dir(path: &Path) -> Result<(), String> {
    if !path.exists() {
        mfa_securefs::create_dir_all_private(path).map_err(|e| e.to_string())?;
    }
    SecureDir::open(path).map(drop).map_err(|e| e.to_string())
}
