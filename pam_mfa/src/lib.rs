//! `pam_mfa.so`: the PAM entry points of pam_mfa.
//!
//! This crate only adapts PAM to `mfa-login`: it reads the user, service and remote host from
//! the handle, wraps the application's conversation, runs the login ([`wiring`]),
//! logs one line per decision with `pam_syslog` (authpriv) and maps the decision to a PAM code
//! in one function, [`pam_code`]. Every hook starts from a failure: a panic becomes `PAM_ABORT`
//! with a log line (never output on the user's terminal), a null handle `PAM_SYSTEM_ERR`.
//!
//! Only the six `pam_sm_*` functions are exported. The module starts no threads and keeps no
//! state between calls; the configuration is read on every call.

mod ffi;
mod handle;
mod wiring;

pub use ffi::PamHandle;
use handle::{Handle, Priority};
use libc::{c_char, c_int};
use mfa_login::config::ModuleArgs;
use mfa_login::login::{Decision, Denial, Request};
use mfa_login::seat;
use std::cell::Cell;
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

/// The one mapping from a core decision to a PAM return code. Only a verified factor (by the
/// service, or by this host from its offline bundle during an outage), or an outage with
/// `failmode = "open"`, yields `PAM_SUCCESS`; `nullok` leniency yields
/// `PAM_IGNORE`; everything else is a failure.
fn pam_code(decision: Decision) -> c_int {
    match decision {
        Decision::Success => ffi::PAM_SUCCESS,
        // Let in without a second factor during a central service's outage, as configured
        // (failmode = "open"), or verified from the offline bundle; both logged at warning.
        Decision::FailOpen | Decision::Offline => ffi::PAM_SUCCESS,
        Decision::Ignore => ffi::PAM_IGNORE,
        Decision::Deny(Denial::AuthFailed) => ffi::PAM_AUTH_ERR,
        Decision::Deny(Denial::Conversation) => ffi::PAM_CONV_ERR,
        Decision::Deny(Denial::Config) => ffi::PAM_SERVICE_ERR,
        Decision::Deny(Denial::Unavailable) => ffi::PAM_AUTHINFO_UNAVAIL,
        Decision::Deny(Denial::BadUser) => ffi::PAM_USER_UNKNOWN,
    }
}

/// Reads `argv` into owned strings; a non-UTF-8 argument is an error.
///
/// # Safety
/// `argv` is null (then `argc` is ignored) or points to `argc` valid NUL-terminated strings.
unsafe fn module_args(argc: c_int, argv: *const *const c_char) -> Result<Vec<String>, String> {
    if argv.is_null() || argc <= 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..argc as usize {
        // SAFETY: `i < argc` and `argv` holds `argc` pointers (caller's contract).
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            continue;
        }
        // SAFETY: each argument is a NUL-terminated string owned by libpam.
        let s = unsafe { CStr::from_ptr(p) };
        out.push(s.to_str().map_err(|_| "module argument is not UTF-8".to_string())?.to_string());
    }
    Ok(out)
}

thread_local! {
    /// Where the last panic on this thread happened (set by our hook, read by `guarded`).
    /// A `Cell` of plain data: no TLS destructor, so unloading the module is safe.
    static PANIC_AT: Cell<Option<PanicAt>> = const { Cell::new(None) };
}

/// A panic location copied into plain bytes (the hook's `&str` does not outlive the hook).
#[derive(Clone, Copy)]
struct PanicAt {
    file: [u8; 64],
    file_len: usize,
    line: u32,
}

impl PanicAt {
    fn new(file: &str, line: u32) -> Self {
        let mut at = PanicAt { file: [0; 64], file_len: 0, line };
        // Keep the end of long paths; cut on a character boundary.
        let mut start = file.len().saturating_sub(at.file.len());
        while !file.is_char_boundary(start) {
            start += 1;
        }
        let tail = &file.as_bytes()[start..];
        at.file[..tail.len()].copy_from_slice(tail);
        at.file_len = tail.len();
        at
    }
}

impl std::fmt::Display for PanicAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = std::str::from_utf8(&self.file[..self.file_len]).unwrap_or("?");
        write!(f, "{file}:{}", self.line)
    }
}

/// Set while one call has our panic hook installed. Only one caller swaps the process-wide
/// hook at a time, so concurrent calls on other threads can never restore the hooks in the
/// wrong order and leave ours installed after libpam unloads the module.
static HOOK_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Runs `body` with panics caught: a panic becomes `PAM_ABORT` and `on_panic` receives its
/// location (file:line; never the message, which could quote data). While the body runs, the
/// panic hook only records the location, so nothing is printed on the user's terminal; the
/// application's hook is restored before returning.
fn guarded(body: impl FnOnce() -> c_int, on_panic: impl FnOnce(&str)) -> c_int {
    PANIC_AT.with(|p| p.set(None));
    let swapped =
        HOOK_INSTALLED.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok();
    let previous = swapped.then(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let at = info.location().map(|l| PanicAt::new(l.file(), l.line()));
            PANIC_AT.with(|p| p.set(at));
        }));
        previous
    });
    let result = catch_unwind(AssertUnwindSafe(body));
    if let Some(previous) = previous {
        std::panic::set_hook(previous);
        HOOK_INSTALLED.store(false, Ordering::Release);
    }
    let at = PANIC_AT.with(|p| p.take());
    result.unwrap_or_else(|_| {
        let location = at.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
        on_panic(&location);
        ffi::PAM_ABORT
    })
}

/// [`guarded`] for a hook: a null handle fails closed, a panic is logged through the handle.
fn guarded_hook(pamh: *mut PamHandle, body: impl FnOnce(Handle) -> c_int) -> c_int {
    let Some(handle) = Handle::new(pamh) else {
        return ffi::PAM_SYSTEM_ERR;
    };
    guarded(
        || body(handle),
        |location| {
            handle.log(Priority::Crit, &format!("internal error (panic at {location}); denying"))
        },
    )
}

fn authenticate(h: Handle, flags: c_int, args: Result<Vec<String>, String>) -> c_int {
    let args = match args
        .and_then(|a| ModuleArgs::parse(a.iter().map(String::as_str)).map_err(|e| e.to_string()))
    {
        Ok(a) => a,
        Err(e) => {
            h.log(Priority::Err, &format!("decision=deny reason=\"{e}\""));
            return ffi::PAM_SERVICE_ERR;
        }
    };
    let user = match h.user() {
        Ok(u) => u,
        Err(rc) => {
            h.log(Priority::Err, &format!("decision=deny reason=\"cannot get user name ({rc})\""));
            return if rc == ffi::PAM_SUCCESS { ffi::PAM_USER_UNKNOWN } else { rc };
        }
    };
    // A remote host that is not UTF-8 is still a remote host: kept in a lossy form, it is
    // remote and matches no rule network (issue 15, finding 9).
    let rhost = h.item_bytes(ffi::PAM_RHOST).map(|b| String::from_utf8_lossy(&b).into_owned());
    let remote_host = rhost.as_deref().is_some_and(|r| !r.trim().is_empty());
    let tty = h.string_item(ffi::PAM_TTY);
    let req = Request {
        user,
        service: h.string_item(ffi::PAM_SERVICE).unwrap_or_default(),
        rhost,
        seat: seat::of_login(remote_host, tty.as_deref(), &seat::current_session()),
        silent: flags & ffi::PAM_SILENT != 0,
    };
    let mut conv = match h.conversation() {
        Ok(c) => c,
        Err(e) => {
            h.log(Priority::Err, &format!("decision=deny reason=\"{}\"", e.0));
            return ffi::PAM_CONV_ERR;
        }
    };
    let outcome = wiring::authenticate(&args, &req, &mut conv);
    h.log(priority_of(outcome.decision), &outcome.log_line(&req));
    pam_code(outcome.decision)
}

/// The syslog priority of a decision's line.
fn priority_of(decision: Decision) -> Priority {
    match decision {
        Decision::Success => Priority::Notice,
        // Above a verified login, so an administrator filtering at warning sees it.
        Decision::FailOpen => Priority::Warning,
        // Verified by this host alone while the service was unreachable: visible at warning.
        Decision::Offline => Priority::Warning,
        Decision::Ignore => Priority::Info,
        Decision::Deny(Denial::AuthFailed | Denial::Conversation) => Priority::Notice,
        Decision::Deny(_) => Priority::Err,
    }
}

/// `pam_authenticate`: asks for and verifies the second factor.
///
/// # Safety
/// Called by libpam with a valid handle and `argc` valid argument strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_authenticate(
    pamh: *mut PamHandle,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: libpam passes `argc` valid strings in `argv`.
    let args = unsafe { module_args(argc, argv) };
    guarded_hook(pamh, |h| authenticate(h, flags, args))
}

/// `pam_setcred`: nothing to establish; succeeds so stacks that call it do not fail.
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_setcred(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    ffi::PAM_SUCCESS
}

/// `pam_acct_mgmt`: not an account module; `PAM_IGNORE` leaves the decision to others.
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_acct_mgmt(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    ffi::PAM_IGNORE
}

/// `pam_open_session`: nothing to do (`PAM_IGNORE`).
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_open_session(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    ffi::PAM_IGNORE
}

/// `pam_close_session`: nothing to do (`PAM_IGNORE`).
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_close_session(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    ffi::PAM_IGNORE
}

/// `pam_chauthtok`: factors are managed with `mfa-enroll`, not `passwd` (`PAM_IGNORE`).
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_chauthtok(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    ffi::PAM_IGNORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_maps_to_a_distinct_code_and_only_success_and_fail_open_succeed() {
        let all = [
            Decision::Success,
            Decision::FailOpen,
            Decision::Offline,
            Decision::Ignore,
            Decision::Deny(Denial::AuthFailed),
            Decision::Deny(Denial::Conversation),
            Decision::Deny(Denial::Config),
            Decision::Deny(Denial::Unavailable),
            Decision::Deny(Denial::BadUser),
        ];
        let codes: Vec<c_int> = all.iter().map(|d| pam_code(*d)).collect();
        assert_eq!(codes, [0, 0, 0, 25, 7, 19, 3, 9, 10]);
    }

    #[test]
    fn offline_and_fail_open_logins_stand_out_above_verified_ones() {
        assert_eq!(priority_of(Decision::Success), Priority::Notice);
        assert_eq!(priority_of(Decision::Offline), Priority::Warning);
        assert_eq!(priority_of(Decision::FailOpen), Priority::Warning);
    }

    #[test]
    fn null_handle_fails_closed_without_running_the_body() {
        let rc = guarded_hook(std::ptr::null_mut(), |_| ffi::PAM_SUCCESS);
        assert_eq!(rc, ffi::PAM_SYSTEM_ERR);
    }

    /// A panic becomes PAM_ABORT with its location, the application's panic hook is back in
    /// place afterwards, and the default hook was not called (nothing on the terminal).
    #[test]
    fn panic_becomes_abort_and_the_previous_hook_is_restored() {
        use std::sync::atomic::AtomicUsize;
        static APP_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);
        std::panic::set_hook(Box::new(|_| {
            APP_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
        }));
        let mut logged = String::new();
        let rc = guarded(|| panic!("boom"), |at| logged = at.to_string());
        assert_eq!(rc, ffi::PAM_ABORT);
        assert!(logged.starts_with("pam_mfa/src/lib.rs:"), "{logged}");
        assert_eq!(APP_HOOK_CALLS.load(Ordering::SeqCst), 0, "our hook ran, not the app's");
        assert_eq!(guarded(|| ffi::PAM_SUCCESS, |_| unreachable!()), ffi::PAM_SUCCESS);
        let _ = catch_unwind(|| panic!("after"));
        assert_eq!(APP_HOOK_CALLS.load(Ordering::SeqCst), 1, "the app's hook is restored");
        let _ = std::panic::take_hook();
    }

    #[test]
    fn module_args_reads_argv() {
        let a = c"nullok";
        let b = c"config=/x";
        let argv = [a.as_ptr(), b.as_ptr()];
        // SAFETY: two valid C strings.
        let got = unsafe { module_args(2, argv.as_ptr()) }.unwrap();
        assert_eq!(got, ["nullok", "config=/x"]);
        // SAFETY: null argv is allowed.
        assert!(unsafe { module_args(3, std::ptr::null()) }.unwrap().is_empty());
    }
}
