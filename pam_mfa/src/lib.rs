//! `pam_mfa.so`: the PAM entry points of pam_mfa.
//!
//! This crate only adapts PAM to `mfa-core`: it reads the user, service and remote host from
//! the handle, wraps the application's conversation, runs [`mfa_core::login::authenticate`],
//! logs one line per decision with `pam_syslog` (authpriv) and maps the decision to a PAM code
//! in one function, [`pam_code`]. Every hook starts from a failure: a panic becomes `PAM_ABORT`
//! with a log line (never output on the user's terminal), a null handle `PAM_SYSTEM_ERR`.
//!
//! Only the six `pam_sm_*` functions are exported. The module starts no threads and keeps no
//! state between calls; the configuration is read on every call.

mod ffi;
mod handle;

pub use ffi::PamHandle;
use handle::{Handle, Priority};
use libc::{c_char, c_int};
use mfa_core::config::ModuleArgs;
use mfa_core::login::{self, Decision, Denial, Request, SystemClock};
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The one mapping from a core decision to a PAM return code. Only a verified factor yields
/// `PAM_SUCCESS`; `nullok` leniency yields `PAM_IGNORE`; everything else is a failure.
fn pam_code(decision: Decision) -> c_int {
    match decision {
        Decision::Success => ffi::PAM_SUCCESS,
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

/// Runs `body` with panics caught: a panic is logged (location only) and becomes `PAM_ABORT`.
/// The process's panic hook is replaced only for the duration of the call, so nothing is
/// printed on the user's terminal and the application's own hook is restored afterwards.
fn guarded(pamh: *mut PamHandle, body: impl FnOnce(Handle) -> c_int) -> c_int {
    let Some(handle) = Handle::new(pamh) else {
        return ffi::PAM_SYSTEM_ERR;
    };
    let previous = std::panic::take_hook();
    let raw = pamh as usize;
    std::panic::set_hook(Box::new(move |info| {
        let location =
            info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        if let Some(h) = Handle::new(raw as *mut PamHandle) {
            h.log(Priority::Crit, &format!("internal error (panic at {location}); denying"));
        }
    }));
    let result = catch_unwind(AssertUnwindSafe(|| body(handle)));
    std::panic::set_hook(previous);
    result.unwrap_or(ffi::PAM_ABORT)
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
    let req = Request {
        user,
        service: h.string_item(ffi::PAM_SERVICE).unwrap_or_default(),
        rhost: h.string_item(ffi::PAM_RHOST),
        silent: flags & ffi::PAM_SILENT != 0,
    };
    let mut conv = match h.conversation() {
        Ok(c) => c,
        Err(e) => {
            h.log(Priority::Err, &format!("decision=deny reason=\"{}\"", e.0));
            return ffi::PAM_CONV_ERR;
        }
    };
    let outcome = login::authenticate(&args, &req, &mut conv, &SystemClock);
    let priority = match outcome.decision {
        Decision::Success => Priority::Notice,
        Decision::Ignore => Priority::Info,
        Decision::Deny(Denial::AuthFailed | Denial::Conversation) => Priority::Notice,
        Decision::Deny(_) => Priority::Err,
    };
    h.log(priority, &outcome.log_line(&req));
    pam_code(outcome.decision)
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
    guarded(pamh, |h| authenticate(h, flags, args))
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
    fn every_decision_maps_to_a_distinct_code_and_only_success_is_success() {
        let all = [
            Decision::Success,
            Decision::Ignore,
            Decision::Deny(Denial::AuthFailed),
            Decision::Deny(Denial::Conversation),
            Decision::Deny(Denial::Config),
            Decision::Deny(Denial::Unavailable),
            Decision::Deny(Denial::BadUser),
        ];
        let codes: Vec<c_int> = all.iter().map(|d| pam_code(*d)).collect();
        assert_eq!(codes, [0, 25, 7, 19, 3, 9, 10]);
    }

    #[test]
    fn null_handle_fails_closed_without_running_the_body() {
        let rc = guarded(std::ptr::null_mut(), |_| ffi::PAM_SUCCESS);
        assert_eq!(rc, ffi::PAM_SYSTEM_ERR);
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
