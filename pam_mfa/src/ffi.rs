//! Raw declarations from `<security/pam_modules.h>`, `<security/pam_ext.h>` and
//! `<security/_pam_types.h>` (Linux-PAM). The values match Debian 12's Linux-PAM 1.5.2 headers.

use libc::{c_char, c_int, c_uint, c_void};

/// Opaque `pam_handle_t`.
#[repr(C)]
pub struct PamHandle {
    _private: [u8; 0],
}

pub(crate) const PAM_SUCCESS: c_int = 0;
pub(crate) const PAM_SERVICE_ERR: c_int = 3;
pub(crate) const PAM_SYSTEM_ERR: c_int = 4;
pub(crate) const PAM_AUTH_ERR: c_int = 7;
pub(crate) const PAM_AUTHINFO_UNAVAIL: c_int = 9;
pub(crate) const PAM_USER_UNKNOWN: c_int = 10;
pub(crate) const PAM_CONV_ERR: c_int = 19;
pub(crate) const PAM_IGNORE: c_int = 25;
pub(crate) const PAM_ABORT: c_int = 26;

pub(crate) const PAM_SILENT: c_int = 0x8000;

pub(crate) const PAM_SERVICE: c_int = 1;
pub(crate) const PAM_TTY: c_int = 3;
pub(crate) const PAM_RHOST: c_int = 4;
pub(crate) const PAM_CONV: c_int = 5;
pub(crate) const PAM_AUTHTOK: c_int = 6;

pub(crate) const PAM_PROMPT_ECHO_OFF: c_int = 1;
pub(crate) const PAM_PROMPT_ECHO_ON: c_int = 2;
pub(crate) const PAM_ERROR_MSG: c_int = 3;
pub(crate) const PAM_TEXT_INFO: c_int = 4;

#[repr(C)]
pub(crate) struct PamMessage {
    pub(crate) msg_style: c_int,
    pub(crate) msg: *const c_char,
}

#[repr(C)]
pub(crate) struct PamResponse {
    pub(crate) resp: *mut c_char,
    pub(crate) resp_retcode: c_int,
}

pub(crate) type ConvFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

#[repr(C)]
pub(crate) struct PamConv {
    pub(crate) conv: Option<ConvFn>,
    pub(crate) appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
unsafe extern "C" {
    pub(crate) fn pam_get_user(
        pamh: *mut PamHandle,
        user: *mut *const c_char,
        prompt: *const c_char,
    ) -> c_int;
    pub(crate) fn pam_get_item(
        pamh: *const PamHandle,
        item_type: c_int,
        item: *mut *const c_void,
    ) -> c_int;
    pub(crate) fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
    pub(crate) fn pam_set_item(
        pamh: *mut PamHandle,
        item_type: c_int,
        item: *const c_void,
    ) -> c_int;
    pub(crate) fn pam_fail_delay(pamh: *mut PamHandle, musec_delay: c_uint) -> c_int;
}
