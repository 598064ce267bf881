//! Private files: created new with mode 0600 (never overwritten), read only when nobody but the
//! owner can read or write them.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to a new file `path` with mode 0600; fails if it exists (also a symlink).
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)?;
    // The umask may only remove bits; make the mode exact anyway.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads a private file of at most `max` bytes: a regular file (not a symlink), owned by the
/// effective user, not readable or writable by group or others.
pub fn read_private(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = f.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: mode {:o} lets others read or write it; chmod 600",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    if meta.uid() != euid_of_self()? {
        return Err(format!("{}: not owned by the current user", path.display()));
    }
    read_bounded(f, max).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads at most `max` bytes of a file anyone may own (certificates, CA files).
pub fn read_public(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_bounded(f, max).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_bounded(f: File, max: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(buf)
}

/// Creates directory `path` with mode 0700 if missing (parents too); an existing one must be
/// a directory that group and others cannot write.
pub fn ensure_private_dir(path: &Path) -> Result<(), String> {
    if !path.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", path.display()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("{}: group or others may write it", path.display()));
    }
    Ok(())
}

fn nofollow() -> i32 {
    // `O_NOFOLLOW`'s bits fit an `i32` on every Linux architecture.
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

fn euid_of_self() -> Result<u32, String> {
    Ok(rustix::process::geteuid().as_raw())
}
