//! `~/.google_authenticator` files (google-authenticator-libpam).
//!
//! Line 1 is the base32 secret; option lines start with `"` (`" TOTP_AUTH`, `" HOTP_COUNTER n`,
//! `" RATE_LIMIT n secs [timestamps…]`, `" WINDOW_SIZE n`, `" DISALLOW_REUSE [steps…]`,
//! `" STEP_SIZE secs`, `" TIME_SKEW n`); then up to 10 eight-digit scratch codes, one per line.
//! Only time-based files can be imported (pam_mfa has no HOTP).

use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use zeroize::Zeroizing;

/// Largest file accepted.
pub const MAX_SIZE: usize = 64 * 1024;

/// A parsed file.
#[derive(Debug)]
pub struct GoogleAuthenticatorFile {
    /// The shared secret.
    pub secret: SecretBytes,
    /// `STEP_SIZE` (default 30).
    pub step: u64,
    /// `WINDOW_SIZE`: how many codes around the current one are accepted in total.
    pub window_size: Option<u32>,
    /// `RATE_LIMIT n secs`.
    pub rate_limit: Option<(u32, u64)>,
    /// `DISALLOW_REUSE` and the time steps already used.
    pub disallow_reuse: Option<Vec<u64>>,
    /// `TIME_SKEW` (ignored by pam_mfa, reported).
    pub time_skew: Option<i64>,
    /// The eight-digit scratch codes.
    pub scratch_codes: Vec<Zeroizing<String>>,
}

fn bad(m: impl Into<String>) -> Error {
    Error::Invalid(format!("google-authenticator file: {}", m.into()))
}

fn number<T: std::str::FromStr>(word: Option<&str>, what: &str) -> Result<T> {
    word.and_then(|w| w.parse().ok()).ok_or_else(|| bad(format!("bad {what}")))
}

/// Parses the file's text. Unknown options and malformed values are errors (nothing is
/// imported from a file that is not understood); the secret never appears in an error.
pub fn parse(text: &str) -> Result<GoogleAuthenticatorFile> {
    if text.len() > MAX_SIZE {
        return Err(bad("larger than 64 KiB"));
    }
    let mut lines = text.lines();
    let first = lines.next().ok_or_else(|| bad("empty"))?;
    let mut f = GoogleAuthenticatorFile {
        secret: read_secret(first)?,
        step: 30,
        window_size: None,
        rate_limit: None,
        disallow_reuse: None,
        time_skew: None,
        scratch_codes: Vec::new(),
    };
    let mut totp = false;
    for (n, line) in lines.enumerate() {
        let lineno = n + 2;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(opt) = line.strip_prefix('"') {
            totp |= f.read_option(opt, lineno)?;
        } else if line.len() == 8 && line.bytes().all(|b| b.is_ascii_digit()) {
            if f.scratch_codes.len() == 10 {
                return Err(bad("more than 10 scratch codes"));
            }
            f.scratch_codes.push(Zeroizing::new(line.to_string()));
        } else {
            return Err(bad(format!("line {lineno} is neither an option nor a scratch code")));
        }
    }
    if !totp {
        return Err(bad("no TOTP_AUTH option: only time-based files can be imported"));
    }
    Ok(f)
}

/// Line 1: the base32 secret, at least 80 bits.
fn read_secret(first: &str) -> Result<SecretBytes> {
    let secret = SecretBytes::from_base32(first.trim())
        .ok_or_else(|| bad("line 1 is not a base32 secret"))?;
    if secret.len() < 10 {
        return Err(bad("secret shorter than 80 bits"));
    }
    Ok(secret)
}

impl GoogleAuthenticatorFile {
    /// Reads one option line (`opt`: the text after the `"`) into the file; returns whether it
    /// was `TOTP_AUTH`.
    fn read_option(&mut self, opt: &str, lineno: usize) -> Result<bool> {
        let mut words = opt.split_whitespace();
        match words.next() {
            Some("TOTP_AUTH") => return Ok(true),
            Some("HOTP_COUNTER") => {
                return Err(bad(
                    "counter-based (HOTP) files cannot be imported: pam_mfa is time-based",
                ));
            }
            Some("STEP_SIZE") => {
                self.step = number(words.next(), "STEP_SIZE")?;
                if !(1..=300).contains(&self.step) {
                    return Err(bad("STEP_SIZE must be 1-300"));
                }
            }
            Some("WINDOW_SIZE") => {
                let w: u32 = number(words.next(), "WINDOW_SIZE")?;
                if !(1..=21).contains(&w) {
                    return Err(bad("WINDOW_SIZE must be 1-21"));
                }
                self.window_size = Some(w);
            }
            Some("RATE_LIMIT") => {
                let n: u32 = number(words.next(), "RATE_LIMIT count")?;
                let secs: u64 = number(words.next(), "RATE_LIMIT seconds")?;
                self.rate_limit = Some((n, secs));
                // Remaining words are timestamps of recent attempts: state, not settings.
                for w in words {
                    number::<u64>(Some(w), "RATE_LIMIT timestamp")?;
                }
            }
            Some("DISALLOW_REUSE") => {
                let steps = words
                    .map(|w| number::<u64>(Some(w), "DISALLOW_REUSE step"))
                    .collect::<Result<_>>()?;
                self.disallow_reuse = Some(steps);
            }
            Some("TIME_SKEW") => self.time_skew = Some(number(words.next(), "TIME_SKEW")?),
            Some(other) => {
                let shown: String = other.chars().take(30).flat_map(char::escape_default).collect();
                return Err(bad(format!("unknown option '{shown}' on line {lineno}")));
            }
            None => return Err(bad(format!("empty option on line {lineno}"))),
        }
        Ok(false)
    }
}

impl GoogleAuthenticatorFile {
    /// pam_mfa's per-factor window for `WINDOW_SIZE` (codes in total → steps either side).
    pub fn window(&self) -> Option<u32> {
        self.window_size.map(|w| ((w.saturating_sub(1)) / 2).min(10))
    }

    /// The newest step already used under google-authenticator, which pam_mfa must refuse too.
    pub fn last_used_step(&self) -> Option<u64> {
        self.disallow_reuse.as_ref().and_then(|s| s.iter().copied().max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" RATE_LIMIT 3 30 1763800000\n\" WINDOW_SIZE 5\n\
                        \" DISALLOW_REUSE 58793333 58793334\n\" TOTP_AUTH\n14546698\n69669468\n";

    #[test]
    fn parses_a_real_file() {
        let f = parse(FILE).unwrap();
        assert_eq!(f.secret.len(), 16);
        assert_eq!((f.step, f.window_size, f.window()), (30, Some(5), Some(2)));
        assert_eq!(f.rate_limit, Some((3, 30)));
        assert_eq!(f.last_used_step(), Some(58793334));
        assert_eq!(f.scratch_codes.len(), 2);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "",
            "not base32!\n\" TOTP_AUTH\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" HOTP_COUNTER 1\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" TOTP_AUTH\n\" FOO\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" TOTP_AUTH\n1234567\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" TOTP_AUTH\n\" STEP_SIZE 0\n",
            "X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" TOTP_AUTH\n\" WINDOW_SIZE x\n",
            "X5LIOP3P\n\" TOTP_AUTH\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let err = parse("X5LIOP3PKXDZK2HVWXU4BYWHYY\n\" HOTP_COUNTER 1\n").unwrap_err().to_string();
        assert!(!err.contains("X5LIOP3P"), "secret must not appear in errors: {err}");
    }
}
