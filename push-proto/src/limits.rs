//! Bounds and formats of every field, checked on both sides of the wire.

/// Longest request or response body either side accepts, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest user name.
pub const MAX_USER: usize = 255;
/// Longest host or device display name.
pub const MAX_NAME: usize = 64;
/// Longest PAM service name.
pub const MAX_SERVICE: usize = 64;
/// Longest remote address text.
pub const MAX_RHOST: usize = 255;
/// Length of a module nonce: 32 random bytes, base64url.
pub const NONCE_LEN: usize = 43;
/// Length of a transaction, pairing or device id: 16 random bytes, base64url.
pub const ID_LEN: usize = 22;
/// The longest a long-poll may be held by the service, in seconds.
pub const MAX_WAIT: u64 = 30;
/// Numbers shown for number matching are two digits.
pub const NUMBER_RANGE: std::ops::RangeInclusive<u8> = 10..=99;
/// A device request's timestamp may be this far from the service's clock, in seconds.
pub const CLOCK_SKEW: u64 = 60;
/// Length of a device request's single-use nonce: 16 random bytes, base64url.
pub const REQUEST_NONCE_LEN: usize = ID_LEN;

/// Whether `s` is an id/nonce of exactly `len` base64url characters.
pub fn is_token(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is a transaction, pairing or device id.
pub fn is_id(s: &str) -> bool {
    is_token(s, ID_LEN)
}

/// Whether `s` is non-empty, at most `max` bytes and free of control characters (safe to show
/// and to log).
pub fn is_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

/// Whether `s` is an acceptable user name: [`is_text`], no whitespace or `/`, not starting
/// with `.` or `-` (the module's own user-name rules).
pub fn is_user(s: &str) -> bool {
    is_text(s, MAX_USER)
        && !s.starts_with(['.', '-'])
        && !s.chars().any(|c| c.is_whitespace() || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_id("AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!is_id("AAAAAAAAAAAAAAAAAAAAA="));
        assert!(!is_id("short"));
        assert!(is_user("alice"));
        assert!(!is_user("-alice"));
        assert!(!is_user("al ice"));
        assert!(!is_user("a/b"));
        assert!(!is_text("a\nb", 10));
        assert!(!is_text("", 10));
        assert!(!is_text("abc", 2));
    }
}
