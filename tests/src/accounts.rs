//! Throwaway account names and uids for tests that add users to a sandbox's passwd: random, so
//! they never meet an account of the machine the tests run on (the sandbox's passwd is the
//! host's plus ours, and `getpwuid` returns the first entry of a uid).

/// A random lower-case name `<prefix><8 hex digits>` that the host's user database does not
/// know.
pub fn fresh_name(prefix: &str) -> String {
    loop {
        let mut b = [0u8; 4];
        mfa_login::random::fill(&mut b).expect("random");
        let name = format!("{prefix}{}", data_encoding::HEXLOWER.encode(&b));
        if !host_knows_name(&name) {
            return name;
        }
    }
}

/// A random uid in 50000..60000 that the host's user database does not know.
pub fn fresh_uid() -> u32 {
    loop {
        let mut b = [0u8; 2];
        mfa_login::random::fill(&mut b).expect("random");
        let uid = 50_000 + u32::from(u16::from_le_bytes(b)) % 10_000;
        // SAFETY: getpwuid with any uid is harmless; the result is only compared with null.
        let known = unsafe { !libc::getpwuid(uid).is_null() };
        if !known {
            return uid;
        }
    }
}

fn host_knows_name(name: &str) -> bool {
    let c = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: a valid NUL-terminated name; the result is only compared with null.
    unsafe { !libc::getpwnam(c.as_ptr()).is_null() }
}
