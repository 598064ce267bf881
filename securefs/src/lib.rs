//! `mfa-securefs`: file access for secrets and state, shared by the login crate and mfa-server:
//! no symlinks followed, every handle checked after opening.
//!
//! Paths are opened with `O_NOFOLLOW` and then checked through the open handle (`fstat`), so a
//! file cannot be swapped between the check and the use. The owner must be the effective user
//! (root in production), nothing may be writable by group or others, and secret files may not be
//! readable by them either. Writes are atomic: a new file is written beside the target, synced,
//! renamed over it, and the directory is synced.

#![forbid(unsafe_code)]

mod error;
mod private;

pub use error::{Error, Result};
pub use private::{create_new_private, read_public};

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// What a file must look like to be accepted.
#[derive(Clone, Copy, Debug)]
pub struct FilePolicy {
    /// Largest accepted size in bytes.
    pub max_size: u64,
    /// Secret files (keys, store files) must not be readable by group or others either.
    pub secret: bool,
}

impl FilePolicy {
    /// Policy for secret files of at most `max_size` bytes: mode `0600` or stricter.
    pub const fn secret(max_size: u64) -> Self {
        FilePolicy { max_size, secret: true }
    }
    /// Policy for non-secret configuration: may be world-readable, never group/world-writable.
    pub const fn config(max_size: u64) -> Self {
        FilePolicy { max_size, secret: false }
    }
}

/// The uid that must own every file and directory: root, or the effective uid. For the root
/// processes that read the store (sshd, sudo, the helper) that is root alone; an unprivileged
/// process (a screen locker reading the configuration) also trusts its own files, which can only
/// change what that process itself does.
pub fn expected_owner() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn owner_ok(uid: u32) -> bool {
    uid == 0 || uid == expected_owner()
}

fn io_err(context: impl Into<String>, e: rustix::io::Errno) -> Error {
    Error::io(context, std::io::Error::from(e))
}

/// Moves a descriptor that landed on 0, 1 or 2 above them. A caller (a setuid program's user)
/// may start us with standard input, output or error closed; a store, lock or temporary file
/// opened there would then receive whatever the application prints to that stream.
fn above_stdio(fd: OwnedFd, path: &Path) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(&fd, 3)
        .map_err(|e| io_err(format!("move descriptor of {}", path.display()), e))
}

fn check_stat(path: &Path, st: &rfs::Stat, want: FileType, policy_secret: bool) -> Result<()> {
    let ftype = FileType::from_raw_mode(st.st_mode);
    if ftype != want {
        let what = match want {
            FileType::Directory => "not a directory",
            _ => "not a regular file",
        };
        return Err(Error::insecure(path, what));
    }
    if !owner_ok(st.st_uid) {
        return Err(Error::insecure(
            path,
            format!("owned by uid {}, expected uid {}", st.st_uid, expected_owner()),
        ));
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Error::insecure(path, format!("mode {mode:04o} is group- or world-writable")));
    }
    if policy_secret && mode & 0o077 != 0 {
        return Err(Error::insecure(
            path,
            format!("mode {mode:04o} gives access to group or others (want 0600)"),
        ));
    }
    Ok(())
}

fn read_checked(path: &Path, fd: OwnedFd, policy: FilePolicy) -> Result<Zeroizing<Vec<u8>>> {
    let st = rfs::fstat(&fd).map_err(|e| io_err(format!("fstat {}", path.display()), e))?;
    check_stat(path, &st, FileType::RegularFile, policy.secret)?;
    // More than one link: someone linked the file elsewhere. Zero links is fine: the file was
    // replaced by an atomic rename after we opened it, and we read the complete old version.
    if st.st_nlink > 1 {
        return Err(Error::insecure(path, format!("has {} hard links, expected 1", st.st_nlink)));
    }
    let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
    if size > policy.max_size {
        return Err(Error::insecure(path, format!("larger than {} bytes", policy.max_size)));
    }
    read_bounded(path, fd, size, policy.max_size)
}

/// Reads the whole file behind `fd`, refusing more than `max_size` bytes. It reads at most one
/// byte more than allowed, so a file that grew after `fstat` is still caught. The buffer starts
/// at the `fstat` size, so a secret is not left behind in a reallocated, unwiped buffer.
fn read_bounded(path: &Path, fd: OwnedFd, size: u64, max_size: u64) -> Result<Zeroizing<Vec<u8>>> {
    let capacity = usize::try_from(size.min(max_size) + 1).unwrap_or(0);
    let mut buf = Zeroizing::new(Vec::with_capacity(capacity));
    File::from(fd)
        .take(max_size + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if buf.len() as u64 > max_size {
        return Err(Error::insecure(path, format!("larger than {max_size} bytes")));
    }
    Ok(buf)
}

const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);

/// Reads a whole file by absolute path (configuration, master key), refusing symlinks at the
/// last component and anything that fails `policy`.
pub fn read_file(path: &Path, policy: FilePolicy) -> Result<Zeroizing<Vec<u8>>> {
    let fd = rfs::open(path, READ_FLAGS, Mode::empty())
        .map_err(|e| io_err(format!("open {}", path.display()), e))?;
    read_checked(path, above_stdio(fd, path)?, policy)
}

/// Reads a file that someone else may control (a user's `~/.google_authenticator` read by an
/// administrator): no symlink at the last component, a regular file, at most `max_size` bytes.
/// The owner and mode are not checked.
pub fn read_foreign_file(path: &Path, max_size: u64) -> Result<Zeroizing<Vec<u8>>> {
    let fd = rfs::open(path, READ_FLAGS, Mode::empty()).map_err(|e| match e {
        rustix::io::Errno::LOOP => Error::insecure(path, "is a symbolic link"),
        e => io_err(format!("open {}", path.display()), e),
    })?;
    let fd = above_stdio(fd, path)?;
    let st = rfs::fstat(&fd).map_err(|e| io_err(format!("fstat {}", path.display()), e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Error::insecure(path, "not a regular file"));
    }
    let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
    read_bounded(path, fd, size, max_size)
}

/// Creates `path` and missing parents with mode 0700 (existing directories are left as they
/// are and checked when opened).
pub fn create_dir_all_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))
}

/// A directory opened without following a symlink and checked through its handle. All file
/// operations happen relative to this handle (`openat`), so the path cannot be redirected later.
#[derive(Debug)]
pub struct SecureDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// An exclusive `flock` on a lock file; released when dropped (the descriptor is closed).
#[derive(Debug)]
pub struct FileLock {
    fd: OwnedFd,
}

/// How long [`SecureDir::lock`] waits for another holder by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

impl SecureDir {
    /// Opens and checks a directory: owned by the effective user, not group/world-writable.
    pub fn open(path: &Path) -> Result<Self> {
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(format!("open directory {}", path.display()), e))?;
        Self::checked(fd, path.to_path_buf())
    }

    fn checked(fd: OwnedFd, path: PathBuf) -> Result<Self> {
        let fd = above_stdio(fd, &path)?;
        let st = rfs::fstat(&fd).map_err(|e| io_err(format!("fstat {}", path.display()), e))?;
        check_stat(&path, &st, FileType::Directory, false)?;
        Ok(SecureDir { fd, path })
    }

    /// The path this directory was opened from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of an entry (for messages).
    pub fn entry_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens a subdirectory (no symlink), creating it with mode 0700 when `create` is set.
    pub fn subdir(&self, name: &str, create: bool) -> Result<SecureDir> {
        if create {
            match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(io_err(format!("create {}", self.entry_path(name).display()), e));
                }
            }
        }
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(format!("open directory {}", self.entry_path(name).display()), e))?;
        Self::checked(fd, self.entry_path(name))
    }

    /// Reads a file in this directory. `Ok(None)` only when it does not exist; any other problem
    /// (symlink, wrong owner or mode, too large, not a regular file) is an error.
    pub fn read(&self, name: &str, policy: FilePolicy) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let path = self.entry_path(name);
        match rfs::openat(&self.fd, name, READ_FLAGS, Mode::empty()) {
            Ok(fd) => read_checked(&path, above_stdio(fd, &path)?, policy).map(Some),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(rustix::io::Errno::LOOP) => Err(Error::insecure(&path, "is a symbolic link")),
            Err(e) => Err(io_err(format!("open {}", path.display()), e)),
        }
    }

    /// Replaces `name` atomically with `data` (mode 0600): temporary file, fsync, rename,
    /// fsync of the directory. Readers see the old or the new content, never a mix, also after
    /// a crash. The temporary file has a random name, so unsynchronized writers do not collide.
    pub fn write_atomic(&self, name: &str, data: &[u8]) -> Result<()> {
        let mut suffix = [0u8; 8];
        getrandom::getrandom(&mut suffix).map_err(|e| Error::Random(e.to_string()))?;
        let tmp = format!(".{name}.tmp.{}", data_encoding::HEXLOWER.encode(&suffix));
        self.replace_via(&tmp, name, data)
    }

    /// [`SecureDir::write_atomic`] for a caller holding the lock that serializes all writers of
    /// `name`: the temporary file is always `.<name>.tmp`, so one left by a writer that died
    /// mid-write is simply removed first. Constant cost, however many files the directory holds.
    pub fn write_atomic_locked(&self, name: &str, data: &[u8]) -> Result<()> {
        let tmp = format!(".{name}.tmp");
        match rfs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(io_err(format!("remove {}", self.entry_path(&tmp).display()), e)),
        }
        self.replace_via(&tmp, name, data)
    }

    fn replace_via(&self, tmp: &str, name: &str, data: &[u8]) -> Result<()> {
        let tmp_path = self.entry_path(tmp);
        let fd = rfs::openat(
            &self.fd,
            tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io_err(format!("create {}", tmp_path.display()), e))?;
        let fd = match above_stdio(fd, &tmp_path) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = rfs::unlinkat(&self.fd, tmp, AtFlags::empty());
                return Err(e);
            }
        };
        let result = (|| {
            // The creation mode is filtered by the umask; set it explicitly.
            rfs::fchmod(&fd, Mode::from_raw_mode(0o600))
                .map_err(|e| io_err(format!("chmod {}", tmp_path.display()), e))?;
            let mut file = File::from(fd);
            file.write_all(data)
                .map_err(|e| Error::io(format!("write {}", tmp_path.display()), e))?;
            file.sync_all().map_err(|e| Error::io(format!("fsync {}", tmp_path.display()), e))?;
            drop(file);
            rfs::renameat(&self.fd, tmp, &self.fd, name).map_err(|e| {
                io_err(format!("rename into {}", self.entry_path(name).display()), e)
            })?;
            Ok(())
        })();
        if result.is_err() {
            let _ = rfs::unlinkat(&self.fd, tmp, AtFlags::empty());
            return result;
        }
        rfs::fsync(&self.fd).map_err(|e| io_err(format!("fsync {}", self.path.display()), e))
    }

    /// Removes `name`; returns whether it existed. The directory is synced afterwards.
    pub fn remove(&self, name: &str) -> Result<bool> {
        match rfs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => {
                rfs::fsync(&self.fd)
                    .map_err(|e| io_err(format!("fsync {}", self.path.display()), e))?;
                Ok(true)
            }
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(io_err(format!("remove {}", self.entry_path(name).display()), e)),
        }
    }

    /// Names of the regular entries (skipping temporary files starting with '.').
    pub fn list(&self) -> Result<Vec<String>> {
        let rd = std::fs::read_dir(&self.path)
            .map_err(|e| Error::io(format!("list {}", self.path.display()), e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(format!("list {}", self.path.display()), e))?;
            if let Some(n) = entry.file_name().to_str() {
                if !n.starts_with('.') {
                    names.push(n.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Takes an exclusive lock on the lock file `name` (created 0600 if missing), waiting up to
    /// `wait` for other holders; [`Error::Busy`] after that. Holders never wait for user input
    /// while holding it, so a long wait means a holder is stuck (stopped by its user, say): a
    /// bounded wait turns that into a clear refusal instead of a hang (issue 15, finding 7).
    /// No threads and no signals: the lock is tried without blocking, with short sleeps.
    ///
    /// A holder may delete the lock file ([`SecureDir::remove_lock`]): whoever was waiting on
    /// the deleted file then holds a lock nobody else can see, so after `flock` the file must
    /// still be the one at `name`; if it is not, the lock is taken again on the current file.
    pub fn lock(&self, name: &str, wait: Duration) -> Result<FileLock> {
        let path = self.entry_path(name);
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let fd = rfs::openat(
                &self.fd,
                name,
                OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| match e {
                rustix::io::Errno::LOOP => Error::insecure(&path, "is a symbolic link"),
                e => io_err(format!("open lock {}", path.display()), e),
            })?;
            let fd = above_stdio(fd, &path)?;
            let st = rfs::fstat(&fd).map_err(|e| io_err(format!("fstat {}", path.display()), e))?;
            check_stat(&path, &st, FileType::RegularFile, false)?;
            loop {
                match rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                    Ok(()) => break,
                    Err(rustix::io::Errno::WOULDBLOCK | rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(io_err(format!("lock {}", path.display()), e)),
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::Busy(format!(
                        "{} is held by another process for more than {} s",
                        path.display(),
                        wait.as_secs()
                    )));
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(now) if now.st_dev == st.st_dev && now.st_ino == st.st_ino => {
                    return Ok(FileLock { fd });
                }
                // Deleted (or replaced) by the holder we waited for: lock the current file.
                Ok(_) | Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(io_err(format!("stat {}", path.display()), e)),
            }
        }
    }

    /// Deletes the lock file `name`, which `lock` (taken from [`SecureDir::lock`] on this
    /// directory) holds; the lock itself is released when `lock` is dropped. Waiters notice
    /// and lock a new file (see [`SecureDir::lock`]). `Ok(false)`: it was not there.
    pub fn remove_lock(&self, name: &str, lock: &FileLock) -> Result<bool> {
        let path = self.entry_path(name);
        let held =
            rfs::fstat(&lock.fd).map_err(|e| io_err(format!("fstat {}", path.display()), e))?;
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_dev == held.st_dev && st.st_ino == held.st_ino => self.remove(name),
            Ok(_) => Err(Error::insecure(&path, "is not the lock file that is held")),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(io_err(format!("stat {}", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn dir() -> (tempfile::TempDir, SecureDir) {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let d = SecureDir::open(t.path()).unwrap();
        (t, d)
    }

    #[test]
    fn atomic_write_then_read() {
        let (_t, d) = dir();
        assert!(d.read("u", FilePolicy::secret(100)).unwrap().is_none());
        d.write_atomic("u", b"hello").unwrap();
        assert_eq!(&d.read("u", FilePolicy::secret(100)).unwrap().unwrap()[..], b"hello");
        d.write_atomic("u", b"world").unwrap();
        assert_eq!(&d.read("u", FilePolicy::secret(100)).unwrap().unwrap()[..], b"world");
        assert_eq!(d.list().unwrap(), vec!["u".to_string()]);
        assert!(d.remove("u").unwrap());
        assert!(!d.remove("u").unwrap());
    }

    #[test]
    fn refuses_symlinks_modes_sizes_and_directories() {
        let (t, d) = dir();
        d.write_atomic("real", b"x").unwrap();
        symlink(t.path().join("real"), t.path().join("link")).unwrap();
        assert!(matches!(d.read("link", FilePolicy::secret(10)), Err(Error::Insecure { .. })));
        std::fs::set_permissions(t.path().join("real"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        assert!(matches!(d.read("real", FilePolicy::secret(10)), Err(Error::Insecure { .. })));
        assert!(d.read("real", FilePolicy::config(10)).is_ok());
        std::fs::set_permissions(t.path().join("real"), std::fs::Permissions::from_mode(0o620))
            .unwrap();
        assert!(matches!(d.read("real", FilePolicy::config(10)), Err(Error::Insecure { .. })));
        d.write_atomic("big", &[0u8; 11]).unwrap();
        assert!(matches!(d.read("big", FilePolicy::secret(10)), Err(Error::Insecure { .. })));
        std::fs::create_dir(t.path().join("sub")).unwrap();
        assert!(matches!(d.read("sub", FilePolicy::secret(10)), Err(Error::Insecure { .. })));
    }

    #[test]
    fn locked_writes_replace_a_stale_temporary_left_by_a_dead_writer() {
        let (t, d) = dir();
        std::fs::write(t.path().join(".u.tmp"), b"half a record").unwrap();
        d.write_atomic_locked("u", b"whole").unwrap();
        assert_eq!(&d.read("u", FilePolicy::secret(10)).unwrap().unwrap()[..], b"whole");
        assert!(!t.path().join(".u.tmp").exists());
        assert_eq!(d.list().unwrap(), vec!["u".to_string()]);
    }

    /// Regression: a reader that opened the file just before a writer renamed a new version
    /// over it sees a link count of 0; that is a consistent old version, not an attack.
    #[test]
    fn file_replaced_after_open_is_still_readable() {
        let (t, d) = dir();
        d.write_atomic("u", b"old").unwrap();
        let fd = rfs::openat(&d.fd, "u", READ_FLAGS, Mode::empty()).unwrap();
        d.write_atomic("u", b"new").unwrap();
        let got = read_checked(&t.path().join("u"), fd, FilePolicy::secret(10)).unwrap();
        assert_eq!(&got[..], b"old");
    }

    #[test]
    fn refuses_group_writable_directory() {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(matches!(SecureDir::open(t.path()), Err(Error::Insecure { .. })));
    }

    #[test]
    fn lock_is_exclusive_across_descriptors() {
        let (_t, d) = dir();
        let held = d.lock("l", DEFAULT_LOCK_WAIT).unwrap();
        let fd = rfs::openat(&d.fd, "l", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).unwrap();
        assert!(rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(held);
        assert!(rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok());
    }

    /// Issue 15, finding 7: a holder that never lets go (a stopped process) makes a waiter
    /// give up with `Busy` instead of hanging.
    #[test]
    fn lock_wait_is_bounded() {
        let (_t, d) = dir();
        let _held = d.lock("l", DEFAULT_LOCK_WAIT).unwrap();
        let r = d.lock("l", Duration::from_millis(300));
        assert!(matches!(r, Err(Error::Busy(_))), "{r:?}");
    }

    /// How many descriptors of this process have `path` open (the holder's and, once it has
    /// opened the file, the waiter's: the waiter polls with non-blocking `flock`).
    fn open_count(path: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p == path)
            .count()
    }

    #[test]
    fn removing_the_lock_file_moves_waiters_to_a_fresh_one() {
        let (t, d) = dir();
        let d = std::sync::Arc::new(d);
        let held = d.lock("u", DEFAULT_LOCK_WAIT).unwrap();
        let path = t.path().join("u");
        let waiter = {
            let d = d.clone();
            std::thread::spawn(move || d.lock("u", DEFAULT_LOCK_WAIT).unwrap())
        };
        // Wait (bounded) until the waiter has opened the old file.
        let mut tries = 0;
        while open_count(&path) < 2 {
            tries += 1;
            assert!(tries < 1000, "the waiter never opened the lock file");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(d.remove_lock("u", &held).unwrap());
        assert!(!path.exists());
        drop(held);
        let got = waiter.join().unwrap();
        // The waiter holds the lock file that is at the path now, not the deleted one...
        let now = std::fs::metadata(&path).expect("the waiter made a fresh lock file");
        // (The inode number itself may be reused once the deleted file is closed.)
        assert_eq!(rfs::fstat(&got.fd).unwrap().st_ino, now.ino());
        // ...so a newcomer has to wait for it.
        let fd = rfs::open(&path, OFlags::RDWR, Mode::empty()).unwrap();
        assert!(rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(got);
        assert!(rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok());
    }

    #[test]
    fn remove_lock_deletes_only_the_held_file() {
        let (t, d) = dir();
        let held = d.lock("u", DEFAULT_LOCK_WAIT).unwrap();
        // Someone put another file at the name: refused, not deleted.
        std::fs::remove_file(t.path().join("u")).unwrap();
        std::fs::write(t.path().join("u"), b"").unwrap();
        assert!(d.remove_lock("u", &held).is_err());
        assert!(t.path().join("u").exists());
        std::fs::remove_file(t.path().join("u")).unwrap();
        assert!(!d.remove_lock("u", &held).unwrap());
    }
}
