//! A stand-in for the syslog daemon, so the modules' log lines cost what they cost on a real
//! machine (a datagram to `/dev/log`), not a write to `/dev/console` — where glibc's `syslog()`
//! falls back (`LOG_CONS`) when nothing listens, as on CI machines and containers.
//!
//! Like the test suite's capture, it enters a private mount namespace, mounts an empty tmpfs on
//! `/dev` (with `null`, `zero`, `random`, `urandom` recreated) and listens on `/dev/log`. Only
//! this process and its children (the workers) see it; the host is untouched. Needs root.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the log lines received.
#[derive(Clone, Debug)]
pub(crate) struct SyslogSink {
    lines: Arc<AtomicU64>,
}

fn check(rc: libc::c_int, what: &str) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        Err(std::io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

fn private_dev() -> std::io::Result<()> {
    // SAFETY: plain system calls with valid NUL-terminated arguments; they only change this
    // process's own, new mount namespace.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS), "unshare")?;
        check(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "mount / private",
        )?;
        check(
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/dev".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"mode=0755".as_ptr().cast(),
            ),
            "mount tmpfs on /dev",
        )?;
    }
    for (path, minor) in
        [(c"/dev/null", 3), (c"/dev/zero", 5), (c"/dev/random", 8), (c"/dev/urandom", 9)]
    {
        // SAFETY: valid path; creates a character device (major 1, the memory devices) in the
        // tmpfs just mounted.
        let rc =
            unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, minor)) };
        check(rc, "mknod")?;
        // SAFETY: valid path; mknod's mode is reduced by the umask, so set it explicitly.
        check(unsafe { libc::chmod(path.as_ptr(), 0o666) }, "chmod")?;
    }
    Ok(())
}

impl SyslogSink {
    /// Starts listening on `/dev/log` in a private mount namespace, inherited by every process
    /// started afterwards.
    pub(crate) fn start() -> std::io::Result<SyslogSink> {
        private_dev()?;
        let socket = UnixDatagram::bind("/dev/log")?;
        let lines = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while socket.recv(&mut buf).is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(SyslogSink { lines })
    }

    /// Log lines received so far.
    pub(crate) fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }
}
