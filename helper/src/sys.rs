//! The few system calls the helper makes through libc: a clean start, syslog.

use std::ffi::CString;

/// Drops everything the caller could have set up for us, before any state is touched. A
/// setuid program inherits its caller's environment, umask, open and closed descriptors,
/// resource limits, ignored signals, signal mask, interval timers, nice value and working
/// directory; each of them has been used against such programs (issue 15, finding 1: with
/// `RLIMIT_FSIZE` low and `SIGXFSZ` ignored, a wrong answer's failure could not be written).
///
/// Afterwards: an empty environment, umask 077, descriptors 0-2 open (on /dev/null if the
/// caller closed them, so no file we open becomes standard output), every resource limit we
/// depend on reset (no core dumps), every ignored signal back to its default except the ones we
/// ignore on purpose, no blocked signals, no pending timers, nice 0, not dumpable (no core, no
/// ptrace by the caller), and `/` as working directory. `Err` if any of it fails: the helper
/// then refuses to run.
pub(crate) fn harden() -> Result<(), String> {
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
    // SAFETY: PR_SET_DUMPABLE with 0 only changes this process's dumpable flag.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err("prctl(PR_SET_DUMPABLE) failed".into());
    }
    reset_limits()?;
    reset_signals()?;
    reset_timers()?;
    // SAFETY: setpriority on this process with a constant value; root may lower its nice.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 0) };
    // SAFETY: a constant NUL-terminated path.
    if unsafe { libc::chdir(c"/".as_ptr()) } != 0 {
        return Err("chdir / failed".into());
    }
    Ok(())
}

/// Resource limits: none on what a login needs (file size, CPU time, memory, stack), enough
/// descriptors, and no core dumps.
fn reset_limits() -> Result<(), String> {
    let inf = libc::RLIM_INFINITY;
    let limits: [(libc::__rlimit_resource_t, &str, libc::rlim_t); 9] = [
        (libc::RLIMIT_CORE, "RLIMIT_CORE", 0),
        (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE", inf),
        (libc::RLIMIT_CPU, "RLIMIT_CPU", inf),
        (libc::RLIMIT_DATA, "RLIMIT_DATA", inf),
        (libc::RLIMIT_AS, "RLIMIT_AS", inf),
        (libc::RLIMIT_STACK, "RLIMIT_STACK", 8 * 1024 * 1024),
        (libc::RLIMIT_RSS, "RLIMIT_RSS", inf),
        (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE", 1024),
        (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME", inf),
    ];
    for (resource, name, value) in limits {
        let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
        // SAFETY: a valid resource and a pointer to a live rlimit; as root, raising the hard
        // limit is allowed.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(format!("cannot reset {name}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Signals the helper ignores on purpose: a write to a caller that went away must be an error
/// (EPIPE), not death halfway; job control from the caller's terminal must not stop the helper
/// while it holds the user's lock.
const IGNORED: [libc::c_int; 4] = [libc::SIGPIPE, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// Every signal the caller left ignored goes back to its default action (handlers do not
/// survive exec; ignored signals do), then [`IGNORED`] are ignored, and nothing stays blocked.
fn reset_signals() -> Result<(), String> {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid out-parameter; querying any signal number is
        // harmless (invalid ones fail with EINVAL).
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above; a null new action only reads the current one.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
            continue;
        }
        let wanted = if IGNORED.contains(&sig) { libc::SIG_IGN } else { libc::SIG_DFL };
        // Only dispositions the caller could have left: an ignored signal. Handlers are ours
        // (Rust's runtime installs some) and stay.
        if old.sa_sigaction == libc::SIG_IGN || IGNORED.contains(&sig) {
            // SAFETY: a zeroed sigaction with SIG_DFL/SIG_IGN and an empty mask is valid.
            let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
            new.sa_sigaction = wanted;
            // SAFETY: `new` is a valid action for a valid signal number.
            if unsafe { libc::sigaction(sig, &new, std::ptr::null_mut()) } != 0 {
                return Err(format!("cannot reset signal {sig}"));
            }
        }
    }
    // SAFETY: a zeroed sigset_t is filled by sigemptyset.
    let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `empty` is a valid sigset_t to initialize.
    unsafe { libc::sigemptyset(&mut empty) };
    // SAFETY: setting the mask of this (single-threaded) process to an empty set.
    if unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) } != 0 {
        return Err("cannot clear the signal mask".into());
    }
    Ok(())
}

/// Interval timers survive exec: a caller could arm one to interrupt the helper. Disarmed.
fn reset_timers() -> Result<(), String> {
    for which in [libc::ITIMER_REAL, libc::ITIMER_VIRTUAL, libc::ITIMER_PROF] {
        // SAFETY: a zeroed itimerval disarms the timer.
        let zero: libc::itimerval = unsafe { std::mem::zeroed() };
        // SAFETY: valid timer id and pointer; the old value is not wanted.
        if unsafe { libc::setitimer(which, &zero, std::ptr::null_mut()) } != 0 {
            return Err("cannot disarm interval timers".into());
        }
    }
    Ok(())
}

/// Becomes root in every uid (real, effective, saved), once the caller's uid is known: the
/// caller can then no longer send the helper signals (SIGSTOP while it holds the user's lock,
/// SIGKILL between a check and its record), which the kernel allows for a process whose real
/// uid is the caller's.
pub(crate) fn become_root() -> Result<(), String> {
    // SAFETY: setresuid with constant ids; the process is setuid root, so this is allowed.
    if unsafe { libc::setresuid(0, 0, 0) } != 0 {
        return Err(format!("setresuid: {}", std::io::Error::last_os_error()));
    }
    Ok(())
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
