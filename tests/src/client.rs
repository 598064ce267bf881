//! A PAM application for tests: `pam_start_confdir` + `pam_authenticate` with scripted answers.
//!
//! All `unsafe` of the test crate is in this module.

use libc::{c_char, c_int, c_void};
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// `PAM_SUCCESS`.
pub const PAM_SUCCESS: i32 = 0;
/// `PAM_SERVICE_ERR`.
pub const PAM_SERVICE_ERR: i32 = 3;
/// `PAM_PERM_DENIED`.
pub const PAM_PERM_DENIED: i32 = 6;
/// `PAM_AUTH_ERR`.
pub const PAM_AUTH_ERR: i32 = 7;
/// `PAM_AUTHINFO_UNAVAIL`.
pub const PAM_AUTHINFO_UNAVAIL: i32 = 9;
/// `PAM_USER_UNKNOWN`.
pub const PAM_USER_UNKNOWN: i32 = 10;
/// `PAM_CONV_ERR`.
pub const PAM_CONV_ERR: i32 = 19;
/// `PAM_IGNORE`.
pub const PAM_IGNORE: i32 = 25;
/// `PAM_ABORT`.
pub const PAM_ABORT: i32 = 26;
/// `PAM_SILENT` flag.
pub const PAM_SILENT: i32 = 0x8000;
/// Message style: prompt without echo.
pub const PAM_PROMPT_ECHO_OFF: i32 = 1;
/// Message style: prompt with echo.
pub const PAM_PROMPT_ECHO_ON: i32 = 2;
/// Message style: error message.
pub const PAM_ERROR_MSG: i32 = 3;
/// Message style: informational message.
pub const PAM_TEXT_INFO: i32 = 4;
const PAM_TTY: c_int = 3;
const PAM_RHOST: c_int = 4;

/// The symbolic name of a PAM return code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "PAM_SUCCESS",
        3 => "PAM_SERVICE_ERR",
        4 => "PAM_SYSTEM_ERR",
        6 => "PAM_PERM_DENIED",
        7 => "PAM_AUTH_ERR",
        9 => "PAM_AUTHINFO_UNAVAIL",
        10 => "PAM_USER_UNKNOWN",
        19 => "PAM_CONV_ERR",
        25 => "PAM_IGNORE",
        26 => "PAM_ABORT",
        _ => "PAM_(other)",
    }
}

/// When set, every message the module sends is also written to stderr as it arrives
/// (`pam-test-client --echo-messages`), so a test can react to a prompt while the login runs
/// (e.g. approve the number a push prompt shows).
pub static ECHO_MESSAGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One scripted answer to a prompt.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with these bytes (need not be UTF-8; must not contain NUL).
    Text(Vec<u8>),
    /// Return a response whose text is NULL.
    Null,
    /// Make the conversation function fail with `PAM_CONV_ERR`.
    ConvError,
    /// Answer with the current TOTP code for the last `otpauth://` URI the module showed
    /// (the enroll-on-login confirmation), computed with mfa-login.
    CodeForShownUri,
    /// Answer with the next line read from standard input when the prompt comes (what the
    /// test learns only during the login, e.g. a pairing code a device printed).
    Stdin,
}

/// The current code for the last otpauth URI in `messages`, if any.
fn code_for_shown_uri(messages: &[(i32, String)]) -> Option<Vec<u8>> {
    let text = messages.iter().rev().find(|(_, m)| m.contains("otpauth://"))?;
    let start = text.1.find("otpauth://")?;
    let uri = text.1[start..].split_whitespace().next()?;
    let parsed = mfa_login::otpauth::TotpUri::parse(uri).ok()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(mfa_login::totp::code_at(parsed.secret.expose(), &parsed.params, now).as_bytes().to_vec())
}

impl Reply {
    /// A text answer.
    pub fn text(s: &str) -> Reply {
        Reply::Text(s.as_bytes().to_vec())
    }
}

/// What the module showed and what `pam_authenticate` returned.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// `pam_authenticate`'s return code.
    pub code: i32,
    /// Every message the module sent: (style, text).
    pub messages: Vec<(i32, String)>,
    /// Scripted replies that were not asked for.
    pub unused_replies: usize,
}

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

#[repr(C)]
struct PamConv {
    conv: unsafe extern "C" fn(
        c_int,
        *mut *const PamMessage,
        *mut *mut PamResponse,
        *mut c_void,
    ) -> c_int,
    appdata_ptr: *mut c_void,
}

#[repr(C)]
struct PamHandle {
    _private: [u8; 0],
}

/// The login session a test client runs in, for the security-key seat rule
/// (`mfa_login::seat`): set up as root in the client's private mount namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginSession {
    /// No kernel audit session (a system service before any login).
    None,
    /// A fresh audit session that logind (a record in a private `/run`) calls local, on seat0.
    Local,
    /// A fresh audit session that logind calls remote (an SSH login).
    Remote,
    /// A fresh audit session logind has no record of.
    Unknown,
}

impl LoginSession {
    /// Parses `none`, `local`, `remote`, `unknown`.
    pub fn parse(s: &str) -> Option<LoginSession> {
        match s {
            "none" => Some(LoginSession::None),
            "local" => Some(LoginSession::Local),
            "remote" => Some(LoginSession::Remote),
            "unknown" => Some(LoginSession::Unknown),
            _ => None,
        }
    }

    /// Puts this process into the session. Needs root (`CAP_AUDIT_CONTROL`, mounts) and a
    /// private mount namespace (one is made if `private_mounts` is false): writes
    /// `/proc/self/loginuid` (which starts a new audit session, or with -1 leaves none) and,
    /// for a logind session, mounts a tmpfs on `/run` holding `systemd/sessions/<id>`.
    pub fn enter(self, private_mounts: bool) -> std::io::Result<()> {
        let loginuid = if self == LoginSession::None { "4294967295" } else { "0" };
        std::fs::write("/proc/self/loginuid", loginuid)?;
        let record = match self {
            LoginSession::Local => "UID=0\nACTIVE=1\nREMOTE=0\nSEAT=seat0\nTYPE=tty\n",
            LoginSession::Remote => "UID=0\nACTIVE=1\nREMOTE=1\nREMOTE_HOST=192.0.2.9\nTYPE=tty\n",
            LoginSession::None | LoginSession::Unknown => return Ok(()),
        };
        if !private_mounts {
            private_mount_namespace()?;
        }
        mount_tmpfs(c"/run")?;
        let id = std::fs::read_to_string("/proc/self/sessionid")?;
        std::fs::create_dir_all(mfa_login::seat::LOGIND_SESSIONS)?;
        std::fs::write(Path::new(mfa_login::seat::LOGIND_SESSIONS).join(id.trim()), record)
    }
}

fn os_result(rc: c_int) -> std::io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Moves this process into a new mount namespace whose mounts do not propagate back to the
/// host's (`unshare(CLONE_NEWNS)`, then `/` made private, recursively). Needs root.
pub fn private_mount_namespace() -> std::io::Result<()> {
    // SAFETY: plain system calls with valid NUL-terminated arguments (or null where the call
    // allows it); they only affect this process's own, new mount namespace.
    unsafe {
        os_result(libc::unshare(libc::CLONE_NEWNS))?;
        os_result(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))
    }
}

/// Mounts an empty tmpfs (mode 0755) on `target`; call it in a private mount namespace
/// ([`private_mount_namespace`]), where only this process sees it.
pub fn mount_tmpfs(target: &CStr) -> std::io::Result<()> {
    // SAFETY: a plain system call with valid NUL-terminated arguments.
    os_result(unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"mode=0755".as_ptr().cast(),
        )
    })
}

/// Makes `/dev/null` (character device 1:3) in this process's own `/dev`. Needs CAP_MKNOD.
pub fn make_dev_null() -> std::io::Result<()> {
    // SAFETY: a plain system call with a valid NUL-terminated path.
    os_result(unsafe {
        libc::mknod(c"/dev/null".as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3))
    })
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        confdir: *const c_char,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_end(pamh: *mut PamHandle, status: c_int) -> c_int;
}

struct ConvState {
    replies: VecDeque<Reply>,
    messages: Vec<(i32, String)>,
}

/// Copies bytes into a malloc'ed NUL-terminated buffer, as PAM requires for responses.
fn malloc_copy(bytes: &[u8]) -> *mut c_char {
    // SAFETY: allocate len+1 bytes; the result is checked for null before use.
    let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` has room for len+1 bytes and does not overlap `bytes`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
    }
    p.cast()
}

/// Frees a response array of `n` entries and their texts.
///
/// # Safety
/// `out` was calloc'ed for `n` responses whose `resp` fields are null or malloc'ed.
unsafe fn free_responses(out: *mut PamResponse, n: usize) {
    for j in 0..n {
        // SAFETY: entries are null or malloc'ed by us (caller's contract).
        unsafe { libc::free((*out.add(j)).resp.cast()) };
    }
    // SAFETY: allocated with calloc (caller's contract).
    unsafe { libc::free(out.cast()) };
}

unsafe extern "C" fn conversation(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    let run = || -> c_int {
        if num_msg <= 0 || msg.is_null() || resp.is_null() || appdata.is_null() {
            return 19;
        }
        // SAFETY: appdata is the `ConvState` owned by `authenticate`, alive during the call.
        let state = unsafe { &mut *appdata.cast::<ConvState>() };
        let n = num_msg as usize;
        // SAFETY: calloc of n responses, checked below.
        let out = unsafe { libc::calloc(n, size_of::<PamResponse>()) }.cast::<PamResponse>();
        if out.is_null() {
            return 5;
        }
        for i in 0..n {
            // SAFETY: Linux-PAM passes an array of `num_msg` message pointers.
            let m = unsafe { &**msg.add(i) };
            let text = if m.msg.is_null() {
                String::new()
            } else {
                // SAFETY: message texts are NUL-terminated strings.
                unsafe { CStr::from_ptr(m.msg) }.to_string_lossy().into_owned()
            };
            if ECHO_MESSAGES.load(std::sync::atomic::Ordering::Relaxed) {
                use std::io::Write as _;
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "pam-message {}: {}", m.msg_style, text.replace('\n', " | "));
                let _ = err.flush();
            }
            state.messages.push((m.msg_style, text));
            if m.msg_style == PAM_PROMPT_ECHO_OFF || m.msg_style == PAM_PROMPT_ECHO_ON {
                match state.replies.pop_front() {
                    Some(Reply::Text(bytes)) => {
                        // SAFETY: `out` has `n` zeroed entries; `i < n`.
                        unsafe { (*out.add(i)).resp = malloc_copy(&bytes) };
                    }
                    Some(Reply::Null) => {}
                    Some(Reply::CodeForShownUri) => match code_for_shown_uri(&state.messages) {
                        // SAFETY: `out` has `n` zeroed entries; `i < n`.
                        Some(code) => unsafe { (*out.add(i)).resp = malloc_copy(&code) },
                        None => {
                            // SAFETY: as below: free what we allocated and fail.
                            unsafe { free_responses(out, n) };
                            return 19;
                        }
                    },
                    Some(Reply::Stdin) => {
                        let mut line = String::new();
                        let _ = std::io::stdin().read_line(&mut line);
                        let line = line.trim_end_matches(['\r', '\n']);
                        // SAFETY: `out` has `n` zeroed entries; `i < n`.
                        unsafe { (*out.add(i)).resp = malloc_copy(line.as_bytes()) };
                    }
                    Some(Reply::ConvError) | None => {
                        // SAFETY: `out` and its entries were allocated by us in this call.
                        unsafe { free_responses(out, n) };
                        return 19;
                    }
                }
            }
        }
        // SAFETY: `resp` is a valid out-pointer; the module frees the array.
        unsafe { *resp = out };
        0
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(19)
}

/// Runs `pam_authenticate` for `user` on the stack `<confdir>/<service>` (with `confdir`
/// `None`: the system's `/etc/pam.d/<service>`).
pub fn authenticate(
    confdir: Option<&Path>,
    service: &str,
    user: &str,
    rhost: Option<&str>,
    replies: Vec<Reply>,
    flags: i32,
) -> Transcript {
    let items = Items { rhost: rhost.map(|r| r.as_bytes().to_vec()), tty: None };
    authenticate_with_items(confdir, service, user, &items, replies, flags)
}

/// PAM items the application sets before `pam_authenticate`.
#[derive(Clone, Debug, Default)]
pub struct Items {
    /// `PAM_RHOST`, as bytes (need not be UTF-8; must not contain NUL).
    pub rhost: Option<Vec<u8>>,
    /// `PAM_TTY`.
    pub tty: Option<String>,
}

/// [`authenticate`] with the items given as [`Items`].
pub fn authenticate_with_items(
    confdir: Option<&Path>,
    service: &str,
    user: &str,
    items: &Items,
    replies: Vec<Reply>,
    flags: i32,
) -> Transcript {
    let c_service = CString::new(service).expect("service without NUL");
    let c_user = CString::new(user).expect("user without NUL");
    let c_confdir =
        confdir.map(|c| CString::new(c.as_os_str().as_encoded_bytes()).expect("path without NUL"));
    let mut state = Box::new(ConvState { replies: replies.into(), messages: Vec::new() });
    let conv = PamConv { conv: conversation, appdata_ptr: (&mut *state as *mut ConvState).cast() };
    let mut pamh: *mut PamHandle = std::ptr::null_mut();
    // SAFETY: valid C strings and conv struct that outlive the handle (pam_end below).
    let rc = unsafe {
        pam_start_confdir(
            c_service.as_ptr(),
            c_user.as_ptr(),
            &conv,
            c_confdir.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            &mut pamh,
        )
    };
    assert_eq!(rc, 0, "pam_start_confdir failed with {rc}");
    let c_rhost = items.rhost.clone().map(|r| CString::new(r).expect("rhost without NUL"));
    if let Some(r) = &c_rhost {
        // SAFETY: valid handle; libpam copies the string.
        let rc = unsafe { pam_set_item(pamh, PAM_RHOST, r.as_ptr().cast()) };
        assert_eq!(rc, 0, "pam_set_item(PAM_RHOST) failed");
    }
    let c_tty = items.tty.as_deref().map(|t| CString::new(t).expect("tty without NUL"));
    if let Some(t) = &c_tty {
        // SAFETY: valid handle; libpam copies the string.
        let rc = unsafe { pam_set_item(pamh, PAM_TTY, t.as_ptr().cast()) };
        assert_eq!(rc, 0, "pam_set_item(PAM_TTY) failed");
    }
    // SAFETY: valid handle.
    let code = unsafe { pam_authenticate(pamh, flags) };
    // SAFETY: valid handle, ended once.
    unsafe { pam_end(pamh, code) };
    Transcript {
        code,
        messages: std::mem::take(&mut state.messages),
        unused_replies: state.replies.len(),
    }
}
