//! Safe wrappers over the PAM handle: items, user name, conversation, syslog.
//!
//! Every `unsafe` block of the module is in this file or in `lib.rs`'s entry points.

use crate::ffi::{self, PamHandle};
use libc::{c_char, c_int, c_void};
use mfa_login::login::{ConvError, Conversation, MAX_ANSWER_LEN};
use std::ffi::{CStr, CString};
use zeroize::Zeroizing;

/// A borrowed, non-null PAM handle, valid for the duration of one hook call.
#[derive(Clone, Copy)]
pub(crate) struct Handle(*mut PamHandle);

/// syslog priorities used by the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    Err = libc::LOG_ERR as isize,
    Warning = libc::LOG_WARNING as isize,
    Notice = libc::LOG_NOTICE as isize,
    Info = libc::LOG_INFO as isize,
    Crit = libc::LOG_CRIT as isize,
    Debug = libc::LOG_DEBUG as isize,
}

fn to_cstring(text: &str) -> CString {
    // Interior NULs cannot be passed to C; they never occur in our own messages.
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

impl Handle {
    /// Wraps a handle received from libpam; `None` if it is null.
    pub(crate) fn new(pamh: *mut PamHandle) -> Option<Handle> {
        (!pamh.is_null()).then_some(Handle(pamh))
    }

    /// Writes one line to syslog (facility authpriv, prefixed by libpam with
    /// `pam_mfa(service:auth):`).
    pub(crate) fn log(self, priority: Priority, text: &str) {
        let line = to_cstring(text);
        // SAFETY: the handle is non-null and valid during the hook; the format is a static
        // "%s" and its one argument is a valid NUL-terminated string that outlives the call.
        unsafe { ffi::pam_syslog(self.0, priority as c_int, c"%s".as_ptr(), line.as_ptr()) };
    }

    /// Reads a string item's bytes (`PAM_SERVICE`, `PAM_RHOST`, `PAM_TTY`). `None` if unset.
    pub(crate) fn item_bytes(self, item: c_int) -> Option<Vec<u8>> {
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: valid handle; `ptr` is a valid out-pointer. libpam keeps ownership of the
        // returned string, which stays valid until the item is changed (not during this call).
        let rc = unsafe { ffi::pam_get_item(self.0, item, &mut ptr) };
        if rc != ffi::PAM_SUCCESS || ptr.is_null() {
            return None;
        }
        // SAFETY: string items are NUL-terminated C strings owned by libpam.
        let s = unsafe { CStr::from_ptr(ptr.cast::<c_char>()) };
        Some(s.to_bytes().to_vec())
    }

    /// Reads a string item. `None` if unset or not UTF-8.
    pub(crate) fn string_item(self, item: c_int) -> Option<String> {
        self.item_bytes(item).and_then(|b| String::from_utf8(b).ok())
    }

    /// The user name (libpam may prompt for it). `Err` with a PAM code on failure; a name that
    /// is not UTF-8 is `PAM_USER_UNKNOWN`.
    pub(crate) fn user(self) -> Result<String, c_int> {
        let mut ptr: *const c_char = std::ptr::null();
        // SAFETY: valid handle; `ptr` is a valid out-pointer; a null prompt selects libpam's
        // default. The returned string is owned by libpam.
        let rc = unsafe { ffi::pam_get_user(self.0, &mut ptr, std::ptr::null()) };
        if rc != ffi::PAM_SUCCESS {
            return Err(rc);
        }
        if ptr.is_null() {
            return Err(ffi::PAM_USER_UNKNOWN);
        }
        // SAFETY: non-null NUL-terminated string owned by libpam, valid during this call.
        let s = unsafe { CStr::from_ptr(ptr) };
        s.to_str().map(str::to_string).map_err(|_| ffi::PAM_USER_UNKNOWN)
    }

    /// The application's conversation function.
    pub(crate) fn conversation(self) -> Result<PamConversation, ConvError> {
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: valid handle and out-pointer; the conversation struct is owned by libpam.
        let rc = unsafe { ffi::pam_get_item(self.0, ffi::PAM_CONV, &mut ptr) };
        if rc != ffi::PAM_SUCCESS || ptr.is_null() {
            return Err(ConvError("no conversation function".into()));
        }
        let conv = ptr.cast::<ffi::PamConv>();
        // SAFETY: PAM_CONV points to a `struct pam_conv` that stays valid during this call.
        let func = unsafe { (*conv).conv };
        if func.is_none() {
            return Err(ConvError("conversation function is NULL".into()));
        }
        Ok(PamConversation { handle: self, conv })
    }
}

/// The PAM conversation and the items the login logic may set, adapted to
/// [`mfa_login::login::Conversation`].
pub(crate) struct PamConversation {
    handle: Handle,
    conv: *const ffi::PamConv,
}

impl PamConversation {
    /// Sends one message; returns the reply text if the application gave one.
    fn send(&mut self, style: c_int, text: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        let ctext = to_cstring(text);
        let msg = ffi::PamMessage { msg_style: style, msg: ctext.as_ptr() };
        let mut msgp: *const ffi::PamMessage = &msg;
        let mut resp: *mut ffi::PamResponse = std::ptr::null_mut();
        // SAFETY: `conv` was checked non-null with a non-null function in `conversation()` and
        // libpam keeps it alive during the hook.
        let (func, appdata) = unsafe { ((*self.conv).conv, (*self.conv).appdata_ptr) };
        let Some(func) = func else {
            return Err(ConvError("conversation function is NULL".into()));
        };
        // SAFETY: one message, passed as an array of one pointer to a message that lives until
        // the call returns; `resp` is a valid out-pointer. Linux-PAM's calling convention.
        let rc = unsafe { func(1, &mut msgp, &mut resp, appdata) };
        // SAFETY: whatever the application returned in `resp` was malloc'ed for us to free.
        let reply = unsafe { take_response(resp) };
        if rc != ffi::PAM_SUCCESS {
            return Err(ConvError(format!("conversation returned {rc}")));
        }
        Ok(reply)
    }
}

/// Copies the reply out of a `pam_response` array of one, wipes and frees the C memory.
///
/// # Safety
/// `resp` is null or a malloc'ed array of one `pam_response` whose `resp` is null or a
/// malloc'ed NUL-terminated string, as the PAM conversation contract requires.
unsafe fn take_response(resp: *mut ffi::PamResponse) -> Option<Zeroizing<String>> {
    if resp.is_null() {
        return None;
    }
    // SAFETY: non-null array of at least one response (caller's contract).
    let text = unsafe { (*resp).resp };
    let out = if text.is_null() {
        None
    } else {
        // SAFETY: NUL-terminated string (caller's contract).
        let len = unsafe { libc::strlen(text) };
        // Copy at most one byte more than any valid answer; longer answers are refused anyway.
        let take = len.min(MAX_ANSWER_LEN + 1);
        // SAFETY: `take` <= len bytes are readable at `text`.
        let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), take) };
        let copy = Zeroizing::new(String::from_utf8_lossy(bytes).into_owned());
        // SAFETY: `len` bytes are writable at `text` (it is the application's buffer, now ours);
        // wipe it before returning it to the allocator.
        unsafe { libc::explicit_bzero(text.cast::<c_void>(), len) };
        // SAFETY: malloc'ed by the application and owned by us now.
        unsafe { libc::free(text.cast::<c_void>()) };
        Some(copy)
    };
    // SAFETY: the array itself was malloc'ed by the application.
    unsafe { libc::free(resp.cast::<c_void>()) };
    out
}

impl PamConversation {
    /// Whether `answer` is the password an earlier module of the stack stored
    /// (`PAM_AUTHTOK`).
    fn is_password(&self, answer: &str) -> bool {
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: valid handle during the hook; `ptr` is a valid out-pointer. libpam keeps
        // ownership of the item, which stays valid until it is changed (not during this call).
        let rc = unsafe { ffi::pam_get_item(self.handle.0, ffi::PAM_AUTHTOK, &mut ptr) };
        if rc != ffi::PAM_SUCCESS || ptr.is_null() {
            return false;
        }
        // SAFETY: PAM_AUTHTOK is a NUL-terminated string owned by libpam.
        let password = unsafe { CStr::from_ptr(ptr.cast::<c_char>()) };
        password.to_str().is_ok_and(|p| mfa_login::login::answer_is_password(answer, p))
    }
}

impl Conversation for PamConversation {
    fn prompt_secret(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        let answer = self.send(ffi::PAM_PROMPT_ECHO_OFF, prompt)?;
        // A client that answers every prompt with the typed password (i3lock under a
        // two-prompt stack) must not use up the user's wrong-code limit with a correct
        // password: such an answer is no answer (here, so that logins through the helper,
        // which relays its prompts through this conversation, get the same).
        // (Not at the single prompt, whose whole answer is the password for a user without a
        // TOTP factor, when an earlier `split_password` line set it.)
        let code_prompt = prompt != mfa_login::login::SINGLE_PROMPT;
        if code_prompt && answer.as_deref().is_some_and(|a| self.is_password(a)) {
            self.handle.log(
                Priority::Notice,
                "the answer to a code prompt was the user's password (a client that answers \
                 every prompt with the password, such as i3lock, needs a single_prompt stack); \
                 treated as no answer, not counted",
            );
            self.error(mfa_login::login::PASSWORD_AT_CODE_PROMPT);
            return Ok(None);
        }
        Ok(answer)
    }

    fn prompt_visible(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>, ConvError> {
        self.send(ffi::PAM_PROMPT_ECHO_ON, prompt)
    }

    fn set_password(&mut self, password: &str) -> Result<(), ConvError> {
        if password.as_bytes().contains(&0) {
            return Err(ConvError("password contains NUL".into()));
        }
        // NUL-terminated copy that is wiped on drop.
        let mut c = Zeroizing::new(Vec::with_capacity(password.len() + 1));
        c.extend_from_slice(password.as_bytes());
        c.push(0);
        // SAFETY: valid handle during the hook; `c` is a NUL-terminated string without interior
        // NULs that outlives the call; libpam copies it (and wipes its copy when the item is
        // replaced or the handle ends).
        let rc = unsafe { ffi::pam_set_item(self.handle.0, ffi::PAM_AUTHTOK, c.as_ptr().cast()) };
        if rc == ffi::PAM_SUCCESS {
            Ok(())
        } else {
            Err(ConvError(format!("pam_set_item(PAM_AUTHTOK) returned {rc}")))
        }
    }

    fn fail_delay(&mut self, ms: u32) {
        // SAFETY: valid handle; the call only records the requested delay in the handle.
        unsafe { ffi::pam_fail_delay(self.handle.0, ms.saturating_mul(1000)) };
    }

    fn debug(&mut self, text: &str) {
        self.handle.log(Priority::Debug, text);
    }

    fn info(&mut self, text: &str) {
        // A failure to show information does not change the decision.
        let _ = self.send(ffi::PAM_TEXT_INFO, text);
    }

    fn error(&mut self, text: &str) {
        let _ = self.send(ffi::PAM_ERROR_MSG, text);
    }
}
