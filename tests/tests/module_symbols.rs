//! The module exports the PAM entry points and nothing else, and loads with all symbols bound.

use mfa_tests::fixture::module_path;
use std::process::Command;

#[test]
fn only_pam_sm_symbols_are_exported() {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(module_path())
        .output()
        .expect("nm (binutils) is installed");
    assert!(out.status.success());
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pam_sm_acct_mgmt",
            "pam_sm_authenticate",
            "pam_sm_chauthtok",
            "pam_sm_close_session",
            "pam_sm_open_session",
            "pam_sm_setcred"
        ]
    );
}

#[test]
fn dlopen_resolves_every_symbol_and_finds_the_entry_points() {
    let path = std::ffi::CString::new(module_path().as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: dlopen/dlsym/dlclose with valid C strings; the module has no constructors that
    // need a PAM handle.
    unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(!h.is_null(), "dlopen failed");
        for sym in [c"pam_sm_authenticate", c"pam_sm_setcred"] {
            assert!(!libc::dlsym(h, sym.as_ptr()).is_null());
        }
        assert!(libc::dlsym(h, c"rust_eh_personality".as_ptr()).is_null());
        libc::dlclose(h);
    }
}
