//! The two operations mfa-server needs beside the checked reads and directories of the crate
//! root: creating a private file that must not exist yet (keys, credentials, the database file)
//! and reading a file anyone may own (certificates, which are often symlinks into a
//! certificate manager's tree).

use crate::{Error, Result};
use rustix::fs::{self as rfs, Mode, OFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// Writes `bytes` to a new file `path` with mode 0600 exactly (the umask cannot widen or narrow
/// it); fails if anything exists there, a symlink included (`ErrorKind::AlreadyExists`, so a
/// caller racing another creator can tell). The file appears whole or not at all: the bytes are
/// written and synced to a temporary file beside it, which is then hard-linked to `path`
/// (`link` never replaces), so a process reading `path` meanwhile never sees it empty or
/// partly written (two processes creating the same key at once did), and a crash leaves no
/// truncated key. The error is the plain I/O error: the caller names the path.
pub fn create_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| std::io::Error::other("no file name"))?;
    let mut tag = [0u8; 8];
    getrandom::getrandom(&mut tag).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".new-{:016x}", u64::from_ne_bytes(tag)));
    let tmp = dir.join(tmp_name);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rfs::open(&tmp, flags, Mode::from_raw_mode(0o600))?;
    let written = (|| {
        rfs::fchmod(&fd, Mode::from_raw_mode(0o600))?;
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        file.sync_all()?;
        rfs::link(&tmp, path).map_err(std::io::Error::from)
    })();
    let _ = rfs::unlink(&tmp);
    written?;
    if let Ok(d) =
        rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    {
        let _ = rfs::fsync(&d);
    }
    Ok(())
}

/// Reads at most `max` bytes of a file anyone may own (certificates, CA files, a service's
/// configuration), following symlinks. Nothing secret may be read this way.
pub fn read_public(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut buf = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if buf.len() as u64 > max {
        return Err(Error::insecure(path, format!("larger than {max} bytes")));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    #[test]
    fn new_private_file_is_0600_and_never_overwrites() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("key");
        create_new_private(&p, b"secret").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let again = create_new_private(&p, b"other").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
        let link = t.path().join("link");
        symlink(t.path().join("target"), &link).unwrap();
        assert!(create_new_private(&link, b"x").is_err(), "a dangling symlink is not followed");
        assert!(!t.path().join("target").exists());
    }

    #[test]
    fn public_read_is_bounded() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("cert");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_public(&p, 10).unwrap(), b"0123456789");
        assert!(read_public(&p, 9).is_err());
    }
}
