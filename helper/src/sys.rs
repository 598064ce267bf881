//! The few system calls the helper makes through libc: environment, file descriptors, syslog.

use std::ffi::CString;

/// Drops everything the caller could have set up for us: the environment is cleared, the umask
/// is 077, and descriptors 0–2 are open (on /dev/null if the caller closed them, so no file we
/// open later can become standard output).
pub(crate) fn harden() {
    // SAFETY: called first thing in main, before any other thread exists; nothing holds
    // pointers into the environment.
    unsafe { libc::clearenv() };
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0o077) };
    for fd in 0..3 {
        // SAFETY: F_GETFD on any integer is harmless; it only reports whether fd is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a constant NUL-terminated path; the descriptor returned is the lowest
            // free one, which is `fd` since the lower ones are open.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Opens syslog as `mfa-helper[pid]`, facility authpriv.
pub(crate) fn open_log() {
    // SAFETY: a static NUL-terminated identity string that lives for the whole process.
    unsafe { libc::openlog(c"mfa-helper".as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV) };
}

/// Writes one line to syslog.
pub(crate) fn log(priority: libc::c_int, text: &str) {
    let line = CString::new(text.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: a constant "%s" format with one valid NUL-terminated string argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), line.as_ptr()) };
}
