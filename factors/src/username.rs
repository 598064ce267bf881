//! User names as they reach the module (from sshd, possibly chosen by a remote attacker).
//!
//! A name becomes a file name in the store, so it is validated before any file is touched.

use crate::error::{Error, Result};
use std::fmt;

/// Longest accepted user name, in bytes (Linux `LOGIN_NAME_MAX` is 256 including the NUL).
pub const MAX_LEN: usize = 255;

/// A user name that is safe to use as a single file-name component.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    /// Validates a user name: 1–255 bytes, no `/`, no control characters, no whitespace, and it
    /// must not start with `.` or `-` (no `.`/`..`, no clash with the store's temporary files,
    /// no option-like names).
    pub fn parse(name: &str) -> Result<Self> {
        let why = if name.is_empty() {
            Some("empty")
        } else if name.len() > MAX_LEN {
            Some("longer than 255 bytes")
        } else if name.starts_with('.') || name.starts_with('-') {
            Some("starts with '.' or '-'")
        } else if name.chars().any(|c| c == '/' || c.is_control() || c.is_whitespace()) {
            Some("contains '/', whitespace or a control character")
        } else {
            None
        };
        match why {
            Some(w) => Err(Error::InvalidUserName(w.to_string())),
            None => Ok(UserName(name.to_string())),
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Renders untrusted text (a user name or remote host as received) for a log line: control
/// characters escaped, length bounded, so a hostile name cannot forge or flood log lines.
pub fn log_safe(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_default).collect();
    if text.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["alice", "bob.smith", "user@example.com", "x_1-2", "DOMAIN\\user", "émile"] {
            assert!(UserName::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn refuses_names_that_would_escape_the_store() {
        for n in ["", ".", "..", "../root", "a/b", ".hidden", "-rf", "a b", "a\nb", "a\0b"] {
            assert!(UserName::parse(n).is_err(), "{n:?}");
        }
        assert!(UserName::parse(&"a".repeat(256)).is_err());
        assert!(UserName::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn log_safe_escapes_and_bounds() {
        assert_eq!(log_safe("ali\nce"), "ali\\nce");
        assert!(log_safe(&"x".repeat(1000)).len() < 80);
    }
}
